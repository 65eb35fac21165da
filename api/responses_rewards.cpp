// JSON of rewards and coupons (see responses_rewards.hpp).
#include "api/responses_rewards.hpp"

#include <boost/json/array.hpp>

#include "api/responses.hpp"
#include "engine/time.hpp"

namespace loyalty::api {
namespace json = boost::json;

namespace {

std::string_view kind_name(RewardKind kind) {
  return kind == RewardKind::product ? "product" : "coupon";
}

std::string_view on_refund_name(CouponRefund rule) {
  switch (rule) {
    case CouponRefund::restore:
      return "restore";
    case CouponRefund::refund_points:
      return "refund_points";
    case CouponRefund::forfeit:
      return "forfeit";
  }
  return "forfeit";
}

json::value time_or_null(TimeMs time, bool present) {
  if (!present) return nullptr;
  return json::value(format_rfc3339(time));
}

}  // namespace

std::optional<CouponState> coupon_state_from_name(std::string_view name) {
  for (const CouponState state :
       {CouponState::active, CouponState::used, CouponState::expired, CouponState::cancelled}) {
    if (coupon_state_name(state) == name) return state;
  }
  return std::nullopt;
}

std::string_view limit_period_name(LimitPeriod period) {
  switch (period) {
    case LimitPeriod::day:
      return "day";
    case LimitPeriod::week:
      return "week";
    case LimitPeriod::month:
      return "month";
    case LimitPeriod::year:
      return "year";
    case LimitPeriod::lifetime:
      return "lifetime";
  }
  return "lifetime";
}

json::object reward_json(const Reward& reward, std::optional<int64_t> stock_left) {
  json::object body;
  body["reward_id"] = reward.id;
  body["name"] = reward.name;
  body["kind"] = kind_name(reward.kind);
  body["cost_points"] = reward.cost_points;
  body["benefit"] = benefits_json(reward.benefit_json);
  body["stock"] = reward.stock ? json::value(*reward.stock) : json::value(nullptr);
  body["stock_left"] =
      stock_left ? json::value(std::max<int64_t>(*stock_left, 0)) : json::value(nullptr);
  if (reward.per_member) {
    body["per_member"] = json::object{{"max", reward.per_member->max},
                                      {"period", limit_period_name(reward.per_member->period)}};
  } else {
    body["per_member"] = nullptr;
  }
  json::array tiers;
  for (const std::string& tier : reward.tiers) tiers.emplace_back(tier);
  body["tiers"] = std::move(tiers);
  body["available_from"] = time_or_null(reward.available_from, reward.available_from != 0);
  body["available_to"] = time_or_null(reward.available_to, reward.available_to != kTimeNever);
  body["coupon_valid_days"] = reward.coupon_valid_days;
  body["on_refund"] = on_refund_name(reward.on_refund);
  return body;
}

json::object member_reward_json(const Reward& reward, const RewardStanding& standing,
                                std::optional<int64_t> stock_left) {
  json::object body = reward_json(reward, stock_left);
  body["redeemable"] = standing.redeemable();
  json::array reasons;
  for (const ErrorCode reason : standing.reasons) reasons.emplace_back(error_code_name(reason));
  body["reasons"] = std::move(reasons);
  if (reward.per_member) {
    body["member_limit"] = json::object{{"max", reward.per_member->max},
                                        {"period", limit_period_name(reward.per_member->period)},
                                        {"used", standing.limit_used}};
  } else {
    body["member_limit"] = nullptr;
  }
  return body;
}

json::object coupon_json(std::string_view member_id, const Coupon& coupon, TimeMs now) {
  const bool past_date = coupon.state == CouponState::active && now >= coupon.valid_until;
  json::object body;
  body["code"] = coupon.code;
  body["member_id"] = member_id;
  body["reward_id"] = coupon.reward_id;
  body["reward_name"] = coupon.reward_name;
  body["kind"] = kind_name(coupon.kind);
  body["benefit"] = benefits_json(coupon.benefit_json);
  body["points"] = coupon.points;
  body["state"] = coupon_state_name(past_date ? CouponState::expired : coupon.state);
  body["issued_at"] = format_rfc3339(coupon.issued_at);
  body["valid_until"] = format_rfc3339(coupon.valid_until);
  body["settled_at"] = time_or_null(coupon.settled_at, coupon.state != CouponState::active);
  const bool used = coupon.state == CouponState::used;
  body["used_by"] = used ? json::value(coupon.used_by) : json::value(nullptr);
  body["store_id"] = used ? json::value(coupon.store_id) : json::value(nullptr);
  body["redemption_id"] = coupon.redemption_id;
  return body;
}

json::object coupon_page_json(std::string_view member_id, const CouponPage& page, TimeMs now) {
  json::array coupons;
  for (const Coupon& coupon : page.coupons)
    coupons.emplace_back(coupon_json(member_id, coupon, now));
  json::object body;
  body["coupons"] = std::move(coupons);
  if (page.next_cursor) {
    body["next_cursor"] =
        std::to_string(page.next_cursor->issued_at) + "-" + page.next_cursor->code;
  } else {
    body["next_cursor"] = nullptr;
  }
  return body;
}

}  // namespace loyalty::api
