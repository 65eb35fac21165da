// program.toml loading: valid snippets and their exact values, invalid snippets and the key each
// error names, validation of programs built in code, and every shipped config file.
//
// tests/unit/CMakeLists.txt (target wiring, done by the lead):
//   add_executable(program_toml_test program_toml_test.cpp)
//   loyalty_target_options(program_toml_test)
//   target_link_libraries(program_toml_test PRIVATE loyalty_engine GTest::gtest_main)
//   target_compile_definitions(program_toml_test
//                              PRIVATE LOYALTY_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
//   gtest_discover_tests(program_toml_test PROPERTIES LABELS unit)
#include "engine/program_toml.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <ostream>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "engine/tzdb/os_time_zones.hpp"

#ifndef LOYALTY_SOURCE_DIR
#error "LOYALTY_SOURCE_DIR must name the repository root (set on the test target)"
#endif

namespace loyalty {
namespace {

// The smallest valid program; cases append to it, and text appended straight after it lands in
// [earning] because that table is still open.
const std::string kBase = R"([program]
id = "p"
currency = "CNY"

[earning]
points_per_unit = 1
unit_minor = 100
)";

std::string with_base(std::string_view extra) { return kBase + std::string(extra) + "\n"; }

// A program whose [program] table is `lines`, with a valid [earning].
std::string with_program(std::string_view lines) {
  return "[program]\n" + std::string(lines) +
         "\n[earning]\npoints_per_unit = 1\nunit_minor = 100\n";
}

// A program whose [earning] table is `lines`, with a valid [program].
std::string with_earning(std::string_view lines) {
  return "[program]\nid = \"p\"\ncurrency = \"CNY\"\n[earning]\n" + std::string(lines) + "\n";
}

// A base program plus one campaign whose lines come from the case.
std::string with_campaign(std::string_view lines) {
  return with_base(R"(
[[campaigns]]
id = "c1"
starts_at = "2026-11-01T00:00:00Z"
ends_at = "2026-12-01T00:00:00Z"
)" + std::string(lines));
}

// A base program plus tiers; `levels` holds the [[tiers.levels]] blocks.
std::string with_tiers(std::string_view tiers_lines, std::string_view levels) {
  return with_base("\n[tiers]\n" + std::string(tiers_lines) + "\n" + std::string(levels));
}

// A base program with one reward: the required keys, then the case's lines.
std::string with_reward(std::string_view lines, std::string_view before = "") {
  return with_base(std::string(before) +
                   "\n[[rewards]]\nid = \"free-drink\"\nname = \"Any drink\"\nkind = \"coupon\"\n"
                   "cost_points = 200\n" +
                   std::string(lines));
}

const std::string kTwoLevels = R"(
[[tiers.levels]]
name = "green"
threshold = 0

[[tiers.levels]]
name = "gold"
threshold = 50000
)";

constexpr TimeMs kNov1 = 1'793'491'200'000;  // 2026-11-01T00:00:00Z
constexpr TimeMs kDec1 = 1'796'083'200'000;  // 2026-12-01T00:00:00Z

Decimal scaled(int64_t value) { return Decimal{value}; }

Program parse_ok(const std::string& text) {
  auto result = parse_program_toml(text, "test.toml", os_time_zones());
  if (const auto* error = std::get_if<ProgramLoadError>(&result)) {
    ADD_FAILURE() << "unexpected error at \"" << error->key << "\": " << error->message;
    return Program{};
  }
  return std::get<Program>(std::move(result));
}

// ---------------------------------------------------------------------------------------------
// Valid snippets

struct ValidCase {
  std::string name;
  std::string toml;
  std::function<void(const Program&)> expect;
};

