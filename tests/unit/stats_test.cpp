// The program's figures (engine/stats.hpp) on the program's calendar: what an operator in
// Shanghai reads on the overview must be Shanghai's days and months, not UTC's. (Every Scenario
// also checks, after each event, that the figures its effects counted equal those recomputed
// from the members: tests/support/scenario.hpp.)
#include "engine/stats.hpp"

#include <gtest/gtest.h>

#include "engine/tzdb/os_time_zones.hpp"
#include "tests/support/scenario.hpp"

namespace loyalty {
namespace {

using testing::at;
using testing::line;
using testing::Scenario;

Program shanghai_program() {
  Program program = testing::basic_program();
  program.time_zone = os_time_zones().find("Asia/Shanghai");
  program.expiry.mode = ExpiryMode::end_of_month;
  program.expiry.months = 6;
  TierRules tiers;
  tiers.levels = {{"silver", 0}, {"gold", 100'000}};
  program.tiers = tiers;
  return program;
}

int64_t day_of(std::string_view rfc3339) { return at(rfc3339) / kMsPerDay; }

TEST(ProgramFigures, DaysAndMonthsAreTheProgramsLocalOnes) {
  const Program program = shanghai_program();
  ASSERT_NE(program.time_zone, nullptr);
  // 23:30 UTC on 30 Nov is 07:30 on 1 Dec in Shanghai.
  EXPECT_EQ(local_day_number(*program.time_zone, at("2026-11-30T23:30:00Z")),
            day_of("2026-12-01T00:00:00Z"));
  // Points expiring at Shanghai's midnight that starts 1 July lapse at the end of June.
  EXPECT_EQ(expiry_month(*program.time_zone, at("2027-06-30T16:00:00Z")), 2027 * 12 + 5);
  EXPECT_EQ(expiry_month(*program.time_zone, kTimeNever), kNeverExpiresMonth);
}

TEST(ProgramFigures, APurchaseCountsOnItsLocalDayAndMonthAndMovesTiers) {
  Scenario s(shanghai_program());
  ASSERT_TRUE(s.member("m1").ok());
  ASSERT_TRUE(
      s.purchase("e1", "m1", {line("tv", "electronics", 150'000)}, at("2026-11-30T23:30:00Z"))
          .ok());
  const std::map<StatKey, int64_t> figures = s.stats();
  const int64_t december_1 = day_of("2026-12-01T00:00:00Z");
  EXPECT_EQ(figures.at({StatKind::day_points, december_1, static_cast<uint8_t>(EntryType::earn)}),
            s.last().points_earned);
  EXPECT_EQ(figures.at({StatKind::last_purchase_day, december_1}), 1);
  // Earned in December (Shanghai), lapsing at the end of the sixth month after: June 2027.
  EXPECT_EQ(figures.at({StatKind::liability, 2027 * 12 + 5}), s.last().points_earned);
  EXPECT_EQ(figures.count({StatKind::tier, 0}), 0u) << "the member moved up to gold";
  EXPECT_EQ(figures.at({StatKind::tier, 1}), 1);
  EXPECT_EQ(figures.at({StatKind::members}), 1);
}

TEST(ProgramFigures, ABackDatedPurchaseLeavesTheLastPurchaseDay) {
  Scenario s(shanghai_program());
  ASSERT_TRUE(s.member("m1").ok());
  ASSERT_TRUE(
      s.purchase("e2", "m1", {line("tea", "beverage", 3'000)}, at("2026-11-20T10:00:00Z")).ok());
  ASSERT_TRUE(
      s.purchase("e1", "m1", {line("tea", "beverage", 3'000)}, at("2026-11-02T10:00:00Z")).ok());
  const std::map<StatKey, int64_t> figures = s.stats();
  EXPECT_EQ(figures.at({StatKind::last_purchase_day, day_of("2026-11-20T00:00:00Z")}), 1);
  EXPECT_EQ(figures.count({StatKind::last_purchase_day, day_of("2026-11-02T00:00:00Z")}), 0u);
}

TEST(ProgramFigures, ARefundOfSpentPointsCountsAsDebtAndTheBooksStillAddUp) {
  Program program = shanghai_program();
  program.redemption = RedemptionRules{};
  Scenario s(program);
  ASSERT_TRUE(s.member("m1").ok());
  ASSERT_TRUE(s.purchase("e1", "m1", {line("tv", "electronics", 50'000)}).ok());
  ASSERT_TRUE(s.redeem("r1", "m1", 500).ok());
  ASSERT_TRUE(s.refund("x1", "e1", 50'000).ok());
  const std::map<StatKey, int64_t> figures = s.stats();
  ASSERT_TRUE(figures.contains({StatKind::debt}));
  EXPECT_EQ(figures.at({StatKind::debt}), s.state("m1").debt);
  // Σ of every day's points = Σ of the lots − debt = the member's balance.
  int64_t by_day = 0;
  int64_t in_lots = 0;
  for (const auto& [key, total] : figures) {
    if (key.kind == StatKind::day_points) by_day += total;
    if (key.kind == StatKind::liability) in_lots += total;
  }
  EXPECT_EQ(by_day, s.state("m1").balance.total());
  EXPECT_EQ(in_lots - figures.at({StatKind::debt}), s.state("m1").balance.total());
}

}  // namespace
}  // namespace loyalty
