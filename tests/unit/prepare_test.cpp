// The prepare stage (engine/prepare.hpp) through the test scenario, which runs it as the
// runtime does: what stored state decides before anything is applied.
#include "engine/prepare.hpp"

#include <gtest/gtest.h>

#include "tests/support/scenario.hpp"

namespace loyalty {
namespace {

using testing::at;
using testing::basic_program;
using testing::line;
using testing::Scenario;

TEST(Prepare, ARetriedPurchaseIsAnsweredAgainAndEarnsOnce) {
  Scenario s(basic_program());
  ASSERT_TRUE(s.member("m1").ok());
  ASSERT_TRUE(s.purchase("e1", "m1", {line("latte", "beverage", 6400)}).ok());
  const PurchaseAnswer first = s.last();
  ASSERT_TRUE(s.purchase("e1", "m1", {line("latte", "beverage", 6400)}).ok()) << "a retry";
  EXPECT_EQ(s.last(), first);
  EXPECT_EQ(s.state("m1").balance.available, 64) << "earned once";
  EXPECT_EQ(s.ledger("m1").size(), 1u);

  const Rejection other = s.purchase("e1", "m1", {line("latte", "beverage", 9900)});
  EXPECT_EQ(other.code, ErrorCode::idempotency_conflict);
  EXPECT_EQ(other.field, "event_id");
  EXPECT_EQ(s.state("m1").balance.available, 64);
}

TEST(Prepare, AnIdentifierOfAnotherMemberRefusesTheSignup) {
  Scenario s(basic_program());
  SignupEvent first;
  first.member_id = "m1";
  first.phone = "+8613800000001";
  first.joined_at = at("2026-01-01T00:00:00Z");
  ASSERT_TRUE(s.apply(Event{first}).ok());
  SignupEvent second = first;
  second.member_id = "m2";
  const Rejection taken = s.apply(Event{second});
  EXPECT_EQ(taken.code, ErrorCode::member_exists);
  EXPECT_EQ(taken.field, "phone");

  // A code the engine assigned names its member to a referee.
  SignupEvent referee;
  referee.member_id = "m3";
  referee.referral_code = s.state("m1").referral_code;
  referee.joined_at = at("2026-02-01T00:00:00Z");
  ASSERT_FALSE(referee.referral_code.empty());
  ASSERT_TRUE(s.apply(Event{referee}).ok());
  EXPECT_EQ(s.state("m3").referred_by, "m1");
}

// The basic program with redemption: holds need it.
Program program_with_holds() {
  Program p = basic_program();
  p.redemption = RedemptionRules{.points_per_currency_unit = 100,
                                 .min_points = 1,
                                 .step_points = 1,
                                 .max_redeem_fraction = Decimal::from_integer(1),
                                 .hold_ttl_seconds = 900};
  return p;
}

TEST(Prepare, ARefundOrHoldActionNamesWhatIsStoredForThatMember) {
  Scenario s(program_with_holds());
  ASSERT_TRUE(s.member("m1").ok());
  ASSERT_TRUE(s.member("m2").ok());
  ASSERT_TRUE(s.purchase("e1", "m1", {line("latte", "beverage", 6400)}).ok());
  const Rejection missing = s.refund("r1", "nope", 100);
  EXPECT_EQ(missing.code, ErrorCode::not_found);
  EXPECT_EQ(missing.field, "original_event_id");
  const Rejection no_hold = s.hold_action(EventType::hold_capture, "h-none");
  EXPECT_EQ(no_hold.code, ErrorCode::not_found);
  EXPECT_EQ(no_hold.field, "hold_id");

  ASSERT_TRUE(s.hold("h1", "m1", 30).ok());
  HoldActionEvent foreign;
  foreign.hold_id = "h1";
  foreign.member_id = "m2";
  foreign.at = at("2026-11-21T12:05:00Z");
  const Rejection not_theirs = s.apply(Event{EventType::hold_capture, foreign});
  EXPECT_EQ(not_theirs.code, ErrorCode::not_found) << "another member's hold is unknown to m2";
  ASSERT_TRUE(s.hold_action(EventType::hold_capture, "h1").ok());
  EXPECT_TRUE(s.hold_action(EventType::hold_capture, "h1").ok()) << "a retried capture";
  EXPECT_EQ(s.state("m1").balance.available, 34) << "captured once";
  EXPECT_EQ(s.hold_action(EventType::hold_void, "h1").code, ErrorCode::hold_not_active);
}

}  // namespace
}  // namespace loyalty