std::vector<ValidCase> valid_cases() {
  return {
      {"minimal_program_gets_the_documented_defaults", kBase,
       [](const Program& p) {
         EXPECT_EQ(p.id, "p");
         EXPECT_EQ(p.currency, "CNY");
         EXPECT_EQ(p.rounding, Rounding::floor);
         EXPECT_EQ(p.earning.points_per_unit, Decimal::from_integer(1));
         EXPECT_EQ(p.earning.unit_minor, 100);
         EXPECT_FALSE(p.earning.max_points_per_event.has_value());
         EXPECT_TRUE(p.earning.excluded_categories.empty());
         EXPECT_TRUE(p.earning.excluded_skus.empty());
         EXPECT_TRUE(p.earning.category_multipliers.empty());
         EXPECT_TRUE(p.earning.sku_multipliers.empty());
         EXPECT_EQ(p.earning.min_order_minor, 0);
         EXPECT_EQ(p.earning.pending_days, 0u);
         EXPECT_TRUE(p.campaigns.empty());
         EXPECT_TRUE(p.milestones.empty());
         EXPECT_FALSE(p.tiers.has_value());
         EXPECT_FALSE(p.referral.has_value());
         EXPECT_FALSE(p.redemption.has_value());
         EXPECT_EQ(p.expiry.mode, ExpiryMode::never);
       }},
      {"rounding_nearest", with_program("id = \"p\"\ncurrency = \"USD\"\nrounding = \"nearest\""),
       [](const Program& p) {
         EXPECT_EQ(p.rounding, Rounding::nearest);
         EXPECT_EQ(p.currency, "USD");
       }},
      {"decimal_with_four_fractional_digits_is_exact",
       with_earning("points_per_unit = 1.2345\nunit_minor = 100"),
       [](const Program& p) { EXPECT_EQ(p.earning.points_per_unit, scaled(12345)); }},
      {"decimal_smallest_step", with_earning("points_per_unit = 0.0001\nunit_minor = 1"),
       [](const Program& p) {
         EXPECT_EQ(p.earning.points_per_unit, scaled(1));
         EXPECT_EQ(p.earning.unit_minor, 1);
       }},
      {"decimal_that_double_cannot_hold_exactly",
       with_earning("points_per_unit = 0.1\nunit_minor = 100"),
       [](const Program& p) { EXPECT_EQ(p.earning.points_per_unit, scaled(1000)); }},
      {"decimal_with_underscores_and_plus_sign",
       with_earning("points_per_unit = +1_000.5\nunit_minor = 100"),
       [](const Program& p) { EXPECT_EQ(p.earning.points_per_unit, scaled(10'005'000)); }},
      {"earning_lists_and_limits", with_base(R"(max_points_per_event = 100000
excluded_categories = ["gift-card", "tobacco"]
excluded_skus = ["bag"]
min_order_minor = 500
pending_days = 14)"),
       [](const Program& p) {
         EXPECT_EQ(p.earning.max_points_per_event, 100000);
         EXPECT_EQ(p.earning.excluded_categories, (std::set<std::string>{"gift-card", "tobacco"}));
         EXPECT_EQ(p.earning.excluded_skus, (std::set<std::string>{"bag"}));
         EXPECT_EQ(p.earning.min_order_minor, 500);
         EXPECT_EQ(p.earning.pending_days, 14u);
       }},
      {"multiplier_tables_integer_float_and_quoted_keys", with_base(R"(
[earning.category_multipliers]
beverage = 2.0
food = 3
"hot food" = 0.25

[earning.sku_multipliers]
"latte-l" = 1.5)"),
       [](const Program& p) {
         const auto& categories = p.earning.category_multipliers;
         ASSERT_EQ(categories.size(), 3u);
         EXPECT_EQ(categories.at("beverage"), scaled(20000));
         EXPECT_EQ(categories.at("food"), scaled(30000));
         EXPECT_EQ(categories.at("hot food"), scaled(2500));
         EXPECT_EQ(p.earning.sku_multipliers.at("latte-l"), scaled(15000));
       }},
      {"multiplier_campaign_with_all_filters", with_campaign(R"(days_of_week = [6, 7]
stores = ["s-1", "s-2"]
categories = ["beverage"]
multiplier = 2.0)"),
       [](const Program& p) {
         ASSERT_EQ(p.campaigns.size(), 1u);
         const Campaign& c = p.campaigns[0];
         EXPECT_EQ(c.id, "c1");
         EXPECT_EQ(c.starts_at, kNov1);
         EXPECT_EQ(c.ends_at, kDec1);
         EXPECT_EQ(c.iso_weekday_mask, (1u << 6) | (1u << 7));
         EXPECT_EQ(c.stores, (std::set<std::string>{"s-1", "s-2"}));
         EXPECT_EQ(c.categories, (std::set<std::string>{"beverage"}));
         EXPECT_EQ(c.multiplier, scaled(20000));
         EXPECT_FALSE(c.bonus_points.has_value());
         EXPECT_EQ(c.min_amount_minor, 0);
       }},
      {"bonus_campaign_with_threshold_and_every_weekday",
       with_campaign("days_of_week = [1, 2, 3, 4, 5, 6, 7]\nbonus_points = 50\n"
                     "min_amount_minor = 10000"),
       [](const Program& p) {
         const Campaign& c = p.campaigns.at(0);
         EXPECT_EQ(c.iso_weekday_mask, 0xFE);
         EXPECT_FALSE(c.multiplier.has_value());
         EXPECT_EQ(c.bonus_points, 50);
         EXPECT_EQ(c.min_amount_minor, 10000);
         EXPECT_TRUE(c.stores.empty());
       }},
      {"campaign_without_days_applies_every_day", with_campaign("multiplier = 1.5"),
       [](const Program& p) { EXPECT_EQ(p.campaigns.at(0).iso_weekday_mask, 0); }},
      {"campaign_times_with_offsets_and_toml_datetimes", with_base(R"(
[[campaigns]]
id = "a"
starts_at = "2026-11-01T08:00:00+08:00"
ends_at = "2026-12-01T00:00:00z"
multiplier = 2

[[campaigns]]
id = "b"
starts_at = 2026-11-01T00:00:00.5+08:00
ends_at = 2026-12-01 00:00:00Z
bonus_points = 1)"),
       [](const Program& p) {
         ASSERT_EQ(p.campaigns.size(), 2u);
         EXPECT_EQ(p.campaigns[0].starts_at, kNov1);
         EXPECT_EQ(p.campaigns[0].ends_at, kDec1);
         EXPECT_EQ(p.campaigns[1].starts_at, 1'793'462'400'500);
         EXPECT_EQ(p.campaigns[1].ends_at, kDec1);
       }},
      {"milestones_in_order", with_base(R"(
[[milestones]]
purchase_count = 3
bonus_points = 30

[[milestones]]
purchase_count = 5
bonus_points = 80)"),
       [](const Program& p) {
         ASSERT_EQ(p.milestones.size(), 2u);
         EXPECT_EQ(p.milestones[0].purchase_count, 3u);
         EXPECT_EQ(p.milestones[0].bonus_points, 30);
         EXPECT_EQ(p.milestones[1].purchase_count, 5u);
         EXPECT_EQ(p.milestones[1].bonus_points, 80);
       }},
      {"tiers_defaults", with_tiers("", kTwoLevels),
       [](const Program& p) {
         ASSERT_TRUE(p.tiers.has_value());
         EXPECT_EQ(p.tiers->metric, TierMetric::spend);
         EXPECT_EQ(p.tiers->window, TierWindow::rolling);
         EXPECT_EQ(p.tiers->window_months, 12u);
         EXPECT_EQ(p.tiers->retain_months, 12u);
         ASSERT_EQ(p.tiers->levels.size(), 2u);
         EXPECT_EQ(p.tiers->levels[0].name, "green");
         EXPECT_EQ(p.tiers->levels[1].threshold, 50000);
         EXPECT_EQ(p.tiers->levels[1].multiplier, Decimal::from_integer(1));
         EXPECT_EQ(p.tiers->levels[1].benefits_json, "{}");
       }},
      {"tiers_points_over_calendar_year",
       with_tiers("metric = \"points\"\nwindow = \"calendar_year\"\nretain_months = 0", kTwoLevels),
       [](const Program& p) {
         EXPECT_EQ(p.tiers->metric, TierMetric::points);
         EXPECT_EQ(p.tiers->window, TierWindow::calendar_year);
         EXPECT_EQ(p.tiers->retain_months, 0u);
       }},
      {"tiers_purchases_rolling_window",
       with_tiers("metric = \"purchases\"\nwindow = \"rolling\"\nwindow_months = 3", kTwoLevels),
       [](const Program& p) {
         EXPECT_EQ(p.tiers->metric, TierMetric::purchases);
         EXPECT_EQ(p.tiers->window_months, 3u);
       }},
      {"tier_multiplier_and_benefits_as_json", with_tiers("", R"(
[[tiers.levels]]
name = "green"
threshold = 0
multiplier = 1.25
benefits = { drink = true, note = "say \"hi\"\n\u0001\\", n = -3, f = +1_000.50, g = 2e-3, list = [1, "x", [false]], nested = { b = false, empty = {} } })"),
       [](const Program& p) {
         const TierLevel& level = p.tiers->levels.at(0);
         EXPECT_EQ(level.multiplier, scaled(12500));
         EXPECT_EQ(level.benefits_json,
                   R"({"drink":true,"f":1000.50,"g":2e-3,"list":[1,"x",[false]],"n":-3,)"
                   R"("nested":{"b":false,"empty":{}},"note":"say \"hi\"\n\u0001\\"})");
       }},
      {"tier_benefits_as_a_sub_table", with_tiers("", R"(
[[tiers.levels]]
name = "green"
threshold = 0

[tiers.levels.benefits]
"late checkout" = "14:00")"),
       [](const Program& p) {
         EXPECT_EQ(p.tiers->levels.at(0).benefits_json, R"({"late checkout":"14:00"})");
       }},
      {"referral_defaults", with_base("\n[referral]"),
       [](const Program& p) {
         ASSERT_TRUE(p.referral.has_value());
         EXPECT_EQ(p.referral->referee_signup_points, 0);
         EXPECT_EQ(p.referral->referee_first_purchase_points, 0);
         EXPECT_EQ(p.referral->referrer_points, 0);
         EXPECT_EQ(p.referral->qualifying_min_amount_minor, 0);
         EXPECT_EQ(p.referral->window_days, 30u);
         EXPECT_EQ(p.referral->max_rewarded_referrals, 50u);
       }},
      {"referral_values", with_base(R"(
[referral]
referee_signup_points = 10
referee_first_purchase_points = 100
referrer_points = 200
qualifying_min_amount_minor = 3000
window_days = 7
max_rewarded_referrals = 0)"),
       [](const Program& p) {
         EXPECT_EQ(p.referral->referee_signup_points, 10);
         EXPECT_EQ(p.referral->referee_first_purchase_points, 100);
         EXPECT_EQ(p.referral->referrer_points, 200);
         EXPECT_EQ(p.referral->qualifying_min_amount_minor, 3000);
         EXPECT_EQ(p.referral->window_days, 7u);
         EXPECT_EQ(p.referral->max_rewarded_referrals, 0u);
       }},
      {"redemption_defaults", with_base("\n[redemption]\npoints_per_currency_unit = 100"),
       [](const Program& p) {
         ASSERT_TRUE(p.redemption.has_value());
         EXPECT_EQ(p.redemption->points_per_currency_unit, 100);
         EXPECT_EQ(p.redemption->min_points, 1);
         EXPECT_EQ(p.redemption->step_points, 1);
         EXPECT_EQ(p.redemption->max_redeem_fraction, Decimal::from_integer(1));
         EXPECT_EQ(p.redemption->hold_ttl_seconds, 900u);
       }},
      {"redemption_values", with_base(R"(
[redemption]
points_per_currency_unit = 200
min_points = 100
step_points = 50
max_redeem_fraction = 0.5
hold_ttl_seconds = 2592000)"),
       [](const Program& p) {
         EXPECT_EQ(p.redemption->points_per_currency_unit, 200);
         EXPECT_EQ(p.redemption->min_points, 100);
         EXPECT_EQ(p.redemption->step_points, 50);
         EXPECT_EQ(p.redemption->max_redeem_fraction, scaled(5000));
         EXPECT_EQ(p.redemption->hold_ttl_seconds, 2'592'000u);
       }},
      {"expiry_days", with_base("\n[expiry]\nmode = \"days\"\ndays = 365"),
       [](const Program& p) {
         EXPECT_EQ(p.expiry.mode, ExpiryMode::days);
         EXPECT_EQ(p.expiry.days, 365u);
       }},
      {"expiry_end_of_month", with_base("\n[expiry]\nmode = \"end_of_month\"\nmonths = 24"),
       [](const Program& p) {
         EXPECT_EQ(p.expiry.mode, ExpiryMode::end_of_month);
         EXPECT_EQ(p.expiry.months, 24u);
       }},
      {"expiry_never_written_out", with_base("\n[expiry]\nmode = \"never\""),
       [](const Program& p) { EXPECT_EQ(p.expiry.mode, ExpiryMode::never); }},
      {"crlf_line_endings",
       "[program]\r\nid = \"p\"\r\ncurrency = \"CNY\"\r\n[earning]\r\npoints_per_unit = 1.5\r\n"
       "unit_minor = 100\r\n",
       [](const Program& p) { EXPECT_EQ(p.earning.points_per_unit, scaled(15000)); }},
      // The example of config.md, verbatim: the contract's own text must load.
      {"config_md_example", R"([program]
id = "coffee-club"
currency = "CNY"
rounding = "floor"                  # or "nearest"

[earning]
points_per_unit = 1                 # points per unit of money...
unit_minor = 100                    # ...where a unit is this many minor units
max_points_per_event = 100000
excluded_categories = ["gift-card"]
excluded_skus = []
min_order_minor = 0                 # baskets below this earn nothing
pending_days = 0

[earning.category_multipliers]
beverage = 2.0

[earning.sku_multipliers]
"latte-l" = 1.5                     # replaces the category multiplier for that SKU

[[campaigns]]
id = "double-weekend"
starts_at = "2026-11-01T00:00:00Z"
ends_at = "2026-12-01T00:00:00Z"    # exclusive
days_of_week = [6, 7]               # ISO weekdays (optional)
stores = ["s-1"]                    # optional
categories = ["beverage"]           # optional: only these lines
multiplier = 2.0                    # either a multiplier...
# bonus_points = 50                 # ...or a flat bonus
# min_amount_minor = 10000          # basket threshold for the bonus

[[milestones]]
purchase_count = 3
bonus_points = 30

[tiers]
metric = "spend"                    # "spend" | "points" | "purchases"
window = "rolling"                  # "rolling" | "calendar_year"
window_months = 12
retain_months = 12

[[tiers.levels]]
name = "green"
threshold = 0
multiplier = 1.0

[[tiers.levels]]
name = "gold"
threshold = 50000                   # in the metric's unit (minor units for spend)
multiplier = 1.25
benefits = { birthday_drink = true }

[referral]
referee_signup_points = 0
referee_first_purchase_points = 100
referrer_points = 200
qualifying_min_amount_minor = 3000
window_days = 30
max_rewarded_referrals = 50

[redemption]
points_per_currency_unit = 100      # 100 points pay one unit (unit_minor minor units)
min_points = 100
max_redeem_fraction = 0.5
hold_ttl_seconds = 900

[expiry]
mode = "days"                       # "days" | "end_of_month" | "never"
days = 365
# months = 24                       # with "end_of_month"
)",
       [](const Program& p) {
         EXPECT_EQ(p.id, "coffee-club");
         EXPECT_EQ(p.earning.category_multipliers.at("beverage"), scaled(20000));
         EXPECT_EQ(p.earning.sku_multipliers.at("latte-l"), scaled(15000));
         ASSERT_EQ(p.campaigns.size(), 1u);
         EXPECT_EQ(p.campaigns[0].iso_weekday_mask, (1u << 6) | (1u << 7));
         EXPECT_EQ(p.tiers->levels.at(1).benefits_json, R"({"birthday_drink":true})");
         EXPECT_EQ(p.redemption->max_redeem_fraction, scaled(5000));
         EXPECT_EQ(p.expiry.days, 365u);
       }},
      // Local time (domain.md, "Local time").
      {"time_zone_defaults_to_utc", kBase,
       [](const Program& p) {
         EXPECT_EQ(p.time_zone->name(), "UTC");
         EXPECT_TRUE(p.store_time_zones.empty());
         EXPECT_EQ(&p.zone_of_store("s-1"), p.time_zone.get());
       }},
      {"time_zone_and_stores_are_resolved",
       "[program]\nid = \"p\"\ncurrency = \"CNY\"\ntime_zone = \"Asia/Shanghai\"\n"
       "[[stores]]\nid = \"s-london\"\ntime_zone = \"Europe/London\"\n"
       "[[stores]]\nid = \"s-urumqi-1\"\ntime_zone = \"Asia/Urumqi\"\n"
       "[earning]\npoints_per_unit = 1\nunit_minor = 100\n",
       [](const Program& p) {
         EXPECT_EQ(p.time_zone->name(), "Asia/Shanghai");
         ASSERT_EQ(p.store_time_zones.size(), 2u);
         EXPECT_EQ(p.zone_of_store("s-london").name(), "Europe/London");
         EXPECT_EQ(p.zone_of_store("s-urumqi-1").name(), "Asia/Urumqi");
         EXPECT_EQ(p.zone_of_store("s-1").name(), "Asia/Shanghai") << "the program's zone";
         // Resolved, not just named: 12:00 UTC is 20:00 in Shanghai.
         EXPECT_EQ(p.time_zone->local_of(kNov1 + 12 * 3'600'000), kNov1 + 20 * 3'600'000);
       }},
      {"campaign_hours_are_local_spans",
       with_campaign("multiplier = 2\nhours = [\"07:00-10:00\", \"14:30-17:00\", "
                     "\"22:00-24:00\"]"),
       [](const Program& p) {
         EXPECT_EQ(p.campaigns.at(0).hours,
                   (std::vector<LocalHours>{{420, 600}, {870, 1020}, {1320, 1440}}));
       }},
      {"reward_with_defaults", with_reward(""),
       [](const Program& p) {
         ASSERT_EQ(p.rewards.size(), 1u);
         const Reward& reward = p.rewards[0];
         EXPECT_EQ(reward.id, "free-drink");
         EXPECT_EQ(reward.name, "Any drink");
         EXPECT_EQ(reward.kind, RewardKind::coupon);
         EXPECT_EQ(reward.cost_points, 200);
         EXPECT_EQ(reward.benefit_json, "{}");
         EXPECT_FALSE(reward.stock.has_value()) << "absent: unlimited";
         EXPECT_FALSE(reward.per_member.has_value());
         EXPECT_TRUE(reward.tiers.empty());
         EXPECT_EQ(reward.available_from, 0);
         EXPECT_EQ(reward.available_to, kTimeNever);
         EXPECT_EQ(reward.coupon_valid_days, 30u);
         EXPECT_EQ(reward.on_refund, CouponRefund::forfeit) << "the spec's default";
         EXPECT_EQ(p.reward("free-drink"), &reward);
         EXPECT_EQ(p.reward("free"), nullptr);
       }},
      {"reward_with_every_key",
       with_reward("benefit = { free_item_category = \"beverage\", size = \"grande\" }\n"
                   "stock = 10000\nper_member = { max = 2, period = \"month\" }\n"
                   "tiers = [\"gold\"]\navailable_from = \"2026-11-01T00:00:00Z\"\n"
                   "available_to = \"2026-12-01T00:00:00Z\"\ncoupon_valid_days = 14\n"
                   "on_refund = \"restore\"\n"
                   "[[rewards]]\nid = \"mug\"\nname = \"Mug\"\nkind = \"product\"\n"
                   "cost_points = 1500\non_refund = \"refund_points\"\n"
                   "per_member = { max = 1, period = \"lifetime\" }",
                   "\n[tiers]\n" + kTwoLevels),
       [](const Program& p) {
         ASSERT_EQ(p.rewards.size(), 2u);
         const Reward& drink = p.rewards[0];
         EXPECT_EQ(drink.benefit_json, R"({"free_item_category":"beverage","size":"grande"})");
         EXPECT_EQ(drink.stock, 10000);
         EXPECT_EQ(drink.per_member, (MemberLimit{2, LimitPeriod::month}));
         EXPECT_EQ(drink.tiers, (std::set<std::string>{"gold"}));
         EXPECT_EQ(drink.available_from, kNov1);
         EXPECT_EQ(drink.available_to, kNov1 + 30 * kMsPerDay);
         EXPECT_EQ(drink.coupon_valid_days, 14u);
         EXPECT_EQ(drink.on_refund, CouponRefund::restore);
         const Reward& mug = p.rewards[1];
         EXPECT_EQ(mug.kind, RewardKind::product);
         EXPECT_EQ(mug.on_refund, CouponRefund::refund_points);
         EXPECT_EQ(mug.per_member, (MemberLimit{1, LimitPeriod::lifetime}));
         EXPECT_EQ(p.reward("mug"), &mug);
       }},
      {"reward_stock_may_be_zero", with_reward("stock = 0"),
       [](const Program& p) { EXPECT_EQ(p.rewards.at(0).stock, 0); }},
  };
}

