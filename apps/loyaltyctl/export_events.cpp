// export events: the stored event log as NDJSON in the import format, so that importing it
// into a fresh data folder with the same program rebuilds the same state (the same digest).
// Lines carry what the server decided when the event arrived: the time it stamped on a
// sign-up, redemption, hold or adjustment (occurred_at), the referral code it gave a member
// (assigned_referral_code), and where referral follow-ups and job steps were applied.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <iostream>
#include <set>

#include "apps/loyaltyctl/commands.hpp"

namespace loyalty::ctl {
namespace {

namespace json = boost::json;

void put_if(json::object& object, std::string_view key, const std::string& value) {
  if (!value.empty()) object[key] = value;
}

json::object signup_json(const SignupEvent& e) {
  json::object o{{"type", "signup"}, {"member_id", e.member_id}};
  put_if(o, "referral_code", e.referral_code);
  if (e.joined_at) o["joined_at"] = format_rfc3339(*e.joined_at);
  put_if(o, "phone", e.phone);
  put_if(o, "card_no", e.card_no);
  if (!e.profile_json.empty()) o["profile"] = json::parse(e.profile_json);
  put_if(o, "assigned_referral_code", e.assigned_referral_code);
  return o;
}

json::object purchase_json(const PurchaseEvent& e) {
  json::array lines;
  for (const PurchaseLine& line : e.lines) {
    lines.push_back(json::object{{"sku", line.sku},
                                 {"category", line.category},
                                 {"quantity", line.quantity},
                                 {"amount_minor", line.amount_minor}});
  }
  json::object o{{"type", "purchase"},
                 {"event_id", e.event_id},
                 {"member_id", e.member_id},
                 {"store_id", e.store_id},
                 {"occurred_at", format_rfc3339(e.occurred_at)},
                 {"currency", e.currency},
                 {"lines", std::move(lines)}};
  if (e.redeem_points != 0) o["redeem_points"] = e.redeem_points;
  put_if(o, "hold_id", e.hold_id);
  if (!e.coupons.empty()) {
    json::array codes;
    for (const std::string& code : e.coupons) codes.emplace_back(code);
    o["coupons"] = std::move(codes);
  }
  return o;
}

json::object refund_json(const RefundEvent& e) {
  json::object o{{"type", "refund"},
                 {"event_id", e.event_id},
                 {"original_event_id", e.original_event_id},
                 {"occurred_at", format_rfc3339(e.occurred_at)}};
  if (e.amount_minor) {
    o["amount_minor"] = *e.amount_minor;
  } else {
    json::array lines;
    for (const RefundLine& line : e.lines) {
      lines.push_back(json::object{{"sku", line.sku}, {"amount_minor", line.amount_minor}});
    }
    o["lines"] = std::move(lines);
  }
  return o;
}

// The line for one logged event; nullopt for a kind the import does not take.
std::optional<json::object> event_json(const Event& event) {
  if (const auto* e = std::get_if<SignupEvent>(&event.body)) return signup_json(*e);
  if (const auto* e = std::get_if<PurchaseEvent>(&event.body)) return purchase_json(*e);
  if (const auto* e = std::get_if<RefundEvent>(&event.body)) return refund_json(*e);
  if (const auto* e = std::get_if<RedemptionEvent>(&event.body)) {
    json::object o{{"type", "redemption"},
                   {"redemption_id", e->redemption_id},
                   {"member_id", e->member_id},
                   {"points", e->points}};
    put_if(o, "reward_id", e->reward_id);
    put_if(o, "note", e->note);
    o["occurred_at"] = format_rfc3339(e->at);
    return o;
  }
  if (const auto* e = std::get_if<HoldEvent>(&event.body)) {
    json::object o{{"type", "hold"},
                   {"hold_id", e->hold_id},
                   {"member_id", e->member_id},
                   {"points", e->points}};
    if (e->ttl_seconds) o["ttl_seconds"] = *e->ttl_seconds;
    o["occurred_at"] = format_rfc3339(e->at);
    return o;
  }
  if (const auto* e = std::get_if<HoldActionEvent>(&event.body)) {
    return json::object{
        {"type", event.type() == EventType::hold_capture ? "hold_capture" : "hold_void"},
        {"hold_id", e->hold_id},
        {"occurred_at", format_rfc3339(e->at)}};
  }
  if (const auto* e = std::get_if<AdjustmentEvent>(&event.body)) {
    return json::object{{"type", "adjustment"},      {"adjustment_id", e->adjustment_id},
                        {"member_id", e->member_id}, {"points", e->points},
                        {"reason", e->reason},       {"occurred_at", format_rfc3339(e->at)}};
  }
  if (const auto* e = std::get_if<ReferralFollowUp>(&event.body)) {
    return json::object{{"type", event.type() == EventType::referral_reward ? "referral_reward"
                                                                            : "referral_reversal"},
                        {"id", e->id},
                        {"member_id", e->member_id},
                        {"referee_id", e->referee_id},
                        {"trigger_event_id", e->trigger_event_id},
                        {"occurred_at", format_rfc3339(e->at)}};
  }
  if (const auto* e = std::get_if<RewardRedeemEvent>(&event.body)) {
    // With the code it issued and whether it took a unit of stock: decided when it arrived.
    return json::object{{"type", "reward_redeem"},
                        {"redemption_id", e->redemption_id},
                        {"member_id", e->member_id},
                        {"reward_id", e->reward_id},
                        {"occurred_at", format_rfc3339(e->at)},
                        {"code", e->code},
                        {"stock_granted", e->stock_granted}};
  }
  if (const auto* e = std::get_if<CouponUseEvent>(&event.body)) {
    json::object o{{"type", "coupon_use"},    {"use_id", e->use_id},
                   {"code", e->code},         {"member_id", e->member_id},
                   {"store_id", e->store_id}, {"occurred_at", format_rfc3339(e->at)}};
    put_if(o, "event_id", e->event_id);
    return o;
  }
  if (const auto* e = std::get_if<CouponCancelEvent>(&event.body)) {
    return json::object{{"type", "coupon_cancel"},
                        {"code", e->code},
                        {"member_id", e->member_id},
                        {"occurred_at", format_rfc3339(e->at)}};
  }
  if (const auto* e = std::get_if<MemberUpdateEvent>(&event.body);
      e != nullptr && event.type() == EventType::member_erase) {
    return json::object{{"type", "member_erase"},    {"erasure_id", e->update_id},
                        {"member_id", e->member_id}, {"erased_by", e->changed_by},
                        {"reason", e->reason},       {"occurred_at", format_rfc3339(e->at)}};
  }
  if (const auto* e = std::get_if<MemberUpdateEvent>(&event.body)) {
    // The fields it changed, as PATCH sends them ("" back to null: removed).
    json::object o{{"type", "member_update"},
                   {"update_id", e->update_id},
                   {"member_id", e->member_id},
                   {"changed_by", e->changed_by},
                   {"occurred_at", format_rfc3339(e->at)}};
    const auto text_or_null = [](const std::string& text) -> json::value {
      return text.empty() ? json::value(nullptr) : json::value(text);
    };
    if (e->phone) o["phone"] = text_or_null(*e->phone);
    if (e->card_no) o["card_no"] = text_or_null(*e->card_no);
    if (e->profile_json) {
      o["profile"] =
          e->profile_json->empty() ? json::value(nullptr) : json::parse(*e->profile_json);
    }
    if (e->blocked) o["blocked"] = *e->blocked;
    return o;
  }
  if (const auto* e = std::get_if<JobStepEvent>(&event.body)) {
    return json::object{
        {"type", event.type() == EventType::expire_points ? "expire" : "evaluate_tiers"},
        {"job_id", e->job_id},
        {"member_id", e->member_id},
        {"as_of", format_rfc3339(e->as_of)}};
  }
  return std::nullopt;
}

}  // namespace

int run_export_events(const Target& target) {
  std::unique_ptr<RocksStore> store;
  if (int code = open_store(target.data_dir, store); code != kExitOk) return code;
  std::set<uint32_t> versions;
  uint64_t skipped = 0;
  Status status = store->scan_events(1, [&](const StoredEvent& stored) {
    versions.insert(stored.program_version);
    if (std::optional<json::object> line = event_json(stored.event)) {
      std::cout << json::serialize(*line) << '\n';
    } else {
      ++skipped;
    }
    return true;
  });
  std::cout.flush();
  if (!status.ok()) {
    std::cerr << "loyaltyctl export: cannot read the event log: " << status.message() << "\n";
    return kExitProblemFound;
  }
  if (versions.size() > 1) {
    std::cerr << "loyaltyctl export: the log spans " << versions.size()
              << " program versions; an import applies the target's active program to all\n";
  }
  if (skipped > 0) {
    std::cerr << "loyaltyctl export: " << skipped
              << " events of a kind the import does not take were left out\n";
    return kExitProblemFound;
  }
  return kExitOk;
}

}  // namespace loyalty::ctl
