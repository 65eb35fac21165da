// Applying sign-ups and purchases through the pure engine: state, ledger, lots, and the
// rule that a refused event changes nothing (checked by the scenario on every refusal).
#include "engine/apply.hpp"

#include <gtest/gtest.h>

#include "tests/support/scenario.hpp"

namespace loyalty {
namespace {

using testing::at;
using testing::basic_program;
using testing::line;
using testing::Scenario;

TEST(Apply, PurchaseCreditsAvailablePointsALotAndAnEarnEntry) {
  Program program = basic_program();
  program.expiry.mode = ExpiryMode::days;
  program.expiry.days = 365;
  Scenario s(program);
  ASSERT_TRUE(s.member("m1").ok());
  ASSERT_TRUE(s.purchase("e1", "m1", {line("a", "food", 6400)}).ok());

  EXPECT_EQ(s.last().points_earned, 64);
  EXPECT_EQ(s.last().balance, (Balance{64, 0, 0}));
  const MemberState& m = s.state("m1");
  EXPECT_EQ(m.purchase_count, 1u);
  EXPECT_EQ(m.lifetime_points, 64);
  ASSERT_EQ(m.lots.size(), 1u);
  EXPECT_EQ(m.lots[0].reference, "e1");
  EXPECT_EQ(m.lots[0].expires_at, at("2027-11-20T10:00:00Z"));
  ASSERT_EQ(s.ledger("m1").size(), 1u);
  const LedgerEntry& entry = s.ledger("m1")[0];
  EXPECT_EQ(entry.type, EntryType::earn);
  EXPECT_EQ(entry.points, 64);
  EXPECT_EQ(entry.reference, "e1");
  EXPECT_EQ(entry.program_version, 1u);
  EXPECT_EQ(entry.balance_after, 64);
}

TEST(Apply, BonusesAreSeparateEntriesAndBalanceAfterRuns) {
  Program program = basic_program();
  program.milestones = {{2, 30}};
  Scenario s(program);
  ASSERT_TRUE(s.member("m1").ok());
  ASSERT_TRUE(s.purchase("e1", "m1", {line("a", "food", 1000)}).ok());
  ASSERT_TRUE(s.purchase("e2", "m1", {line("a", "food", 2000)}).ok());
  const auto& ledger = s.ledger("m1");
  ASSERT_EQ(ledger.size(), 3u);
  EXPECT_EQ(ledger[1].type, EntryType::earn);
  EXPECT_EQ(ledger[1].balance_after, 30);
  EXPECT_EQ(ledger[2].type, EntryType::bonus);
  EXPECT_EQ(ledger[2].rule, "milestone:2");
  EXPECT_EQ(ledger[2].balance_after, 60);
  EXPECT_EQ(ledger[2].seq, 3u);
  EXPECT_EQ(s.state("m1").lots.size(), 2u);
}

TEST(Apply, PendingDaysKeepPointsPending) {
  Program program = basic_program();
  program.earning.pending_days = 14;
  Scenario s(program);
  ASSERT_TRUE(s.member("m1").ok());
  ASSERT_TRUE(s.purchase("e1", "m1", {line("a", "food", 5000)}).ok());
  EXPECT_EQ(s.last().balance, (Balance{0, 50, 0}));
  EXPECT_EQ(s.state("m1").lots[0].available_at, at("2026-12-04T10:00:00Z"));
}

TEST(Apply, EndOfMonthExpiry) {
  Program program = basic_program();
  program.expiry.mode = ExpiryMode::end_of_month;
  program.expiry.months = 24;
  Scenario s(program);
  ASSERT_TRUE(s.member("m1").ok());
  ASSERT_TRUE(s.purchase("e1", "m1", {line("a", "food", 5000)}).ok());
  EXPECT_EQ(s.state("m1").lots[0].expires_at, at("2028-12-01T00:00:00Z"));
}

TEST(Apply, PurchaseNotificationCarriesGrowingSeq) {
  Scenario s(basic_program());
  ASSERT_TRUE(s.member("m1").ok());
  ASSERT_TRUE(s.purchase("e1", "m1", {line("a", "food", 1000)}).ok());
  ASSERT_EQ(s.last_effects().notifications.size(), 1u);
  EXPECT_EQ(s.last_effects().notifications[0].seq, 1u);
  EXPECT_EQ(s.last_effects().notifications[0].type, "points.earned");
  ASSERT_TRUE(s.purchase("e2", "m1", {line("a", "food", 1000)}).ok());
  EXPECT_EQ(s.last_effects().notifications[0].seq, 2u);
}

TEST(Apply, PurchaseEarningNothingWritesNoEntryButCounts) {
  Scenario s(basic_program());
  ASSERT_TRUE(s.member("m1").ok());
  ASSERT_TRUE(s.purchase("e1", "m1", {line("a", "food", 99)}).ok());
  EXPECT_EQ(s.last().points_earned, 0);
  EXPECT_TRUE(s.ledger("m1").empty());
  EXPECT_EQ(s.state("m1").purchase_count, 1u);
  EXPECT_TRUE(s.state("m1").lots.empty());
}

TEST(Apply, RefusalsChangeNothing) {
  Scenario s(basic_program());
  EXPECT_EQ(s.purchase("e0", "ghost", {line("a", "food", 1000)}).code, ErrorCode::not_found);
  ASSERT_TRUE(s.member("m1").ok());
  EXPECT_EQ(s.member("m1").code, ErrorCode::member_exists);

  PurchaseEvent wrong_currency;
  wrong_currency.event_id = "e1";
  wrong_currency.member_id = "m1";
  wrong_currency.store_id = "s-1";
  wrong_currency.currency = "USD";
  wrong_currency.lines = {line("a", "food", 1000)};
  const Rejection r = s.apply(Event{wrong_currency});
  EXPECT_EQ(r.code, ErrorCode::currency_mismatch);
  EXPECT_EQ(r.field, "currency");
  EXPECT_EQ(s.state("m1").balance.total(), 0);
}

TEST(Apply, SignupKeepsIdentifiersAndReferrer) {
  Scenario s(basic_program());
  SignupEvent signup;
  signup.member_id = "m2";
  signup.joined_at = at("2026-02-01T00:00:00Z");
  signup.phone = "+8613800000000";
  signup.card_no = "C-1";
  signup.referral_code = "ABCDEFGH";
  signup.referrer_member_id = "m1";
  signup.assigned_referral_code = "ZZZZZZZZ";
  ASSERT_TRUE(s.apply(Event{signup}).ok());
  const MemberState& m = s.state("m2");
  EXPECT_EQ(m.phone, "+8613800000000");
  EXPECT_EQ(m.referred_by, "m1");
  EXPECT_EQ(m.referral_code, "ZZZZZZZZ");
  EXPECT_EQ(m.joined_at, at("2026-02-01T00:00:00Z"));
}

TEST(Apply, UnknownReferralCodeIsRefused) {
  Scenario s(basic_program());
  SignupEvent signup;
  signup.member_id = "m2";
  signup.joined_at = at("2026-02-01T00:00:00Z");
  signup.referral_code = "NOSUCHCD";
  signup.assigned_referral_code = "ZZZZZZZZ";
  const Rejection r = s.apply(Event{signup});
  EXPECT_EQ(r.code, ErrorCode::unknown_referral_code);
  EXPECT_EQ(r.field, "referral_code");
}

PurchaseEvent valid_purchase(TimeMs now) {
  return PurchaseEvent{.event_id = "e1",
                       .member_id = "m1",
                       .store_id = "s-1",
                       .occurred_at = now,
                       .currency = "CNY",
                       .lines = {line("a", "food", 100)},
                       .redeem_points = 0,
                       .hold_id = "",
                       .coupons = {}};
}

// Stage 1 validation: one bad field at a time, each named.
struct BadInput {
  std::string field;
  std::function<void(PurchaseEvent&)> spoil;
};

TEST(ValidateInput, NamesTheBadField) {
  const TimeMs now = at("2026-11-20T12:00:00Z");
  const std::vector<BadInput> cases = {
      {"event_id", [](PurchaseEvent& p) { p.event_id.clear(); }},
      {"event_id", [](PurchaseEvent& p) { p.event_id = std::string(129, 'x'); }},
      {"event_id", [](PurchaseEvent& p) { p.event_id = "has space"; }},
      {"member_id", [](PurchaseEvent& p) { p.member_id = "tab\there"; }},
      {"store_id", [](PurchaseEvent& p) { p.store_id.clear(); }},
      {"occurred_at", [now](PurchaseEvent& p) { p.occurred_at = now + 5 * 60 * 1000 + 1; }},
      {"currency", [](PurchaseEvent& p) { p.currency.clear(); }},
      {"lines", [](PurchaseEvent& p) { p.lines.clear(); }},
      {"lines", [](PurchaseEvent& p) { p.lines.assign(501, line("a", "food", 1)); }},
      {"lines[0].amount_minor", [](PurchaseEvent& p) { p.lines[0].amount_minor = -1; }},
      {"lines[0].amount_minor", [](PurchaseEvent& p) { p.lines[0].amount_minor = kAmountMax + 1; }},
      {"lines[0].quantity", [](PurchaseEvent& p) { p.lines[0].quantity = 0; }},
      {"redeem_points", [](PurchaseEvent& p) { p.redeem_points = -5; }},
  };
  for (const BadInput& c : cases) {
    PurchaseEvent p = valid_purchase(now);
    ASSERT_TRUE(validate_input(Event{p}, now).ok());
    c.spoil(p);
    const Rejection r = validate_input(Event{p}, now);
    EXPECT_EQ(r.code, ErrorCode::invalid_request) << c.field;
    EXPECT_EQ(r.field, c.field);
  }
}

TEST(ValidateInput, OldEventsAreAcceptedFutureWithinFiveMinutesToo) {
  const TimeMs now = at("2026-11-20T12:00:00Z");
  PurchaseEvent p = valid_purchase(now);
  p.occurred_at = at("2025-01-01T00:00:00Z");
  EXPECT_TRUE(validate_input(Event{p}, now).ok());
  p.occurred_at = now + 5 * 60 * 1000;
  EXPECT_TRUE(validate_input(Event{p}, now).ok());
}

}  // namespace
}  // namespace loyalty
