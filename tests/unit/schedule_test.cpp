// Periodic jobs: server.toml [[schedules]] read strictly (every key checked, unknown keys named),
// due instants every day and on the 1st of every month, and the scheduler's catch-up at start
// and runs at due instants, driven by a test clock.
#include "ops/schedule.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "api/server_config.hpp"
#include "engine/tzdb/os_time_zones.hpp"
#include "ops/job_scheduler.hpp"
#include "tests/support/scenario.hpp"

namespace loyalty {
namespace {

using ops::Schedule;
using ops::ScheduleEvery;
using testing::at;

const TimeZone& utc = *utc_time_zone();

const TimeZone& zone(std::string_view name) {
  static std::map<std::string, TimeZonePtr, std::less<>> held;
  TimeZonePtr& found = held[std::string(name)];
  if (!found) found = os_time_zones().find(name);
  EXPECT_TRUE(found) << name;
  return found ? *found : utc;
}

std::variant<api::ServerConfig, api::ConfigError> parse(const std::string& schedules) {
  return api::parse_server_config("data_dir = \"d\"\n" + schedules, "server.toml");
}

std::string error_of(const std::string& schedules) {
  auto parsed = parse(schedules);
  if (const auto* error = std::get_if<api::ConfigError>(&parsed)) {
    return error->key + ": " + error->message;
  }
  return "(accepted)";
}

TEST(ScheduleConfig, ReadsDailyAndMonthlySchedules) {
  auto parsed = parse(R"(
[[schedules]]
job = "expire"
every = "day"
at = "03:00"

[[schedules]]
job = "evaluate_tiers"
every = "month"
at = "23:59"
)");
  ASSERT_TRUE(std::holds_alternative<api::ServerConfig>(parsed))
      << std::get<api::ConfigError>(parsed).message;
  const std::vector<Schedule>& schedules = std::get<api::ServerConfig>(parsed).schedules;
  ASSERT_EQ(schedules.size(), 2u);
  EXPECT_EQ(schedules[0], (Schedule{JobType::expire, ScheduleEvery::day, 180}));
  EXPECT_EQ(schedules[1], (Schedule{JobType::evaluate_tiers, ScheduleEvery::month, 1439}));
  EXPECT_TRUE(std::get<api::ServerConfig>(parse("")).schedules.empty());
}

TEST(ScheduleConfig, RefusesEveryMistakeNamingTheKey) {
  const std::string ok = "job = \"expire\"\nevery = \"day\"\n";
  EXPECT_EQ(error_of("[[schedules]]\n" + ok + "at = \"03:00\"\nhour = 3\n"),
            "schedules[0].hour: unknown key");
  EXPECT_EQ(error_of("[[schedules]]\njob = \"recalculate\"\nevery = \"day\"\nat = \"03:00\"\n"),
            "schedules[0].job: must be expire or evaluate_tiers");
  EXPECT_EQ(error_of("[[schedules]]\nevery = \"day\"\nat = \"03:00\"\n"),
            "schedules[0].job: is required (expire or evaluate_tiers)");
  EXPECT_EQ(error_of("[[schedules]]\njob = \"expire\"\nevery = \"week\"\nat = \"03:00\"\n"),
            "schedules[0].every: must be day or month (the 1st of each month)");
  EXPECT_EQ(error_of("[[schedules]]\n" + ok),
            "schedules[0].at: is required: a local time of day (the program's time_zone) such as "
            "\"03:00\"");
  for (const char* at_text : {"3:00", "24:00", "03:60", "03:00:00", "0300", "ab:cd", " 3:00"}) {
    EXPECT_EQ(error_of("[[schedules]]\n" + ok + "at = \"" + at_text + "\"\n"),
              "schedules[0].at: must be a local time of day HH:MM, from 00:00 to 23:59")
        << at_text;
  }
  EXPECT_EQ(error_of("[[schedules]]\n" + ok + "at = 3\n"), "schedules[0].at: must be a string");
  EXPECT_EQ(error_of("[[schedules]]\n" + ok + "at = \"03:00\"\n[[schedules]]\n" + ok +
                     "at = \"04:00\"\n"),
            "schedules[1].job: another schedule runs this job");
  EXPECT_EQ(error_of("schedules = \"daily\"\n"),
            "schedules: must be an array of tables ([[schedules]])");
  EXPECT_EQ(error_of("schedules = [1]\n"), "schedules[0]: must be a table ([[schedules]])");
}

TEST(ScheduleInstants, EveryDayAtTheTimeOfDay) {
  const Schedule daily{JobType::expire, ScheduleEvery::day, 3 * 60};
  EXPECT_EQ(latest_due(daily, utc, at("2026-11-23T11:30:00Z")), at("2026-11-23T03:00:00Z"));
  EXPECT_EQ(next_due(daily, utc, at("2026-11-23T11:30:00Z")), at("2026-11-24T03:00:00Z"));
  // The instant itself is due; a millisecond before, the day before's is the latest.
  EXPECT_EQ(latest_due(daily, utc, at("2026-11-23T03:00:00Z")), at("2026-11-23T03:00:00Z"));
  EXPECT_EQ(next_due(daily, utc, at("2026-11-23T03:00:00Z")), at("2026-11-24T03:00:00Z"));
  EXPECT_EQ(latest_due(daily, utc, at("2026-11-23T02:59:59.999Z")), at("2026-11-22T03:00:00Z"));
  EXPECT_EQ(next_due(daily, utc, at("2026-11-23T02:59:59.999Z")), at("2026-11-23T03:00:00Z"));
  // Across a year's end.
  EXPECT_EQ(next_due(daily, utc, at("2026-12-31T23:00:00Z")), at("2027-01-01T03:00:00Z"));
}

TEST(ScheduleInstants, MonthlyOnTheFirst) {
  const Schedule monthly{JobType::evaluate_tiers, ScheduleEvery::month, 0};
  EXPECT_EQ(latest_due(monthly, utc, at("2026-11-23T11:30:00Z")), at("2026-11-01T00:00:00Z"));
  EXPECT_EQ(next_due(monthly, utc, at("2026-11-23T11:30:00Z")), at("2026-12-01T00:00:00Z"));
  EXPECT_EQ(next_due(monthly, utc, at("2026-12-01T00:00:00Z")), at("2027-01-01T00:00:00Z"));
  const Schedule late{JobType::evaluate_tiers, ScheduleEvery::month, 6 * 60 + 30};
  // On the 1st before its time the month before's instant is still the latest.
  EXPECT_EQ(latest_due(late, utc, at("2026-03-01T06:00:00Z")), at("2026-02-01T06:30:00Z"));
  EXPECT_EQ(next_due(late, utc, at("2026-03-01T06:00:00Z")), at("2026-03-01T06:30:00Z"));
  EXPECT_EQ(latest_due(late, utc, at("2026-01-01T00:00:00Z")), at("2025-12-01T06:30:00Z"));
  EXPECT_EQ(next_due(late, utc, at("2028-02-29T12:00:00Z")), at("2028-03-01T06:30:00Z"));
}

// [[schedules]] at is local time in the program's zone (domain.md, "Local time").
TEST(ScheduleInstants, AtIsTheProgramsLocalTime) {
  const Schedule daily{JobType::expire, ScheduleEvery::day, 3 * 60};
  const TimeZone& shanghai = zone("Asia/Shanghai");
  // 03:00 in Shanghai is 19:00 UTC the day before.
  EXPECT_EQ(latest_due(daily, shanghai, at("2026-11-23T11:30:00Z")), at("2026-11-22T19:00:00Z"));
  EXPECT_EQ(next_due(daily, shanghai, at("2026-11-23T11:30:00Z")), at("2026-11-23T19:00:00Z"));
  EXPECT_EQ(latest_due(daily, shanghai, at("2026-11-22T18:59:59.999Z")),
            at("2026-11-21T19:00:00Z"));
  // The 1st of the month at 00:00 local: still the 30th of the month before in UTC.
  const Schedule monthly{JobType::evaluate_tiers, ScheduleEvery::month, 0};
  EXPECT_EQ(next_due(monthly, shanghai, at("2026-11-23T11:30:00Z")), at("2026-11-30T16:00:00Z"));
  EXPECT_EQ(latest_due(monthly, shanghai, at("2026-11-30T16:00:00Z")), at("2026-11-30T16:00:00Z"));
  EXPECT_EQ(latest_due(monthly, shanghai, at("2026-11-30T15:59:59Z")), at("2026-10-31T16:00:00Z"));
  const TimeZone& new_york = zone("America/New_York");
  EXPECT_EQ(next_due(monthly, new_york, at("2026-12-31T23:00:00Z")), at("2027-01-01T05:00:00Z"));
}

TEST(ScheduleInstants, DaylightSavingGapRunsWhenClocksResumeAndOverlapRunsOnce) {
  const TimeZone& berlin = zone("Europe/Berlin");
  const Schedule at_0230{JobType::expire, ScheduleEvery::day, 2 * 60 + 30};
  // 29 March 2026: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist and runs at 03:00 CEST.
  EXPECT_EQ(next_due(at_0230, berlin, at("2026-03-28T12:00:00Z")), at("2026-03-29T01:00:00Z"));
  EXPECT_EQ(next_due(at_0230, berlin, at("2026-03-29T01:00:00Z")), at("2026-03-30T00:30:00Z"));
  // 25 October 2026: 03:00 CEST goes back to 02:00 CET; 02:30 happens twice, it runs the first.
  EXPECT_EQ(next_due(at_0230, berlin, at("2026-10-24T12:00:00Z")), at("2026-10-25T00:30:00Z"));
  EXPECT_EQ(latest_due(at_0230, berlin, at("2026-10-25T01:45:00Z")), at("2026-10-25T00:30:00Z"))
      << "the second 02:30 (01:30 UTC) is not a second due instant";
  EXPECT_EQ(next_due(at_0230, berlin, at("2026-10-25T01:45:00Z")), at("2026-10-26T01:30:00Z"));
  const Schedule at_0300{JobType::expire, ScheduleEvery::day, 3 * 60};
  EXPECT_EQ(next_due(at_0300, berlin, at("2026-03-28T12:00:00Z")), at("2026-03-29T01:00:00Z"));
  EXPECT_EQ(next_due(at_0300, berlin, at("2026-10-24T12:00:00Z")), at("2026-10-25T02:00:00Z"));
}

TEST(ScheduleInstants, TimeOfDayAndDescription) {
  EXPECT_EQ(parse_time_of_day("00:00"), 0);
  EXPECT_EQ(parse_time_of_day("23:59"), 1439);
  EXPECT_EQ(parse_time_of_day("24:00"), 1440) << "the end of a day, for campaign hours";
  EXPECT_EQ(parse_time_of_day("12:5"), std::nullopt);
  EXPECT_EQ(parse_time_of_day("24:01"), std::nullopt);
  EXPECT_EQ(ops::describe({JobType::expire, ScheduleEvery::day, 185}, *utc_time_zone()),
            "expire every day at 03:05 UTC");
  EXPECT_EQ(ops::describe({JobType::evaluate_tiers, ScheduleEvery::month, 0}, *utc_time_zone()),
            "evaluate_tiers on the 1st of every month at 00:00 UTC");
  EXPECT_EQ(ops::describe({JobType::expire, ScheduleEvery::day, 180}, zone("Asia/Shanghai")),
            "expire every day at 03:00 Asia/Shanghai");
}

// The scheduler with a clock the test moves and a record of what it queued.
class SchedulerTest : public ::testing::Test {
 protected:
  ops::JobScheduler make(std::vector<Schedule> schedules) {
    return ops::JobScheduler(
        std::move(schedules), [this] { return now_.load(); }, [this] { return zone_; },
        [this](const Schedule& schedule, TimeMs as_of) {
          queued_.push_back(std::string(job_type_name(schedule.job)) + "@" + format_rfc3339(as_of));
        },
        [this](const Schedule& schedule, TimeMs as_of) {
          return succeeded_.contains(std::string(job_type_name(schedule.job)) + "@" +
                                     format_rfc3339(as_of));
        });
  }

