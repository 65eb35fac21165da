// Customer service's change of a member (domain of issue 18): a new phone or card that another
// member holds is refused naming it; the old one is released; every change leaves a 0-point
// audit entry naming the fields it gave and the key (a repeat too: it records the request); a
// blocked member earns and
// spends nothing until unblocked, while refunds and adjustments still run.
#include <gtest/gtest.h>

#include "tests/support/scenario.hpp"

namespace loyalty {
namespace {

using testing::at;
using testing::basic_program;
using testing::line;
using testing::Scenario;

Rejection change(Scenario& s, const std::string& member_id, std::string id,
                 void (*fill)(MemberUpdateEvent&)) {
  MemberUpdateEvent update;
  update.update_id = std::move(id);
  update.member_id = member_id;
  update.changed_by = "cs-desk";
  update.at = at("2026-11-21T09:00:00Z");
  fill(update);
  return s.apply(Event{update});
}

Scenario with_members() {
  Scenario s(basic_program());
  SignupEvent a;
  a.member_id = "a";
  a.phone = "13800000001";
  a.card_no = "CARD-A";
  a.joined_at = at("2026-01-01T00:00:00Z");
  a.assigned_referral_code = "CODEA";
  EXPECT_TRUE(s.apply(Event{a}).ok());
  SignupEvent b = a;
  b.member_id = "b";
  b.phone = "13800000002";
  b.card_no = "CARD-B";
  b.assigned_referral_code = "CODEB";
  EXPECT_TRUE(s.apply(Event{b}).ok());
  return s;
}

TEST(MemberUpdate, ANewPhoneMustBeFreeAndTheOldOneIsReleased) {
  Scenario s = with_members();
  Rejection r = change(s, "a", "u1", [](MemberUpdateEvent& u) { u.phone = "13800000002"; });
  EXPECT_EQ(r.code, ErrorCode::identifier_taken);
  EXPECT_EQ(r.field, "phone");
  EXPECT_EQ(s.state("a").phone, "13800000001") << "a refusal changes nothing";

  ASSERT_TRUE(change(s, "a", "u2", [](MemberUpdateEvent& u) {
                u.phone = "13800000009";
                u.profile_json = R"({"nickname":"A"})";
              }).ok());
  EXPECT_EQ(s.state("a").phone, "13800000009");
  EXPECT_EQ(s.state("a").profile_json, R"({"nickname":"A"})");
  ASSERT_EQ(s.last_effects().identifiers_released.size(), 1u);
  EXPECT_EQ(s.last_effects().identifiers_released[0].value, "13800000001");
  // Released: b may take a's old phone now.
  EXPECT_TRUE(change(s, "b", "u3", [](MemberUpdateEvent& u) { u.phone = "13800000001"; }).ok());
  // An empty card removes it.
  ASSERT_TRUE(change(s, "a", "u4", [](MemberUpdateEvent& u) { u.card_no = ""; }).ok());
  EXPECT_EQ(s.state("a").card_no, "");
}

// Cluster mode: the member holds each identifier by the grant of its claim; the old one is
// released naming the grant it was held by; the same value claimed again keeps the later grant
// (two such changes may be logged in the other order than their claims were granted).
TEST(MemberUpdate, IdentifiersAreHeldByTheGrantOfTheirClaim) {
  Scenario s = with_members();
  ASSERT_TRUE(change(s, "a", "g1", [](MemberUpdateEvent& u) {
                u.phone = "13800000005";
                u.phone_grant = 4;
              }).ok());
  EXPECT_EQ(s.state("a").phone_grant, 4u);
  ASSERT_TRUE(change(s, "a", "g2", [](MemberUpdateEvent& u) {
                u.phone = "13800000005";
                u.phone_grant = 7;
              }).ok());
  ASSERT_TRUE(change(s, "a", "g3", [](MemberUpdateEvent& u) {
                u.phone = "13800000005";
                u.phone_grant = 6;
              }).ok());
  EXPECT_EQ(s.state("a").phone_grant, 7u) << "the later grant, whatever the log's order";
  EXPECT_TRUE(s.last_effects().identifiers_released.empty());
  ASSERT_TRUE(change(s, "a", "g4", [](MemberUpdateEvent& u) {
                u.phone = "13800000006";
                u.phone_grant = 1;
              }).ok());
  ASSERT_EQ(s.last_effects().identifiers_released.size(), 1u);
  EXPECT_EQ(s.last_effects().identifiers_released[0].grant, 7u) << "released by its grant";
  EXPECT_EQ(s.state("a").phone_grant, 1u);
  ASSERT_TRUE(change(s, "a", "g5", [](MemberUpdateEvent& u) { u.phone = ""; }).ok());
  EXPECT_EQ(s.state("a").phone_grant, 0u) << "no phone, no grant";
}

TEST(MemberUpdate, EachChangeIsAnAuditEntryARepeatToo) {
  Scenario s = with_members();
  ASSERT_TRUE(change(s, "a", "u1", [](MemberUpdateEvent& u) {
                u.phone = "13800000009";
                u.blocked = true;
              }).ok());
  const LedgerEntry audit = s.ledger("a").back();
  EXPECT_EQ(audit.type, EntryType::member_update);
  EXPECT_EQ(audit.points, 0);
  EXPECT_EQ(audit.rule, "phone,blocked by cs-desk");
  EXPECT_EQ(audit.reference, "u1");
  ASSERT_EQ(s.last_effects().notifications.size(), 1u);
  EXPECT_EQ(s.last_effects().notifications[0].type, "member.updated");
  const size_t entries = s.ledger("a").size();
  ASSERT_TRUE(change(s, "a", "u2", [](MemberUpdateEvent& u) {
                u.phone = "13800000009";
                u.blocked = true;
              }).ok());
  ASSERT_EQ(s.ledger("a").size(), entries + 1) << "the request is recorded, changed or not";
  EXPECT_EQ(s.ledger("a").back().rule, "phone,blocked by cs-desk");
  EXPECT_TRUE(s.last_effects().identifiers_released.empty()) << "its own phone stays its own";
  EXPECT_EQ(s.state("a").phone, "13800000009");
}

TEST(MemberUpdate, ABlockedMemberEarnsAndSpendsNothingButRefundsStillRun) {
  Scenario s = with_members();
  ASSERT_TRUE(s.purchase("e1", "a", {line("a", "food", 50000)}).ok());
  ASSERT_TRUE(change(s, "a", "u1", [](MemberUpdateEvent& u) { u.blocked = true; }).ok());
  for (const Rejection& refused : {s.purchase("e2", "a", {line("a", "food", 6400)}),
                                   s.redeem("r1", "a", 100), s.hold("h1", "a", 100)}) {
    EXPECT_EQ(refused.code, ErrorCode::member_blocked) << refused.message;
    EXPECT_EQ(refused.field, "member_id");
  }
  const Points before = s.state("a").balance.available;
  EXPECT_TRUE(s.refund("f1", "e1", 50000).ok()) << "the money goes back, and the points";
  EXPECT_LT(s.state("a").balance.available, before);
  ASSERT_TRUE(change(s, "a", "u2", [](MemberUpdateEvent& u) { u.blocked = false; }).ok());
  EXPECT_TRUE(s.purchase("e2", "a", {line("a", "food", 6400)}).ok());
}

Rejection erase(Scenario& s, const std::string& member_id, std::string erasure_id) {
  MemberUpdateEvent erasure;
  erasure.update_id = std::move(erasure_id);
  erasure.member_id = member_id;
  erasure.changed_by = "dpo";
  erasure.reason = "ticket 4711";
  erasure.at = at("2026-11-22T09:00:00Z");
  return s.apply(Event(EventType::member_erase, erasure));
}

TEST(MemberErase, PersonalDataGoesAndTheBooksStay) {
  Scenario s = with_members();
  ASSERT_TRUE(s.purchase("e1", "a", {line("a", "food", 50000)}).ok());
  ASSERT_TRUE(
      change(s, "a", "u1", [](MemberUpdateEvent& u) { u.profile_json = R"({"name":"A"})"; }).ok());
  const MemberState before = s.state("a");
  ASSERT_TRUE(erase(s, "a", "x1").ok());
  const MemberState& after = s.state("a");
  EXPECT_EQ(after.phone, "");
  EXPECT_EQ(after.card_no, "");
  EXPECT_EQ(after.profile_json, "");
  EXPECT_EQ(after.signup_fingerprint, 0u) << "a digest of the sign-up's phone and card";
  EXPECT_TRUE(after.blocked);
  EXPECT_EQ(after.erased_at, at("2026-11-22T09:00:00Z"));
  EXPECT_EQ(after.balance, before.balance) << "finance keeps the balance";
  EXPECT_EQ(after.referral_code, before.referral_code);
  const std::vector<IdentifierClaim>& released = s.last_effects().identifiers_released;
  ASSERT_EQ(released.size(), 2u);
  EXPECT_EQ(released[0].value, "13800000001");
  EXPECT_EQ(released[1].value, "CARD-A");
  const LedgerEntry audit = s.ledger("a").back();
  EXPECT_EQ(audit.type, EntryType::member_erase);
  EXPECT_EQ(audit.points, 0);
  EXPECT_EQ(audit.rule, "erased by dpo: ticket 4711");
  EXPECT_EQ(audit.reference, "x1");
  ASSERT_EQ(s.last_effects().notifications.size(), 1u);
  EXPECT_EQ(s.last_effects().notifications[0].type, "member.erased");
  // b may take a's phone and card now.
  EXPECT_TRUE(change(s, "b", "u2", [](MemberUpdateEvent& u) {
                u.phone = "13800000001";
                u.card_no = "CARD-A";
              }).ok());
}

TEST(MemberErase, AnErasedMemberStaysErasedAndBlocked) {
  Scenario s = with_members();
  ASSERT_TRUE(s.purchase("e1", "a", {line("a", "food", 50000)}).ok());
  ASSERT_TRUE(erase(s, "a", "x1").ok());
  const size_t entries = s.ledger("a").size();
  EXPECT_TRUE(erase(s, "a", "x2").ok()) << "another erasure finds nothing left";
  EXPECT_EQ(s.ledger("a").size(), entries);
  EXPECT_TRUE(s.last_effects().identifiers_released.empty());
  for (const Rejection& refused :
       {change(s, "a", "u1", [](MemberUpdateEvent& u) { u.phone = "13800000077"; }),
        change(s, "a", "u2", [](MemberUpdateEvent& u) { u.blocked = false; })}) {
    EXPECT_EQ(refused.code, ErrorCode::member_blocked) << refused.message;
  }
  EXPECT_EQ(s.purchase("e2", "a", {line("a", "food", 6400)}).code, ErrorCode::member_blocked);
  EXPECT_TRUE(s.refund("f1", "e1", 50000).ok()) << "refunds of its purchases still run";
}

TEST(MemberErase, AnErasureNamesItsIdAndReasonAndNothingElse) {
  MemberUpdateEvent erasure;
  erasure.member_id = "a";
  erasure.reason = "ticket";
  Rejection r = validate_input(Event(EventType::member_erase, erasure), 0);
  EXPECT_EQ(r.field, "erasure_id");
  erasure.update_id = "x1";
  erasure.reason.clear();
  EXPECT_EQ(validate_input(Event(EventType::member_erase, erasure), 0).field, "reason");
  erasure.reason = "ticket";
  erasure.phone = "1";
  EXPECT_EQ(validate_input(Event(EventType::member_erase, erasure), 0).code,
            ErrorCode::invalid_request);
  erasure.phone.reset();
  EXPECT_TRUE(validate_input(Event(EventType::member_erase, erasure), 0).ok());
  EXPECT_EQ(Event(EventType::member_erase, erasure).idempotency_key(), "me:x1");
}

}  // namespace
}  // namespace loyalty
