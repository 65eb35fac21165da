// Earning arithmetic (domain.md "Earning on a purchase"): a table of baskets and programs
// with the exact points and breakdown each must give.
#include "engine/earning.hpp"

#include <gtest/gtest.h>

#include <functional>

#include "tests/support/scenario.hpp"

namespace loyalty {
namespace {

using testing::at;
using testing::basic_program;
using testing::line;

Decimal dec(std::string_view text) { return *Decimal::parse(text); }

Campaign multiplier_campaign(std::string id, std::string_view multiplier) {
  Campaign c;
  c.id = std::move(id);
  c.starts_at = at("2026-11-01T00:00:00Z");
  c.ends_at = at("2026-12-01T00:00:00Z");
  c.multiplier = dec(multiplier);
  return c;
}

Campaign bonus_campaign(std::string id, Points bonus, AmountMinor threshold) {
  Campaign c;
  c.id = std::move(id);
  c.starts_at = at("2026-11-01T00:00:00Z");
  c.ends_at = at("2026-12-01T00:00:00Z");
  c.bonus_points = bonus;
  c.min_amount_minor = threshold;
  return c;
}

TierRules two_tiers() {
  TierRules tiers;
  tiers.levels = {{"green", 0, dec("1"), "{}"}, {"gold", 50000, dec("1.25"), "{}"}};
  return tiers;
}

struct EarningCase {
  std::string name;
  std::function<void(Program&)> configure;
  std::vector<PurchaseLine> lines;
  std::string occurred_at;  // empty: 2026-11-20T10:00:00Z, a Friday inside the campaigns
  std::string store_id;     // empty: s-1
  uint32_t tier_index = 0;
  uint32_t purchase_count_before = 0;
  Points expected_points;
  std::vector<BreakdownLine> expected_breakdown;
};

void no_change(Program&) {}

std::vector<EarningCase> earning_cases() {
  return {
      {"base rate floors once",
       no_change,
       {line("a", "food", 6450)},
       {},
       {},
       0,
       0,
       64,
       {{"base", 64}}},
      {"nearest rounds half up",
       [](Program& p) { p.rounding = Rounding::nearest; },
       {line("a", "food", 6450)},
       {},
       {},
       0,
       0,
       65,
       {{"base", 65}}},
      {"nearest rounds below half down",
       [](Program& p) { p.rounding = Rounding::nearest; },
       {line("a", "food", 6449)},
       {},
       {},
       0,
       0,
       64,
       {{"base", 64}}},
      {"rounding is once per event, not per line",
       no_change,
       {line("a", "food", 150), line("b", "food", 150), line("c", "food", 150)},
       {},
       {},
       0,
       0,
       4,
       {{"base", 4}}},
      {"category multiplier",
       [](Program& p) { p.earning.category_multipliers["beverage"] = dec("2.0"); },
       {line("latte-m", "beverage", 6400)},
       {},
       {},
       0,
       0,
       128,
       {{"base", 64}, {"category:beverage", 64}}},
      {"sku multiplier replaces the category multiplier",
       [](Program& p) {
         p.earning.category_multipliers["beverage"] = dec("2.0");
         p.earning.sku_multipliers["latte-l"] = dec("1.5");
       },
       {line("latte-l", "beverage", 6400)},
       {},
       {},
       0,
       0,
       96,
       {{"base", 64}, {"sku:latte-l", 32}}},
      {"excluded category earns nothing",
       [](Program& p) { p.earning.excluded_categories = {"gift-card"}; },
       {line("gc", "gift-card", 10000), line("bagel", "food", 5000)},
       {},
       {},
       0,
       0,
       50,
       {{"base", 50}}},
      {"excluded sku earns nothing",
       [](Program& p) { p.earning.excluded_skus = {"stamp"}; },
       {line("stamp", "food", 10000), line("bagel", "food", 5000)},
       {},
       {},
       0,
       0,
       50,
       {{"base", 50}}},
      {"basket below the minimum earns nothing",
       [](Program& p) { p.earning.min_order_minor = 10000; },
       {line("a", "food", 9999)},
       {},
       {},
       0,
       0,
       0,
       {{"base", 0}}},
      {"basket at the minimum earns",
       [](Program& p) { p.earning.min_order_minor = 10000; },
       {line("a", "food", 10000)},
       {},
       {},
       0,
       0,
       100,
       {{"base", 100}}},
      {"fractional rate and multiplier rounded on the running total",
       [](Program& p) {
         p.earning.points_per_unit = dec("0.5");
         p.earning.category_multipliers["food"] = dec("1.5");
       },
       {line("a", "food", 333)},
       {},
       {},
       0,
       0,
       2,
       {{"base", 1}, {"category:food", 1}}},
      {"campaign multiplier inside its window",
       [](Program& p) { p.campaigns.push_back(multiplier_campaign("double", "2")); },
       {line("a", "food", 6400)},
       {},
       {},
       0,
       0,
       128,
       {{"base", 64}, {"campaign:double", 64}}},
      {"campaign applies from its start instant",
       [](Program& p) { p.campaigns.push_back(multiplier_campaign("double", "2")); },
       {line("a", "food", 1000)},
       "2026-11-01T00:00:00Z",
       {},
       0,
       0,
       20,
       {{"base", 10}, {"campaign:double", 10}}},
      {"campaign end is exclusive",
       [](Program& p) { p.campaigns.push_back(multiplier_campaign("double", "2")); },
       {line("a", "food", 1000)},
       "2026-12-01T00:00:00Z",
       {},
       0,
       0,
       10,
       {{"base", 10}}},
      {"campaign one millisecond before its end applies",
       [](Program& p) { p.campaigns.push_back(multiplier_campaign("double", "2")); },
       {line("a", "food", 1000)},
       "2026-11-30T23:59:59.999Z",
       {},
       0,
       0,
       20,
       {{"base", 10}, {"campaign:double", 10}}},
      {"weekend campaign on a Saturday",
       [](Program& p) {
         Campaign c = multiplier_campaign("weekend", "2");
         c.iso_weekday_mask = (1u << 6) | (1u << 7);
         p.campaigns.push_back(c);
       },
       {line("a", "food", 1000)},
       "2026-11-21T09:00:00Z",
       {},
       0,
       0,
       20,
       {{"base", 10}, {"campaign:weekend", 10}}},
      {"weekend campaign not on a Friday",
       [](Program& p) {
         Campaign c = multiplier_campaign("weekend", "2");
         c.iso_weekday_mask = (1u << 6) | (1u << 7);
         p.campaigns.push_back(c);
       },
       {line("a", "food", 1000)},
       "2026-11-20T09:00:00Z",
       {},
       0,
       0,
       10,
       {{"base", 10}}},
      {"store-limited campaign elsewhere",
       [](Program& p) {
         Campaign c = multiplier_campaign("s1-only", "2");
         c.stores = {"s-1"};
         p.campaigns.push_back(c);
       },
       {line("a", "food", 1000)},
       {},
       "s-2",
       0,
       0,
       10,
       {{"base", 10}}},
      {"category-limited campaign multiplies only its lines",
       [](Program& p) {
         Campaign c = multiplier_campaign("drinks", "2");
         c.categories = {"beverage"};
         p.campaigns.push_back(c);
       },
       {line("a", "beverage", 1000), line("b", "food", 1000)},
       {},
       {},
       0,
       0,
       30,
       {{"base", 20}, {"campaign:drinks", 10}}},
      {"stacked campaign multipliers multiply",
       [](Program& p) {
         p.campaigns.push_back(multiplier_campaign("double", "2"));
         p.campaigns.push_back(multiplier_campaign("half-more", "1.5"));
       },
       {line("a", "food", 1000)},
       {},
       {},
       0,
       0,
       30,
       {{"base", 10}, {"campaign:double", 10}, {"campaign:half-more", 10}}},
      {"flat bonus below its threshold",
       [](Program& p) { p.campaigns.push_back(bonus_campaign("big-basket", 50, 10000)); },
       {line("a", "food", 9999)},
       {},
       {},
       0,
       0,
       99,
       {{"base", 99}}},
      {"flat bonus at its threshold",
       [](Program& p) { p.campaigns.push_back(bonus_campaign("big-basket", 50, 10000)); },
       {line("a", "food", 10000)},
       {},
       {},
       0,
       0,
       150,
       {{"base", 100}, {"bonus:big-basket", 50}}},
      {"excluded lines do not count toward a bonus threshold",
       [](Program& p) {
         p.earning.excluded_categories = {"gift-card"};
         p.campaigns.push_back(bonus_campaign("big-basket", 50, 10000));
       },
       {line("gc", "gift-card", 9000), line("a", "food", 1000)},
       {},
       {},
       0,
       0,
       10,
       {{"base", 10}}},
      {"milestone on the third purchase",
       [](Program& p) {
         p.milestones = {{3, 30}, {5, 50}};
       },
       {line("a", "food", 1000)},
       {},
       {},
       0,
       2,
       40,
       {{"base", 10}, {"milestone:3", 30}}},
      {"no milestone on the fourth purchase",
       [](Program& p) {
         p.milestones = {{3, 30}, {5, 50}};
       },
       {line("a", "food", 1000)},
       {},
       {},
       0,
       3,
       10,
       {{"base", 10}}},
      {"milestone still counts on a basket below the minimum",
       [](Program& p) {
         p.milestones = {{1, 25}};
         p.earning.min_order_minor = 5000;
       },
       {line("a", "food", 1000)},
       {},
       {},
       0,
       0,
       25,
       {{"base", 0}, {"milestone:1", 25}}},
      {"per-event cap trims the total",
       [](Program& p) {
         p.earning.max_points_per_event = 100;
         p.milestones = {{1, 30}};
       },
       {line("a", "food", 20000)},
       {},
       {},
       0,
       0,
       100,
       {{"base", 200}, {"milestone:1", 30}, {"cap", -130}}},
      {"tier multiplier of the member's tier",
       [](Program& p) { p.tiers = two_tiers(); },
       {line("a", "food", 6400)},
       {},
       {},
       1,
       0,
       80,
       {{"base", 64}, {"tier:gold", 16}}},
      {"lowest tier at 1.0 adds no line",
       [](Program& p) { p.tiers = two_tiers(); },
       {line("a", "food", 6400)},
       {},
       {},
       0,
       0,
       64,
       {{"base", 64}}},
      {"everything stacks: category, campaign, tier, bonus, milestone",
       [](Program& p) {
         p.tiers = two_tiers();
         p.earning.category_multipliers["beverage"] = dec("2");
         p.campaigns.push_back(multiplier_campaign("double", "2"));
         p.campaigns.push_back(bonus_campaign("big-basket", 50, 10000));
         p.milestones = {{1, 5}};
       },
       {line("latte", "beverage", 10000), line("bagel", "food", 1000)},
       {},
       {},
       1,
       0,
       580,
       // base 110; ×2 on beverage → 210; campaign ×2 → 420; tier ×1.25 → 525
       {{"base", 110},
        {"category:beverage", 100},
        {"campaign:double", 210},
        {"tier:gold", 105},
        {"bonus:big-basket", 50},
        {"milestone:1", 5}}},
      {"zero-amount lines earn nothing and break nothing",
       no_change,
       {line("free-refill", "beverage", 0)},
       {},
       {},
       0,
       0,
       0,
       {{"base", 0}}},
  };
}

class EarningTable : public ::testing::TestWithParam<EarningCase> {};

TEST_P(EarningTable, GivesExactPointsAndBreakdown) {
  const EarningCase& c = GetParam();
  Program program = basic_program();
  c.configure(program);
  PurchaseEvent purchase;
  purchase.event_id = "e1";
  purchase.member_id = "m1";
  purchase.store_id = c.store_id.empty() ? "s-1" : c.store_id;
  purchase.occurred_at = at(c.occurred_at.empty() ? "2026-11-20T10:00:00Z" : c.occurred_at);
  purchase.currency = "CNY";
  purchase.lines = c.lines;
  const auto result =
      compute_earning(program, {&purchase, c.tier_index, c.purchase_count_before, 0});
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->points, c.expected_points);
  EXPECT_EQ(result->breakdown, c.expected_breakdown);
  Points sum = 0;
  for (const BreakdownLine& b : result->breakdown) sum += b.points;
  EXPECT_EQ(sum, result->points) << "breakdown must add up to the points earned";
  EXPECT_EQ(result->rate_points + result->bonus_points, result->points);
}

INSTANTIATE_TEST_SUITE_P(Earning, EarningTable, ::testing::ValuesIn(earning_cases()),
                         [](const auto& test_info) {
                           std::string name = test_info.param.name;
                           for (char& ch : name) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });

TEST(Earning, PaidByPointsIsTakenOffProRata) {
  Program program = basic_program();
  program.earning.category_multipliers["beverage"] = dec("2");
  PurchaseEvent purchase;
  purchase.occurred_at = at("2026-11-20T10:00:00Z");
  purchase.lines = {line("latte", "beverage", 3000), line("bagel", "food", 1000)};
  // 2000 of the 4000 paid with points: each line keeps half its eligible amount.
  const auto result = compute_earning(program, {&purchase, 0, 0, 2000});
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->eligible_minor, 2000);
  EXPECT_EQ(result->points, 15 * 2 + 5);
}

TEST(Earning, HugeExactProductsAreRefusedRatherThanWrong) {
  Program program = basic_program();
  program.earning.points_per_unit = dec("1.0001");
  program.earning.unit_minor = 1;
  for (int i = 0; i < 12; ++i) {
    program.campaigns.push_back(multiplier_campaign("c" + std::to_string(i), "1.0001"));
  }
  PurchaseEvent purchase;
  purchase.occurred_at = at("2026-11-20T10:00:00Z");
  purchase.lines = {line("a", "food", kAmountMax)};
  EXPECT_FALSE(compute_earning(program, {&purchase, 0, 0, 0}).has_value());
}

}  // namespace
}  // namespace loyalty