void PrintTo(const ValidCase& test_case, std::ostream* out) { *out << test_case.name; }

class ValidSnippet : public testing::TestWithParam<ValidCase> {};

TEST_P(ValidSnippet, ParsesToTheExpectedProgram) {
  const ValidCase& test_case = GetParam();
  const Program program = parse_ok(test_case.toml);
  if (testing::Test::HasFailure()) return;
  test_case.expect(program);
  EXPECT_EQ(validate_program(program), std::nullopt);
}

INSTANTIATE_TEST_SUITE_P(ProgramToml, ValidSnippet, testing::ValuesIn(valid_cases()),
                         [](const testing::TestParamInfo<ValidCase>& param) {
                           return param.param.name;
                         });

// ---------------------------------------------------------------------------------------------
// Invalid snippets

struct InvalidCase {
  std::string name;
  std::string toml;
  std::string key;  // the dotted path the error must name ("" for a TOML syntax error)
};

std::vector<InvalidCase> invalid_cases() {
  const std::string level0 = "\n[[tiers.levels]]\nname = \"green\"\nthreshold = 0\n";
  return {
      // Syntax and structure.
      {"toml_syntax_error", with_base("pending_days = 1.2.3"), ""},
      {"toml_duplicate_key", with_base("unit_minor = 200"), ""},
      {"empty_text", "", "program"},
      {"missing_program_section", "[earning]\npoints_per_unit = 1\nunit_minor = 100\n", "program"},
      {"missing_earning_section", "[program]\nid = \"p\"\ncurrency = \"CNY\"\n", "earning"},
      {"missing_program_id", with_program("currency = \"CNY\""), "program.id"},
      {"missing_currency", with_program("id = \"p\""), "program.currency"},
      {"missing_points_per_unit", with_earning("unit_minor = 100"), "earning.points_per_unit"},
      {"missing_unit_minor", with_earning("points_per_unit = 1"), "earning.unit_minor"},
      {"program_is_not_a_table", "program = 1\n[earning]\npoints_per_unit = 1\nunit_minor = 100\n",
       "program"},
      // Unknown keys, at every level.
      {"unknown_top_level_key", with_base("\n[loyalty]\nx = 1"), "loyalty"},
      {"unknown_program_key", with_program("id = \"p\"\ncurrency = \"CNY\"\nname = \"x\""),
       "program.name"},
      {"unknown_earning_key", with_base("points_per_units = 1"), "earning.points_per_units"},
      {"unknown_campaign_key", with_campaign("multiplyer = 2"), "campaigns[0].multiplyer"},
      {"unknown_milestone_key", with_base("\n[[milestones]]\npurchase_count = 3\nbonus = 30"),
       "milestones[0].bonus"},
      {"unknown_tiers_key", with_tiers("metrics = \"spend\"", kTwoLevels), "tiers.metrics"},
      {"unknown_tier_level_key", with_tiers("", kTwoLevels + "perks = 1"), "tiers.levels[1].perks"},
      {"unknown_referral_key", with_base("\n[referral]\nreferrer_bonus = 5"),
       "referral.referrer_bonus"},
      {"unknown_redemption_key",
       with_base("\n[redemption]\npoints_per_currency_unit = 100\nmax_fraction = 0.5"),
       "redemption.max_fraction"},
      {"unknown_expiry_key", with_base("\n[expiry]\nmode = \"days\"\ndays = 5\nweeks = 2"),
       "expiry.weeks"},
      // Wrong types.
      {"referral_window_is_a_string", with_base("\n[referral]\nwindow_days = \"30\""),
       "referral.window_days"},
      {"points_per_unit_is_a_string", with_earning("points_per_unit = \"1\"\nunit_minor = 100"),
       "earning.points_per_unit"},
      {"unit_minor_is_a_float", with_earning("points_per_unit = 1\nunit_minor = 100.0"),
       "earning.unit_minor"},
      {"excluded_categories_is_a_string", with_base("excluded_categories = \"gift-card\""),
       "earning.excluded_categories"},
      {"excluded_sku_is_a_number", with_base("excluded_skus = [\"a\", 1]"),
       "earning.excluded_skus[1]"},
      {"category_multipliers_is_a_number", with_base("category_multipliers = 2"),
       "earning.category_multipliers"},
      {"currency_is_a_number", with_program("id = \"p\"\ncurrency = 156"), "program.currency"},
      {"campaigns_is_a_table", with_base("\n[campaigns]\nid = \"c\""), "campaigns"},
      {"campaign_time_is_a_number",
       with_base("\n[[campaigns]]\nid = \"c\"\nstarts_at = \"2026-11-01T00:00:00Z\"\n"
                 "ends_at = 20261201\nmultiplier = 2"),
       "campaigns[0].ends_at"},
      {"benefits_is_a_string", with_tiers("", level0 + "benefits = \"free coffee\""),
       "tiers.levels[0].benefits"},
      {"benefits_holds_a_date", with_tiers("", level0 + "benefits = { since = 2026-01-01 }"),
       "tiers.levels[0].benefits.since"},
      {"benefits_holds_nan", with_tiers("", level0 + "benefits = { x = nan }"),
       "tiers.levels[0].benefits.x"},
      {"pending_days_is_negative", with_base("pending_days = -1"), "earning.pending_days"},
      {"unit_minor_overflows_int64",
       with_earning("points_per_unit = 1\nunit_minor = 99999999999999999999"),
       "earning.unit_minor"},
      // Decimals.
      {"five_fractional_digits", with_earning("points_per_unit = 1.23456\nunit_minor = 100"),
       "earning.points_per_unit"},
      {"five_fractional_digits_in_a_multiplier",
       with_base("\n[earning.category_multipliers]\nbeverage = 1.00001"),
       "earning.category_multipliers.beverage"},
      {"exponent_in_a_decimal", with_campaign("multiplier = 1e1"), "campaigns[0].multiplier"},
      {"inf_in_a_decimal", with_campaign("multiplier = inf"), "campaigns[0].multiplier"},
      {"decimal_out_of_range",
       with_earning("points_per_unit = 99999999999999999999.5\nunit_minor = 100"),
       "earning.points_per_unit"},
      // [program] and [earning] semantics.
      {"currency_lower_case", with_program("id = \"p\"\ncurrency = \"cny\""), "program.currency"},
      {"currency_four_letters", with_program("id = \"p\"\ncurrency = \"CNYX\""),
       "program.currency"},
      {"bad_rounding", with_program("id = \"p\"\ncurrency = \"CNY\"\nrounding = \"up\""),
       "program.rounding"},
      {"program_id_with_space", with_program("id = \"coffee club\"\ncurrency = \"CNY\""),
       "program.id"},
      {"zero_points_per_unit", with_earning("points_per_unit = 0\nunit_minor = 100"),
       "earning.points_per_unit"},
      {"negative_points_per_unit", with_earning("points_per_unit = -0.5\nunit_minor = 100"),
       "earning.points_per_unit"},
      {"zero_unit_minor", with_earning("points_per_unit = 1\nunit_minor = 0"),
       "earning.unit_minor"},
      {"zero_max_points_per_event", with_base("max_points_per_event = 0"),
       "earning.max_points_per_event"},
      {"max_points_per_event_above_limit", with_base("max_points_per_event = 1000000000001"),
       "earning.max_points_per_event"},
      {"negative_min_order", with_base("min_order_minor = -1"), "earning.min_order_minor"},
      {"pending_days_too_large", with_base("pending_days = 3651"), "earning.pending_days"},
      {"negative_category_multiplier",
       with_base("\n[earning.category_multipliers]\nbeverage = -1.5"),
       "earning.category_multipliers.beverage"},
      {"negative_sku_multiplier_with_quoted_key",
       with_base("\n[earning.sku_multipliers]\n\"latte.l\" = -1"),
       "earning.sku_multipliers.\"latte.l\""},
      {"multiplier_above_limit", with_base("\n[earning.category_multipliers]\nbeverage = 1000.5"),
       "earning.category_multipliers.beverage"},
      {"empty_excluded_category", with_base("excluded_categories = [\"\"]"),
       "earning.excluded_categories"},
      // Campaigns.
      {"campaign_without_id",
       with_base("\n[[campaigns]]\nstarts_at = \"2026-11-01T00:00:00Z\"\n"
                 "ends_at = \"2026-12-01T00:00:00Z\"\nmultiplier = 2"),
       "campaigns[0].id"},
      {"campaign_without_start",
       with_base("\n[[campaigns]]\nid = \"c\"\nends_at = \"2026-12-01T00:00:00Z\"\nmultiplier = 2"),
       "campaigns[0].starts_at"},
      {"duplicate_campaign_id", with_campaign("multiplier = 2\n") + R"(
[[campaigns]]
id = "c1"
starts_at = "2026-11-01T00:00:00Z"
ends_at = "2026-12-01T00:00:00Z"
bonus_points = 5
)",
       "campaigns[1].id"},
      {"campaign_with_multiplier_and_bonus", with_campaign("multiplier = 2\nbonus_points = 50"),
       "campaigns[0].bonus_points"},
      {"campaign_with_neither_multiplier_nor_bonus", with_campaign("stores = [\"s-1\"]"),
       "campaigns[0].multiplier"},
      {"campaign_ends_before_it_starts",
       with_base("\n[[campaigns]]\nid = \"c\"\nstarts_at = \"2026-12-01T00:00:00Z\"\n"
                 "ends_at = \"2026-11-01T00:00:00Z\"\nmultiplier = 2"),
       "campaigns[0].ends_at"},
      {"campaign_ends_when_it_starts",
       with_base("\n[[campaigns]]\nid = \"c\"\nstarts_at = \"2026-12-01T00:00:00Z\"\n"
                 "ends_at = \"2026-12-01T08:00:00+08:00\"\nmultiplier = 2"),
       "campaigns[0].ends_at"},
      {"campaign_time_without_offset",
       with_base("\n[[campaigns]]\nid = \"c\"\nstarts_at = 2026-11-01T00:00:00\n"
                 "ends_at = \"2026-12-01T00:00:00Z\"\nmultiplier = 2"),
       "campaigns[0].starts_at"},
      {"campaign_time_date_only",
       with_base("\n[[campaigns]]\nid = \"c\"\nstarts_at = \"2026-11-01\"\n"
                 "ends_at = \"2026-12-01T00:00:00Z\"\nmultiplier = 2"),
       "campaigns[0].starts_at"},
      {"weekday_eight", with_campaign("days_of_week = [6, 8]\nmultiplier = 2"),
       "campaigns[0].days_of_week[1]"},
      {"weekday_zero", with_campaign("days_of_week = [0]\nmultiplier = 2"),
       "campaigns[0].days_of_week[0]"},
      {"weekday_as_name", with_campaign("days_of_week = [\"sat\"]\nmultiplier = 2"),
       "campaigns[0].days_of_week[0]"},
      {"empty_weekday_list", with_campaign("days_of_week = []\nmultiplier = 2"),
       "campaigns[0].days_of_week"},
      {"zero_campaign_bonus", with_campaign("bonus_points = 0"), "campaigns[0].bonus_points"},
      {"negative_campaign_multiplier", with_campaign("multiplier = -2.0"),
       "campaigns[0].multiplier"},
      {"threshold_with_multiplier", with_campaign("multiplier = 2\nmin_amount_minor = 100"),
       "campaigns[0].min_amount_minor"},
      {"negative_campaign_threshold", with_campaign("bonus_points = 5\nmin_amount_minor = -1"),
       "campaigns[0].min_amount_minor"},
      // Milestones.
      {"milestone_count_zero", with_base("\n[[milestones]]\npurchase_count = 0\nbonus_points = 5"),
       "milestones[0].purchase_count"},
      {"milestones_unsorted",
       with_base("\n[[milestones]]\npurchase_count = 5\nbonus_points = 5\n"
                 "[[milestones]]\npurchase_count = 3\nbonus_points = 5"),
       "milestones[1].purchase_count"},
      {"milestones_repeated",
       with_base("\n[[milestones]]\npurchase_count = 5\nbonus_points = 5\n"
                 "[[milestones]]\npurchase_count = 5\nbonus_points = 9"),
       "milestones[1].purchase_count"},
      {"milestone_without_bonus", with_base("\n[[milestones]]\npurchase_count = 5"),
       "milestones[0].bonus_points"},
      {"milestone_bonus_zero", with_base("\n[[milestones]]\npurchase_count = 5\nbonus_points = 0"),
       "milestones[0].bonus_points"},
      // Tiers.
      {"tiers_without_levels", with_tiers("metric = \"spend\"", ""), "tiers.levels"},
      {"tiers_with_empty_levels", with_tiers("levels = []", ""), "tiers.levels"},
      {"bad_tier_metric", with_tiers("metric = \"visits\"", kTwoLevels), "tiers.metric"},
      {"bad_tier_window", with_tiers("window = \"monthly\"", kTwoLevels), "tiers.window"},
      {"zero_window_months", with_tiers("window_months = 0", kTwoLevels), "tiers.window_months"},
      {"window_months_above_limit", with_tiers("window_months = 121", kTwoLevels),
       "tiers.window_months"},
      {"window_months_with_calendar_year",
       with_tiers("window = \"calendar_year\"\nwindow_months = 12", kTwoLevels),
       "tiers.window_months"},
      {"negative_retain_months", with_tiers("retain_months = -1", kTwoLevels),
       "tiers.retain_months"},
      {"first_threshold_not_zero",
       with_tiers("", "\n[[tiers.levels]]\nname = \"green\"\nthreshold = 100\n"),
       "tiers.levels[0].threshold"},
      {"unsorted_tier_thresholds",
       with_tiers("", kTwoLevels + "\n[[tiers.levels]]\nname = \"silver\"\nthreshold = 20000\n"),
       "tiers.levels[2].threshold"},
      {"repeated_tier_threshold",
       with_tiers("", kTwoLevels + "\n[[tiers.levels]]\nname = \"platinum\"\nthreshold = 50000\n"),
       "tiers.levels[2].threshold"},
      {"duplicate_tier_name",
       with_tiers("", level0 + "\n[[tiers.levels]]\nname = \"green\"\nthreshold = 10\n"),
       "tiers.levels[1].name"},
      {"tier_without_name", with_tiers("", "\n[[tiers.levels]]\nthreshold = 0\n"),
       "tiers.levels[0].name"},
      {"negative_tier_multiplier", with_tiers("", kTwoLevels + "multiplier = -1.25"),
       "tiers.levels[1].multiplier"},
      // Referral.
      {"zero_referral_window", with_base("\n[referral]\nwindow_days = 0"), "referral.window_days"},
      {"negative_referrer_points", with_base("\n[referral]\nreferrer_points = -200"),
       "referral.referrer_points"},
      {"negative_referral_threshold", with_base("\n[referral]\nqualifying_min_amount_minor = -1"),
       "referral.qualifying_min_amount_minor"},
      // Redemption.
      {"redemption_without_rate", with_base("\n[redemption]\nmin_points = 100"),
       "redemption.points_per_currency_unit"},
      {"zero_redemption_rate", with_base("\n[redemption]\npoints_per_currency_unit = 0"),
       "redemption.points_per_currency_unit"},
      {"zero_min_points",
       with_base("\n[redemption]\npoints_per_currency_unit = 100\nmin_points = 0"),
       "redemption.min_points"},
      {"zero_step_points",
       with_base("\n[redemption]\npoints_per_currency_unit = 100\nstep_points = 0"),
       "redemption.step_points"},
      {"zero_redeem_fraction",
       with_base("\n[redemption]\npoints_per_currency_unit = 100\nmax_redeem_fraction = 0.0"),
       "redemption.max_redeem_fraction"},
      {"redeem_fraction_above_one",
       with_base("\n[redemption]\npoints_per_currency_unit = 100\nmax_redeem_fraction = 1.0001"),
       "redemption.max_redeem_fraction"},
      {"zero_hold_ttl",
       with_base("\n[redemption]\npoints_per_currency_unit = 100\nhold_ttl_seconds = 0"),
       "redemption.hold_ttl_seconds"},
      {"hold_ttl_above_thirty_days",
       with_base("\n[redemption]\npoints_per_currency_unit = 100\nhold_ttl_seconds = 2592001"),
       "redemption.hold_ttl_seconds"},
      // Expiry.
      {"bad_expiry_mode", with_base("\n[expiry]\nmode = \"weeks\""), "expiry.mode"},
      {"expiry_without_mode", with_base("\n[expiry]\ndays = 365"), "expiry.mode"},
      {"expiry_days_without_days", with_base("\n[expiry]\nmode = \"days\""), "expiry.days"},
      {"expiry_zero_days", with_base("\n[expiry]\nmode = \"days\"\ndays = 0"), "expiry.days"},
      {"expiry_months_without_months", with_base("\n[expiry]\nmode = \"end_of_month\""),
       "expiry.months"},
      {"expiry_zero_months", with_base("\n[expiry]\nmode = \"end_of_month\"\nmonths = 0"),
       "expiry.months"},
      {"expiry_days_with_end_of_month",
       with_base("\n[expiry]\nmode = \"end_of_month\"\nmonths = 12\ndays = 30"), "expiry.days"},
      {"expiry_months_with_never", with_base("\n[expiry]\nmode = \"never\"\nmonths = 12"),
       "expiry.months"},
      // Local time: each error names the key.
      {"unknown_time_zone",
       with_program("id = \"p\"\ncurrency = \"CNY\"\ntime_zone = \"Asia/Atlantis\""),
       "program.time_zone"},
      {"time_zone_offset_is_not_a_zone",
       with_program("id = \"p\"\ncurrency = \"CNY\"\ntime_zone = \"+08:00\""), "program.time_zone"},
      {"time_zone_path_is_not_a_zone",
       with_program("id = \"p\"\ncurrency = \"CNY\"\ntime_zone = \"../../etc/passwd\""),
       "program.time_zone"},
      {"time_zone_is_not_a_string", with_program("id = \"p\"\ncurrency = \"CNY\"\ntime_zone = 8"),
       "program.time_zone"},
      {"unknown_store_time_zone",
       "[program]\nid = \"p\"\ncurrency = \"CNY\"\n"
       "[[stores]]\nid = \"s-1\"\ntime_zone = \"Europe/London\"\n"
       "[[stores]]\nid = \"s-2\"\ntime_zone = \"Europe/Londn\"\n"
       "[earning]\npoints_per_unit = 1\nunit_minor = 100\n",
       "stores[1].time_zone"},
      {"store_without_time_zone",
       "[program]\nid = \"p\"\ncurrency = \"CNY\"\n[[stores]]\nid = \"s-1\"\n"
       "[earning]\npoints_per_unit = 1\nunit_minor = 100\n",
       "stores[0].time_zone"},
      {"duplicate_store",
       "[program]\nid = \"p\"\ncurrency = \"CNY\"\n"
       "[[stores]]\nid = \"s-1\"\ntime_zone = \"UTC\"\n"
       "[[stores]]\nid = \"s-1\"\ntime_zone = \"Asia/Tokyo\"\n"
       "[earning]\npoints_per_unit = 1\nunit_minor = 100\n",
       "stores[1].id"},
      {"bad_store_id_named_in_file_order",
       "[program]\nid = \"p\"\ncurrency = \"CNY\"\n"
       "[[stores]]\nid = \"zz\"\ntime_zone = \"UTC\"\n"
       "[[stores]]\nid = \"a\\u0007\"\ntime_zone = \"UTC\"\n"
       "[earning]\npoints_per_unit = 1\nunit_minor = 100\n",
       "stores[1].id"},
      {"unknown_store_key",
       "[program]\nid = \"p\"\ncurrency = \"CNY\"\n"
       "[[stores]]\nid = \"s-1\"\nzone = \"UTC\"\n"
       "[earning]\npoints_per_unit = 1\nunit_minor = 100\n",
       "stores[0].zone"},
      {"hours_end_before_start",
       with_campaign("multiplier = 2\nhours = [\"07:00-10:00\", "
                     "\"17:00-14:00\"]"),
       "campaigns[0].hours[1]"},
      {"hours_cross_midnight", with_campaign("multiplier = 2\nhours = [\"22:00-02:00\"]"),
       "campaigns[0].hours[0]"},
      {"hours_empty_span", with_campaign("multiplier = 2\nhours = [\"10:00-10:00\"]"),
       "campaigns[0].hours[0]"},
      {"hours_past_midnight", with_campaign("multiplier = 2\nhours = [\"23:00-24:30\"]"),
       "campaigns[0].hours[0]"},
      {"hours_start_at_24", with_campaign("multiplier = 2\nhours = [\"24:00-24:00\"]"),
       "campaigns[0].hours[0]"},
      {"hours_without_minutes", with_campaign("multiplier = 2\nhours = [\"7-10\"]"),
       "campaigns[0].hours[0]"},
      {"hours_empty_list", with_campaign("multiplier = 2\nhours = []"), "campaigns[0].hours"},
      {"hours_not_strings", with_campaign("multiplier = 2\nhours = [7]"), "campaigns[0].hours[0]"},
      // Rewards.
      {"unknown_reward_key", with_reward("price = 3"), "rewards[0].price"},
      {"rewards_is_a_table", with_base("\n[rewards]\nid = \"r\""), "rewards"},
      {"reward_without_id",
       with_base("\n[[rewards]]\nname = \"x\"\nkind = \"coupon\"\n"
                 "cost_points = 1"),
       "rewards[0].id"},
      {"reward_without_kind",
       with_base("\n[[rewards]]\nid = \"r\"\nname = \"x\"\n"
                 "cost_points = 1"),
       "rewards[0].kind"},
      {"reward_without_cost",
       with_base("\n[[rewards]]\nid = \"r\"\nname = \"x\"\n"
                 "kind = \"coupon\""),
       "rewards[0].cost_points"},
      {"reward_kind_unknown",
       with_base("\n[[rewards]]\nid = \"r\"\nname = \"x\"\nkind = \"voucher\"\n"
                 "cost_points = 1"),
       "rewards[0].kind"},
      {"reward_cost_zero",
       with_base("\n[[rewards]]\nid = \"r\"\nname = \"x\"\nkind = \"coupon\"\n"
                 "cost_points = 0"),
       "rewards[0].cost_points"},
      {"reward_id_with_a_space",
       with_base("\n[[rewards]]\nid = \"free drink\"\nname = \"x\"\nkind = \"coupon\"\n"
                 "cost_points = 1"),
       "rewards[0].id"},
      {"reward_name_empty",
       with_base("\n[[rewards]]\nid = \"r\"\nname = \"\"\nkind = \"coupon\"\n"
                 "cost_points = 1"),
       "rewards[0].name"},
      {"reward_ids_repeat",
       with_reward("[[rewards]]\nid = \"free-drink\"\nname = \"y\"\nkind = \"product\"\n"
                   "cost_points = 5"),
       "rewards[1].id"},
      {"reward_benefit_is_a_string", with_reward("benefit = \"a drink\""), "rewards[0].benefit"},
      {"reward_stock_negative", with_reward("stock = -1"), "rewards[0].stock"},
      {"reward_limit_without_period", with_reward("per_member = { max = 2 }"),
       "rewards[0].per_member.period"},
      {"reward_limit_period_unknown", with_reward("per_member = { max = 2, period = \"hour\" }"),
       "rewards[0].per_member.period"},
      {"reward_limit_zero", with_reward("per_member = { max = 0, period = \"day\" }"),
       "rewards[0].per_member.max"},
      {"reward_limit_unknown_key",
       with_reward("per_member = { max = 1, period = \"day\", per = 2 }"),
       "rewards[0].per_member.per"},
      {"reward_tiers_without_a_tiers_section", with_reward("tiers = [\"gold\"]"),
       "rewards[0].tiers"},
      {"reward_tier_unknown", with_reward("tiers = [\"silver\"]", "\n[tiers]\n" + kTwoLevels),
       "rewards[0].tiers"},
      {"reward_window_backwards",
       with_reward("available_from = \"2026-12-01T00:00:00Z\"\n"
                   "available_to = \"2026-11-01T00:00:00Z\""),
       "rewards[0].available_to"},
      {"reward_coupon_valid_days_zero", with_reward("coupon_valid_days = 0"),
       "rewards[0].coupon_valid_days"},
      {"reward_on_refund_unknown", with_reward("on_refund = \"keep\""), "rewards[0].on_refund"},
  };
}

