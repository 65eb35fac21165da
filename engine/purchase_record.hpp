// What a refund needs to know about the purchase it names, kept per purchase (by event id)
// and updated by every refund of it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/earning.hpp"
#include "engine/member_state.hpp"
#include "engine/time.hpp"
#include "engine/types.hpp"

namespace loyalty {

// What a purchase answers its client (and any retry of it).
struct PurchaseAnswer {
  Points points_earned = 0;
  Points points_redeemed = 0;
  std::vector<BreakdownLine> breakdown;
  Balance balance;
  std::string tier;
  bool tier_changed = false;
  friend bool operator==(const PurchaseAnswer&, const PurchaseAnswer&) = default;
};

struct PurchaseLineRecord {
  std::string sku;
  AmountMinor amount_minor = 0;    // the line's original amount
  AmountMinor eligible_minor = 0;  // what of it earned points (after exclusions and points paid)
  AmountMinor refunded_minor = 0;  // refunded so far
  friend bool operator==(const PurchaseLineRecord&, const PurchaseLineRecord&) = default;
};

struct PurchaseRecord {
  std::string event_id;
  std::string member_id;
  std::string store_id;  // a store-scoped POS key may refund only its stores' sales
  TimeMs occurred_at = 0;
  uint64_t lot_id = 0;       // the lot its points went to (0: none)
  Points points_earned = 0;  // rate + bonuses (referral bonus excluded), reversible
  AmountMinor order_total_minor = 0;
  AmountMinor eligible_minor = 0;
  AmountMinor refunded_minor = 0;
  AmountMinor refunded_eligible_minor = 0;
  Points points_reversed = 0;
  Points points_redeemed = 0;  // points that paid for part of it
  Points points_restored = 0;  // of those, given back by refunds
  Points base_points = 0;      // qualifying "points" metric contribution
  // The month (month_index) its qualifying activity went to: the program's local month when it
  // was applied, so that a refund takes activity back from that month even after a program
  // version with another zone. Absent in records written before local time: those months were
  // UTC ones.
  std::optional<int64_t> activity_month;
  std::vector<PurchaseLineRecord> lines;
  // The coupons the sale used, as they were when it used them: the refund that completes the
  // purchase follows each one's on_refund.
  std::vector<Coupon> coupons;
  bool referral_trigger = false;  // earned the referee's first-purchase reward
  Points referee_reward_points = 0;
  bool referral_reversed = false;
  // Recalculation (recalc_adjustment events): the Σ of the adjustments applied to it, and the
  // points the latest recalculation says it earns (before refunds). A later partial refund
  // reverses its share of points_recalculated (of points_earned when never recalculated); the
  // refund that completes it reverses what is left of points_earned + points_adjusted.
  Points points_adjusted = 0;
  std::optional<Points> points_recalculated;
  // What the purchase answered, and its request's fingerprint (set by the runtime): a retry is
  // answered from here, so the purchase needs no idempotency record besides this one.
  PurchaseAnswer answer;
  uint64_t request_fingerprint = 0;
  // Where storage keeps the purchase's event, whose lines (skus, amounts) the record does not
  // repeat: its position in the event log. 0 until stored; kept by every later copy.
  uint64_t log_seq = 0;
  friend bool operator==(const PurchaseRecord&, const PurchaseRecord&) = default;
};

}  // namespace loyalty
