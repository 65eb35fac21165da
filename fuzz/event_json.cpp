// Writing parsed events back as request JSON, and comparing them, for the round-trip properties.
#include "fuzz/event_json.hpp"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <cmath>
#include <tuple>

#include "engine/time.hpp"

namespace loyalty::fuzz {
namespace json = boost::json;

namespace {

void put_if(json::object& object, std::string_view key, const std::string& value) {
  if (!value.empty()) object[key] = value;
}

}  // namespace

json::object purchase_json(const PurchaseEvent& purchase, std::string_view type) {
  json::object object;
  if (!type.empty()) object["type"] = type;
  put_if(object, "event_id", purchase.event_id);  // empty in a quote that left it out
  object["member_id"] = purchase.member_id;
  object["store_id"] = purchase.store_id;
  object["occurred_at"] = format_rfc3339(purchase.occurred_at);
  object["currency"] = purchase.currency;
  json::array lines;
  for (const PurchaseLine& line : purchase.lines) {
    lines.push_back(json::object{{"sku", line.sku},
                                 {"category", line.category},
                                 {"quantity", line.quantity},
                                 {"amount_minor", line.amount_minor}});
  }
  object["lines"] = std::move(lines);
  object["redeem_points"] = purchase.redeem_points;
  put_if(object, "hold_id", purchase.hold_id);
  if (!purchase.coupons.empty()) {
    json::array codes;
    for (const std::string& code : purchase.coupons) codes.emplace_back(code);
    object["coupons"] = std::move(codes);
  }
  return object;
}

json::object reward_redeem_json(const RewardRedeemEvent& redeem) {
  return json::object{{"redemption_id", redeem.redemption_id}};
}

json::object coupon_use_json(const CouponUseEvent& use) {
  json::object object{{"use_id", use.use_id}, {"store_id", use.store_id}};
  put_if(object, "event_id", use.event_id);
  return object;
}

json::object refund_json(const RefundEvent& refund, std::string_view type) {
  json::object object;
  if (!type.empty()) object["type"] = type;
  object["event_id"] = refund.event_id;
  object["original_event_id"] = refund.original_event_id;
  object["occurred_at"] = format_rfc3339(refund.occurred_at);
  if (refund.amount_minor) {
    object["amount_minor"] = *refund.amount_minor;
  } else {
    json::array lines;
    for (const RefundLine& line : refund.lines) {
      lines.push_back(json::object{{"sku", line.sku}, {"amount_minor", line.amount_minor}});
    }
    object["lines"] = std::move(lines);
  }
  return object;
}

json::object signup_json(const SignupEvent& signup) {
  json::object object;
  object["member_id"] = signup.member_id;
  put_if(object, "referral_code", signup.referral_code);
  if (signup.joined_at) object["joined_at"] = format_rfc3339(*signup.joined_at);
  put_if(object, "phone", signup.phone);
  put_if(object, "card_no", signup.card_no);
  if (!signup.profile_json.empty()) object["profile"] = json::parse(signup.profile_json);
  return object;
}

json::object redemption_json(const RedemptionEvent& redemption) {
  json::object object;
  object["redemption_id"] = redemption.redemption_id;
  object["points"] = redemption.points;
  put_if(object, "reward_id", redemption.reward_id);
  put_if(object, "note", redemption.note);
  return object;
}

json::object adjustment_json(const AdjustmentEvent& adjustment) {
  return json::object{{"adjustment_id", adjustment.adjustment_id},
                      {"points", adjustment.points},
                      {"reason", adjustment.reason}};
}

json::object hold_json(const HoldEvent& hold) {
  json::object object{
      {"hold_id", hold.hold_id}, {"member_id", hold.member_id}, {"points", hold.points}};
  if (hold.ttl_seconds) object["ttl_seconds"] = *hold.ttl_seconds;
  return object;
}

bool same(const PurchaseEvent& a, const PurchaseEvent& b) {
  const auto line = [](const PurchaseLine& l) {
    return std::tie(l.sku, l.category, l.quantity, l.amount_minor);
  };
  if (a.lines.size() != b.lines.size()) return false;
  for (size_t i = 0; i < a.lines.size(); ++i) {
    if (line(a.lines[i]) != line(b.lines[i])) return false;
  }
  return std::tie(a.event_id, a.member_id, a.store_id, a.occurred_at, a.currency, a.redeem_points,
                  a.hold_id, a.coupons) == std::tie(b.event_id, b.member_id, b.store_id,
                                                    b.occurred_at, b.currency, b.redeem_points,
                                                    b.hold_id, b.coupons);
}

bool same(const RefundEvent& a, const RefundEvent& b) {
  if (a.lines.size() != b.lines.size()) return false;
  for (size_t i = 0; i < a.lines.size(); ++i) {
    if (std::tie(a.lines[i].sku, a.lines[i].amount_minor) !=
        std::tie(b.lines[i].sku, b.lines[i].amount_minor)) {
      return false;
    }
  }
  return std::tie(a.event_id, a.original_event_id, a.member_id, a.occurred_at, a.amount_minor) ==
         std::tie(b.event_id, b.original_event_id, b.member_id, b.occurred_at, b.amount_minor);
}

namespace {

// Boost.JSON 1.81 reads decimal fractions to within a few units in the last place, not exactly,
// so a double written back may come back one step away (docs/decisions.md, "Fuzzing"). Integers
// and everything else must be equal.
bool same_json(const json::value& a, const json::value& b) {
  if (a.is_double() && b.is_double()) {
    const double x = a.get_double();
    const double y = b.get_double();
    return x == y || std::abs(x - y) <= 1e-14 * std::max(std::abs(x), std::abs(y));
  }
  if (a.kind() != b.kind()) return false;
  if (const json::array* list = a.if_array()) {
    const json::array& other = b.get_array();
    if (list->size() != other.size()) return false;
    for (size_t i = 0; i < list->size(); ++i) {
      if (!same_json((*list)[i], other[i])) return false;
    }
    return true;
  }
  if (const json::object* object = a.if_object()) {
    const json::object& other = b.get_object();
    if (object->size() != other.size()) return false;
    for (const auto& member : *object) {
      const json::value* found = other.if_contains(member.key());
      if (found == nullptr || !same_json(member.value(), *found)) return false;
    }
    return true;
  }
  return a == b;
}

bool same_profile(const std::string& a, const std::string& b) {
  if (a.empty() || b.empty()) return a == b;
  return same_json(json::parse(a), json::parse(b));
}

}  // namespace

bool same(const SignupEvent& a, const SignupEvent& b) {
  return std::tie(a.member_id, a.referral_code, a.joined_at, a.phone, a.card_no) ==
             std::tie(b.member_id, b.referral_code, b.joined_at, b.phone, b.card_no) &&
         same_profile(a.profile_json, b.profile_json);
}

bool same(const RedemptionEvent& a, const RedemptionEvent& b) {
  return std::tie(a.redemption_id, a.member_id, a.points, a.reward_id, a.note, a.at) ==
         std::tie(b.redemption_id, b.member_id, b.points, b.reward_id, b.note, b.at);
}

bool same(const AdjustmentEvent& a, const AdjustmentEvent& b) {
  return std::tie(a.adjustment_id, a.member_id, a.points, a.reason, a.at) ==
         std::tie(b.adjustment_id, b.member_id, b.points, b.reason, b.at);
}

bool same(const HoldEvent& a, const HoldEvent& b) {
  return std::tie(a.hold_id, a.member_id, a.points, a.ttl_seconds, a.at) ==
         std::tie(b.hold_id, b.member_id, b.points, b.ttl_seconds, b.at);
}

bool same(const RewardRedeemEvent& a, const RewardRedeemEvent& b) {
  return std::tie(a.redemption_id, a.member_id, a.reward_id, a.code, a.stock_granted, a.at) ==
         std::tie(b.redemption_id, b.member_id, b.reward_id, b.code, b.stock_granted, b.at);
}

bool same(const CouponUseEvent& a, const CouponUseEvent& b) {
  return std::tie(a.use_id, a.code, a.member_id, a.store_id, a.event_id, a.at) ==
         std::tie(b.use_id, b.code, b.member_id, b.store_id, b.event_id, b.at);
}

}  // namespace loyalty::fuzz
