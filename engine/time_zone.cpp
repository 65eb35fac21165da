// UTC, and the local calendar on top of any zone's two conversions.
#include "engine/time_zone.hpp"

namespace loyalty {
namespace {

class UtcTimeZone final : public TimeZone {
 public:
  const std::string& name() const override { return name_; }
  TimeMs local_of(TimeMs instant) const override { return instant; }
  TimeMs instant_of(TimeMs local) const override { return local; }

 private:
  const std::string name_ = "UTC";
};

}  // namespace

const TimeZonePtr& utc_time_zone() {
  static const TimeZonePtr utc = std::make_shared<UtcTimeZone>();
  return utc;
}

int local_weekday(const TimeZone& zone, TimeMs instant) {
  return iso_weekday(zone.local_of(instant));
}

int64_t local_month_index(const TimeZone& zone, TimeMs instant) {
  return month_index(zone.local_of(instant));
}

int local_minute_of_day(const TimeZone& zone, TimeMs instant) {
  return minute_of_day(zone.local_of(instant));
}

TimeMs local_day_start(const TimeZone& zone, TimeMs instant, int64_t days) {
  return zone.instant_of(day_start(zone.local_of(instant)) + days * kMsPerDay);
}

TimeMs local_end_of_month_after(const TimeZone& zone, TimeMs instant, int months) {
  return zone.instant_of(end_of_month_after(zone.local_of(instant), months));
}

TimeMs local_add_months(const TimeZone& zone, TimeMs instant, int months) {
  return zone.instant_of(add_months(zone.local_of(instant), months));
}

}  // namespace loyalty
