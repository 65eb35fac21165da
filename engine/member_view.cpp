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

// Everything but "expiring".
MemberView view_without_expiring(const ProgramVersion& version, const MemberState& member,
                                 TimeMs now) {
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
  return view;
}

// Through the end of the local day kExpiringWindowDays after today: "expiring by 6 July" on
// the member's screen includes what ends at midnight of 6 July, whatever the hour is now.
TimeMs expiring_horizon(const Program& program, TimeMs now) {
  return local_day_start(*program.time_zone, now, kExpiringWindowDays + 1);
}

// Points that can still expire: free (held points never expire) and with a date.
bool can_expire(const Lot& lot) {
  return lot.points_remaining - lot.points_held > 0 && lot.expires_at != kTimeNever;
}

}  // namespace

MemberView build_member_view(const ProgramVersion& version, const MemberState& member, TimeMs now) {
  MemberView view = view_without_expiring(version, member, now);
  const TimeMs horizon = expiring_horizon(version.program, now);
  std::map<TimeMs, Points> by_date;
  for (const Lot& lot : member.lots) {
    if (can_expire(lot) && lot.expires_at > now && lot.expires_at <= horizon) {
      by_date[lot.expires_at] += lot.points_remaining - lot.points_held;
    }
  }
  for (const auto& [expires_at, points] : by_date) view.expiring.push_back({points, expires_at});
  return view;
}

ExpirySchedule expiry_schedule(const MemberState& member) {
  // The earliest dates, kept sorted; lots mostly come in date order, so a lot usually lands
  // at the end or is past the last kept date.
  ExpirySchedule schedule;
  std::vector<ExpiringPoints>& dates = schedule.dates;
  bool dropped = false;  // a date later than those kept exists
  for (const Lot& lot : member.lots) {
    if (!can_expire(lot)) continue;
    const Points free = lot.points_remaining - lot.points_held;
    auto at = std::lower_bound(
        dates.begin(), dates.end(), lot.expires_at,
        [](const ExpiringPoints& kept, TimeMs when) { return kept.expires_at < when; });
    if (at != dates.end() && at->expires_at == lot.expires_at) {
      at->points += free;
      continue;
    }
    if (dates.size() == kExpiryScheduleDates) {
      dropped = true;
      if (at == dates.end()) continue;
      const auto position = at - dates.begin();  // pop_back invalidates `at` when it is last
      dates.pop_back();
      at = dates.begin() + position;
    }
    dates.insert(at, ExpiringPoints{free, lot.expires_at});
  }
  if (dropped) schedule.complete_through = dates.back().expires_at;
  return schedule;
}

std::optional<MemberView> build_member_view(const ProgramVersion& version,
                                            const MemberState& member,
                                            const ExpirySchedule& schedule, TimeMs now) {
  const TimeMs horizon = expiring_horizon(version.program, now);
  if (horizon > schedule.complete_through) return std::nullopt;
  MemberView view = view_without_expiring(version, member, now);
  for (const ExpiringPoints& date : schedule.dates) {
    if (date.expires_at > now && date.expires_at <= horizon) view.expiring.push_back(date);
  }
  return view;
}

}  // namespace loyalty
