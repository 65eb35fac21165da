// Re-running one purchase and its refunds under another program; see recalc.hpp.
#include "engine/recalc.hpp"

#include <algorithm>

#include "engine/check.hpp"
#include "engine/handlers.hpp"
#include "engine/refund_math.hpp"

namespace loyalty {

uint32_t tier_index_in(const Program& program, const std::string& name, uint32_t index) {
  if (!program.tiers || program.tiers->levels.empty()) return 0;
  const std::vector<TierLevel>& levels = program.tiers->levels;
  for (size_t i = 0; i < levels.size(); ++i) {
    if (levels[i].name == name) return static_cast<uint32_t>(i);
  }
  return std::min<uint32_t>(index, static_cast<uint32_t>(levels.size() - 1));
}

std::optional<RecalcFigures> recalc_purchase(const Program& program, const RecalcHistory& history) {
  LOYALTY_CHECK(history.purchase != nullptr);
  const EarningInput input{history.purchase,
                           tier_index_in(program, history.tier_name, history.tier_index),
                           history.purchase_count_before, history.paid_by_points_minor};
  std::optional<EarningResult> earned = compute_earning(program, input);
  if (!earned) return std::nullopt;
  // The purchase as the new rules would have recorded it, then its refunds, line by line as
  // they happened, through the refund handler's own arithmetic.
  PurchaseRecord record =
      handlers::make_purchase_record(*history.purchase, input, *earned, program);
  record.points_earned = earned->points;
  for (const std::vector<AmountMinor>& per_line : history.refunds) {
    LOYALTY_CHECK(per_line.size() == record.lines.size());
    refund_record(record, per_line);
  }
  RecalcFigures out;
  out.earned = earned->points;
  out.reversed = record.points_reversed;
  out.breakdown = std::move(earned->breakdown);
  return out;
}

Points effective_points(const PurchaseRecord& record) { return points_left(record); }

}  // namespace loyalty
