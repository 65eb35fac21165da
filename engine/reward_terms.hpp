// The terms of a catalog reward that its coupons keep (domain.md "Rewards, coupons and the
// points mall"): shared by the program (engine/program.hpp) and the member's coupons.
#pragma once

#include <cstdint>

namespace loyalty {

enum class RewardKind : uint8_t { coupon = 0, product = 1 };
enum class LimitPeriod : uint8_t { day = 0, week = 1, month = 2, year = 3, lifetime = 4 };
// What a full refund of a purchase that used a coupon does with it.
enum class CouponRefund : uint8_t { forfeit = 0, restore = 1, refund_points = 2 };

// At most `max` redemptions of one reward per member in each local day, ISO week, month or
// year (or ever).
struct MemberLimit {
  uint32_t max = 1;
  LimitPeriod period = LimitPeriod::lifetime;
  friend bool operator==(const MemberLimit&, const MemberLimit&) = default;
};

}  // namespace loyalty
