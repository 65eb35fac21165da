// Building the member view from state.
#include "engine/member_view.hpp"

#include <algorithm>
#include <map>

#include "engine/tiers.hpp"

namespace loyalty {
namespace {

std::string_view metric_name(TierMetric metric) {
  switch (metric) {
    case TierMetric::spend:
      return "spend";
    case TierMetric::points:
      return "points";
    case TierMetric::purchases:
      return "purchases";
  }
  return "spend";
}

}  // namespace

MemberView build_member_view(const ProgramVersion& version, const MemberState& member, TimeMs now) {
  const Program& program = version.program;
  MemberView view;
  view.member = &member;
  view.tier = program.tier_name(member.tier_index);
  view.program_version = version.label();
  if (program.tiers) {
    const TierRules& tiers = *program.tiers;
    if (member.tier_index < tiers.levels.size()) {
      view.tier_benefits_json = tiers.levels[member.tier_index].benefits_json;
    }
    QualifyingProgress progress;
    progress.metric = std::string(metric_name(tiers.metric));
    progress.window = tiers.window == TierWindow::rolling
                          ? std::to_string(tiers.window_months) + " months"
                          : "calendar year";
    progress.value = qualifying_value(tiers, *program.time_zone, member, now);
    const uint32_t next = member.tier_index + 1;
    if (next < tiers.levels.size()) {
      progress.next_tier = tiers.levels[next].name;
      progress.needed = std::max<int64_t>(0, tiers.levels[next].threshold - progress.value);
    }
    view.qualifying = progress;
  }
  std::map<TimeMs, Points> by_date;
  // Through the end of the local day kExpiringWindowDays after today: "expiring by 6 July" on
  // the member's screen includes what ends at midnight of 6 July, whatever the hour is now.
  const TimeMs horizon = local_day_start(*program.time_zone, now, kExpiringWindowDays + 1);
  for (const Lot& lot : member.lots) {
    const Points free = lot.points_remaining - lot.points_held;  // held points never expire
    if (free > 0 && lot.expires_at != kTimeNever && lot.expires_at > now &&
        lot.expires_at <= horizon) {
      by_date[lot.expires_at] += free;
    }
  }
  for (const auto& [expires_at, points] : by_date) view.expiring.push_back({points, expires_at});
  return view;
}

}  // namespace loyalty
