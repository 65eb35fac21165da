// Recalculation in the engine: the recalc_adjustment handler (an adjustment belongs to the
// purchase it corrects: added points expire with it, taken points come from its lot first),
// refunds after a recalculation, the pure re-run of a purchase under new rules, and the
// runtime's idempotency for the adjustments.
#include "engine/recalc.hpp"

#include <gtest/gtest.h>

#include <future>

#include "engine/runtime/runtime.hpp"
#include "tests/support/memory_store.hpp"
#include "tests/support/scenario.hpp"

namespace loyalty {
namespace {

using testing::at;
using testing::basic_program;
using testing::line;
using testing::Scenario;

// 1 point per 1.00 CNY, points expire after 30 days, redemption on.
Program recalc_program() {
  Program p = basic_program();
  p.expiry.mode = ExpiryMode::days;
  p.expiry.days = 30;
  p.redemption = RedemptionRules{.points_per_currency_unit = 100,
                                 .min_points = 1,
                                 .step_points = 1,
                                 .max_redeem_fraction = Decimal::from_integer(1),
                                 .hold_ttl_seconds = 600};
  return p;
}

// The member's lot with points left that `reference` created (emptied lots count as gone).
const Lot* lot_of(const MemberState& member, const std::string& reference) {
  for (const Lot& lot : member.lots) {
    if (lot.reference == reference && lot.points_remaining != 0) return &lot;
  }
  return nullptr;
}

Points ledger_sum(const std::vector<LedgerEntry>& ledger) {
  Points sum = 0;
  for (const LedgerEntry& entry : ledger) sum += entry.points;
  return sum;
}

TEST(RecalcAdjustment, AddedPointsLiveInALotThatExpiresWithThePurchase) {
  Scenario s(recalc_program());
  ASSERT_TRUE(s.member("m1").ok());
  ASSERT_TRUE(s.purchase("e1", "m1", {line("a", "food", 6400)}).ok());  // 64 points
  ASSERT_TRUE(s.recalc("job-1", "e1", 10, 74).ok());

  const MemberState& m = s.state("m1");
  EXPECT_EQ(m.balance, (Balance{74, 0, 0}));
  EXPECT_EQ(m.lifetime_points, 74);
  const Lot* added = lot_of(m, "recalc:job-1:e1");
  ASSERT_NE(added, nullptr);
  EXPECT_EQ(added->points_remaining, 10);
  EXPECT_EQ(added->expires_at, at("2026-12-20T10:00:00Z")) << "the purchase's lot's expiry";
  EXPECT_EQ(added->expires_at, lot_of(m, "e1")->expires_at);
  const LedgerEntry& entry = s.ledger("m1").back();
  EXPECT_EQ(entry.type, EntryType::adjust);
  EXPECT_EQ(entry.points, 10);
  EXPECT_EQ(entry.reference, "recalc:job-1:e1");
  EXPECT_EQ(entry.rule, "recalc:e1");
  EXPECT_EQ(entry.program_version, 7u) << "the version that gave the new figure";
  EXPECT_EQ(entry.balance_after, 74);
  EXPECT_EQ(s.purchase_record("e1")->points_adjusted, 10);
  EXPECT_EQ(s.purchase_record("e1")->points_recalculated, 74);

  // On the purchase's expiry date, both go.
  ASSERT_TRUE(s.job(EventType::expire_points, "m1", at("2026-12-20T10:00:00Z")).ok());
  EXPECT_EQ(s.state("m1").balance, (Balance{0, 0, 0}));
}

TEST(RecalcAdjustment, WhenThePurchasesLotIsGoneAddedPointsTakeTheExpiryItHad) {
  Scenario s(recalc_program());
  ASSERT_TRUE(s.member("m1").ok());
  ASSERT_TRUE(s.purchase("e1", "m1", {line("a", "food", 6400)}).ok());
  ASSERT_TRUE(s.redeem("x1", "m1", 64).ok());  // the lot is spent
  ASSERT_EQ(lot_of(s.state("m1"), "e1"), nullptr);
  const TimeMs lot_expiry = at("2026-12-20T10:00:00Z");
  ASSERT_TRUE(s.recalc("job-1", "e1", 10, 74, at("2026-11-22T12:00:00Z"), lot_expiry).ok());
  const Lot* added = lot_of(s.state("m1"), "recalc:job-1:e1");
  ASSERT_NE(added, nullptr);
  EXPECT_EQ(added->expires_at, lot_expiry);
  EXPECT_FALSE(added->pending);
  EXPECT_EQ(s.state("m1").balance.available, 10);
}

TEST(RecalcAdjustment, PointsAddedToExpiredPointsExpireAtOnce) {
  Scenario s(recalc_program());
  ASSERT_TRUE(s.member("m1").ok());
  ASSERT_TRUE(s.purchase("e1", "m1", {line("a", "food", 6400)}).ok());
  const TimeMs lot_expiry = at("2026-12-20T10:00:00Z");
  // Applied after the purchase's points expired (the member's clock expires them first).
  ASSERT_TRUE(s.recalc("job-1", "e1", 10, 74, at("2027-01-05T00:00:00Z"), lot_expiry).ok());
  const std::vector<LedgerEntry>& ledger = s.ledger("m1");
  ASSERT_GE(ledger.size(), 3u);
  EXPECT_EQ(ledger[ledger.size() - 2].type, EntryType::adjust);
  EXPECT_EQ(ledger[ledger.size() - 2].points, 10);
  EXPECT_EQ(ledger.back().type, EntryType::expire);
  EXPECT_EQ(ledger.back().points, -10);
  EXPECT_EQ(ledger.back().reference, "recalc:job-1:e1");
  EXPECT_EQ(s.state("m1").balance, (Balance{0, 0, 0}));
}

TEST(RecalcAdjustment, TakenPointsComeFromThePurchasesLotFirst) {
  Scenario s(recalc_program());
  ASSERT_TRUE(s.member("m1").ok());
  // e1 expires first, so the normal spending order would take from it.
  ASSERT_TRUE(s.purchase("e1", "m1", {line("a", "food", 6400)}, at("2026-11-10T10:00:00Z")).ok());
  ASSERT_TRUE(s.purchase("e2", "m1", {line("a", "food", 10000)}, at("2026-11-20T10:00:00Z")).ok());
  ASSERT_TRUE(s.recalc("job-1", "e2", -20, 80).ok());
  const MemberState& m = s.state("m1");
  EXPECT_EQ(lot_of(m, "e2")->points_remaining, 80);
  EXPECT_EQ(lot_of(m, "e1")->points_remaining, 64);
  EXPECT_EQ(m.balance.available, 144);
  EXPECT_EQ(m.lifetime_points, 144) << "the purchase earned less";
  EXPECT_EQ(s.ledger("m1").back().points, -20);
  EXPECT_EQ(s.ledger("m1").back().type, EntryType::adjust);
  EXPECT_EQ(s.purchase_record("e2")->points_adjusted, -20);
}

TEST(RecalcAdjustment, TakenPointsBeyondThePurchasesLotComeFromOthersThenDebt) {
  Scenario s(recalc_program());
  ASSERT_TRUE(s.member("m1").ok());
  ASSERT_TRUE(s.purchase("e1", "m1", {line("a", "food", 6400)}).ok());  // 64
  ASSERT_TRUE(s.purchase("e2", "m1", {line("a", "food", 1000)}).ok());  // 10
  ASSERT_TRUE(s.redeem("x1", "m1", 60).ok());  // from e1's lot (same expiry, older): 4 left
  ASSERT_EQ(lot_of(s.state("m1"), "e1")->points_remaining, 4);
  // −20: 4 from e1's lot, 10 from e2's, 6 become debt.
  ASSERT_TRUE(s.recalc("job-1", "e1", -20, 44).ok());
  const MemberState& m = s.state("m1");
  EXPECT_EQ(lot_of(m, "e1"), nullptr);
  EXPECT_EQ(lot_of(m, "e2"), nullptr);
  EXPECT_EQ(m.debt, 6);
  EXPECT_EQ(m.balance.available, -6);
  EXPECT_TRUE(member_invariants_hold(m, ledger_sum(s.ledger("m1"))));
  // Points credited later repay the debt first.
  ASSERT_TRUE(s.purchase("e3", "m1", {line("a", "food", 1000)}, at("2026-11-23T10:00:00Z")).ok());
  EXPECT_EQ(s.state("m1").debt, 0);
  EXPECT_EQ(s.state("m1").balance.available, 4);
}

TEST(RecalcAdjustment, ALaterRefundReversesFromTheRecalculatedFigure) {
  Scenario s(recalc_program());
  ASSERT_TRUE(s.member("m1").ok());
  ASSERT_TRUE(s.purchase("e1", "m1", {line("a", "food", 10000)}).ok());  // 100
  ASSERT_TRUE(s.recalc("job-1", "e1", 50, 150).ok());                    // now 150
  // 40% refunded: floor(150 × 0.4) = 60, not floor(100 × 0.4) = 40.
  ASSERT_TRUE(s.refund("r1", "e1", 4000, at("2026-11-23T10:00:00Z")).ok());
  EXPECT_EQ(s.state("m1").balance.available, 90);
  // The rest completes the purchase: exactly what is left, 150 − 60.
  ASSERT_TRUE(s.refund("r2", "e1", 6000, at("2026-11-24T10:00:00Z")).ok());
  EXPECT_EQ(s.ledger("m1").back().points, -90);
  EXPECT_EQ(s.state("m1").balance, (Balance{0, 0, 0}));
  EXPECT_EQ(s.state("m1").lifetime_points, 0);
}

TEST(RecalcAdjustment, RefundsOnBothSidesOfARecalculationAddUpToTheNewRules) {
  Scenario s(recalc_program());
  ASSERT_TRUE(s.member("m1").ok());
  ASSERT_TRUE(s.purchase("e1", "m1", {line("a", "food", 10000)}).ok());  // 100
  ASSERT_TRUE(s.refund("r1", "e1", 5000).ok());                          // −50
  // New rules: 150 earned, the same refund reverses 75: 75 instead of 50, so +25.
  ASSERT_TRUE(s.recalc("job-1", "e1", 25, 150).ok());
  EXPECT_EQ(effective_points(*s.purchase_record("e1")), 75);
  ASSERT_TRUE(s.refund("r2", "e1", 3000, at("2026-11-23T10:00:00Z")).ok());
  EXPECT_EQ(s.ledger("m1").back().points, -45) << "floor(150 × 0.3)";
  ASSERT_TRUE(s.refund("r3", "e1", 2000, at("2026-11-24T10:00:00Z")).ok());
  EXPECT_EQ(s.ledger("m1").back().points, -30) << "what is left: 100 + 25 − 50 − 45";
  EXPECT_EQ(s.state("m1").balance.available, 0);
}

TEST(RecalcAdjustment, ARefundNeverReversesMoreThanThePurchaseStillGives) {
  Scenario s(recalc_program());
  ASSERT_TRUE(s.member("m1").ok());
  ASSERT_TRUE(s.purchase("e1", "m1", {line("a", "food", 10000)}).ok());  // 100
  ASSERT_TRUE(s.refund("r1", "e1", 5000).ok());                          // −50
  ASSERT_TRUE(s.recalc("job-1", "e1", -50, 0).ok());  // the new rules give nothing
  ASSERT_TRUE(s.refund("r2", "e1", 4000, at("2026-11-23T10:00:00Z")).ok());
  EXPECT_EQ(s.state("m1").balance.available, 0);
  EXPECT_EQ(s.state("m1").debt, 0);
}

TEST(RecalcAdjustment, RefusesWhatItCannotApply) {
  Scenario s(recalc_program());
  ASSERT_TRUE(s.member("m1").ok());
  ASSERT_TRUE(s.member("m2").ok());
  ASSERT_TRUE(s.purchase("e1", "m1", {line("a", "food", 6400)}).ok());
  EXPECT_EQ(validate_input(Event{RecalcAdjustmentEvent{"job", "e1", "m1", 0, 1, kTimeNever, 7, 1}},
                           kTimeNever)
                .field,
            "points");
  EXPECT_EQ(validate_input(Event{RecalcAdjustmentEvent{"job", "e1", "m1", 5, 1, kTimeNever, 0, 1}},
                           kTimeNever)
                .field,
            "program_version");
  EXPECT_EQ(s.recalc("job-1", "unknown", 5, 69).code, ErrorCode::not_found);
  // A purchase of another member is as unknown as a missing one.
  RecalcAdjustmentEvent other{"job-1", "e1",       "m2", 5,
                              69,      kTimeNever, 7,    at("2026-11-22T00:00:00Z")};
  EXPECT_EQ(s.apply(Event{other}).code, ErrorCode::not_found);
  EXPECT_EQ(s.state("m1").balance.available, 64);
}

// The pure re-run: the member's tier as it was (by name), the milestone count, and the same
// refunds re-run under the new rules.
TEST(RecalcPurchase, ReRunsEarningAndRefundsUnderTheNewRules) {
  Program program = basic_program();
  program.earning.points_per_unit = Decimal::from_integer(2);
  program.milestones = {{3, 30}};
  TierRules tiers;
  tiers.levels = {{"green", 0, Decimal::from_integer(1), "{}"},
                  {"gold", 30000, *Decimal::parse("1.5"), "{}"}};
  program.tiers = tiers;

  PurchaseEvent purchase;
  purchase.event_id = "e1";
  purchase.member_id = "m1";
  purchase.store_id = "s-1";
  purchase.occurred_at = at("2026-11-20T10:00:00Z");
  purchase.currency = "CNY";
  purchase.lines = {line("a", "food", 6000), line("b", "gift-card", 4000)};
  RecalcHistory history;
  history.purchase = &purchase;
  history.tier_name = "gold";
  history.tier_index = 3;  // its level in another version: the name wins
  history.purchase_count_before = 2;
  history.refunds = {{3000, 0}, {3000, 4000}};  // half of line a, then the rest of everything

  // 100 CNY × 2 = 200 base, × 1.5 gold = 300, + 30 for the third purchase = 330.
  const std::optional<RecalcFigures> figures = recalc_purchase(program, history);
  ASSERT_TRUE(figures.has_value());
  EXPECT_EQ(figures->earned, 330);
  EXPECT_EQ(figures->reversed, 330) << "refunded in full";
  EXPECT_EQ(figures->effective(), 0);

  history.refunds = {{1500, 0}};  // a quarter of what earned: floor(330 × 1500 / 10000) = 49
  EXPECT_EQ(recalc_purchase(program, history)->reversed, 49);

  program.earning.excluded_categories = {"gift-card"};  // eligible 6000 of 10000
  // 60 × 2 × 1.5 = 180 + 30 = 210; the refund is a quarter of the eligible: floor(210 / 4) = 52.
  const std::optional<RecalcFigures> excluded = recalc_purchase(program, history);
  EXPECT_EQ(excluded->earned, 210);
  EXPECT_EQ(excluded->reversed, 52);

  history.tier_name = "silver";  // gone from the program: the same level, at most the highest
  history.tier_index = 0;
  EXPECT_EQ(recalc_purchase(program, history)->earned, 150);  // 120 + 30
}

TEST(RecalcRuntime, TheSameAdjustmentTwiceIsAppliedOnce) {
  testing::MemoryStore store;
  ProgramRegistry programs(
      std::make_shared<ProgramVersion>(ProgramVersion{1, recalc_program(), ""}));
  Runtime runtime({.partitions = 2}, store, programs, [] { return at("2026-11-22T12:00:00Z"); });
  auto submit = [&runtime](Event event) {
    std::promise<EventResult> promise;
    auto future = promise.get_future();
    runtime.submit(std::move(event),
                   [&promise](EventResult&& r) { promise.set_value(std::move(r)); });
    return future.get();
  };
  SignupEvent signup;
  signup.member_id = "m1";
  ASSERT_TRUE(submit(Event{signup}).rejection.ok());
  PurchaseEvent purchase;
  purchase.event_id = "e1";
  purchase.member_id = "m1";
  purchase.store_id = "s-1";
  purchase.occurred_at = at("2026-11-20T10:00:00Z");
  purchase.currency = "CNY";
  purchase.lines = {line("a", "food", 6400)};
  ASSERT_TRUE(submit(Event{purchase}).rejection.ok());

  const RecalcAdjustmentEvent adjustment{"job-1", "e1", "m1", 10, 74, kTimeNever, 2, 0};
  EventResult first = submit(Event{adjustment});
  ASSERT_TRUE(first.rejection.ok()) << first.rejection.message;
  EXPECT_FALSE(first.replayed);
  EventResult second = submit(Event{adjustment});
  ASSERT_TRUE(second.rejection.ok());
  EXPECT_TRUE(second.replayed);
  EXPECT_EQ(std::get<PointsAnswer>(second.answer).points, 10);
  EXPECT_EQ(store.member("m1")->balance.available, 74);
  EXPECT_EQ(store.purchase("e1")->points_adjusted, 10);

  RecalcAdjustmentEvent different = adjustment;
  different.points = 11;
  EXPECT_EQ(submit(Event{different}).rejection.code, ErrorCode::idempotency_conflict);
  // An operator's adjustment cannot take the recalculation's id either.
  AdjustmentEvent manual{"recalc:job-1:e1", "m1", 5, "typo", 0};
  EXPECT_EQ(submit(Event{manual}).rejection.code, ErrorCode::idempotency_conflict);
  EXPECT_EQ(store.member("m1")->balance.available, 74);
  const std::vector<LedgerEntry> ledger = store.ledger("m1");
  EXPECT_EQ(ledger_sum(ledger), 74);
  EXPECT_EQ(ledger.back().reference, "recalc:job-1:e1");
  EXPECT_EQ(ledger.back().program_version, 2u);
  runtime.stop();
}

}  // namespace
}  // namespace loyalty