void PrintTo(const InvalidCase& test_case, std::ostream* out) { *out << test_case.name; }

class InvalidSnippet : public testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidSnippet, NamesTheOffendingKey) {
  const InvalidCase& test_case = GetParam();
  const auto result = parse_program_toml(test_case.toml, "test.toml", os_time_zones());
  const auto* error = std::get_if<ProgramLoadError>(&result);
  ASSERT_NE(error, nullptr) << "accepted:\n" << test_case.toml;
  EXPECT_EQ(error->key, test_case.key) << error->message << "\n" << test_case.toml;
  EXPECT_FALSE(error->message.empty());
  EXPECT_EQ(error->message.find('\n'), std::string::npos) << error->message;
}

INSTANTIATE_TEST_SUITE_P(ProgramToml, InvalidSnippet, testing::ValuesIn(invalid_cases()),
                         [](const testing::TestParamInfo<InvalidCase>& param) {
                           return param.param.name;
                         });

// ---------------------------------------------------------------------------------------------
// Messages

std::string error_message(const std::string& toml) {
  const auto result = parse_program_toml(toml, "programs/x.toml", os_time_zones());
  const auto* error = std::get_if<ProgramLoadError>(&result);
  return error == nullptr ? std::string("(accepted)") : error->message;
}

TEST(ProgramTomlMessages, SyntaxErrorNamesTheSourceAndLine) {
  const std::string message = error_message(with_base("pending_days = 1.2.3"));
  EXPECT_EQ(message.rfind("programs/x.toml:8:", 0), 0u) << message;
}

