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

int parse_time_of_day(std::string_view text) {
  const auto digit = [&](size_t i) { return text[i] >= '0' && text[i] <= '9'; };
  if (text.size() != 5 || text[2] != ':' || !digit(0) || !digit(1) || !digit(3) || !digit(4)) {
    return -1;
  }
  const int hours = (text[0] - '0') * 10 + (text[1] - '0');
  const int minutes = (text[3] - '0') * 10 + (text[4] - '0');
  if (hours > 23 || minutes > 59) return -1;
  return hours * 60 + minutes;
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
