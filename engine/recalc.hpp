// Recalculation's arithmetic (domain.md "Recalculation"): what one purchase would give the
// member under another program, with its history otherwise as it was: the member's tier and
// purchase count before it, the value paid with points, and the same refunds of the same lines.
// Pure; ops/recalculation reconstructs the history from the event log.
#pragma once

#include <optional>
#include <vector>

#include "engine/earning.hpp"
#include "engine/program.hpp"
#include "engine/purchase_record.hpp"

namespace loyalty {

struct RecalcHistory {
  const PurchaseEvent* purchase = nullptr;
  std::string tier_name;                 // the member's tier before it, as it was
  uint32_t tier_index = 0;               // its level then (used when the name is gone)
  uint32_t purchase_count_before = 0;    // for milestones
  AmountMinor paid_by_points_minor = 0;  // what points paid of it (earns nothing)
  // Each refund of it, in order: the amount it refunded of each line.
  std::vector<std::vector<AmountMinor>> refunds;
};

struct RecalcFigures {
  Points earned = 0;    // what the purchase earns under the program (referral rewards aside)
  Points reversed = 0;  // what its refunds would have reversed of that
  std::vector<BreakdownLine> breakdown;
  Points effective() const { return earned - reversed; }
};

// nullopt when exact arithmetic would overflow (compute_earning refuses such a basket).
std::optional<RecalcFigures> recalc_purchase(const Program& program, const RecalcHistory& history);

// The tier level of `program` a member in tier `name` (level `index` of another version) is
// in: the level with that name, else the same level number, at most the highest.
uint32_t tier_index_in(const Program& program, const std::string& name, uint32_t index);

// What a purchase gives the member as recorded: earned − reversed by refunds + adjustments.
Points effective_points(const PurchaseRecord& record);

}  // namespace loyalty
