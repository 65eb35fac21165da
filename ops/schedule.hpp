// When the periodic jobs are due (server.toml [[schedules]]): every day, or on the 1st of every
// month, at a local time of day in the program's zone (domain.md, "Local time"). Pure calendar
// arithmetic, so that the scheduler's decisions can be tested with any clock.
// Thread-safety: plain values and free functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/time.hpp"
#include "engine/time_zone.hpp"
#include "storage/job_record.hpp"

namespace loyalty::ops {

enum class ScheduleEvery : uint8_t { day = 0, month = 1 };

struct Schedule {
  JobType job = JobType::expire;  // expire or evaluate_tiers (recalculation is never periodic)
  ScheduleEvery every = ScheduleEvery::day;
  uint32_t at_minute = 0;  // minutes after local midnight, 0 to 1439

  bool operator==(const Schedule&) const = default;
};

inline constexpr uint32_t kMinutesPerDay = 24 * 60;

// The latest due instant at or before `now`, on `zone`'s calendar.
TimeMs latest_due(const Schedule& schedule, const TimeZone& zone, TimeMs now);
// The first due instant after `now`, on `zone`'s calendar.
TimeMs next_due(const Schedule& schedule, const TimeZone& zone, TimeMs now);

// "expire every day at 03:00 Asia/Shanghai", for logs.
std::string describe(const Schedule& schedule, const TimeZone& zone);

}  // namespace loyalty::ops
