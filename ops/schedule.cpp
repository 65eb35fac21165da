// Due instants of a schedule, with the C++20 calendar (UTC, no leap seconds: as engine/time).
#include "ops/schedule.hpp"

#include <chrono>
#include <cstdio>

#include "engine/check.hpp"

namespace loyalty::ops {
namespace {

using std::chrono::days;
using std::chrono::floor;
using std::chrono::milliseconds;
using std::chrono::sys_days;
using std::chrono::year_month_day;

constexpr TimeMs kMsPerMinute = 60'000;

sys_days day_of(TimeMs time) {
  return floor<days>(std::chrono::sys_time<milliseconds>(milliseconds(time)));
}

TimeMs ms_of(sys_days day) {
  return std::chrono::duration_cast<milliseconds>(day.time_since_epoch()).count();
}

// The due instant in the period (day or month) that contains `time`; it may lie after `time`.
TimeMs due_in_period_of(const Schedule& schedule, TimeMs time) {
  sys_days start = day_of(time);
  if (schedule.every == ScheduleEvery::month) {
    const year_month_day date{start};
    start = sys_days{date.year() / date.month() / 1};
  }
  return ms_of(start) + TimeMs{schedule.at_minute} * kMsPerMinute;
}

// The same period's due instant `periods` periods later (or earlier, when negative).
TimeMs shift(const Schedule& schedule, TimeMs due, int periods) {
  if (schedule.every == ScheduleEvery::day) return due + TimeMs{periods} * kMsPerDay;
  const year_month_day date{day_of(due)};
  const auto month =
      std::chrono::year_month{date.year(), date.month()} + std::chrono::months{periods};
  return ms_of(sys_days{month / 1}) + TimeMs{schedule.at_minute} * kMsPerMinute;
}

}  // namespace

TimeMs latest_due(const Schedule& schedule, TimeMs now) {
  LOYALTY_CHECK(schedule.at_minute < kMinutesPerDay);
  const TimeMs due = due_in_period_of(schedule, now);
  return due <= now ? due : shift(schedule, due, -1);
}

TimeMs next_due(const Schedule& schedule, TimeMs now) {
  LOYALTY_CHECK(schedule.at_minute < kMinutesPerDay);
  const TimeMs due = due_in_period_of(schedule, now);
  return due > now ? due : shift(schedule, due, 1);
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

std::string describe(const Schedule& schedule) {
  char at[16];
  std::snprintf(at, sizeof at, "%02u:%02u", schedule.at_minute / 60, schedule.at_minute % 60);
  return std::string(job_type_name(schedule.job)) +
         (schedule.every == ScheduleEvery::day ? " every day at "
                                               : " on the 1st of every month at ") +
         at + " UTC";
}

}  // namespace loyalty::ops