TEST(ProgramTomlMessages, UnknownKeyListsTheKnownOnes) {
  const std::string message = error_message(with_base("\n[expiry]\nmode = \"days\"\nweeks = 2"));
  EXPECT_NE(message.find("unknown key"), std::string::npos) << message;
  EXPECT_NE(message.find("mode, days, months"), std::string::npos) << message;
}

TEST(ProgramTomlMessages, WrongTypeSaysWhatWasExpected) {
  const std::string message = error_message(with_base("min_order_minor = \"0\""));
  EXPECT_EQ(message, "expected an integer, found a string");
}

TEST(ProgramTomlMessages, TooManyFractionalDigitsIsSpelledOut) {
  const std::string message =
      error_message(with_base("\n[earning.category_multipliers]\nbeverage = 1.00001"));
  EXPECT_NE(message.find("more than 4 fractional digits"), std::string::npos) << message;
}

TEST(ProgramTomlMessages, BadChoiceListsTheChoices) {
  const std::string message = error_message(with_base("\n[expiry]\nmode = \"weeks\""));
  EXPECT_EQ(message, R"(must be one of "never", "days", "end_of_month", got "weeks")");
}

TEST(ProgramTomlMessages, GarbageNeverThrows) {
  for (const std::string& text : {std::string("\xff\xfe\x00\x01", 4), std::string("[[[["),
                                  std::string("a = \"\\uD800\""), std::string(10000, '[')}) {
    EXPECT_NO_THROW({
      const auto result = parse_program_toml(text, "garbage.toml", os_time_zones());
      EXPECT_TRUE(std::holds_alternative<ProgramLoadError>(result));
    });
  }
}

