// Local time (domain.md, "Local time"): which wall-clock time an instant is in a place, and
// which instant a wall-clock time names there. The rules come in with the program (resolved
// when it is loaded), so the engine computes with them and never reads zone files itself.
//
// A "local time" is a TimeMs counted from 1970-01-01T00:00 on the place's own clock, as if that
// clock were UTC: the calendar functions of time.hpp (iso_weekday, month_index, add_months…)
// apply to it unchanged, and the functions below wrap the round trip.
// Thread-safety: a TimeZone is immutable; every method may be called from any thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "engine/time.hpp"

namespace loyalty {

class TimeZone {
 public:
  virtual ~TimeZone() = default;

  // The IANA name it was resolved from ("Asia/Shanghai"), as the program wrote it.
  virtual const std::string& name() const = 0;
  // The wall-clock time at `instant`.
  virtual TimeMs local_of(TimeMs instant) const = 0;
  // The instant the wall-clock time `local` names. A time that does not exist (spring forward)
  // is the instant after the gap; one that exists twice (fall back) its first occurrence.
  virtual TimeMs instant_of(TimeMs local) const = 0;
};

using TimeZonePtr = std::shared_ptr<const TimeZone>;

// Coordinated Universal Time: the default zone of a program, and the one programs built in
// code get. Needs no zone data.
const TimeZonePtr& utc_time_zone();

// Where zone names are resolved: the operating system's database in the programs
// (engine/tzdb), anything else in a test.
class TimeZoneDatabase {
 public:
  virtual ~TimeZoneDatabase() = default;
  // The zone called `name`, loaded and ready for any thread; nullptr when there is none.
  virtual TimeZonePtr find(std::string_view name) const = 0;
};

// The calendar of a place. Each takes and returns instants.
int local_weekday(const TimeZone& zone, TimeMs instant);          // ISO: 1 = Monday … 7 = Sunday
int64_t local_month_index(const TimeZone& zone, TimeMs instant);  // as month_index()
int local_minute_of_day(const TimeZone& zone, TimeMs instant);    // 0 … 1439
// Local midnight at the start of the day `days` after the local day of `instant`.
TimeMs local_day_start(const TimeZone& zone, TimeMs instant, int64_t days);
// Local midnight after the last day of the month `months` after the local month of `instant`.
TimeMs local_end_of_month_after(const TimeZone& zone, TimeMs instant, int months);
// The same local time of day `months` later (the day clamped to the month's length).
TimeMs local_add_months(const TimeZone& zone, TimeMs instant, int months);

}  // namespace loyalty
