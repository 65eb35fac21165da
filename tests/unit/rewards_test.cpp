// Rewards, coupons and the points mall as domain.md states them: redeeming for a coupon and each
// refusal, stock and per-member limits, using, cancelling and expiring coupons, purchases that
// use coupons and what their full refund does under each on_refund.
#include "engine/rewards.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "engine/coupon_code.hpp"
#include "engine/tzdb/os_time_zones.hpp"
#include "tests/support/scenario.hpp"

namespace loyalty {
namespace {

using testing::at;
using testing::basic_program;
using testing::line;
using testing::Scenario;

Reward reward(std::string id, Points cost) {
  Reward r;
  r.id = std::move(id);
  r.name = "Reward " + r.id;
  r.cost_points = cost;
  r.benefit_json = R"({"free_item_category":"beverage"})";
  r.coupon_valid_days = 30;
  return r;
}

// Tiers green (0) and gold (50,000 minor units of spend); points expire after a year.
Program mall_program() {
  Program p = basic_program();
  TierRules tiers;
  tiers.levels = {{"green", 0, Decimal::from_integer(1), "{}"},
                  {"gold", 50000, Decimal::from_integer(1), "{}"}};
  p.tiers = tiers;
  p.expiry.mode = ExpiryMode::days;
  p.expiry.days = 365;
  p.rewards.push_back(reward("drink", 200));
  Reward limited = reward("tumbler", 300);
  limited.stock = 1;
  p.rewards.push_back(limited);
  Reward monthly = reward("pastry", 100);
  monthly.per_member = MemberLimit{2, LimitPeriod::month};
  p.rewards.push_back(monthly);
  Reward gold_only = reward("lounge", 100);
  gold_only.tiers = {"gold"};
  p.rewards.push_back(gold_only);
  Reward december = reward("advent", 100);
  december.available_from = at("2026-12-01T00:00:00Z");
  december.available_to = at("2027-01-01T00:00:00Z");
  p.rewards.push_back(december);
  return p;
}

// A member with `points` points from one purchase on 2026-11-20.
Scenario with_member(Points points, Program program = mall_program()) {
  Scenario s(std::move(program));
  EXPECT_TRUE(s.member("m1").ok());
  if (points > 0) {
    EXPECT_TRUE(s.purchase("earn", "m1", {line("a", "food", points * 100)}).ok());
  }
  return s;
}

bool has_notification(const Effects& effects, std::string_view type) {
  return std::any_of(effects.notifications.begin(), effects.notifications.end(),
                     [&](const Notification& n) { return n.type == type; });
}

// ---------------------------------------------------------------------------------------------
// Redeeming

TEST(Rewards, RedeemingTakesThePointsAndIssuesAnActiveCoupon) {
  Scenario s = with_member(1000);
  ASSERT_TRUE(s.redeem_reward("r1", "m1", "drink", at("2026-11-21T12:00:00Z")).ok());
  const CouponAnswer* answer = s.last_coupon_answer();
  ASSERT_NE(answer, nullptr);
  EXPECT_EQ(answer->points, 200);
  EXPECT_EQ(answer->balance.available, 800);
  const Coupon& coupon = answer->coupon;
  EXPECT_EQ(parse_coupon_code(coupon.code), coupon.code) << "a well-formed code";
  EXPECT_EQ(coupon.reward_id, "drink");
  EXPECT_EQ(coupon.reward_name, "Reward drink");
  EXPECT_EQ(coupon.benefit_json, R"({"free_item_category":"beverage"})");
  EXPECT_EQ(coupon.redemption_id, "r1");
  EXPECT_EQ(coupon.state, CouponState::active);
  EXPECT_EQ(coupon.issued_at, at("2026-11-21T12:00:00Z"));
  EXPECT_EQ(coupon.valid_until, at("2026-12-21T12:00:00Z")) << "issue + coupon_valid_days";
  ASSERT_EQ(s.state("m1").coupons.size(), 1u);
  EXPECT_EQ(s.state("m1").coupons[0], coupon);
  const LedgerEntry& entry = s.ledger("m1").back();
  EXPECT_EQ(entry.type, EntryType::reward_redeem);
  EXPECT_EQ(entry.points, -200);
  EXPECT_EQ(entry.reference, "r1");
  EXPECT_EQ(entry.rule, "reward:drink");
  EXPECT_TRUE(has_notification(s.last_effects(), "reward.redeemed"));
  EXPECT_EQ(s.stock_out("drink"), 1) << "units out are counted for every reward";
  ASSERT_NE(s.stored_coupon(coupon.code), nullptr);
  EXPECT_EQ(s.stored_coupon(coupon.code)->member_id, "m1");
}

TEST(Rewards, TheSameRedemptionAgainAnswersAgainAndAnotherRewardUnderItsIdConflicts) {
  Scenario s = with_member(1000);
  ASSERT_TRUE(s.redeem_reward("r1", "m1", "drink").ok());
  const std::string code = s.last_code();
  ASSERT_TRUE(s.redeem_reward("r1", "m1", "drink").ok());
  EXPECT_EQ(s.state("m1").balance.available, 800) << "taken once";
  EXPECT_EQ(s.state("m1").coupons.size(), 1u);
  EXPECT_EQ(s.redeem_reward("r1", "m1", "pastry").code, ErrorCode::idempotency_conflict);
  EXPECT_EQ(s.state("m1").coupons.at(0).code, code);
}

TEST(Rewards, EachRefusalNamesItsReasonAndChangesNothing) {
  Scenario s = with_member(250);
  // Scenario::apply checks that a refused event leaves the member as it was.
  Rejection r = s.redeem_reward("r1", "m1", "tumbler");
  EXPECT_EQ(r.code, ErrorCode::insufficient_points) << r.message;
  EXPECT_EQ(r.field, "reward_id");
  EXPECT_EQ(s.stock_out("tumbler"), 0) << "a refused redemption takes no unit";
  r = s.redeem_reward("r2", "m1", "lounge");
  EXPECT_EQ(r.code, ErrorCode::tier_not_eligible) << r.message;
  r = s.redeem_reward("r3", "m1", "advent", at("2026-11-30T23:59:59Z"));
  EXPECT_EQ(r.code, ErrorCode::reward_not_available) << "before available_from";
  r = s.redeem_reward("r4", "m1", "nothing");
  EXPECT_EQ(r.code, ErrorCode::not_found);
  EXPECT_EQ(r.field, "reward_id");
  EXPECT_EQ(s.state("m1").balance.available, 250);
  EXPECT_TRUE(s.state("m1").coupons.empty());
  ASSERT_TRUE(s.redeem_reward("r5", "m1", "advent", at("2026-12-01T00:00:00Z")).ok());
  ASSERT_TRUE(s.adjust("more", "m1", 1000, at("2026-12-31T00:00:00Z")).ok());
  r = s.redeem_reward("r6", "m1", "advent", at("2027-01-01T00:00:00Z"));
  EXPECT_EQ(r.code, ErrorCode::reward_not_available) << "available_to is exclusive";
}

TEST(Rewards, StockIsProgramWideAndACancelledUnitCanBeIssuedAgain) {
  Scenario s = with_member(1000);
  ASSERT_TRUE(s.member("m2").ok());
  ASSERT_TRUE(s.purchase("earn2", "m2", {line("a", "food", 100000)}).ok());
  ASSERT_TRUE(s.redeem_reward("r1", "m1", "tumbler").ok());
  const std::string code = s.last_code();
  const Rejection r = s.redeem_reward("r2", "m2", "tumbler");
  EXPECT_EQ(r.code, ErrorCode::out_of_stock) << r.message;
  EXPECT_EQ(s.stock_out("tumbler"), 1);
  ASSERT_TRUE(s.cancel_coupon(code).ok());
  EXPECT_EQ(s.stock_out("tumbler"), 0) << "the cancelled unit is back";
  EXPECT_TRUE(s.redeem_reward("r3", "m2", "tumbler").ok());
}

TEST(Rewards, MemberLimitCountsPerLocalPeriodAndACancellationGivesItsUnitBack) {
  Program program = mall_program();
  program.time_zone = os_time_zones().find("Asia/Shanghai");
  Scenario s = with_member(1000, program);
  ASSERT_TRUE(s.redeem_reward("r1", "m1", "pastry", at("2026-11-03T00:00:00Z")).ok());
  ASSERT_TRUE(s.redeem_reward("r2", "m1", "pastry", at("2026-11-10T00:00:00Z")).ok());
  const std::string second = s.last_code();
  Rejection r = s.redeem_reward("r3", "m1", "pastry", at("2026-11-30T15:59:59Z"));
  EXPECT_EQ(r.code, ErrorCode::member_limit_reached) << "23:59:59 on 30 November in Shanghai";
  ASSERT_TRUE(s.cancel_coupon(second, at("2026-11-30T15:59:59Z")).ok());
  EXPECT_TRUE(s.redeem_reward("r4", "m1", "pastry", at("2026-11-30T15:59:59Z")).ok())
      << "the cancelled coupon's unit was given back";
  r = s.redeem_reward("r5", "m1", "pastry", at("2026-11-30T15:59:59Z"));
  EXPECT_EQ(r.code, ErrorCode::member_limit_reached);
  EXPECT_TRUE(s.redeem_reward("r6", "m1", "pastry", at("2026-11-30T16:00:00Z")).ok())
      << "00:00 on 1 December in Shanghai: a new month";
}

TEST(Rewards, LimitPeriodsAreLocalDaysIsoWeeksMonthsAndYears) {
  Program p = basic_program();
  p.time_zone = os_time_zones().find("Asia/Shanghai");
  // Sunday 2026-11-29 23:30 in Shanghai and Monday 00:30: another day and another ISO week.
  const TimeMs sunday = at("2026-11-29T15:30:00Z");
  const TimeMs monday = at("2026-11-29T16:30:00Z");
  EXPECT_EQ(limit_period_index(p, LimitPeriod::day, monday),
            limit_period_index(p, LimitPeriod::day, sunday) + 1);
  EXPECT_EQ(limit_period_index(p, LimitPeriod::week, monday),
            limit_period_index(p, LimitPeriod::week, sunday) + 1);
  EXPECT_EQ(limit_period_index(p, LimitPeriod::week, at("2026-11-23T16:30:00Z")),
            limit_period_index(p, LimitPeriod::week, sunday))
      << "Tuesday 24th 00:30 and Sunday 29th are in one week";
  EXPECT_EQ(limit_period_index(p, LimitPeriod::month, monday),
            limit_period_index(p, LimitPeriod::month, sunday));
  EXPECT_EQ(limit_period_index(p, LimitPeriod::year, at("2026-12-31T16:00:00Z")),
            limit_period_index(p, LimitPeriod::year, sunday) + 1)
      << "1 January 2027 in Shanghai";
  EXPECT_EQ(limit_period_index(p, LimitPeriod::lifetime, monday), 0);
}

TEST(Rewards, StandingListsEveryReasonAtOnce) {
  Scenario s = with_member(50);
  const Program& program = s.program().program;
  Reward everything = reward("all", 100);
  everything.tiers = {"gold"};
  everything.stock = 5;
  everything.available_from = at("2027-01-01T00:00:00Z");
  const RewardStanding standing =
      reward_standing(program, s.state("m1"), everything, at("2026-11-21T00:00:00Z"), 0);
  EXPECT_FALSE(standing.redeemable());
  EXPECT_EQ(standing.reasons,
            (std::vector<ErrorCode>{ErrorCode::reward_not_available, ErrorCode::tier_not_eligible,
                                    ErrorCode::out_of_stock, ErrorCode::insufficient_points}));
  const RewardStanding fine =
      reward_standing(program, s.state("m1"), reward("cheap", 50), at("2026-11-21T00:00:00Z"), {});
  EXPECT_TRUE(fine.redeemable());
}

// ---------------------------------------------------------------------------------------------
// Using, cancelling, expiring

TEST(Coupons, AUseIsIdempotentAndASecondUseOfTheCodeIsRefused) {
  Scenario s = with_member(1000);
  ASSERT_TRUE(s.redeem_reward("r1", "m1", "drink").ok());
  const std::string code = s.last_code();
  ASSERT_TRUE(s.use_coupon("u1", code, at("2026-11-22T09:00:00Z"), "s-7").ok());
  const CouponAnswer* used = s.last_coupon_answer();
  ASSERT_NE(used, nullptr);
  EXPECT_EQ(used->coupon.state, CouponState::used);
  EXPECT_EQ(used->coupon.used_by, "u1");
  EXPECT_EQ(used->coupon.store_id, "s-7");
  EXPECT_EQ(used->coupon.settled_at, at("2026-11-22T09:00:00Z"));
  EXPECT_EQ(s.ledger("m1").back().type, EntryType::coupon_use);
  EXPECT_EQ(s.ledger("m1").back().points, 0);
  EXPECT_TRUE(has_notification(s.last_effects(), "coupon.used"));
  EXPECT_TRUE(s.state("m1").coupons.empty());
  EXPECT_EQ(s.stored_coupon(code)->coupon.state, CouponState::used);

  EXPECT_TRUE(s.use_coupon("u1", code, at("2026-11-22T09:01:00Z"), "s-7").ok())
      << "the same use again: answered again";
  const Rejection again = s.use_coupon("u2", code);
  EXPECT_EQ(again.code, ErrorCode::coupon_not_active) << again.message;
  EXPECT_EQ(again.field, "code");
  EXPECT_NE(again.message.find("used"), std::string::npos) << again.message;
  EXPECT_EQ(s.use_coupon("u3", coupon_code_from_bits(12345)).code, ErrorCode::not_found);
  EXPECT_EQ(s.cancel_coupon(code).code, ErrorCode::coupon_not_active) << "a used coupon stays used";
  EXPECT_EQ(s.state("m1").balance.available, 800);
}

TEST(Coupons, CancellingGivesThePointsBackAsANewLotOnce) {
  Scenario s = with_member(1000);
  ASSERT_TRUE(s.redeem_reward("r1", "m1", "drink").ok());
  const std::string code = s.last_code();
  const size_t lots_before = s.state("m1").lots.size();
  ASSERT_TRUE(s.cancel_coupon(code, at("2026-11-23T00:00:00Z")).ok());
  const CouponAnswer* answer = s.last_coupon_answer();
  ASSERT_NE(answer, nullptr);
  EXPECT_EQ(answer->coupon.state, CouponState::cancelled);
  EXPECT_EQ(answer->points, 200);
  EXPECT_EQ(s.state("m1").balance.available, 1000);
  EXPECT_EQ(s.state("m1").lots.size(), lots_before + 1) << "a new lot";
  EXPECT_EQ(s.state("m1").lots.back().expires_at, at("2027-11-23T00:00:00Z"))
      << "expiring as points earned at the cancellation";
  EXPECT_EQ(s.ledger("m1").back().type, EntryType::reward_cancel);
  EXPECT_EQ(s.ledger("m1").back().points, 200);
  EXPECT_TRUE(has_notification(s.last_effects(), "coupon.cancelled"));
  ASSERT_TRUE(s.cancel_coupon(code).ok()) << "a retry of the cancellation answers again";
  EXPECT_EQ(s.state("m1").balance.available, 1000) << "given back once";
  EXPECT_EQ(s.use_coupon("u1", code).code, ErrorCode::coupon_not_active);
}

TEST(Coupons, TheExpiryJobExpiresCouponsPastTheirDateAndReturnsNothing) {
  Scenario s = with_member(1000);
  ASSERT_TRUE(s.redeem_reward("r1", "m1", "drink", at("2026-11-21T12:00:00Z")).ok());
  const std::string code = s.last_code();
  ASSERT_TRUE(s.job(EventType::expire_points, "m1", at("2026-12-21T11:59:59Z")).ok());
  EXPECT_EQ(s.state("m1").coupons.size(), 1u) << "valid until 12:00";
  ASSERT_TRUE(s.job(EventType::expire_points, "m1", at("2026-12-21T12:00:00Z")).ok());
  EXPECT_TRUE(s.state("m1").coupons.empty());
  EXPECT_EQ(s.stored_coupon(code)->coupon.state, CouponState::expired);
  EXPECT_EQ(s.stored_coupon(code)->coupon.settled_at, at("2026-12-21T12:00:00Z"));
  EXPECT_EQ(s.ledger("m1").back().type, EntryType::coupon_expire);
  EXPECT_EQ(s.ledger("m1").back().points, 0);
  EXPECT_TRUE(has_notification(s.last_effects(), "coupon.expired"));
  EXPECT_EQ(s.state("m1").balance.available, 800) << "an expired coupon returns nothing";
  EXPECT_EQ(s.stock_out("drink"), 1);
  EXPECT_EQ(s.cancel_coupon(code).code, ErrorCode::coupon_not_active);
}

TEST(Coupons, AUseAfterTheDateFindsTheCouponExpired) {
  Scenario s = with_member(1000);
  ASSERT_TRUE(s.redeem_reward("r1", "m1", "drink", at("2026-11-21T12:00:00Z")).ok());
  const std::string code = s.last_code();
  const Rejection r = s.use_coupon("u1", code, at("2026-12-21T12:00:00Z"));
  EXPECT_EQ(r.code, ErrorCode::coupon_not_active);
  EXPECT_NE(r.message.find("expired"), std::string::npos) << r.message;
}

// ---------------------------------------------------------------------------------------------
// Purchases and refunds

TEST(Coupons, APurchaseUsesAllItsCouponsOrNone) {
  Scenario s = with_member(1000);
  ASSERT_TRUE(s.redeem_reward("r1", "m1", "drink").ok());
  const std::string first = s.last_code();
  ASSERT_TRUE(s.redeem_reward("r2", "m1", "pastry").ok());
  const std::string second = s.last_code();
  ASSERT_TRUE(s.use_coupon("u1", second).ok());
  const Rejection r = s.purchase_with_coupons("sale", "m1", {line("latte", "beverage", 3000)},
                                              {first, second}, at("2026-11-23T10:00:00Z"));
  EXPECT_EQ(r.code, ErrorCode::coupon_not_active);
  EXPECT_EQ(r.field, "coupons[1]");
  EXPECT_EQ(s.state("m1").coupons.size(), 1u) << "the first one is still active";
  ASSERT_TRUE(s.purchase_with_coupons("sale2", "m1", {line("latte", "beverage", 3000)}, {first},
                                      at("2026-11-23T10:00:00Z"))
                  .ok());
  EXPECT_TRUE(s.state("m1").coupons.empty());
  const StoredCoupon* used = s.stored_coupon(first);
  EXPECT_EQ(used->coupon.state, CouponState::used);
  EXPECT_EQ(used->coupon.used_by, "sale2");
  const PurchaseRecord* record = s.purchase_record("sale2");
  ASSERT_NE(record, nullptr);
  ASSERT_EQ(record->coupons.size(), 1u);
  EXPECT_EQ(record->coupons[0].code, first);
  EXPECT_EQ(s.last().points_earned, 30) << "the sale earns as usual";
}

class CouponOnRefund : public ::testing::TestWithParam<CouponRefund> {};

TEST_P(CouponOnRefund, OnlyTheRefundThatCompletesThePurchaseSettlesItsCoupons) {
  Program program = mall_program();
  program.rewards[0].on_refund = GetParam();
  Scenario s = with_member(1000, program);
  ASSERT_TRUE(s.redeem_reward("r1", "m1", "drink", at("2026-11-21T12:00:00Z")).ok());
  const std::string code = s.last_code();
  ASSERT_TRUE(s.purchase_with_coupons("sale", "m1", {line("latte", "beverage", 3000)}, {code},
                                      at("2026-11-22T10:00:00Z"))
                  .ok());
  const Points after_sale = s.state("m1").balance.available;
  ASSERT_TRUE(s.refund("back1", "sale", 1000, at("2026-11-23T10:00:00Z")).ok());
  EXPECT_EQ(s.stored_coupon(code)->coupon.state, CouponState::used) << "a partial refund";
  ASSERT_TRUE(s.refund("back2", "sale", 2000, at("2026-11-24T10:00:00Z")).ok());
  const Points reversed = 30;  // what the sale earned, all of it taken back by now
  switch (GetParam()) {
    case CouponRefund::restore: {
      const StoredCoupon* coupon = s.stored_coupon(code);
      EXPECT_EQ(coupon->coupon.state, CouponState::active);
      EXPECT_EQ(coupon->coupon.valid_until, at("2026-12-21T12:00:00Z")) << "its old date";
      ASSERT_EQ(s.state("m1").coupons.size(), 1u);
      EXPECT_EQ(s.ledger("m1").back().type, EntryType::coupon_restore);
      EXPECT_TRUE(has_notification(s.last_effects(), "coupon.restored"));
      EXPECT_EQ(s.state("m1").balance.available, after_sale - reversed);
      EXPECT_TRUE(s.use_coupon("u-again", code, at("2026-11-25T10:00:00Z")).ok());
      break;
    }
    case CouponRefund::refund_points:
      EXPECT_EQ(s.stored_coupon(code)->coupon.state, CouponState::used);
      EXPECT_EQ(s.state("m1").balance.available, after_sale - reversed + 200);
      EXPECT_EQ(s.ledger("m1").back().type, EntryType::restore);
      EXPECT_EQ(s.ledger("m1").back().rule, "coupon:" + code);
      break;
    case CouponRefund::forfeit:
      EXPECT_EQ(s.stored_coupon(code)->coupon.state, CouponState::used);
      EXPECT_EQ(s.state("m1").balance.available, after_sale - reversed);
      EXPECT_TRUE(s.state("m1").coupons.empty());
      break;
  }
}

INSTANTIATE_TEST_SUITE_P(Coupons, CouponOnRefund,
                         ::testing::Values(CouponRefund::restore, CouponRefund::refund_points,
                                           CouponRefund::forfeit),
                         [](const ::testing::TestParamInfo<CouponRefund>& param) {
                           switch (param.param) {
                             case CouponRefund::restore:
                               return std::string("restore");
                             case CouponRefund::refund_points:
                               return std::string("refund_points");
                             case CouponRefund::forfeit:
                               return std::string("forfeit");
                           }
                           return std::string("unknown");
                         });

TEST(Coupons, ARedeemedCouponSpendsTheEarliestExpiringPointsFirst) {
  Scenario s(mall_program());
  ASSERT_TRUE(s.member("m1").ok());
  ASSERT_TRUE(s.purchase("old", "m1", {line("a", "food", 15000)}, at("2026-01-10T00:00:00Z")).ok());
  ASSERT_TRUE(s.purchase("new", "m1", {line("a", "food", 15000)}, at("2026-11-10T00:00:00Z")).ok());
  ASSERT_TRUE(s.redeem_reward("r1", "m1", "drink").ok());
  Points left_old = 0, left_new = 0;
  for (const Lot& lot : s.state("m1").lots) {
    (lot.reference == "old" ? left_old : left_new) += lot.points_remaining;
  }
  EXPECT_EQ(left_old, 0) << "the lot expiring first went first";
  EXPECT_EQ(left_new, 100);
}

}  // namespace
}  // namespace loyalty
