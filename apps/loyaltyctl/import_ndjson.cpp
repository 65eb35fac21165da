// NDJSON import rows: each line is a typed event. Purchases and refunds are read by the batch
// endpoint's parser as they are; the other types by their endpoint's parser after the fields
// the endpoint takes from its path or the clock (member_id, occurred_at) and "type" are taken
// out, so every field follows exactly the rules it follows over HTTP.
#include <boost/json/serialize.hpp>

#include "api/json_fields.hpp"
#include "api/request_parsing.hpp"
#include "apps/loyaltyctl/import_rows.hpp"
#include "engine/apply.hpp"
#include "engine/coupon_code.hpp"

namespace loyalty::ctl {
namespace {

namespace json = boost::json;
using api::ParseError;
using api::json_fields::Fields;
using api::json_fields::malformed;
using api::json_fields::out_of_range;

constexpr std::string_view kTypes =
    "signup, purchase, refund, redemption, adjustment, hold, hold_capture, hold_void, "
    "referral_reward, referral_reversal, expire, evaluate_tiers, reward_redeem, coupon_use, "
    "coupon_cancel, member_update or member_erase";

// A coupon code as printed or typed (case and group separators do not matter), stored form.
std::string coupon_code_field(const Fields& f, std::string_view key, const json::value& value) {
  std::optional<std::string> code = parse_coupon_code(f.string(key, value));
  if (!code)
    malformed(std::string(key), "not a coupon code (12 characters with a check character)");
  return std::move(*code);
}

Rejection refusal(const ParseError& error) {
  return {ErrorCode::invalid_request, error.field, error.message};
}

// The time an event that the API stamps with its clock happened at. Absent: the import's
// clock stamps it, as the API would.
TimeMs event_time(const Fields& f, TimeMs now) {
  const json::value* value = f.optional("occurred_at");
  if (value == nullptr) return 0;
  const TimeMs at = f.time("occurred_at", *value);
  if (at <= 0) out_of_range("occurred_at", "occurred_at must be after 1970-01-01T00:00:00Z");
  if (at > now + kFutureToleranceMs) {
    out_of_range("occurred_at", "occurred_at is more than 5 minutes in the future");
  }
  return at;
}

// The object without the fields an import line has beyond the endpoint's body, as a body.
std::string endpoint_body(json::object object, std::initializer_list<std::string_view> extra) {
  object.erase("type");
  for (std::string_view key : extra) object.erase(key);
  return json::serialize(object);
}

template <class T>
T take(api::Parsed<T>&& parsed) {
  if (auto* error = std::get_if<ParseError>(&parsed)) throw api::json_fields::Refusal{*error};
  return std::move(std::get<T>(parsed));
}

// The best id to name an unreadable line by.
std::string some_id(const json::object& object) {
  for (std::string_view key :
       {"event_id", "redemption_id", "adjustment_id", "hold_id", "id", "job_id", "member_id"}) {
    if (const json::value* v = object.if_contains(key); v != nullptr && v->is_string()) {
      return std::string(v->get_string());
    }
  }
  return "";
}

std::string client_id(const Event& event) {
  std::string key = event.idempotency_key();  // "<kind>:<client id>"
  if (const auto* job = std::get_if<JobStepEvent>(&event.body)) return job->job_id;
  return key.substr(key.find(':') + 1);
}

Event read_event(std::string_view text, const json::object& object, TimeMs now) {
  const Fields f(object, "");
  const std::string type = f.string("type", f.required("type"));
  if (type == "purchase" || type == "refund") {
    // The batch endpoint's reader, on this one line.
    auto items = api::parse_batch_request(text, api::BatchFormat::ndjson);
    if (auto* problem = std::get_if<api::Problem>(&items)) {
      malformed("", problem->detail);  // not reached: the line is one JSON object
    }
    auto& item = std::get<std::vector<api::BatchItem>>(items).front();
    if (auto* error = std::get_if<ParseError>(&item.parsed)) {
      throw api::json_fields::Refusal{*error};
    }
    if (auto* purchase = std::get_if<PurchaseEvent>(&item.parsed)) return Event{*purchase};
    return Event{std::get<RefundEvent>(item.parsed)};
  }
  if (type == "signup") {
    std::string assigned;
    if (const json::value* v = f.optional("assigned_referral_code")) {
      assigned = f.id("assigned_referral_code", *v);
    }
    SignupEvent signup =
        take(api::parse_signup_request(endpoint_body(object, {"assigned_referral_code"})));
    signup.assigned_referral_code = std::move(assigned);
    return Event{std::move(signup)};
  }
  if (type == "redemption" || type == "adjustment") {
    std::string member_id = f.id("member_id", f.required("member_id"));
    const TimeMs at = event_time(f, now);
    const std::string body = endpoint_body(object, {"member_id", "occurred_at"});
    if (type == "redemption") {
      RedemptionEvent redemption = take(api::parse_redemption_request(body, member_id));
      redemption.at = at;
      return Event{std::move(redemption)};
    }
    AdjustmentEvent adjustment = take(api::parse_adjustment_request(body, member_id));
    adjustment.at = at;
    return Event{std::move(adjustment)};
  }
  if (type == "hold") {
    const TimeMs at = event_time(f, now);
    HoldEvent hold = take(api::parse_hold_request(endpoint_body(object, {"occurred_at"})));
    hold.at = at;
    return Event{std::move(hold)};
  }
  if (type == "hold_capture" || type == "hold_void") {
    f.refuse_unknown({"hold_id", "occurred_at"}, "type");
    HoldActionEvent action;
    action.hold_id = f.id("hold_id", f.required("hold_id"));
    action.at = event_time(f, now);
    return Event{type == "hold_capture" ? EventType::hold_capture : EventType::hold_void,
                 std::move(action)};
  }
  if (type == "referral_reward" || type == "referral_reversal") {
    f.refuse_unknown({"id", "member_id", "referee_id", "trigger_event_id", "occurred_at"}, "type");
    ReferralFollowUp follow_up;
    follow_up.id = f.id("id", f.required("id"));
    follow_up.member_id = f.id("member_id", f.required("member_id"));
    follow_up.referee_id = f.id("referee_id", f.required("referee_id"));
    follow_up.trigger_event_id = f.id("trigger_event_id", f.required("trigger_event_id"));
    follow_up.at = f.time("occurred_at", f.required("occurred_at"));
    return Event{
        type == "referral_reward" ? EventType::referral_reward : EventType::referral_reversal,
        std::move(follow_up)};
  }
  if (type == "reward_redeem") {
    // An exported line carries the code it issued and its stock decision; a line from elsewhere
    // gets a code drawn and a unit of stock reserved, as the API's request would.
    f.refuse_unknown(
        {"redemption_id", "member_id", "reward_id", "occurred_at", "code", "stock_granted"},
        "type");
    RewardRedeemEvent redeem;
    redeem.redemption_id = f.id("redemption_id", f.required("redemption_id"));
    redeem.member_id = f.id("member_id", f.required("member_id"));
    redeem.reward_id = f.id("reward_id", f.required("reward_id"));
    redeem.at = event_time(f, now);
    if (const json::value* v = f.optional("code")) redeem.code = coupon_code_field(f, "code", *v);
    if (const json::value* v = f.optional("stock_granted")) {
      if (!v->is_bool()) malformed("stock_granted", "stock_granted must be true or false");
      redeem.stock_granted = v->get_bool();
    }
    return Event{std::move(redeem)};
  }
  if (type == "coupon_use" || type == "coupon_cancel") {
    // member_id: optional, for a coupon issued earlier in the same file (not yet stored when
    // this line is read); the coupon's own member is looked up otherwise.
    std::string member_id;
    if (const json::value* v = f.optional("member_id")) member_id = f.id("member_id", *v);
    const std::string code = coupon_code_field(f, "code", f.required("code"));
    if (type == "coupon_cancel") {
      f.refuse_unknown({"code", "member_id", "occurred_at"}, "type");
      return Event{CouponCancelEvent{code, std::move(member_id), event_time(f, now)}};
    }
    f.refuse_unknown({"use_id", "code", "member_id", "store_id", "event_id", "occurred_at"},
                     "type");
    CouponUseEvent use;
    use.use_id = f.id("use_id", f.required("use_id"));
    use.code = code;
    use.member_id = std::move(member_id);
    use.store_id = f.id("store_id", f.required("store_id"));
    if (const json::value* v = f.optional("event_id")) use.event_id = f.id("event_id", *v);
    use.at = event_time(f, now);
    return Event{std::move(use)};
  }
  if (type == "member_update") {
    f.refuse_unknown({"update_id", "member_id", "changed_by", "occurred_at", "phone", "card_no",
                      "profile", "blocked"},
                     "type");
    // The body as PATCH reads it, then what the log adds (its id, who changed it, when).
    json::object patch;
    for (const char* key : {"phone", "card_no", "profile", "blocked"}) {
      if (const json::value* v = object.if_contains(key)) patch[key] = *v;  // null included
    }
    api::Parsed<MemberUpdateEvent> parsed = api::parse_member_update_request(
        json::serialize(patch), f.id("member_id", f.required("member_id")));
    if (const api::ParseError* error = std::get_if<api::ParseError>(&parsed)) {
      malformed(error->field, error->message);
    }
    MemberUpdateEvent update = std::move(std::get<MemberUpdateEvent>(parsed));
    update.update_id = f.id("update_id", f.required("update_id"));
    if (const json::value* v = f.optional("changed_by")) {
      update.changed_by = f.string("changed_by", *v);
    }
    update.at = event_time(f, now);
    return Event{std::move(update)};
  }
  if (type == "member_erase") {
    f.refuse_unknown({"erasure_id", "member_id", "erased_by", "reason", "occurred_at"}, "type");
    json::object request;
    for (const char* key : {"erasure_id", "reason"}) {
      if (const json::value* v = object.if_contains(key)) request[key] = *v;
    }
    api::Parsed<Event> parsed = api::parse_member_erase_request(
        json::serialize(request), f.id("member_id", f.required("member_id")));
    if (const api::ParseError* error = std::get_if<api::ParseError>(&parsed)) {
      malformed(error->field, error->message);
    }
    Event erasure = std::move(std::get<Event>(parsed));
    auto& body = std::get<MemberUpdateEvent>(erasure.body);
    if (const json::value* v = f.optional("erased_by")) body.changed_by = f.string("erased_by", *v);
    body.at = event_time(f, now);
    return erasure;
  }
  if (type == "expire" || type == "evaluate_tiers") {
    f.refuse_unknown({"job_id", "member_id", "as_of"}, "type");
    JobStepEvent step;
    step.job_id = f.id("job_id", f.required("job_id"));
    step.member_id = f.id("member_id", f.required("member_id"));
    step.as_of = f.time("as_of", f.required("as_of"));
    return Event{type == "expire" ? EventType::expire_points : EventType::evaluate_tier,
                 std::move(step)};
  }
  malformed("type", "type must be " + std::string(kTypes));
}

}  // namespace

ImportRow read_ndjson_row(std::string_view text, uint64_t line, TimeMs now) {
  ImportRow row;
  row.line = line;
  json::value storage;
  api::Parsed<bool> readable = api::json_fields::guarded<bool>([&] {
    api::json_fields::parse_json(text, storage);
    return true;
  });
  if (const ParseError* error = std::get_if<ParseError>(&readable)) {
    row.refused = Rejection{ErrorCode::invalid_request, "",
                            "this line is not a JSON event: " + error->message};
    return row;
  }
  const json::object* object = storage.if_object();
  if (object == nullptr) {
    row.refused = Rejection{ErrorCode::invalid_request, "", "each event must be a JSON object"};
    return row;
  }
  api::Parsed<Event> parsed =
      api::json_fields::guarded<Event>([&] { return read_event(text, *object, now); });
  if (const ParseError* error = std::get_if<ParseError>(&parsed)) {
    row.id = some_id(*object);
    row.refused = refusal(*error);
    return row;
  }
  row.events.push_back(std::move(std::get<Event>(parsed)));
  row.id = client_id(row.events.front());
  return row;
}

}  // namespace loyalty::ctl
