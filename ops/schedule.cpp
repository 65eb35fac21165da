// Due instants of a schedule on the local calendar of the program's zone.
#include "ops/schedule.hpp"

#include <cstdio>

#include "engine/check.hpp"

namespace loyalty::ops {
namespace {

constexpr TimeMs kMsPerMinute = 60'000;

// Local midnight that starts the period (day or month) holding local time `local`, moved by
// `periods` periods.
TimeMs period_start(ScheduleEvery every, TimeMs local, int periods) {
  if (every == ScheduleEvery::day) return day_start(local) + TimeMs{periods} * kMsPerDay;
  const TimeMs first_of_month = end_of_month_after(local, -1);  // the end of last month
  return add_months(first_of_month, periods);
}

// The instant of the schedule's time of day in the local period starting at `start`. A time
// the clocks skip (spring forward) runs when they resume; one they pass twice, the first time.
TimeMs due_in(const Schedule& schedule, const TimeZone& zone, TimeMs start) {
  return zone.instant_of(start + TimeMs{schedule.at_minute} * kMsPerMinute);
}

}  // namespace

TimeMs latest_due(const Schedule& schedule, const TimeZone& zone, TimeMs now) {
  LOYALTY_CHECK(schedule.at_minute < kMinutesPerDay);
  const TimeMs local = zone.local_of(now);
  const TimeMs due = due_in(schedule, zone, period_start(schedule.every, local, 0));
  return due <= now ? due : due_in(schedule, zone, period_start(schedule.every, local, -1));
}

TimeMs next_due(const Schedule& schedule, const TimeZone& zone, TimeMs now) {
  LOYALTY_CHECK(schedule.at_minute < kMinutesPerDay);
  const TimeMs local = zone.local_of(now);
  const TimeMs due = due_in(schedule, zone, period_start(schedule.every, local, 0));
  return due > now ? due : due_in(schedule, zone, period_start(schedule.every, local, 1));
}

std::string describe(const Schedule& schedule, const TimeZone& zone) {
  char at[16];
  std::snprintf(at, sizeof at, "%02u:%02u", schedule.at_minute / 60, schedule.at_minute % 60);
  return std::string(job_type_name(schedule.job)) +
         (schedule.every == ScheduleEvery::day ? " every day at "
                                               : " on the 1st of every month at ") +
         at + " " + zone.name();
}

}  // namespace loyalty::ops
