// What a basket earns under a program (domain.md, "Earning on a purchase", steps 1–5).
// Shared by purchases and quotes so that a quote always equals the purchase.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/events.hpp"
#include "engine/program.hpp"
#include "engine/types.hpp"

namespace loyalty {

struct BreakdownLine {
  std::string rule;  // "base", "category:beverage", "sku:latte-l", "campaign:<id>",
                     // "tier:<name>", "bonus:<campaign id>", "milestone:<count>", "cap"
  Points points = 0;
  friend bool operator==(const BreakdownLine&, const BreakdownLine&) = default;
};

struct EarningInput {
  const PurchaseEvent* purchase = nullptr;
  uint32_t tier_index = 0;               // the member's tier before this event
  uint32_t purchase_count_before = 0;    // lifetime purchases before this one
  AmountMinor paid_by_points_minor = 0;  // value paid with points, earns nothing
};

struct EarningResult {
  Points points = 0;                  // everything the event credits; Σ breakdown == points
  Points rate_points = 0;             // the multiplied part (base, multipliers, campaigns, tier)
  Points bonus_points = 0;            // flat campaign bonuses and milestone bonuses
  AmountMinor order_total_minor = 0;  // Σ line amounts
  AmountMinor eligible_minor = 0;     // after exclusions and the part paid with points
  std::vector<BreakdownLine> breakdown;
};

// nullopt only when exact arithmetic would overflow 128 bits: the event is refused rather
// than answered with a wrong number.
std::optional<EarningResult> compute_earning(const Program& program, const EarningInput& input);

// Whether the campaign's time window, weekday, hours and store conditions hold for the purchase.
// `local_time` is the purchase's time on its store's clock (Program::zone_of_store).
bool campaign_applies(const Campaign& campaign, const PurchaseEvent& purchase, TimeMs local_time);

}  // namespace loyalty