  std::atomic<TimeMs> now_{at("2026-11-23T11:30:00Z")};
  TimeZonePtr zone_ = utc_time_zone();
  std::mutex mutex_;  // queued_, when the scheduler's thread adds to it
  std::vector<std::string> queued_;
  std::set<std::string> succeeded_;
};

TEST_F(SchedulerTest, CatchesUpTheLatestMissedInstantOnceThenRunsAtEachInstant) {
  ops::JobScheduler scheduler = make({{JobType::expire, ScheduleEvery::day, 3 * 60},
                                      {JobType::evaluate_tiers, ScheduleEvery::month, 0}});
  // Down at 03:00 today (and on the 1st): the latest instant of each has no succeeded job.
  scheduler.catch_up();
  EXPECT_EQ(queued_, (std::vector<std::string>{"expire@2026-11-23T03:00:00Z",
                                               "evaluate_tiers@2026-11-01T00:00:00Z"}));
  EXPECT_EQ(scheduler.next_instant(), at("2026-11-24T03:00:00Z"));
  queued_.clear();

  scheduler.run_due();  // nothing is due before tomorrow 03:00
  now_ = at("2026-11-24T02:59:59.999Z");
  scheduler.run_due();
  EXPECT_TRUE(queued_.empty());
  now_ = at("2026-11-24T03:00:00Z");
  scheduler.run_due();
  EXPECT_EQ(queued_, (std::vector<std::string>{"expire@2026-11-24T03:00:00Z"}));
  EXPECT_EQ(scheduler.next_instant(), at("2026-11-25T03:00:00Z"));
  queued_.clear();

  // Asleep for days (a suspended machine): one run as of the latest instant covers them.
  now_ = at("2026-12-03T10:00:00Z");
  scheduler.run_due();
  EXPECT_EQ(queued_, (std::vector<std::string>{"expire@2026-12-03T03:00:00Z",
                                               "evaluate_tiers@2026-12-01T00:00:00Z"}));
}

TEST_F(SchedulerTest, FollowsTheActiveProgramsZone) {
  ops::JobScheduler scheduler = make({{JobType::expire, ScheduleEvery::day, 3 * 60}});
  scheduler.catch_up();
  EXPECT_EQ(queued_, (std::vector<std::string>{"expire@2026-11-23T03:00:00Z"}));
  queued_.clear();
  // A new program version in Shanghai: 03:00 local (19:00 UTC) is the next instant.
  zone_ = os_time_zones().find("Asia/Shanghai");
  EXPECT_EQ(scheduler.next_instant(), at("2026-11-23T19:00:00Z"));
  scheduler.run_due();
  EXPECT_TRUE(queued_.empty()) << "03:00 Shanghai today (19:00 UTC yesterday) is older";
  now_ = at("2026-11-23T19:00:00Z");
  scheduler.run_due();
  EXPECT_EQ(queued_, (std::vector<std::string>{"expire@2026-11-23T19:00:00Z"}));
}

TEST_F(SchedulerTest, CatchUpSkipsAnInstantThatAlreadySucceeded) {
  succeeded_ = {"expire@2026-11-23T03:00:00Z"};
  ops::JobScheduler scheduler = make({{JobType::expire, ScheduleEvery::day, 3 * 60}});
  scheduler.catch_up();
  EXPECT_TRUE(queued_.empty());
  EXPECT_EQ(scheduler.next_instant(), at("2026-11-24T03:00:00Z"));
}

TEST_F(SchedulerTest, TheThreadQueuesWhenTheInstantPasses) {
  succeeded_ = {"expire@2026-11-23T03:00:00Z"};
  ops::JobScheduler scheduler(
      {{JobType::expire, ScheduleEvery::day, 3 * 60}}, [this] { return now_.load(); },
      [] { return utc_time_zone(); },
      [this](const Schedule&, TimeMs as_of) {
        std::lock_guard lock(mutex_);
        queued_.push_back(format_rfc3339(as_of));
      },
      [this](const Schedule& schedule, TimeMs as_of) {
        return succeeded_.contains(std::string(job_type_name(schedule.job)) + "@" +
                                   format_rfc3339(as_of));
      },
      std::chrono::milliseconds(1));
  scheduler.start();
  now_ = at("2026-11-24T03:00:00Z");  // the thread rechecks the clock every millisecond
  for (int i = 0; i < 10000; ++i) {
    {
      std::lock_guard lock(mutex_);
      if (!queued_.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  scheduler.stop();
  std::lock_guard lock(mutex_);
  EXPECT_EQ(queued_, (std::vector<std::string>{"2026-11-24T03:00:00Z"}));
}

}  // namespace
}  // namespace loyalty
