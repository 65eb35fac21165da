// The loyalty domain as domain.md states it, rule by rule, with the exact numbers of its
// arithmetic: tiers, referrals, redemption and holds, refunds, expiry and pending points.
#include <gtest/gtest.h>

#include "engine/member_view.hpp"
#include "tests/support/scenario.hpp"

namespace loyalty {
namespace {

using testing::at;
using testing::basic_program;
using testing::line;
using testing::Scenario;

Decimal dec(std::string_view text) { return *Decimal::parse(text); }

Program full_program() {
  Program p = basic_program();
  TierRules tiers;
  tiers.metric = TierMetric::spend;
  tiers.window = TierWindow::rolling;
  tiers.window_months = 12;
  tiers.retain_months = 12;
  tiers.levels = {{"green", 0, dec("1"), "{}"},
                  {"gold", 50000, dec("1.25"), "{}"},
                  {"platinum", 200000, dec("1.5"), "{}"}};
  p.tiers = tiers;
  p.referral = ReferralRules{.referee_signup_points = 10,
                             .referee_first_purchase_points = 100,
                             .referrer_points = 200,
                             .qualifying_min_amount_minor = 3000,
                             .window_days = 30,
                             .max_rewarded_referrals = 2};
  p.redemption = RedemptionRules{.points_per_currency_unit = 100,
                                 .min_points = 100,
                                 .step_points = 1,
                                 .max_redeem_fraction = dec("0.5"),
                                 .hold_ttl_seconds = 900};
  p.expiry.mode = ExpiryMode::days;
  p.expiry.days = 365;
  return p;
}

// ---------------------------------------------------------------------------------------------
// Tiers

TEST(Tiers, CrossingEventEarnsAtOldMultiplierAndUpgradesStraightToHighest) {
  Scenario s(full_program());
  ASSERT_TRUE(s.member("m1").ok());
  // 2,500.00 in one basket crosses both gold (500.00) and platinum (2,000.00).
  ASSERT_TRUE(s.purchase("e1", "m1", {line("a", "food", 250000)}).ok());
  EXPECT_EQ(s.last().points_earned, 2500) << "earned at green's ×1";
  EXPECT_TRUE(s.last().tier_changed);
  EXPECT_EQ(s.last().tier, "platinum");
  EXPECT_EQ(s.state("m1").tier_index, 2u);
  const LedgerEntry& change = s.ledger("m1").back();
  EXPECT_EQ(change.type, EntryType::tier_change);
  EXPECT_EQ(change.points, 0);
  EXPECT_EQ(change.rule, "green->platinum");
  ASSERT_TRUE(s.purchase("e2", "m1", {line("a", "food", 10000)}).ok());
  EXPECT_EQ(s.last().points_earned, 150) << "the next purchase earns at platinum's ×1.5";
  EXPECT_FALSE(s.last().tier_changed);
}

TEST(Tiers, RollingWindowCountsTheLastTwelveCalendarMonths) {
  Scenario s(full_program());
  ASSERT_TRUE(s.member("m1").ok());
  ASSERT_TRUE(s.purchase("old", "m1", {line("a", "food", 30000)}, at("2025-11-30T23:00:00Z")).ok());
  ASSERT_TRUE(s.purchase("new", "m1", {line("a", "food", 20000)}, at("2026-11-01T00:00:00Z")).ok());
  // Nov 2025 is outside the 12 months Dec 2025 … Nov 2026: 200.00 counts, not 500.00.
  EXPECT_FALSE(s.last().tier_changed);
  const MemberView view = build_member_view(s.program(), s.state("m1"), at("2026-11-02T00:00:00Z"));
  ASSERT_TRUE(view.qualifying.has_value());
  EXPECT_EQ(view.qualifying->value, 20000);
  EXPECT_EQ(view.qualifying->next_tier, "gold");
  EXPECT_EQ(view.qualifying->needed, 30000);
  ASSERT_TRUE(
      s.purchase("more", "m1", {line("a", "food", 30000)}, at("2026-11-02T00:00:00Z")).ok());
  EXPECT_TRUE(s.last().tier_changed);
  EXPECT_EQ(s.last().tier, "gold");
}

TEST(Tiers, DowngradeOnlyByEvaluationAfterRetainMonths) {
  Scenario s(full_program());
  ASSERT_TRUE(s.member("m1").ok());
  ASSERT_TRUE(s.purchase("e1", "m1", {line("a", "food", 60000)}, at("2025-03-10T00:00:00Z")).ok());
  ASSERT_EQ(s.state("m1").tier_index, 1u);
  // A year later the spend has left the window, but gold was held only since 2025-03-10.
  ASSERT_TRUE(s.job(EventType::evaluate_tier, "m1", at("2026-03-09T00:00:00Z")).ok());
  EXPECT_EQ(s.state("m1").tier_index, 1u) << "retained for retain_months";
  ASSERT_TRUE(s.job(EventType::evaluate_tier, "m1", at("2026-03-10T00:00:00Z")).ok());
  EXPECT_EQ(s.state("m1").tier_index, 0u);
  EXPECT_EQ(s.ledger("m1").back().rule, "gold->green");
  // A purchase never downgrades: only evaluation does.
  Scenario t(full_program());
  ASSERT_TRUE(t.member("m2").ok());
  ASSERT_TRUE(t.purchase("e1", "m2", {line("a", "food", 60000)}, at("2025-03-10T00:00:00Z")).ok());
  ASSERT_TRUE(t.purchase("e2", "m2", {line("a", "food", 100)}, at("2026-06-01T00:00:00Z")).ok());
  EXPECT_EQ(t.state("m2").tier_index, 1u);
}

TEST(Tiers, EvaluationKeepsAMemberWhoStillQualifies) {
  Scenario s(full_program());
  ASSERT_TRUE(s.member("m1").ok());
  ASSERT_TRUE(s.purchase("e1", "m1", {line("a", "food", 60000)}, at("2025-01-10T00:00:00Z")).ok());
  ASSERT_TRUE(s.purchase("e2", "m1", {line("a", "food", 60000)}, at("2026-01-10T00:00:00Z")).ok());
  ASSERT_TRUE(s.job(EventType::evaluate_tier, "m1", at("2026-02-01T00:00:00Z")).ok());
  EXPECT_EQ(s.state("m1").tier_index, 1u);
}

TEST(Tiers, CalendarYearAndPurchaseCountMetric) {
  Program p = full_program();
  p.tiers->metric = TierMetric::purchases;
  p.tiers->window = TierWindow::calendar_year;
  p.tiers->levels = {{"member", 0, dec("1"), "{}"}, {"regular", 3, dec("1"), "{}"}};
  Scenario s(p);
  ASSERT_TRUE(s.member("m1").ok());
  ASSERT_TRUE(s.purchase("e1", "m1", {line("a", "food", 100)}, at("2025-12-30T00:00:00Z")).ok());
  ASSERT_TRUE(s.purchase("e2", "m1", {line("a", "food", 100)}, at("2026-01-02T00:00:00Z")).ok());
  ASSERT_TRUE(s.purchase("e3", "m1", {line("a", "food", 100)}, at("2026-01-03T00:00:00Z")).ok());
  EXPECT_EQ(s.state("m1").tier_index, 0u) << "December's purchase is last year's";
  ASSERT_TRUE(s.purchase("e4", "m1", {line("a", "food", 100)}, at("2026-01-04T00:00:00Z")).ok());
  EXPECT_EQ(s.state("m1").tier_index, 1u);
}

// ---------------------------------------------------------------------------------------------
// Referrals

TEST(Referrals, SignupBonusThenFirstQualifyingPurchaseRewardsBothOnce) {
  Scenario s(full_program());
  ASSERT_TRUE(s.member("alice").ok());
  ASSERT_TRUE(s.referred_member("bob", "alice").ok());
  EXPECT_EQ(s.state("bob").balance.available, 10) << "referee_signup_points";
  EXPECT_EQ(s.state("bob").referred_by, "alice");
  ASSERT_NE(s.link("alice", "bob"), nullptr);
  EXPECT_EQ(s.link("alice", "bob")->status, ReferralStatus::signed_up);

  // Below qualifying_min_amount_minor: no reward yet.
  ASSERT_TRUE(s.purchase("b1", "bob", {line("a", "food", 2999)}, at("2026-11-05T00:00:00Z")).ok());
  EXPECT_EQ(s.last().points_earned, 29);
  EXPECT_EQ(s.state("alice").balance.available, 0);
  // The first qualifying purchase: the referee's 100 is part of this purchase's answer.
  ASSERT_TRUE(s.purchase("b2", "bob", {line("a", "food", 3000)}, at("2026-11-06T00:00:00Z")).ok());
  EXPECT_EQ(s.last().points_earned, 130);
  EXPECT_EQ(s.last().breakdown.back(), (BreakdownLine{"referral:first_purchase", 100}));
  EXPECT_EQ(s.state("alice").balance.available, 200) << "the follow-up reached the referrer";
  EXPECT_EQ(s.ledger("alice").back().type, EntryType::referral_bonus);
  EXPECT_EQ(s.link("alice", "bob")->status, ReferralStatus::rewarded);
  // Exactly once.
  ASSERT_TRUE(s.purchase("b3", "bob", {line("a", "food", 5000)}, at("2026-11-07T00:00:00Z")).ok());
  EXPECT_EQ(s.last().points_earned, 50);
  EXPECT_EQ(s.state("alice").balance.available, 200);
}

TEST(Referrals, OnlyWithinTheWindowAndOneLevelOnly) {
  Scenario s(full_program());
  ASSERT_TRUE(s.member("alice").ok());
  ASSERT_TRUE(s.referred_member("bob", "alice", at("2026-10-01T00:00:00Z")).ok());
  ASSERT_TRUE(s.referred_member("carol", "bob", at("2026-10-01T00:00:00Z")).ok());
  // Day 30 after sign-up is outside window_days = 30.
  ASSERT_TRUE(s.purchase("b1", "bob", {line("a", "food", 5000)}, at("2026-10-31T00:00:00Z")).ok());
  EXPECT_EQ(s.last().points_earned, 50);
  EXPECT_EQ(s.state("alice").balance.available, 0);
  ASSERT_TRUE(
      s.purchase("c1", "carol", {line("a", "food", 5000)}, at("2026-10-30T23:59:59Z")).ok());
  EXPECT_EQ(s.last().points_earned, 150);
  EXPECT_EQ(s.state("bob").balance.available, 10 + 50 + 200) << "bob is carol's referrer";
  EXPECT_EQ(s.state("alice").balance.available, 0) << "no reward for the referrer's referrer";
}

TEST(Referrals, ReferrerRewardedAtMostMaxTimesAndFullRefundClawsBack) {
  Scenario s(full_program());
  ASSERT_TRUE(s.member("alice").ok());
  for (const char* referee : {"r1", "r2", "r3"}) {
    ASSERT_TRUE(s.referred_member(referee, "alice").ok());
    ASSERT_TRUE(s.purchase(std::string("p-") + referee, referee, {line("a", "food", 5000)},
                           at("2026-11-05T00:00:00Z"))
                    .ok());
  }
  EXPECT_EQ(s.state("alice").balance.available, 400) << "max_rewarded_referrals = 2";
  EXPECT_EQ(s.link("alice", "r3")->status, ReferralStatus::not_rewarded);
  EXPECT_EQ(s.state("r3").balance.available, 10 + 150) << "the referee still gets theirs";

  // A partial refund claws nothing back; the refund that completes the purchase does.
  ASSERT_TRUE(s.refund("p-r1-refund-1", "p-r1", 1000).ok());
  EXPECT_EQ(s.state("alice").balance.available, 400);
  ASSERT_TRUE(s.refund("p-r1-refund-2", "p-r1", 4000).ok());
  EXPECT_EQ(s.state("alice").balance.available, 200);
  EXPECT_EQ(s.ledger("alice").back().type, EntryType::referral_reversal);
  EXPECT_EQ(s.link("alice", "r1")->status, ReferralStatus::reversed);
  EXPECT_EQ(s.state("r1").balance.available, 10) << "earned 50 and referral 100 both reversed";
  EXPECT_EQ(s.ledger("r1").back().type, EntryType::referral_reversal);
}

// ---------------------------------------------------------------------------------------------
// Redemption and holds

// A member with `points` available; no tiers, so later purchases earn at ×1.
Scenario member_with_points(Points points) {
  Program p = full_program();
  p.tiers.reset();
  Scenario s(p);
  EXPECT_TRUE(s.member("m1").ok());
  EXPECT_TRUE(
      s.purchase("seed", "m1", {line("a", "food", points * 100)}, at("2026-11-01T00:00:00Z")).ok());
  return s;
}

TEST(Redemption, TakesEarliestExpiringLotsFirstAndRefusesWhatIsNotThere) {
  Scenario s(full_program());
  ASSERT_TRUE(s.member("m1").ok());
  ASSERT_TRUE(
      s.purchase("late", "m1", {line("a", "food", 30000)}, at("2026-06-01T00:00:00Z")).ok());
  ASSERT_TRUE(
      s.purchase("early", "m1", {line("a", "food", 30000)}, at("2026-01-01T00:00:00Z")).ok());
  ASSERT_TRUE(s.redeem("r1", "m1", 400).ok());
  const MemberState& m = s.state("m1");
  EXPECT_EQ(m.balance.available, 200);
  // The lot from January expires first, so it is spent first even though it came later.
  for (const Lot& lot : m.lots) {
    EXPECT_EQ(lot.points_remaining, lot.reference == "early" ? 0 : 200) << lot.reference;
  }
  const Rejection too_much = s.redeem("r2", "m1", 201);
  EXPECT_EQ(too_much.code, ErrorCode::insufficient_points);
  EXPECT_EQ(s.redeem("r3", "m1", 99).code, ErrorCode::invalid_request) << "min_points = 100";
  EXPECT_EQ(s.state("m1").balance.available, 200);
}

TEST(Redemption, StepRule) {
  Program p = full_program();
  p.redemption->step_points = 50;
  Scenario s(p);
  ASSERT_TRUE(s.member("m1").ok());
  ASSERT_TRUE(s.purchase("e1", "m1", {line("a", "food", 100000)}, at("2026-11-01T00:00:00Z")).ok());
  EXPECT_EQ(s.redeem("r1", "m1", 120).field, "points");
  EXPECT_TRUE(s.redeem("r2", "m1", 150).ok());
}

TEST(Redemption, PointsPayPartOfAPurchaseAndEarnNothing) {
  Scenario s = member_with_points(1000);
  PurchaseEvent p;
  p.event_id = "pay";
  p.member_id = "m1";
  p.store_id = "s-1";
  p.occurred_at = at("2026-11-02T00:00:00Z");
  p.currency = "CNY";
  p.lines = {line("a", "food", 10000)};
  p.redeem_points = 600;  // 6.00 of 100.00 paid with points
  ASSERT_TRUE(s.apply(Event{p}).ok());
  EXPECT_EQ(s.last().points_redeemed, 600);
  EXPECT_EQ(s.last().points_earned, 94) << "earned on 94.00, not 100.00";
  EXPECT_EQ(s.state("m1").balance.available, 1000 - 600 + 94);
  // max_redeem_fraction 0.5: at most 50.00 of 100.00, i.e. 5000 points.
  p.event_id = "too-much";
  p.redeem_points = 5001;
  const Rejection r = s.apply(Event{p});
  EXPECT_EQ(r.code, ErrorCode::invalid_request);
  EXPECT_EQ(r.field, "redeem_points");
  p.event_id = "not-enough";
  p.redeem_points = 1000;
  EXPECT_EQ(s.apply(Event{p}).code, ErrorCode::insufficient_points);
}

TEST(Holds, ReserveCaptureVoidAndTimeOut) {
  Scenario s = member_with_points(1000);
  ASSERT_TRUE(s.hold("h1", "m1", 300, at("2026-11-02T12:00:00Z")).ok());
  EXPECT_EQ(s.state("m1").balance, (Balance{700, 0, 300}));
  EXPECT_EQ(s.redeem("r1", "m1", 800, at("2026-11-02T12:01:00Z")).code,
            ErrorCode::insufficient_points)
      << "held points cannot be spent twice";
  ASSERT_TRUE(s.hold_action(EventType::hold_capture, "h1", at("2026-11-02T12:02:00Z")).ok());
  EXPECT_EQ(s.state("m1").balance, (Balance{700, 0, 0}));
  EXPECT_EQ(s.stored_hold("h1")->hold.state, HoldState::captured);

  ASSERT_TRUE(s.hold("h2", "m1", 200, at("2026-11-02T13:00:00Z")).ok());
  ASSERT_TRUE(s.hold_action(EventType::hold_void, "h2", at("2026-11-02T13:01:00Z")).ok());
  EXPECT_EQ(s.state("m1").balance, (Balance{700, 0, 0}));
  EXPECT_EQ(s.hold_action(EventType::hold_capture, "h2", at("2026-11-02T13:02:00Z")).code,
            ErrorCode::hold_not_active);

  // A hold that times out is released at the next event after its time; capturing it is 409.
  ASSERT_TRUE(s.hold("h3", "m1", 100, at("2026-11-02T14:00:00Z"), 60).ok());
  EXPECT_EQ(s.hold_action(EventType::hold_capture, "h3", at("2026-11-02T14:01:00Z")).code,
            ErrorCode::hold_not_active);
  EXPECT_EQ(s.state("m1").balance.held, 100) << "a refused capture changes nothing";
  ASSERT_TRUE(s.job(EventType::expire_points, "m1", at("2026-11-02T14:01:00Z")).ok());
  EXPECT_EQ(s.state("m1").balance, (Balance{700, 0, 0}));
  EXPECT_EQ(s.stored_hold("h3")->hold.state, HoldState::expired);
}

TEST(Holds, PurchaseCapturesTheHoldItNames) {
  Scenario s = member_with_points(1000);
  ASSERT_TRUE(s.hold("h1", "m1", 500, at("2026-11-02T12:00:00Z")).ok());
  PurchaseEvent p;
  p.event_id = "checkout";
  p.member_id = "m1";
  p.store_id = "s-1";
  p.occurred_at = at("2026-11-02T12:03:00Z");
  p.currency = "CNY";
  p.lines = {line("a", "food", 2000)};
  p.hold_id = "h1";
  ASSERT_TRUE(s.apply(Event{p}).ok());
  EXPECT_EQ(s.last().points_redeemed, 500);
  EXPECT_EQ(s.last().points_earned, 15) << "5.00 of 20.00 paid with points";
  EXPECT_EQ(s.state("m1").balance, (Balance{1000 - 500 + 15, 0, 0}));
  EXPECT_EQ(s.stored_hold("h1")->hold.captured_by, "checkout");
}

// ---------------------------------------------------------------------------------------------
// Refunds

TEST(Refunds, InPartsReverseProportionallyAndTheLastExactly) {
  Scenario s(full_program());
  ASSERT_TRUE(s.member("m1").ok());
  ASSERT_TRUE(s.purchase("p", "m1", {line("a", "food", 10000)}, at("2026-11-01T00:00:00Z")).ok());
  ASSERT_EQ(s.last().points_earned, 100);
  ASSERT_TRUE(s.refund("r1", "p", 3333).ok());
  EXPECT_EQ(std::get<RefundAnswer>(s.last_effects().answer).points_reversed, 33);
  ASSERT_TRUE(s.refund("r2", "p", 3333).ok());
  EXPECT_EQ(std::get<RefundAnswer>(s.last_effects().answer).points_reversed, 33);
  ASSERT_TRUE(s.refund("r3", "p", 3334).ok());
  EXPECT_EQ(std::get<RefundAnswer>(s.last_effects().answer).points_reversed, 34)
      << "the completing refund reverses exactly what is left";
  EXPECT_EQ(s.state("m1").balance.available, 0);
  const Rejection more = s.refund("r4", "p", 1);
  EXPECT_EQ(more.code, ErrorCode::refund_exceeds_purchase);
  EXPECT_EQ(s.ledger("m1").back().type, EntryType::reverse);
}

TEST(Refunds, ByLinesReverseTheLinesEligibleShare) {
  Program p = full_program();
  p.earning.excluded_categories = {"gift-card"};
  Scenario s(p);
  ASSERT_TRUE(s.member("m1").ok());
  ASSERT_TRUE(s.purchase("p", "m1", {line("gc", "gift-card", 5000), line("a", "food", 5000)},
                         at("2026-11-01T00:00:00Z"))
                  .ok());
  ASSERT_EQ(s.last().points_earned, 50);
  ASSERT_TRUE(s.refund_lines("r1", "p", {{"gc", 5000}}).ok());
  EXPECT_EQ(std::get<RefundAnswer>(s.last_effects().answer).points_reversed, 0)
      << "the gift card earned nothing, so refunding it reverses nothing";
  EXPECT_EQ(s.refund_lines("r2", "p", {{"nope", 1}}).field, "lines[0].sku");
  EXPECT_EQ(s.refund_lines("r3", "p", {{"a", 5001}}).code, ErrorCode::refund_exceeds_purchase);
  ASSERT_TRUE(s.refund_lines("r4", "p", {{"a", 5000}}).ok());
  EXPECT_EQ(std::get<RefundAnswer>(s.last_effects().answer).points_reversed, 50);
}

TEST(Refunds, SpentPointsBecomeDebtThatBlocksRedemptionUntilRepaid) {
  Scenario s(full_program());
  ASSERT_TRUE(s.member("m1").ok());
  ASSERT_TRUE(s.purchase("p", "m1", {line("a", "food", 50000)}, at("2026-11-01T00:00:00Z")).ok());
  ASSERT_TRUE(s.redeem("spend", "m1", 400).ok());
  ASSERT_TRUE(s.refund("r", "p", 50000).ok());
  EXPECT_EQ(s.state("m1").balance.available, -400);
  EXPECT_EQ(s.state("m1").debt, 400);
  EXPECT_EQ(s.redeem("again", "m1", 100).code, ErrorCode::insufficient_points);
  ASSERT_TRUE(s.purchase("p2", "m1", {line("a", "food", 50000)}, at("2026-11-03T00:00:00Z")).ok());
  // 625 at gold's ×1.25 (the refund lowers qualifying spend, but tiers fall only when
  // evaluated): the first 400 repay the debt.
  EXPECT_EQ(s.state("m1").balance.available, 225) << "new points repay the debt first";
  EXPECT_EQ(s.state("m1").debt, 0);
  EXPECT_TRUE(s.redeem("now", "m1", 100).ok());
}

TEST(Refunds, PointsThatPaidComeBackAsANewLot) {
  Scenario s = member_with_points(1000);
  PurchaseEvent p;
  p.event_id = "pay";
  p.member_id = "m1";
  p.store_id = "s-1";
  p.occurred_at = at("2026-11-02T00:00:00Z");
  p.currency = "CNY";
  p.lines = {line("a", "food", 10000)};
  p.redeem_points = 1000;  // 10.00 paid with points; earns on 90.00
  ASSERT_TRUE(s.apply(Event{p}).ok());
  ASSERT_EQ(s.last().points_earned, 90);
  ASSERT_TRUE(s.refund("r1", "pay", 5000, at("2026-11-04T00:00:00Z")).ok());
  const auto& answer = std::get<RefundAnswer>(s.last_effects().answer);
  EXPECT_EQ(answer.points_reversed, 45);
  EXPECT_EQ(answer.points_restored, 500);
  EXPECT_EQ(s.ledger("m1").back().type, EntryType::restore);
  EXPECT_EQ(s.state("m1").lots.back().reference, "r1");
  EXPECT_EQ(s.state("m1").lots.back().expires_at, at("2027-11-04T00:00:00Z"));
  EXPECT_EQ(s.state("m1").balance.available, 90 - 45 + 500);
}

TEST(Refunds, QualifyingSpendIsReducedButTheTierWaitsForEvaluation) {
  Scenario s(full_program());
  ASSERT_TRUE(s.member("m1").ok());
  ASSERT_TRUE(s.purchase("p", "m1", {line("a", "food", 60000)}, at("2026-11-02T00:00:00Z")).ok());
  ASSERT_EQ(s.state("m1").tier_index, 1u);
  ASSERT_TRUE(s.refund("r1", "p", 20000, at("2026-11-04T00:00:00Z")).ok());
  const MemberView view = build_member_view(s.program(), s.state("m1"), at("2026-11-05T00:00:00Z"));
  EXPECT_EQ(view.qualifying->value, 40000);
  EXPECT_EQ(s.state("m1").tier_index, 1u) << "the tier changes only at the next evaluation";
  ASSERT_TRUE(s.job(EventType::evaluate_tier, "m1", at("2027-11-03T00:00:00Z")).ok());
  EXPECT_EQ(s.state("m1").tier_index, 0u);
}

// ---------------------------------------------------------------------------------------------
// The member view from the expiry schedule (what storage keeps for a member with many lots)

// Lots over a year and a half, several per date, some held or never expiring, out of date
// order here and there: the view from the schedule is the view from the lots whenever the
// schedule reaches the view's horizon, and refuses otherwise.
TEST(ExpirySchedule, GivesTheLotsViewWhereItReachesAndRefusesBeyond) {
  Scenario s(full_program());
  MemberState member;
  member.member_id = "m1";
  const TimeMs start = at("2026-01-01T00:00:00Z");
  constexpr TimeMs kDay = 86'400'000;
  for (uint64_t id = 1; id <= 60; ++id) {
    Lot lot;
    lot.lot_id = id;
    lot.expires_at = id % 13 == 0 ? kTimeNever : start + static_cast<TimeMs>((id * 7) % 50) * kDay;
    lot.points_initial = lot.points_remaining = static_cast<Points>(10 * id);
    lot.points_held = id % 5 == 0 ? lot.points_remaining : (id % 7 == 0 ? 3 : 0);
    member.lots.push_back(lot);
  }
  const ExpirySchedule schedule = expiry_schedule(member);
  ASSERT_EQ(schedule.dates.size(), kExpiryScheduleDates);
  ASSERT_NE(schedule.complete_through, kTimeNever);
  for (size_t i = 1; i < schedule.dates.size(); ++i) {
    EXPECT_LT(schedule.dates[i - 1].expires_at, schedule.dates[i].expires_at);
  }
  size_t from_schedule = 0;
  for (TimeMs now = start - 40 * kDay; now < start + 60 * kDay; now += kDay / 3) {
    const MemberView by_lots = build_member_view(s.program(), member, now);
    const std::optional<MemberView> by_schedule =
        build_member_view(s.program(), member, schedule, now);
    if (!by_schedule) continue;
    ++from_schedule;
    EXPECT_EQ(by_schedule->expiring, by_lots.expiring) << now;
    EXPECT_EQ(by_schedule->tier, by_lots.tier);
  }
  // Refused once the 30-day window passes the schedule's last date, used before.
  EXPECT_GT(from_schedule, 30u);
  EXPECT_FALSE(build_member_view(s.program(), member, schedule, schedule.complete_through));
  // A member with few dates: the schedule holds them all and always answers.
  member.lots.resize(3);
  const ExpirySchedule whole = expiry_schedule(member);
  EXPECT_EQ(whole.complete_through, kTimeNever);
  const TimeMs late = start + 400 * kDay;
  ASSERT_TRUE(build_member_view(s.program(), member, whole, late));
  EXPECT_EQ(build_member_view(s.program(), member, whole, start)->expiring,
            build_member_view(s.program(), member, start).expiring);
}

// ---------------------------------------------------------------------------------------------
// Expiry and pending points

TEST(Expiry, AtTheBoundaryInstantAndNeverTwice) {
  Scenario s(full_program());
  ASSERT_TRUE(s.member("m1").ok());
  ASSERT_TRUE(s.purchase("p", "m1", {line("a", "food", 10000)}, at("2025-11-20T10:00:00Z")).ok());
  ASSERT_TRUE(s.job(EventType::expire_points, "m1", at("2026-11-20T09:59:59.999Z")).ok());
  EXPECT_EQ(s.state("m1").balance.available, 100);
  ASSERT_TRUE(s.job(EventType::expire_points, "m1", at("2026-11-20T10:00:00Z")).ok());
  EXPECT_EQ(std::get<JobStepAnswer>(s.last_effects().answer).points_expired, 100);
  EXPECT_EQ(s.state("m1").balance.available, 0);
  EXPECT_EQ(s.ledger("m1").back().type, EntryType::expire);
  ASSERT_TRUE(s.job(EventType::expire_points, "m1", at("2026-11-21T00:00:00Z")).ok());
  EXPECT_EQ(std::get<JobStepAnswer>(s.last_effects().answer).points_expired, 0);
}

TEST(Expiry, NeverTouchesHeldPoints) {
  Scenario s(full_program());
  ASSERT_TRUE(s.member("m1").ok());
  ASSERT_TRUE(s.purchase("p", "m1", {line("a", "food", 20000)}, at("2025-11-20T10:00:00Z")).ok());
  ASSERT_TRUE(s.hold("h", "m1", 100, at("2026-11-20T09:59:00Z"), 3600).ok());
  ASSERT_TRUE(s.job(EventType::expire_points, "m1", at("2026-11-20T10:30:00Z")).ok());
  EXPECT_EQ(s.state("m1").balance, (Balance{0, 0, 100}))
      << "the free 100 expired, the held 100 not";
}

TEST(Expiry, ViewListsPointsExpiringWithinThirtyDays) {
  Scenario s(full_program());
  ASSERT_TRUE(s.member("m1").ok());
  ASSERT_TRUE(s.purchase("p1", "m1", {line("a", "food", 10000)}, at("2025-12-01T00:00:00Z")).ok());
  ASSERT_TRUE(s.purchase("p2", "m1", {line("a", "food", 20000)}, at("2026-06-01T00:00:00Z")).ok());
  const MemberView view = build_member_view(s.program(), s.state("m1"), at("2026-11-15T00:00:00Z"));
  ASSERT_EQ(view.expiring.size(), 1u);
  EXPECT_EQ(view.expiring[0].points, 100);
  EXPECT_EQ(view.expiring[0].expires_at, at("2026-12-01T00:00:00Z"));
}

TEST(Pending, PointsArePendingThenMature) {
  Program p = full_program();
  p.earning.pending_days = 3;
  Scenario s(p);
  ASSERT_TRUE(s.member("m1").ok());
  ASSERT_TRUE(s.purchase("p", "m1", {line("a", "food", 50000)}, at("2026-11-01T00:00:00Z")).ok());
  EXPECT_EQ(s.state("m1").balance, (Balance{0, 500, 0}));
  EXPECT_EQ(s.redeem("r", "m1", 100, at("2026-11-02T00:00:00Z")).code,
            ErrorCode::insufficient_points);
  ASSERT_TRUE(s.redeem("r", "m1", 100, at("2026-11-04T00:00:00Z")).ok());
  EXPECT_EQ(s.state("m1").balance, (Balance{400, 0, 0}));
}

// ---------------------------------------------------------------------------------------------
// Adjustments and quotes

TEST(Adjustments, CreditOrTakeWithAnAuditEntry) {
  Scenario s = member_with_points(100);
  ASSERT_TRUE(s.adjust("a1", "m1", 50).ok());
  EXPECT_EQ(s.ledger("m1").back().type, EntryType::adjust);
  EXPECT_EQ(s.state("m1").balance.available, 150);
  ASSERT_TRUE(s.adjust("a2", "m1", -200).ok());
  EXPECT_EQ(s.state("m1").balance.available, -50) << "an operator's correction may leave debt";
}

TEST(Quotes, EqualThePurchaseAndChangeNothing) {
  Scenario s = member_with_points(1000);
  PurchaseEvent p;
  p.member_id = "m1";
  p.store_id = "s-1";
  p.occurred_at = at("2026-11-02T00:00:00Z");
  p.currency = "CNY";
  p.lines = {line("a", "food", 12345)};
  const MemberState before = s.state("m1");
  QuoteAnswer quote;
  ASSERT_TRUE(quote_purchase(ApplyContext{&s.program()}, before, p, quote).ok());
  EXPECT_EQ(s.state("m1"), before);
  EXPECT_EQ(quote.redeemable_points_max, 1000) << "half of 123.45 is 6172 points; 1000 available";
  EXPECT_EQ(quote.redeemable_value_minor, 1000);
  p.event_id = "real";
  ASSERT_TRUE(s.apply(Event{p}).ok());
  EXPECT_EQ(s.last().points_earned, quote.purchase.points_earned);
  EXPECT_EQ(s.last().breakdown, quote.purchase.breakdown);
  EXPECT_EQ(s.last().balance, quote.purchase.balance);
}

}  // namespace
}  // namespace loyalty