TEST(ProgramTomlMessages, DeepNestingIsRefusedBeforeParsing) {
  // toml11 recurses per level; thousands of levels would overflow the stack.
  for (const char bracket : {'[', '{'}) {
    const std::string message = error_message(kBase + "a = " + std::string(5000, bracket));
    EXPECT_NE(message.find("x.toml:8: brackets nested deeper than 32 levels"), std::string::npos)
        << message;
  }
}

TEST(ProgramTomlMessages, BracketsInStringsAndCommentsDoNotCount) {
  const std::string many(40, '[');
  const std::string levels = "\n# " + many +
                             "\n[[tiers.levels]]\nname = \"green\"\nthreshold = 0\n"
                             "benefits = { a = \"" +
                             many + "\\\"\", b = '" + many + "', c = \"\"\"\n" + many +
                             "\"\"\"\"\", d = '''x" + many + "''' }\n";
  const Program program = parse_ok(with_tiers("", levels));
  ASSERT_TRUE(program.tiers.has_value());
  EXPECT_EQ(program.tiers->levels.at(0).benefits_json, "{\"a\":\"" + many + "\\\"\",\"b\":\"" +
                                                           many + "\",\"c\":\"" + many +
                                                           "\\\"\\\"\",\"d\":\"x" + many + "\"}");
}

