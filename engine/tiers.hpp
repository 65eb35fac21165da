// Tiers (domain.md "Tiers"): qualifying activity held as monthly buckets, immediate upgrade
// on the event that crosses a threshold, downgrade only in tier evaluation after retain_months.
#pragma once

#include <optional>
#include <string>

#include "engine/member_state.hpp"
#include "engine/program.hpp"

namespace loyalty {

struct Effects;

struct Activity {
  AmountMinor spend_minor = 0;
  Points base_points = 0;
  int64_t purchases = 0;
};

// Adds (or, negative, takes back) activity in `month` (month_index; the program's local month of
// the purchase, local_month_index); keeps only the months any window could still count.
void record_activity(const TierRules& rules, MemberState& member, int64_t month, Activity delta);

// The qualifying value over the window that ends in the local month of `as_of`.
int64_t qualifying_value(const TierRules& rules, const TimeZone& zone, const MemberState& member,
                         TimeMs as_of);

// The highest level whose threshold `value` meets.
uint32_t tier_for_value(const TierRules& rules, int64_t value);

// Moves the member up when the value at `at` reaches a higher tier. Returns true if it did.
bool upgrade_if_qualified(const ProgramVersion& program, MemberState& member, TimeMs at,
                          const std::string& reference, Effects& effects);

// Tier evaluation: drops a member whose value is below their tier's threshold and who has held
// the tier at least retain_months (local calendar months), to the highest tier met. Returns true if
// the tier changed.
bool evaluate_tier(const ProgramVersion& program, MemberState& member, TimeMs as_of,
                   const std::string& reference, Effects& effects);

}  // namespace loyalty
