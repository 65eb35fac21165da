// Event time: milliseconds since the Unix epoch, UTC. Parsing and printing RFC 3339 and
// the calendar arithmetic the rules need (weekdays, month windows, expiry dates).
// Pure functions: the engine never reads a clock.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace loyalty {

using TimeMs = int64_t;
inline constexpr TimeMs kTimeNever = std::numeric_limits<TimeMs>::max();
inline constexpr TimeMs kMsPerSecond = 1000;
inline constexpr TimeMs kMsPerDay = 86'400'000;

// Accepts "2026-11-20T10:15:00Z", "2026-11-20T10:15:00.123+08:00" (offsets converted to
// UTC), lower-case 't'/'z'. Refuses anything else, including out-of-range fields and times
// whose UTC year is not 0000–9999 (so that format_rfc3339 writes back every accepted time).
std::optional<TimeMs> parse_rfc3339(std::string_view text);
// Always "YYYY-MM-DDTHH:MM:SSZ", with ".mmm" only when the milliseconds are not zero.
std::string format_rfc3339(TimeMs time);

int iso_weekday(TimeMs time);      // 1 = Monday … 7 = Sunday
TimeMs day_start(TimeMs time);     // midnight at the start of `time`'s day
int minute_of_day(TimeMs time);    // 0 … 1439
// "HH:MM" (two digits each) from "00:00" to "24:00" → minutes after midnight (24:00 = 1440, the
// end of a day); nullopt for anything else. Campaign hours and schedules are written this way.
std::optional<int> parse_time_of_day(std::string_view text);
int64_t month_index(TimeMs time);  // year × 12 + (month − 1): comparable month numbers
int year_of(TimeMs time);
TimeMs add_days(TimeMs time, int64_t days);
// The first instant after the end of the month that lies `months` after `time`'s month.
TimeMs end_of_month_after(TimeMs time, int months);
// Adds calendar months, clamping the day to the target month's length.
TimeMs add_months(TimeMs time, int months);

}  // namespace loyalty
