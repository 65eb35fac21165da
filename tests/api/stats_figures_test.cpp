// GET /v1/stats rendering: what the console's overview charts read.
#include "api/stats_figures.hpp"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include "engine/ledger.hpp"
#include "engine/tzdb/os_time_zones.hpp"

namespace loyalty::api {
namespace {

namespace json = boost::json;

TimeMs at(std::string_view text) { return parse_rfc3339(text).value(); }

Program two_tier_program() {
  Program program;
  program.id = "club";
  program.currency = "CNY";
  program.time_zone = os_time_zones().find("Asia/Shanghai");
  TierRules tiers;
  tiers.levels = {{"silver", 0}, {"gold", 1000}};
  program.tiers = tiers;
  return program;
}

StatKey day_points(std::string_view date, EntryType type) {
  return {StatKind::day_points, at(std::string(date) + "T00:00:00Z") / kMsPerDay,
          static_cast<uint8_t>(type)};
}

TEST(StatsFigures, DaysAreFilledEndingTodayAndEntryTypesGroupedIntoFlows) {
  StatTotals totals;
  totals[day_points("2026-12-07", EntryType::earn)] = 500;
  totals[day_points("2026-12-07", EntryType::adjust)] = -20;
  totals[day_points("2026-12-07", EntryType::redeem)] = -300;
  totals[day_points("2026-12-07", EntryType::restore)] = 100;
  totals[day_points("2026-12-08", EntryType::expire)] = -40;
  totals[day_points("2026-11-01", EntryType::earn)] = 999;  // before the window
  // 20:00 UTC on 8 Dec is 04:00 on 9 Dec in Shanghai: today there is the 9th.
  const json::object figures =
      stats_json(totals, two_tier_program(), at("2026-12-08T20:00:00Z"), 3, {});
  const json::array& days = figures.at("points_by_day").as_array();
  ASSERT_EQ(days.size(), 3u);
  EXPECT_EQ(days[0].at("date"), "2026-12-07");
  EXPECT_EQ(days[0].at("issued"), 480);
  EXPECT_EQ(days[0].at("redeemed"), 200);
  EXPECT_EQ(days[0].at("expired"), 0);
  EXPECT_EQ(days[0].at("by_type").at("restore"), 100);
  EXPECT_EQ(days[1].at("date"), "2026-12-08");
  EXPECT_EQ(days[1].at("expired"), 40);
  EXPECT_EQ(days[2].at("date"), "2026-12-09");
  EXPECT_EQ(days[2].at("issued"), 0);
  EXPECT_EQ(figures.at("time_zone"), "Asia/Shanghai");
}

TEST(StatsFigures, LiabilityByMonthEndsWithWhatNeverExpiresAndSubtractsDebt) {
  StatTotals totals;
  totals[{StatKind::liability, 2027 * 12 + 5}] = 700;
  totals[{StatKind::liability, 2026 * 12 + 11}] = 300;
  totals[{StatKind::liability, 2027 * 12 + 0}] = 0;  // spent: not listed
  totals[{StatKind::liability, kNeverExpiresMonth}] = 50;
  totals[{StatKind::debt}] = 25;
  const json::object figures =
      stats_json(totals, two_tier_program(), at("2026-12-08T00:00:00Z"), 30, {});
  const json::object& liability = figures.at("liability").as_object();
  EXPECT_EQ(liability.at("points_in_lots"), 1050);
  EXPECT_EQ(liability.at("debt"), 25);
  EXPECT_EQ(liability.at("outstanding"), 1025);
  EXPECT_EQ(json::serialize(liability.at("by_expiry_month")),
            R"([{"month":"2026-12","points":300},{"month":"2027-06","points":700},)"
            R"({"month":null,"points":50}])");
}

TEST(StatsFigures, TiersInProgramOrderAndActiveMembersOverThirtyDays) {
  StatTotals totals;
  totals[{StatKind::members}] = 10;
  totals[{StatKind::tier, 1}] = 3;
  totals[{StatKind::tier, 0}] = 6;
  totals[{StatKind::tier, 4}] = 1;  // a tier the active program no longer has
  const TimeMs now = at("2026-12-08T12:00:00Z");
  const int64_t today = now / kMsPerDay;  // the same day in Shanghai at 20:00
  totals[{StatKind::last_purchase_day, today}] = 2;
  totals[{StatKind::last_purchase_day, today - 29}] = 3;
  totals[{StatKind::last_purchase_day, today - 30}] = 4;  // 31 days ago: not active
  const json::object figures = stats_json(totals, two_tier_program(), now, 30, {2, 1});
  EXPECT_EQ(json::serialize(figures.at("tiers")),
            R"([{"tier":"silver","members":6},{"tier":"gold","members":3},)"
            R"({"tier":"tier 4","members":1}])");
  EXPECT_EQ(figures.at("members"), 10);
  EXPECT_EQ(figures.at("active_members"), 5);
  EXPECT_EQ(json::serialize(figures.at("jobs")), R"({"running":2,"queued":1})");
}

TEST(StatsFigures, EachRewardOfTheCatalogWithItsCouponsByState) {
  Program program = two_tier_program();
  for (const char* id : {"drink", "mug"}) {
    Reward reward;
    reward.id = id;
    program.rewards.push_back(reward);
  }
  const int64_t drink = reward_bucket("drink");
  StatTotals totals;
  totals[{StatKind::reward_coupons, drink, static_cast<uint8_t>(CouponState::active)}] = 4;
  totals[{StatKind::reward_coupons, drink, static_cast<uint8_t>(CouponState::used)}] = 7;
  totals[{StatKind::reward_coupons, drink, static_cast<uint8_t>(CouponState::expired)}] = 2;
  totals[{StatKind::reward_coupons, reward_bucket("gone"), 0}] = 5;  // not in the catalog
  const json::object figures = stats_json(totals, program, at("2026-12-08T00:00:00Z"), 1, {});
  EXPECT_EQ(json::serialize(figures.at("rewards")),
            R"([{"reward_id":"drink","issued":13,"active":4,"used":7,"expired":2,"cancelled":0},)"
            R"({"reward_id":"mug","issued":0,"active":0,"used":0,"expired":0,"cancelled":0}])");
}

TEST(StatsFigures, PartitionCountersCrossBetweenNodesAndAddUp) {
  StatTotals one{{{StatKind::members}, 4}, {{StatKind::liability, kNeverExpiresMonth}, 9}};
  StatTotals two{{{StatKind::members}, 1}, {{StatKind::debt}, -3}};
  StatTotals sum;
  ASSERT_TRUE(add_counters(json::value(counters_json(one)), sum));
  ASSERT_TRUE(add_counters(json::value(counters_json(two)), sum));
  EXPECT_EQ(sum, (StatTotals{{{StatKind::members}, 5},
                             {{StatKind::debt}, -3},
                             {{StatKind::liability, kNeverExpiresMonth}, 9}}));
  EXPECT_FALSE(add_counters(json::value(json::object{{"counters", json::array{1, 2}}}), sum));
}

TEST(StatsFigures, QueryRefusesDaysOutOfRangeAndPartitionUnlessForwarded) {
  const auto refused = [](std::string_view query, bool forwarded) {
    boost::urls::params_view params(query);
    return std::holds_alternative<HttpResponse>(parse_stats_query(params, forwarded));
  };
  EXPECT_FALSE(refused("days=366", false));
  EXPECT_TRUE(refused("days=0", false));
  EXPECT_TRUE(refused("days=367", false));
  EXPECT_TRUE(refused("partition=1", false));
  EXPECT_FALSE(refused("partition=1", true));
}

}  // namespace
}  // namespace loyalty::api
