// Local time (domain.md, "Local time"): every rule that speaks of a day, an hour, a month or a
// year judged on the local calendar. Table-driven boundaries of the zones (UTC+8, UTC−5 and
// Europe/Berlin with its daylight-saving gap and overlap), then each rule through the engine:
// campaign weekdays and hours (the store's zone, else the program's), tier windows, end-of-month
// expiry and the member view's 30-day cut-off.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/lots.hpp"
#include "engine/member_view.hpp"
#include "engine/tiers.hpp"
#include "engine/time_zone.hpp"
#include "engine/tzdb/os_time_zones.hpp"
#include "tests/support/scenario.hpp"

namespace loyalty {
namespace {

using testing::at;
using testing::line;
using testing::Scenario;

constexpr TimeMs kHourMs = 3'600'000;

TimeZonePtr zone(const std::string& name) {
  TimeZonePtr found = os_time_zones().find(name);
  EXPECT_TRUE(found) << name;
  return found ? found : utc_time_zone();
}

// A wall-clock time written as RFC 3339 without its offset: "2026-11-21T01:30:00".
TimeMs wall(const std::string& text) { return at(text + "Z"); }
std::string wall_text(TimeMs local) {
  std::string text = format_rfc3339(local);
  text.pop_back();  // the 'Z': a local time has no offset
  return text;
}

// ---------------------------------------------------------------------------------------------
// The zones themselves

struct LocalCase {
  std::string zone;
  std::string instant;  // UTC
  std::string local;    // the wall clock there
};

TEST(LocalTime, InstantsOnTheWallClock) {
  const std::vector<LocalCase> cases = {
      // The instant before and at local midnight, UTC+8.
      {"Asia/Shanghai", "2026-11-20T15:59:59.999Z", "2026-11-20T23:59:59.999"},
      {"Asia/Shanghai", "2026-11-20T16:00:00Z", "2026-11-21T00:00:00"},
      // UTC−5 at the end of a year.
      {"America/New_York", "2027-01-01T04:59:59.999Z", "2026-12-31T23:59:59.999"},
      {"America/New_York", "2027-01-01T05:00:00Z", "2027-01-01T00:00:00"},
      // Berlin: spring forward (02:00 CET → 03:00 CEST) and fall back (03:00 CEST → 02:00 CET).
      {"Europe/Berlin", "2026-03-29T00:59:59.999Z", "2026-03-29T01:59:59.999"},
      {"Europe/Berlin", "2026-03-29T01:00:00Z", "2026-03-29T03:00:00"},
      {"Europe/Berlin", "2026-10-25T00:30:00Z", "2026-10-25T02:30:00"},
      {"Europe/Berlin", "2026-10-25T01:30:00Z", "2026-10-25T02:30:00"},
      // Past the transitions the zone file lists (2037): its POSIX rule keeps summer time.
      {"Europe/Berlin", "2040-07-01T12:00:00Z", "2040-07-01T14:00:00"},
      {"Europe/Berlin", "2040-12-01T12:00:00Z", "2040-12-01T13:00:00"},
      {"UTC", "2026-11-20T16:00:00Z", "2026-11-20T16:00:00"},
  };
  for (const LocalCase& c : cases) {
    EXPECT_EQ(wall_text(zone(c.zone)->local_of(at(c.instant))), c.local)
        << c.zone << " " << c.instant;
  }
}

TEST(LocalTime, WallClockTimesToInstantsThroughGapsAndOverlaps) {
  const std::vector<LocalCase> cases = {
      {"Asia/Shanghai", "2026-12-31T16:00:00Z", "2027-01-01T00:00:00"},
      {"America/New_York", "2027-01-01T05:00:00Z", "2027-01-01T00:00:00"},
      // 02:30 does not exist on 29 March: the instant after the gap (03:00 CEST).
      {"Europe/Berlin", "2026-03-29T01:00:00Z", "2026-03-29T02:30:00"},
      {"Europe/Berlin", "2026-03-29T01:00:00Z", "2026-03-29T02:00:00"},
      {"Europe/Berlin", "2026-03-29T00:59:59.999Z", "2026-03-29T01:59:59.999"},
      // 02:30 exists twice on 25 October: the first (still CEST).
      {"Europe/Berlin", "2026-10-25T00:30:00Z", "2026-10-25T02:30:00"},
      {"Europe/Berlin", "2026-10-25T02:00:00Z", "2026-10-25T03:00:00"},
      // The same rules in the years the POSIX rule covers.
      {"Europe/Berlin", "2040-03-25T01:00:00Z", "2040-03-25T02:30:00"},
      {"Europe/Berlin", "2040-10-28T00:30:00Z", "2040-10-28T02:30:00"},
  };
  for (const LocalCase& c : cases) {
    EXPECT_EQ(format_rfc3339(zone(c.zone)->instant_of(wall(c.local))),
              format_rfc3339(at(c.instant)))
        << c.zone << " " << c.local;
  }
}

TEST(LocalTime, UnknownZonesAreNotFound) {
  for (const char* name :
       {"Asia/Atlantis", "", "+08:00", "../../etc/passwd", "asia/shanghai", "localtime"}) {
    EXPECT_EQ(os_time_zones().find(name), nullptr) << name;
  }
  EXPECT_EQ(os_time_zones().find("UTC"), utc_time_zone());
  EXPECT_EQ(os_time_zones().find("Asia/Tokyo"), os_time_zones().find("Asia/Tokyo"))
      << "a zone is read once and shared";
}

// ---------------------------------------------------------------------------------------------
// The local calendar

struct MonthEndCase {
  std::string zone;
  std::string earned_at;
  int months;
  std::string expires_at;  // local midnight after the month's last day, as an instant
};

TEST(LocalCalendar, EndOfMonthAndYearAreLocalMidnight) {
  const std::vector<MonthEndCase> cases = {
      // 1 February 00:30 in Shanghai is still January in UTC.
      {"Asia/Shanghai", "2026-01-31T16:30:00Z", 0, "2026-02-28T16:00:00Z"},
      {"Asia/Shanghai", "2026-12-31T15:59:59.999Z", 0, "2026-12-31T16:00:00Z"},
      {"Asia/Shanghai", "2026-12-31T16:00:00Z", 0, "2027-01-31T16:00:00Z"},
      {"Asia/Shanghai", "2026-11-10T02:00:00Z", 2, "2027-01-31T16:00:00Z"},
      // New York's 31 December evening is 1 January in UTC.
      {"America/New_York", "2027-01-01T04:59:59.999Z", 0, "2027-01-01T05:00:00Z"},
      {"America/New_York", "2026-11-30T23:00:00Z", 0, "2026-12-01T05:00:00Z"},
      {"America/New_York", "2026-06-15T12:00:00Z", 0, "2026-07-01T04:00:00Z"},  // EDT
      // Berlin: March ends in summer time, October in winter time.
      {"Europe/Berlin", "2026-03-10T12:00:00Z", 0, "2026-03-31T22:00:00Z"},
      {"Europe/Berlin", "2026-10-10T12:00:00Z", 0, "2026-10-31T23:00:00Z"},
      {"UTC", "2026-01-31T16:30:00Z", 0, "2026-02-01T00:00:00Z"},
  };
  for (const MonthEndCase& c : cases) {
    EXPECT_EQ(format_rfc3339(local_end_of_month_after(*zone(c.zone), at(c.earned_at), c.months)),
              format_rfc3339(at(c.expires_at)))
        << c.zone << " " << c.earned_at;
  }
}

TEST(LocalCalendar, AMonthWithAClockChangeIsAnHourShorterOrLonger) {
  const TimeZone& berlin = *zone("Europe/Berlin");
  const auto month_length = [&](const char* inside) {
    const TimeMs t = at(inside);
    return local_end_of_month_after(berlin, t, 0) - local_end_of_month_after(berlin, t, -1);
  };
  EXPECT_EQ(month_length("2026-03-15T12:00:00Z"), 31 * kMsPerDay - kHourMs);
  EXPECT_EQ(month_length("2026-10-15T12:00:00Z"), 31 * kMsPerDay + kHourMs);
  EXPECT_EQ(month_length("2026-11-15T12:00:00Z"), 30 * kMsPerDay);
}

TEST(LocalCalendar, WeekdaysMonthsAndDaysAreLocal) {
  const TimeZone& shanghai = *zone("Asia/Shanghai");
  // Friday 17:30 UTC is Saturday 01:30 in Shanghai; Sunday 17:30 UTC is Monday 01:30.
  EXPECT_EQ(local_weekday(shanghai, at("2026-11-20T17:30:00Z")), 6);
  EXPECT_EQ(iso_weekday(at("2026-11-20T17:30:00Z")), 5);
  EXPECT_EQ(local_weekday(shanghai, at("2026-11-22T17:30:00Z")), 1);
  EXPECT_EQ(local_month_index(shanghai, at("2026-11-30T16:00:00Z")), 2026 * 12 + 11);
  EXPECT_EQ(local_month_index(shanghai, at("2026-11-30T15:59:59.999Z")), 2026 * 12 + 10);
  EXPECT_EQ(local_minute_of_day(shanghai, at("2026-11-20T23:00:00Z")), 7 * 60);
  EXPECT_EQ(local_day_start(shanghai, at("2026-11-20T17:30:00Z"), 0), at("2026-11-20T16:00:00Z"));
  EXPECT_EQ(local_day_start(shanghai, at("2026-11-20T17:30:00Z"), 31), at("2026-12-21T16:00:00Z"));
  // retain_months counts local months: 31 January + 1 month is 28 February, local.
  EXPECT_EQ(local_add_months(shanghai, at("2026-01-30T17:00:00Z"), 1), at("2026-02-27T17:00:00Z"));
  // A day across the fall-back change has 25 hours.
  const TimeZone& berlin = *zone("Europe/Berlin");
  EXPECT_EQ(local_day_start(berlin, at("2026-10-25T12:00:00Z"), 1) -
                local_day_start(berlin, at("2026-10-25T12:00:00Z"), 0),
            25 * kHourMs);
}

// ---------------------------------------------------------------------------------------------
// The rules, through the engine

// The shipped coffee club's shape: a double-weekend campaign on beverages, in Shanghai, with a
// store in London.
Program shanghai_program() {
  Program program = testing::basic_program();
  program.time_zone = zone("Asia/Shanghai");
  program.store_time_zones["s-london"] = zone("Europe/London");
  Campaign weekend;
  weekend.id = "double-weekend";
  weekend.starts_at = at("2026-11-01T00:00:00+08:00");
  weekend.ends_at = at("2026-12-01T00:00:00+08:00");
  weekend.iso_weekday_mask = (1u << 6) | (1u << 7);
  weekend.multiplier = Decimal::from_integer(2);
  program.campaigns.push_back(weekend);
  return program;
}

struct CampaignCase {
  std::string name;
  std::string store;
  std::string occurred_at;
  Points points;  // of a 100.00 basket at 1 point per unit
};

TEST(LocalRules, CampaignWeekdaysAreTheStoresLocalDays) {
  const std::vector<CampaignCase> cases = {
      // The report: Saturday 01:30 in Shanghai is Friday in UTC, Monday 01:30 is Sunday.
      {"saturday_0130_shanghai", "s-1", "2026-11-20T17:30:00Z", 200},
      {"monday_0130_shanghai", "s-1", "2026-11-22T17:30:00Z", 100},
      {"friday_2359_shanghai", "s-1", "2026-11-20T15:59:59.999Z", 100},
      {"saturday_0000_shanghai", "s-1", "2026-11-20T16:00:00Z", 200},
      {"sunday_2359_shanghai", "s-1", "2026-11-22T15:59:59.999Z", 200},
      {"monday_0000_shanghai", "s-1", "2026-11-22T16:00:00Z", 100},
      // The London store keeps its own calendar: Friday 23:30 there is Saturday in Shanghai.
      {"friday_2330_london", "s-london", "2026-11-20T23:30:00Z", 100},
      {"saturday_0030_london", "s-london", "2026-11-21T00:30:00Z", 200},
      {"sunday_2330_london", "s-london", "2026-11-22T23:30:00Z", 200},
      // The campaign's window is absolute: it opens at midnight Shanghai for every store, on a
      // Saturday afternoon in London.
      {"london_before_the_window", "s-london", "2026-10-31T15:59:59.999Z", 100},
      {"london_in_the_window", "s-london", "2026-10-31T16:00:00Z", 200},
  };
  for (const CampaignCase& c : cases) {
    Scenario s(shanghai_program());
    ASSERT_TRUE(s.member("m1").ok());
    ASSERT_TRUE(
        s.purchase("e1", "m1", {line("latte", "beverage", 10000)}, at(c.occurred_at), c.store)
            .ok());
    EXPECT_EQ(s.last().points_earned, c.points) << c.name;
  }
}

TEST(LocalRules, CampaignHoursStartInclusiveEndExclusive) {
  Program program = shanghai_program();
  program.campaigns[0].iso_weekday_mask = 0;
  program.campaigns[0].hours = {{7 * 60, 10 * 60}, {22 * 60, 24 * 60}};
  const std::vector<CampaignCase> cases = {
      {"before_0700", "s-1", "2026-11-18T22:59:59.999Z", 100},
      {"at_0700", "s-1", "2026-11-18T23:00:00Z", 200},
      {"at_0959", "s-1", "2026-11-19T01:59:59.999Z", 200},
      {"at_1000", "s-1", "2026-11-19T02:00:00Z", 100},
      {"at_2200", "s-1", "2026-11-19T14:00:00Z", 200},
      {"at_2359", "s-1", "2026-11-19T15:59:59.999Z", 200},
      {"at_midnight", "s-1", "2026-11-19T16:00:00Z", 100},
      // 07:30 in London is 15:30 in Shanghai: the store's clock decides.
      {"london_0730", "s-london", "2026-11-19T07:30:00Z", 200},
      {"london_1030", "s-london", "2026-11-19T10:30:00Z", 100},
  };
  for (const CampaignCase& c : cases) {
    Scenario s(program);
    ASSERT_TRUE(s.member("m1").ok());
    ASSERT_TRUE(
        s.purchase("e1", "m1", {line("latte", "beverage", 10000)}, at(c.occurred_at), c.store)
            .ok());
    EXPECT_EQ(s.last().points_earned, c.points) << c.name;
  }
}

TierRules spend_tiers(TierWindow window) {
  TierRules tiers;
  tiers.window = window;
  tiers.window_months = 1;
  tiers.retain_months = 0;
  tiers.levels = {{"green", 0, Decimal::from_integer(1), "{}"},
                  {"gold", 50000, Decimal::from_integer(1), "{}"}};
  return tiers;
}

TEST(LocalRules, CalendarYearWindowBeginsAtLocalNewYear) {
  Program program = shanghai_program();
  program.campaigns.clear();
  program.tiers = spend_tiers(TierWindow::calendar_year);
  Scenario s(program);
  ASSERT_TRUE(s.member("m1").ok());
  // 23:59 on 31 December and 00:00 on 1 January, Shanghai: both 31 December in UTC.
  ASSERT_TRUE(
      s.purchase("old-year", "m1", {line("a", "food", 30000)}, at("2026-12-31T15:59:59.999Z"))
          .ok());
  ASSERT_TRUE(
      s.purchase("new-year", "m1", {line("a", "food", 30000)}, at("2026-12-31T16:00:00Z")).ok());
  EXPECT_FALSE(s.last().tier_changed) << "300.00 in each year, not 600.00 in one";
  const TierRules& tiers = *s.program().program.tiers;
  const TimeZone& shanghai = *s.program().program.time_zone;
  EXPECT_EQ(qualifying_value(tiers, shanghai, s.state("m1"), at("2027-01-15T00:00:00+08:00")),
            30000);
  EXPECT_EQ(qualifying_value(tiers, shanghai, s.state("m1"), at("2026-12-31T23:00:00+08:00")),
            30000);
}

TEST(LocalRules, RollingWindowMonthsAreLocalMonths) {
  Program program = shanghai_program();
  program.campaigns.clear();
  program.tiers = spend_tiers(TierWindow::rolling);  // this month only
  Scenario s(program);
  ASSERT_TRUE(s.member("m1").ok());
  // 1 December 00:30 in Shanghai (30 November in UTC) and later that December day.
  ASSERT_TRUE(s.purchase("e1", "m1", {line("a", "food", 30000)}, at("2026-11-30T16:30:00Z")).ok());
  ASSERT_TRUE(s.purchase("e2", "m1", {line("a", "food", 20000)}, at("2026-12-01T10:00:00Z")).ok());
  EXPECT_TRUE(s.last().tier_changed) << "both in the local December";
  EXPECT_EQ(s.last().tier, "gold");
}

TEST(LocalRules, ARefundTakesActivityBackFromTheMonthItWasRecordedIn) {
  Program program = shanghai_program();
  program.campaigns.clear();
  program.time_zone = utc_time_zone();
  program.tiers = spend_tiers(TierWindow::rolling);
  Scenario s(program);
  ASSERT_TRUE(s.member("m1").ok());
  // 30 June 20:00 UTC: June under the UTC version (1 July 04:00 in Shanghai).
  ASSERT_TRUE(s.purchase("e1", "m1", {line("a", "food", 30000)}, at("2026-06-30T20:00:00Z")).ok());
  ASSERT_EQ(s.state("m1").activity.back().month, 2026 * 12 + 5);
  // A new version in Shanghai; the refund of that purchase empties June, July is untouched.
  s.program().program.time_zone = zone("Asia/Shanghai");
  ASSERT_TRUE(s.refund("r1", "e1", 30000, at("2026-07-02T10:00:00Z")).ok());
  for (const MonthActivity& month : s.state("m1").activity) {
    EXPECT_EQ(month.spend_minor, 0) << "month " << month.month;
    EXPECT_EQ(month.purchases, 0) << "month " << month.month;
  }
}

TEST(LocalRules, EndOfMonthExpiryRunsAtLocalMidnight) {
  Program program = shanghai_program();
  program.campaigns.clear();
  program.expiry.mode = ExpiryMode::end_of_month;
  program.expiry.months = 1;
  Scenario s(program);
  ASSERT_TRUE(s.member("m1").ok());
  // 1 November 02:00 in Shanghai (31 October in UTC): earned in November, good through December.
  ASSERT_TRUE(s.purchase("e1", "m1", {line("a", "food", 10000)}, at("2026-10-31T18:00:00Z")).ok());
  EXPECT_EQ(s.state("m1").lots.at(0).expires_at, at("2027-01-01T00:00:00+08:00"));
  ASSERT_TRUE(s.job(EventType::expire_points, "m1", at("2026-12-31T15:59:59.999Z")).ok());
  EXPECT_EQ(s.state("m1").balance.available, 100) << "still 31 December in Shanghai";
  ASSERT_TRUE(s.job(EventType::expire_points, "m1", at("2026-12-31T16:00:00Z")).ok());
  EXPECT_EQ(std::get<JobStepAnswer>(s.last_effects().answer).points_expired, 100);
  EXPECT_EQ(s.state("m1").balance.available, 0);
}

TEST(LocalRules, ExpiryInDaysCountsTwentyFourHourDaysFromTheInstant) {
  Program program = shanghai_program();
  program.campaigns.clear();
  program.expiry.mode = ExpiryMode::days;
  program.expiry.days = 30;
  EXPECT_EQ(lot_expiry(program, at("2026-11-20T17:30:00Z")), at("2026-12-20T17:30:00Z"));
}

TEST(LocalRules, ViewListsWhatExpiresByTheEndOfTheThirtiethLocalDay) {
  Program program = shanghai_program();
  program.campaigns.clear();
  program.expiry.mode = ExpiryMode::end_of_month;
  program.expiry.months = 1;
  Scenario s(program);
  ASSERT_TRUE(s.member("m1").ok());
  ASSERT_TRUE(s.purchase("e1", "m1", {line("a", "food", 10000)}, at("2026-11-10T04:00:00Z")).ok());
  const TimeMs expires_at = at("2027-01-01T00:00:00+08:00");  // midnight after 31 December
  ASSERT_EQ(s.state("m1").lots.at(0).expires_at, expires_at);
  // On 1 December (local) 31 December is 30 days ahead, at any hour of the day: listed.
  for (const char* now : {"2026-12-01T00:00:00+08:00", "2026-12-01T23:59:59.999+08:00"}) {
    const MemberView view = build_member_view(s.program(), s.state("m1"), at(now));
    ASSERT_EQ(view.expiring.size(), 1u) << now;
    EXPECT_EQ(view.expiring[0].expires_at, expires_at);
    EXPECT_EQ(view.expiring[0].points, 100);
  }
  // On 30 November (local) it is 31 days ahead: not yet.
  const MemberView before =
      build_member_view(s.program(), s.state("m1"), at("2026-11-30T23:59:59.999+08:00"));
  EXPECT_TRUE(before.expiring.empty());
}

}  // namespace
}  // namespace loyalty
