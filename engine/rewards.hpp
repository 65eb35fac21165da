// The catalog as one member sees it (domain.md "Rewards, coupons and the points mall"): whether
// a reward can be redeemed now and every reason why not, and the per-member limit's periods in
// the program's local time. Redemption (apply) and the member's catalog view (api) both decide
// with reward_standing, so what the app shows is what a redemption then does.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "engine/member_state.hpp"
#include "engine/outcome.hpp"
#include "engine/program.hpp"

namespace loyalty {

// A coupon state's name, as the wire and messages spell it ("active", "used", …).
std::string_view coupon_state_name(CouponState state);

// The number of the local day, ISO week (from Monday), month or year `at` falls in; 0 for
// `lifetime`. Numbers of one period kind grow with time and are never equal across periods.
int64_t limit_period_index(const Program& program, LimitPeriod period, TimeMs at);

// How many of the reward's per-member limit the member used in the period `at` falls in
// (0 when the reward has no limit).
uint32_t limit_used(const Program& program, const MemberState& member, const Reward& reward,
                    TimeMs at);

struct RewardStanding {
  // Every reason that stops a redemption now, in the order a redemption reports them (the
  // first is its refusal): reward_not_available, tier_not_eligible, out_of_stock,
  // member_limit_reached, insufficient_points. Empty: redeemable.
  std::vector<ErrorCode> reasons;
  uint32_t limit_used = 0;
  bool redeemable() const { return reasons.empty(); }
};

// `stock_left` is how many units the program may still issue (nullopt: unlimited or not
// known to the caller, which then leaves stock out of the reasons).
RewardStanding reward_standing(const Program& program, const MemberState& member,
                               const Reward& reward, TimeMs at, std::optional<int64_t> stock_left);

}  // namespace loyalty