TEST(ProgramTomlMessages, OversizedTextIsRefused) {
  const std::string text = kBase + "# " + std::string(kProgramTomlBytesMax, 'x') + "\n";
  EXPECT_NE(error_message(text).find("larger than"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Programs built in code

Program valid_program() {
  Program program;
  program.id = "code";
  program.currency = "EUR";
  program.earning.points_per_unit = Decimal::from_integer(1);
  return program;
}

TEST(ValidateProgram, AcceptsAMinimalProgram) {
  EXPECT_EQ(validate_program(valid_program()), std::nullopt);
}

std::string validation_key(const Program& program) {
  const auto error = validate_program(program);
  return error ? error->key : std::string("(valid)");
}

TEST(ValidateProgram, DefaultPointsPerUnitOfZeroIsRefused) {
  Program program = valid_program();
  program.earning.points_per_unit = Decimal{};
  EXPECT_EQ(validation_key(program), "earning.points_per_unit");
}

TEST(ValidateProgram, WeekdayZeroBitIsRefused) {
  Program program = valid_program();
  Campaign campaign;
  campaign.id = "c";
  campaign.multiplier = Decimal::from_integer(2);
  campaign.iso_weekday_mask = 0b0000'0011;
  program.campaigns.push_back(campaign);
  EXPECT_EQ(validation_key(program), "campaigns[0].days_of_week");
}

TEST(ValidateProgram, ZonesAndHoursOfProgramsBuiltInCode) {
  Program program = valid_program();
  program.time_zone = nullptr;
  EXPECT_EQ(validation_key(program), "program.time_zone");
  program = valid_program();
  program.store_time_zones["s-1"] = os_time_zones().find("Europe/London");
  program.store_time_zones["s-2"] = nullptr;
  EXPECT_EQ(validation_key(program), "stores[1].time_zone");
  program = valid_program();
  Campaign campaign;
  campaign.id = "c";
  campaign.multiplier = Decimal::from_integer(2);
  campaign.hours = {{0, 60}, {600, 1441}};
  program.campaigns.push_back(campaign);
  EXPECT_EQ(validation_key(program), "campaigns[0].hours[1]");
}

TEST(ValidateProgram, OpenEndedCampaignBuiltInCodeIsAccepted) {
  Program program = valid_program();
  Campaign campaign;
  campaign.id = "always";
  campaign.bonus_points = 5;
  program.campaigns.push_back(campaign);
  EXPECT_EQ(validation_key(program), "(valid)");
}

TEST(ValidateProgram, EnumValuesOutsideTheirRangeAreRefused) {
  Program rounding = valid_program();
  rounding.rounding = static_cast<Rounding>(7);
  EXPECT_EQ(validation_key(rounding), "program.rounding");

  Program expiry = valid_program();
  expiry.expiry.mode = static_cast<ExpiryMode>(9);
  EXPECT_EQ(validation_key(expiry), "expiry.mode");

  Program tiers = valid_program();
  tiers.tiers = TierRules{};
  tiers.tiers->levels.push_back(TierLevel{"base", 0, Decimal::from_integer(1), "{}"});
  tiers.tiers->metric = static_cast<TierMetric>(5);
  EXPECT_EQ(validation_key(tiers), "tiers.metric");
}

TEST(ValidateProgram, BenefitsMustBeAJsonObjectOfBoundedSize) {
  Program program = valid_program();
  program.tiers = TierRules{};
  program.tiers->levels.push_back(TierLevel{"base", 0, Decimal::from_integer(1), "[]"});
  EXPECT_EQ(validation_key(program), "tiers.levels[0].benefits");
  program.tiers->levels[0].benefits_json =
      "{\"x\":\"" + std::string(kBenefitsJsonBytesMax, 'a') + "\"}";
  EXPECT_EQ(validation_key(program), "tiers.levels[0].benefits");
}

TEST(ValidateProgram, CampaignCountIsBounded) {
  Program program = valid_program();
  for (size_t i = 0; i <= kCampaignsMax; ++i) {
    Campaign campaign;
    campaign.id = "c";
    campaign.id += std::to_string(i);  // not "c" + …: GCC 12 -O2 warns falsely (-Wrestrict)
    campaign.bonus_points = 1;
    program.campaigns.push_back(campaign);
  }
  EXPECT_EQ(validation_key(program), "campaigns");
}

// ---------------------------------------------------------------------------------------------
// Shipped configuration

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::filesystem::path> shipped_programs() {
  const std::filesystem::path root(LOYALTY_SOURCE_DIR);
  std::vector<std::filesystem::path> files{root / "config" / "program.toml"};
  for (const auto& entry : std::filesystem::directory_iterator(root / "config" / "examples")) {
    if (entry.path().extension() == ".toml") files.push_back(entry.path());
  }
  return files;
}

TEST(ShippedConfig, EveryProgramFileLoadsAndValidates) {
  const auto files = shipped_programs();
  EXPECT_GE(files.size(), 4u) << "config/program.toml and at least three examples";
  for (const auto& path : files) {
    SCOPED_TRACE(path.string());
    const std::string text = read_file(path);
    ASSERT_FALSE(text.empty());
    const auto result = parse_program_toml(text, path.string(), os_time_zones());
    if (const auto* error = std::get_if<ProgramLoadError>(&result)) {
      ADD_FAILURE() << error->key << ": " << error->message;
      continue;
    }
    EXPECT_EQ(validate_program(std::get<Program>(result)), std::nullopt);
  }
}

TEST(ShippedConfig, DefaultProgramIsTheCoffeeClub) {
  const std::filesystem::path path =
      std::filesystem::path(LOYALTY_SOURCE_DIR) / "config" / "program.toml";
  const Program program = parse_ok(read_file(path));
  EXPECT_EQ(program.id, "coffee-club");
  EXPECT_EQ(program.currency, "CNY");
  ASSERT_TRUE(program.tiers.has_value());
  ASSERT_EQ(program.tiers->levels.size(), 3u);
  EXPECT_EQ(program.tier_name(0), "green");
  EXPECT_EQ(program.tier_name(1), "gold");
  EXPECT_EQ(program.tier_name(2), "platinum");
  EXPECT_TRUE(program.referral.has_value());
  EXPECT_TRUE(program.redemption.has_value());
  EXPECT_EQ(program.expiry.mode, ExpiryMode::days);
  EXPECT_EQ(program.expiry.days, 365u);
  EXPECT_EQ(program.time_zone->name(), "Asia/Shanghai") << "a coffee club in Shanghai";
  ASSERT_NE(program.reward("free-drink"), nullptr) << "the shipped catalog";
  EXPECT_EQ(program.reward("free-drink")->per_member, (MemberLimit{2, LimitPeriod::month}));
  ASSERT_NE(program.reward("tumbler"), nullptr);
  EXPECT_EQ(program.reward("tumbler")->stock, 500);
}

TEST(ShippedConfig, ExamplesCoverTheirFeatures) {
  const std::filesystem::path examples =
      std::filesystem::path(LOYALTY_SOURCE_DIR) / "config" / "examples";
  const Program hotel = parse_ok(read_file(examples / "hotel_group.toml"));
  ASSERT_TRUE(hotel.tiers.has_value());
  EXPECT_EQ(hotel.tiers->metric, TierMetric::points);
  EXPECT_EQ(hotel.tiers->window, TierWindow::calendar_year);
  EXPECT_EQ(hotel.expiry.mode, ExpiryMode::end_of_month);
  // A points mall: limited stock, tier-only rewards, and each refund rule.
  ASSERT_EQ(hotel.rewards.size(), 3u);
  EXPECT_TRUE(std::any_of(hotel.rewards.begin(), hotel.rewards.end(),
                          [](const Reward& r) { return r.stock.has_value(); }));
  EXPECT_TRUE(std::any_of(hotel.rewards.begin(), hotel.rewards.end(),
                          [](const Reward& r) { return !r.tiers.empty(); }));
  EXPECT_TRUE(std::any_of(hotel.rewards.begin(), hotel.rewards.end(), [](const Reward& r) {
    return r.on_refund == CouponRefund::refund_points;
  }));

  const Program market = parse_ok(read_file(examples / "supermarket.toml"));
  EXPECT_TRUE(market.earning.excluded_categories.count("tobacco"));
  EXPECT_TRUE(market.earning.excluded_categories.count("gift-card"));
  EXPECT_FALSE(market.milestones.empty());
  EXPECT_TRUE(std::any_of(market.campaigns.begin(), market.campaigns.end(),
                          [](const Campaign& c) { return c.min_amount_minor > 0; }));

  const Program coffee = parse_ok(read_file(examples / "coffee_chain.toml"));
  EXPECT_EQ(coffee.rounding, Rounding::nearest);

  // Each example runs somewhere, and the hotel group has a hotel in another zone.
  EXPECT_NE(hotel.time_zone->name(), "UTC");
  EXPECT_NE(market.time_zone->name(), "UTC");
  EXPECT_NE(coffee.time_zone->name(), "UTC");
  EXPECT_TRUE(std::any_of(coffee.campaigns.begin(), coffee.campaigns.end(),
                          [](const Campaign& c) { return !c.hours.empty(); }));
  EXPECT_FALSE(hotel.store_time_zones.empty());
  for (const auto& [store, zone] : hotel.store_time_zones) {
    EXPECT_NE(zone->name(), hotel.time_zone->name()) << store;
  }
}

}  // namespace
}  // namespace loyalty
