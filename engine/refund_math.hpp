// The arithmetic of one refund against a purchase record (domain.md "Refunds"): shared by the
// refund handler and by the recalculation, which re-runs a purchase's refunds under new rules
// and must reverse exactly what the engine would have.
#pragma once

#include <vector>

#include "engine/purchase_record.hpp"

namespace loyalty {

struct RefundFigures {
  AmountMinor amount = 0;    // refunded by this refund
  AmountMinor eligible = 0;  // of it, what had earned points
  bool completes = false;    // the purchase is now refunded in full
  Points reversed = 0;       // points taken back
  Points restored = 0;       // points that paid for the refunded part, given back
  Points base_back = 0;      // base points leaving the tier activity
};

// What the purchase gives the member now: earned − reversed by refunds + recalculation
// adjustments. The refund that completes the purchase reverses exactly this.
inline Points points_left(const PurchaseRecord& record) {
  return record.points_earned + record.points_adjusted - record.points_reversed;
}

// Refunds `per_line[i]` of line i (already checked to fit) and records it in `record`:
// the lines' and totals' refunded amounts, points_reversed and points_restored.
// Reversed = floor(earned × refunded eligible / eligible), `earned` being points_recalculated
// once a recalculation set it, never more than is left; the refund that completes the purchase
// reverses exactly what is left (points_left).
RefundFigures refund_record(PurchaseRecord& record, const std::vector<AmountMinor>& per_line);

}  // namespace loyalty
