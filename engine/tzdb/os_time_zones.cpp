// Zones from /usr/share/zoneinfo through date/tz, with the TZif file's footer for the years its
// transitions do not reach.
//
// Why the footer: Debian's zone files list transitions up to 2037 and leave later years to a
// POSIX TZ rule at the end of the file ("CET-1CEST,M3.5.0,M10.5.0/3"), which date/tz's
// operating-system mode does not read: it would keep Berlin on winter time from 2038 on. The
// same library's ptz.h reads that rule, so past the last transition the zone follows it.
#include "engine/tzdb/os_time_zones.hpp"

#include <date/ptz.h>
#include <date/tz.h>

#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>

namespace loyalty {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kZoneInfoDirectory = "/usr/share/zoneinfo";

TimeMs ms_of(seconds duration) { return duration.count() * kMsPerSecond; }
TimeMs ms_of(date::sys_seconds instant) { return ms_of(instant.time_since_epoch()); }

// The POSIX TZ rule at the end of a TZif (version 2 or later) file: the text between its last
// two newlines. nullopt when the file has none or the library cannot read it.
std::optional<Posix::time_zone> footer_rule(const std::string& zone_name) {
  std::ifstream file(std::string(kZoneInfoDirectory) + "/" + zone_name, std::ios::binary);
  const std::string content{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  if (content.size() < 6 || content.compare(0, 4, "TZif") != 0 || content[4] < '2' ||
      content.back() != '\n') {
    return std::nullopt;
  }
  const size_t start = content.rfind('\n', content.size() - 2);
  if (start == std::string::npos) return std::nullopt;
  const std::string rule = content.substr(start + 1, content.size() - start - 2);
  if (rule.empty()) return std::nullopt;
  try {
    return Posix::time_zone(rule);
  } catch (const std::exception&) {
    return std::nullopt;  // a rule ptz.h cannot read: the last transition's offset stays
  }
}

// The instant a local time names, by the spec's rule for gaps (the instant after) and overlaps
// (the first occurrence).
TimeMs resolve(const date::local_info& info, TimeMs local) {
  if (info.result == date::local_info::nonexistent) return ms_of(info.first.end);
  return local - ms_of(info.first.offset);
}

class OsTimeZone final : public TimeZone {
 public:
  OsTimeZone(std::string name, const date::time_zone& zone, std::optional<Posix::time_zone> rule)
      : name_(std::move(name)), zone_(&zone), rule_(std::move(rule)) {
    const date::sys_info last = zone.get_info(date::sys_days{date::year{9999} / 12 / 31});
    rule_from_ = ms_of(last.begin);
  }

  const std::string& name() const override { return name_; }

  TimeMs local_of(TimeMs instant) const override {
    const date::sys_time<milliseconds> time{milliseconds{instant}};
    const seconds offset =
        follows_rule(instant) ? rule_->get_info(time).offset : zone_->get_info(time).offset;
    return instant + ms_of(offset);
  }

  TimeMs instant_of(TimeMs local) const override {
    const date::local_time<milliseconds> time{milliseconds{local}};
    const TimeMs instant = resolve(zone_->get_info(time), local);
    return follows_rule(instant) ? resolve(rule_->get_info(time), local) : instant;
  }

 private:
  bool follows_rule(TimeMs instant) const { return rule_ && instant >= rule_from_; }

  const std::string name_;
  const date::time_zone* zone_;  // owned by the library's database, which lives as long as we do
  const std::optional<Posix::time_zone> rule_;
  TimeMs rule_from_ = 0;  // the last transition the file lists; the rule decides from there
};

class OsTimeZoneDatabase final : public TimeZoneDatabase {
 public:
  TimeZonePtr find(std::string_view name) const override {
    if (name == "UTC") return utc_time_zone();  // no file needed for the default
    // The one file of the database that is not a place: a link to /etc/localtime, whatever the
    // host is set to, so the same program would mean other rules on another machine.
    if (name == "localtime") return nullptr;
    const std::string key(name);
    std::lock_guard lock(mutex_);
    if (const auto it = zones_.find(key); it != zones_.end()) return it->second;
    try {
      // locate_zone knows only the names of the installed zone files, so no other path is
      // ever opened; the first get_info reads the zone's file, here rather than on a writer.
      const date::time_zone* zone = date::locate_zone(key);
      zone->get_info(date::sys_seconds{});
      auto resolved = std::make_shared<OsTimeZone>(key, *zone, footer_rule(key));
      zones_.emplace(key, resolved);
      return resolved;
    } catch (const std::exception&) {
      return nullptr;  // not a zone of this system's database
    }
  }

 private:
  mutable std::mutex mutex_;
  mutable std::map<std::string, TimeZonePtr, std::less<>> zones_;
};

}  // namespace

const TimeZoneDatabase& os_time_zones() {
  static const OsTimeZoneDatabase database;
  return database;
}

}  // namespace loyalty
