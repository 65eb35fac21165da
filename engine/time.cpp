// RFC 3339 and calendar arithmetic on top of <chrono>'s civil calendar.
#include "engine/time.hpp"

#include <chrono>
#include <cstdio>

namespace loyalty {
namespace {

using namespace std::chrono;

bool read_digits(std::string_view text, size_t pos, size_t count, int& out) {
  if (pos + count > text.size()) return false;
  int value = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    const char c = text[i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  out = value;
  return true;
}

sys_days to_days(TimeMs time) { return floor<days>(sys_time<milliseconds>(milliseconds(time))); }

TimeMs from_days(sys_days day) {
  return duration_cast<milliseconds>(day.time_since_epoch()).count();
}

}  // namespace

std::optional<TimeMs> parse_rfc3339(std::string_view text) {
  int y, mo, d, h, mi, s;
  if (text.size() < 20) return std::nullopt;
  if (!read_digits(text, 0, 4, y) || text[4] != '-' || !read_digits(text, 5, 2, mo) ||
      text[7] != '-' || !read_digits(text, 8, 2, d) || (text[10] != 'T' && text[10] != 't') ||
      !read_digits(text, 11, 2, h) || text[13] != ':' || !read_digits(text, 14, 2, mi) ||
      text[16] != ':' || !read_digits(text, 17, 2, s)) {
    return std::nullopt;
  }
  const year_month_day date{year{y}, month{static_cast<unsigned>(mo)},
                            day{static_cast<unsigned>(d)}};
  if (!date.ok() || h > 23 || mi > 59 || s > 59) return std::nullopt;
  size_t pos = 19;
  int64_t millis = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 3) millis = millis * 10 + (text[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0 || digits > 9) return std::nullopt;
    for (int i = digits; i < 3; ++i) millis *= 10;
  }
  if (pos >= text.size()) return std::nullopt;
  int64_t offset_minutes = 0;
  if (text[pos] == 'Z' || text[pos] == 'z') {
    ++pos;
  } else if (text[pos] == '+' || text[pos] == '-') {
    int oh, om;
    if (!read_digits(text, pos + 1, 2, oh) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
        !read_digits(text, pos + 4, 2, om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_minutes = (text[pos] == '+' ? 1 : -1) * (oh * 60 + om);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;
  const TimeMs local =
      from_days(sys_days{date}) + ((int64_t{h} * 60 + mi) * 60 + s) * kMsPerSecond + millis;
  const TimeMs utc = local - offset_minutes * 60 * kMsPerSecond;
  // An offset can move a time out of the four-digit years ("9999-12-31T23:59:59-01:00" is in
  // year 10000 UTC), which format_rfc3339 could not write back as RFC 3339: refused, so that
  // every accepted time round-trips (found by fuzz/request_fuzzer.cpp).
  static const TimeMs first = from_days(sys_days{year{0} / January / 1});
  static const TimeMs after_last = from_days(sys_days{year{10000} / January / 1});
  if (utc < first || utc >= after_last) return std::nullopt;
  return utc;
}

std::string format_rfc3339(TimeMs time) {
  const sys_days day = to_days(time);
  const year_month_day date{day};
  const int64_t in_day = time - from_days(day);
  const int64_t seconds_in_day = in_day / kMsPerSecond;
  const int64_t millis = in_day % kMsPerSecond;
  char buffer[40];
  int written = std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02uT%02lld:%02lld:%02lld",
                              static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                              static_cast<unsigned>(date.day()),
                              static_cast<long long>(seconds_in_day / 3600),
                              static_cast<long long>(seconds_in_day / 60 % 60),
                              static_cast<long long>(seconds_in_day % 60));
  if (millis != 0) {
    written += std::snprintf(buffer + written, sizeof buffer - static_cast<size_t>(written),
                             ".%03lld", static_cast<long long>(millis));
  }
  return std::string(buffer, static_cast<size_t>(written)) + "Z";
}

int iso_weekday(TimeMs time) {
  const unsigned encoding = weekday{to_days(time)}.iso_encoding();
  return static_cast<int>(encoding);
}

TimeMs day_start(TimeMs time) { return from_days(to_days(time)); }

int minute_of_day(TimeMs time) {
  return static_cast<int>((time - day_start(time)) / (60 * kMsPerSecond));
}

std::optional<int> parse_time_of_day(std::string_view text) {
  int hours = 0;
  int minutes = 0;
  if (text.size() != 5 || text[2] != ':' || !read_digits(text, 0, 2, hours) ||
      !read_digits(text, 3, 2, minutes) || minutes > 59) {
    return std::nullopt;
  }
  const int minute = hours * 60 + minutes;
  if (minute > 24 * 60) return std::nullopt;
  return minute;
}

int64_t month_index(TimeMs time) {
  const year_month_day date{to_days(time)};
  return int64_t{static_cast<int>(date.year())} * 12 + static_cast<unsigned>(date.month()) - 1;
}

int year_of(TimeMs time) { return static_cast<int>(year_month_day{to_days(time)}.year()); }

TimeMs add_days(TimeMs time, int64_t days_to_add) { return time + days_to_add * kMsPerDay; }

TimeMs end_of_month_after(TimeMs time, int months_to_add) {
  const year_month_day date{to_days(time)};
  const year_month target = year_month{date.year(), date.month()} + months{months_to_add + 1};
  return from_days(sys_days{target / day{1}});
}

TimeMs add_months(TimeMs time, int months_to_add) {
  const sys_days day_start = to_days(time);
  const year_month_day date{day_start};
  const year_month target = year_month{date.year(), date.month()} + months{months_to_add};
  const day month_end = (target / std::chrono::last).day();
  const day clamped = date.day() > month_end ? month_end : date.day();
  return from_days(sys_days{target / clamped}) + (time - from_days(day_start));
}

}  // namespace loyalty
