// Reward standing and the per-member limit's local periods.
#include "engine/rewards.hpp"

#include "engine/lots.hpp"

namespace loyalty {
namespace {

int64_t floor_div(int64_t value, int64_t divisor) {
  const int64_t quotient = value / divisor;
  return (value % divisor != 0 && (value < 0) != (divisor < 0)) ? quotient - 1 : quotient;
}

}  // namespace

std::string_view coupon_state_name(CouponState state) {
  switch (state) {
    case CouponState::active:
      return "active";
    case CouponState::used:
      return "used";
    case CouponState::expired:
      return "expired";
    case CouponState::cancelled:
      return "cancelled";
  }
  return "unknown";
}

int64_t limit_period_index(const Program& program, LimitPeriod period, TimeMs at) {
  const TimeZone& zone = *program.time_zone;
  const int64_t local_day = floor_div(zone.local_of(at), kMsPerDay);
  switch (period) {
    case LimitPeriod::day:
      return local_day;
    case LimitPeriod::week:
      // 1970-01-01 was a Thursday: day + 3 counts from the Monday before it.
      return floor_div(local_day + 3, 7);
    case LimitPeriod::month:
      return local_month_index(zone, at);
    case LimitPeriod::year:
      return floor_div(local_month_index(zone, at), 12);
    case LimitPeriod::lifetime:
      return 0;
  }
  return 0;
}

uint32_t limit_used(const Program& program, const MemberState& member, const Reward& reward,
                    TimeMs at) {
  if (!reward.per_member) return 0;
  const LimitPeriod period = reward.per_member->period;
  const int64_t index = limit_period_index(program, period, at);
  for (const RewardLimitUse& use : member.reward_limits) {
    if (use.reward_id == reward.id) {
      return use.period == period && use.period_index == index ? use.used : 0;
    }
  }
  return 0;
}

RewardStanding reward_standing(const Program& program, const MemberState& member,
                               const Reward& reward, TimeMs at, std::optional<int64_t> stock_left) {
  RewardStanding standing;
  if (at < reward.available_from || at >= reward.available_to) {
    standing.reasons.push_back(ErrorCode::reward_not_available);
  }
  if (!reward.tiers.empty() && !reward.tiers.contains(program.tier_name(member.tier_index))) {
    standing.reasons.push_back(ErrorCode::tier_not_eligible);
  }
  if (reward.stock && stock_left && *stock_left <= 0) {
    standing.reasons.push_back(ErrorCode::out_of_stock);
  }
  standing.limit_used = limit_used(program, member, reward, at);
  if (reward.per_member && standing.limit_used >= reward.per_member->max) {
    standing.reasons.push_back(ErrorCode::member_limit_reached);
  }
  if (member.debt > 0 || spendable_points(member) < reward.cost_points) {
    standing.reasons.push_back(ErrorCode::insufficient_points);
  }
  return standing;
}

}  // namespace loyalty
