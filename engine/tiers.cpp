// Monthly activity buckets and tier moves.
#include "engine/tiers.hpp"

#include <algorithm>

#include "engine/apply.hpp"
#include "engine/entry_writer.hpp"

namespace loyalty {
namespace {

// The oldest month (month_index) the window ending in `month` counts.
int64_t window_start(const TierRules& rules, int64_t month) {
  if (rules.window == TierWindow::calendar_year) return month - month % 12;
  return month - static_cast<int64_t>(rules.window_months) + 1;
}

// Months kept: every month the newest month's window counts, and 12 more, so that a purchase
// uploaded late (offline tills) is still judged on its own complete window. An event more than
// a year older than the newest window adds to no bucket.
constexpr int64_t kBackDatingMonthsMax = 12;

int64_t retention_start(const TierRules& rules, int64_t newest_month) {
  return std::min(window_start(rules, newest_month), newest_month - 11) - kBackDatingMonthsMax;
}

int64_t metric_of(TierMetric metric, const MonthActivity& month) {
  switch (metric) {
    case TierMetric::spend:
      return month.spend_minor;
    case TierMetric::points:
      return month.base_points;
    case TierMetric::purchases:
      return month.purchases;
  }
  return 0;
}

void change_tier(const ProgramVersion& program, MemberState& member, uint32_t to, TimeMs at,
                 const std::string& reference, Effects& effects) {
  const std::string from_name = program.program.tier_name(member.tier_index);
  member.tier_index = to;
  member.tier_since = at;
  EntryWriter writer(member, effects, program.number, at, reference);
  writer.entry(EntryType::tier_change, 0, from_name + "->" + program.program.tier_name(to));
  writer.notify("tier.changed", 0);
}

}  // namespace

void record_activity(const TierRules& rules, MemberState& member, int64_t month, Activity delta) {
  auto& months = member.activity;
  auto it = std::lower_bound(months.begin(), months.end(), month,
                             [](const MonthActivity& m, int64_t value) { return m.month < value; });
  if (it == months.end() || it->month != month) {
    if (!months.empty() && month < retention_start(rules, months.back().month)) return;
    it = months.insert(it, MonthActivity{month, 0, 0, 0});
  }
  it->spend_minor += delta.spend_minor;
  it->base_points += delta.base_points;
  it->purchases += delta.purchases;
  const int64_t keep_from = retention_start(rules, months.back().month);
  months.erase(months.begin(),
               std::find_if(months.begin(), months.end(),
                            [keep_from](const MonthActivity& m) { return m.month >= keep_from; }));
}

int64_t qualifying_value(const TierRules& rules, const TimeZone& zone, const MemberState& member,
                         TimeMs as_of) {
  const int64_t month = local_month_index(zone, as_of);
  const int64_t from = window_start(rules, month);
  int64_t value = 0;
  for (const MonthActivity& m : member.activity) {
    if (m.month >= from && m.month <= month) value += metric_of(rules.metric, m);
  }
  return std::max<int64_t>(value, 0);
}

uint32_t tier_for_value(const TierRules& rules, int64_t value) {
  uint32_t tier = 0;
  for (uint32_t i = 0; i < rules.levels.size(); ++i) {
    if (rules.levels[i].threshold <= value) tier = i;
  }
  return tier;
}

bool upgrade_if_qualified(const ProgramVersion& program, MemberState& member, TimeMs at,
                          const std::string& reference, Effects& effects) {
  if (!program.program.tiers) return false;
  const TierRules& rules = *program.program.tiers;
  const uint32_t reached =
      tier_for_value(rules, qualifying_value(rules, *program.program.time_zone, member, at));
  if (reached <= member.tier_index) return false;
  change_tier(program, member, reached, at, reference, effects);
  return true;
}

bool evaluate_tier(const ProgramVersion& program, MemberState& member, TimeMs as_of,
                   const std::string& reference, Effects& effects) {
  if (!program.program.tiers) return false;
  const TierRules& rules = *program.program.tiers;
  if (member.tier_index >= rules.levels.size()) {  // a new program version has fewer levels
    change_tier(program, member, static_cast<uint32_t>(rules.levels.size() - 1), as_of, reference,
                effects);
    return true;
  }
  const TimeZone& zone = *program.program.time_zone;
  const uint32_t met = tier_for_value(rules, qualifying_value(rules, zone, member, as_of));
  if (met >= member.tier_index) return false;
  if (local_add_months(zone, member.tier_since, static_cast<int>(rules.retain_months)) > as_of) {
    return false;
  }
  change_tier(program, member, met, as_of, reference, effects);
  return true;
}

}  // namespace loyalty
