// Request parsing for the point movements that are not purchases: redemptions, adjustments,
// holds and hold actions.
#include <limits>

#include "api/json_fields.hpp"
#include "api/request_parsing.hpp"
#include "engine/types.hpp"

namespace loyalty::api {
namespace json = boost::json;
using json_fields::Fields;
using json_fields::malformed;
using json_fields::out_of_range;

namespace {

constexpr int64_t kHoldTtlSecondsMax = 2'592'000;  // 30 days, as program hold_ttl_seconds

}  // namespace

Parsed<RedemptionEvent> parse_redemption_request(std::string_view body, std::string member_id) {
  return json_fields::guarded<RedemptionEvent>([&] {
    json::value storage;
    const Fields f(json_fields::parse_object(body, storage), "");
    f.refuse_unknown({"redemption_id", "points", "reward_id", "note"});
    RedemptionEvent redemption;
    redemption.redemption_id = f.id("redemption_id", f.required("redemption_id"));
    redemption.member_id = std::move(member_id);
    redemption.points = f.integer("points", f.required("points"), 1, kPointsMax);
    if (const json::value* v = f.optional("reward_id"))
      redemption.reward_id = f.id("reward_id", *v);
    if (const json::value* v = f.optional("note"))
      redemption.note = f.text("note", *v, kTextLengthMax);
    return redemption;
  });
}

Parsed<AdjustmentEvent> parse_adjustment_request(std::string_view body, std::string member_id) {
  return json_fields::guarded<AdjustmentEvent>([&] {
    json::value storage;
    const Fields f(json_fields::parse_object(body, storage), "");
    f.refuse_unknown({"adjustment_id", "points", "reason"});
    AdjustmentEvent adjustment;
    adjustment.adjustment_id = f.id("adjustment_id", f.required("adjustment_id"));
    adjustment.member_id = std::move(member_id);
    adjustment.points = f.integer("points", f.required("points"), -kPointsMax, kPointsMax);
    if (adjustment.points == 0) {
      out_of_range("points",
                   "points must not be 0: credit with a positive number, debit with a "
                   "negative one");
    }
    adjustment.reason = f.text("reason", f.required("reason"), kTextLengthMax);
    return adjustment;
  });
}

Parsed<HoldEvent> parse_hold_request(std::string_view body) {
  return json_fields::guarded<HoldEvent>([&] {
    json::value storage;
    const Fields f(json_fields::parse_object(body, storage), "");
    f.refuse_unknown({"hold_id", "member_id", "points", "ttl_seconds"});
    HoldEvent hold;
    hold.hold_id = f.id("hold_id", f.required("hold_id"));
    hold.member_id = f.id("member_id", f.required("member_id"));
    hold.points = f.integer("points", f.required("points"), 1, kPointsMax);
    if (const json::value* v = f.optional("ttl_seconds")) {
      hold.ttl_seconds = static_cast<uint32_t>(f.integer("ttl_seconds", *v, 1, kHoldTtlSecondsMax));
    }
    return hold;
  });
}

std::optional<ParseError> check_empty_request(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return std::nullopt;
  Parsed<bool> parsed = json_fields::guarded<bool>([&] {
    json::value storage;
    const Fields f(json_fields::parse_object(body, storage), "");
    f.refuse_unknown({});
    return true;
  });
  if (ParseError* error = std::get_if<ParseError>(&parsed)) return std::move(*error);
  return std::nullopt;
}

}  // namespace loyalty::api
