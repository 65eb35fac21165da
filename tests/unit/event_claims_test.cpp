// Cluster mode's claims before an event is logged (cluster/event_claims.hpp), over a claim
// table in memory standing for the keys' home partitions: what each kind of event claims, the
// refusals single mode gives when a key is another member's, and what the claims complete in
// the event (a refund's member, a sign-up's referrer and referral code).
#include "cluster/event_claims.hpp"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <vector>

#include "engine/claim_keys.hpp"
#include "engine/coupon_code.hpp"
#include "engine/referral_code.hpp"
#include "tests/support/scenario.hpp"

namespace loyalty::cluster {
namespace {

using testing::at;
using testing::line;

class EventClaimsTest : public ::testing::Test {
 protected:
  // Settles the event's claims against `owners`; the event if it was logged, else nullopt
  // (and `result_` says why).
  std::optional<Event> settle(Event event) {
    std::optional<Event> logged;
    result_ = EventResult{};
    settle_claims(
        std::move(event), 1,
        [this](LogPayload payload, Completion done) {
          EventResult result;
          if (const auto* stock = std::get_if<StockAsk>(&payload)) {
            // Only takes come before a redemption is logged.
            EXPECT_EQ(stock->move, StockMove::take);
            asked_.push_back("take " + stock->unit.reward_id + " " + stock->unit.code);
            int64_t& left = units_left_[stock->unit.reward_id];
            result.stock_granted = left > 0;
            if (left > 0) --left;
            done(std::move(result));
            return;
          }
          const ClaimAsk& ask = std::get<ClaimAsk>(payload);
          asked_.push_back(ask.key);
          if (unavailable_) {
            result.rejection = {ErrorCode::unavailable, "", "no owner"};
          } else {
            std::string& owner = owners_[ask.key];
            if (owner.empty()) owner = ask.member_id;
            result.claim_owner = owner;
            if (owner.empty()) owners_.erase(ask.key);  // only asked: nothing written
          }
          done(std::move(result));
        },
        [this](const std::string& reward_id) { return units_left_.count(reward_id) > 0; },
        [&logged](Event&& settled, uint64_t, Completion&& done) {
          logged = std::move(settled);
          done(EventResult{});
        },
        [this](EventResult&& result) { result_ = std::move(result); });
    return logged;
  }

  static Event purchase(std::string event_id, std::string member_id) {
    PurchaseEvent p;
    p.event_id = std::move(event_id);
    p.member_id = std::move(member_id);
    p.store_id = "s-1";
    p.occurred_at = at("2026-11-20T10:00:00Z");
    p.currency = "CNY";
    p.lines = {line("a", "food", 6400)};
    return Event{p};
  }

  static Event signup(std::string member_id, std::string phone, std::string card,
                      std::string code = "") {
    SignupEvent s;
    s.member_id = std::move(member_id);
    s.phone = std::move(phone);
    s.card_no = std::move(card);
    s.referral_code = std::move(code);
    return Event{s};
  }

  static Event refund(std::string event_id, std::string original, std::string member_id = "") {
    RefundEvent r;
    r.event_id = std::move(event_id);
    r.original_event_id = std::move(original);
    r.member_id = std::move(member_id);
    return Event{r};
  }

  static Event redeem(std::string redemption_id, std::string member_id, std::string reward_id,
                      std::string code) {
    RewardRedeemEvent r;
    r.redemption_id = std::move(redemption_id);
    r.member_id = std::move(member_id);
    r.reward_id = std::move(reward_id);
    r.code = std::move(code);
    return Event{r};
  }

  std::map<std::string, std::string> owners_;
  std::map<std::string, int64_t> units_left_;  // rewards with a stock: units the home grants
  std::vector<std::string> asked_;
  bool unavailable_ = false;
  EventResult result_;
};

TEST_F(EventClaimsTest, AClientIdIsClaimedForItsMemberBeforeItIsLogged) {
  ASSERT_TRUE(settle(purchase("e-1", "m-1")).has_value());
  EXPECT_EQ(owners_["e:e-1"], "m-1");
  ASSERT_TRUE(settle(purchase("e-1", "m-1")).has_value()) << "a retry is the member's again";

  EXPECT_FALSE(settle(purchase("e-1", "m-2")).has_value()) << "never logged for a second member";
  EXPECT_EQ(result_.rejection.code, ErrorCode::idempotency_conflict);
  EXPECT_EQ(result_.rejection.field, "event_id");
  EXPECT_EQ(owners_["e:e-1"], "m-1");
}

TEST_F(EventClaimsTest, ASignupTakesItsPhoneCardAndCodeAndFindsItsReferrer) {
  const std::string referrer_code = referral_code_for("ref", 0);
  owners_[identifier_claim_key(IdentifierKind::referral_code, referrer_code)] = "ref";
  // The code as a member types it: the claim's key is the normalised one.
  std::string typed = referrer_code;
  for (char& c : typed) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::optional<Event> logged = settle(signup("m-1", "13800000001", "C-1", typed));
  ASSERT_TRUE(logged.has_value()) << result_.rejection.message;
  const auto& joined = std::get<SignupEvent>(logged->body);
  EXPECT_EQ(joined.referrer_member_id, "ref");
  EXPECT_EQ(joined.assigned_referral_code, referral_code_for("m-1", 0));
  EXPECT_EQ(owners_[identifier_claim_key(IdentifierKind::phone, "13800000001")], "m-1");
  EXPECT_EQ(owners_[identifier_claim_key(IdentifierKind::card, "C-1")], "m-1");
  EXPECT_EQ(
      owners_[identifier_claim_key(IdentifierKind::referral_code, joined.assigned_referral_code)],
      "m-1");

  // Another member with the same phone is refused before anything is logged, as in single mode.
  asked_.clear();
  EXPECT_FALSE(settle(signup("m-2", "13800000001", "C-2")).has_value());
  EXPECT_EQ(result_.rejection.code, ErrorCode::member_exists);
  EXPECT_EQ(result_.rejection.field, "phone");
  EXPECT_EQ(owners_.count(identifier_claim_key(IdentifierKind::card, "C-2")), 0u)
      << "stops at the first key that is not the member's";
  EXPECT_FALSE(settle(signup("m-3", "", "C-1")).has_value());
  EXPECT_EQ(result_.rejection.field, "card_no");

  // An unknown code is left for the engine to refuse, as single mode does.
  logged = settle(signup("m-4", "", "", "ZZZZZZZZ"));
  ASSERT_TRUE(logged.has_value());
  EXPECT_EQ(std::get<SignupEvent>(logged->body).referrer_member_id, "");
}

TEST_F(EventClaimsTest, AReferralCodeTakenGoesOnToTheNextCandidate) {
  owners_[identifier_claim_key(IdentifierKind::referral_code, referral_code_for("m-1", 0))] =
      "other";
  owners_[identifier_claim_key(IdentifierKind::referral_code, referral_code_for("m-1", 1))] =
      "another";
  std::optional<Event> logged = settle(signup("m-1", "", ""));
  ASSERT_TRUE(logged.has_value());
  EXPECT_EQ(std::get<SignupEvent>(logged->body).assigned_referral_code,
            referral_code_for("m-1", 2));
}

TEST_F(EventClaimsTest, ARefundFindsItsMemberThroughItsPurchasesClaim) {
  ASSERT_TRUE(settle(purchase("p-1", "m-1")).has_value());
  std::optional<Event> logged = settle(refund("r-1", "p-1"));
  ASSERT_TRUE(logged.has_value()) << result_.rejection.message;
  EXPECT_EQ(logged->member_id(), "m-1");
  EXPECT_EQ(owners_["e:r-1"], "m-1") << "and its own id is claimed for that member";

  EXPECT_FALSE(settle(refund("r-2", "p-unknown")).has_value());
  EXPECT_EQ(result_.rejection.code, ErrorCode::not_found);
  EXPECT_EQ(result_.rejection.field, "original_event_id");
  EXPECT_EQ(owners_.count("e:p-unknown"), 0u) << "asking whose it is takes nothing";
}

TEST_F(EventClaimsTest, APurchasePayingWithAnotherMembersHoldIsRefused) {
  owners_["h:hold-1"] = "m-1";
  Event paying = purchase("e-h1", "m-2");
  std::get<PurchaseEvent>(paying.body).hold_id = "hold-1";
  EXPECT_FALSE(settle(paying).has_value());
  EXPECT_EQ(result_.rejection.code, ErrorCode::not_found);
  EXPECT_EQ(result_.rejection.field, "hold_id");
  EXPECT_EQ(owners_.count("e:e-h1"), 0u) << "refused before its id is claimed";

  Event own = purchase("e-h2", "m-1");
  std::get<PurchaseEvent>(own.body).hold_id = "hold-1";
  EXPECT_TRUE(settle(own).has_value()) << "the member's own hold";
}

TEST_F(EventClaimsTest, ARedemptionClaimsItsCodeThenTakesAUnitForIt) {
  units_left_["mug"] = 1;
  const std::string code = coupon_code_from_bits(7);
  std::optional<Event> logged = settle(redeem("r-1", "m-1", "mug", code));
  ASSERT_TRUE(logged.has_value()) << result_.rejection.message;
  const auto& granted = std::get<RewardRedeemEvent>(logged->body);
  EXPECT_TRUE(granted.stock_granted);
  EXPECT_EQ(granted.code, code);
  EXPECT_EQ(asked_, (std::vector<std::string>{
                        "rr:r-1", identifier_claim_key(IdentifierKind::coupon_code, code),
                        "take mug " + code}))
      << "its client id, its code, then a unit for that code";
  EXPECT_EQ(owners_[identifier_claim_key(IdentifierKind::coupon_code, code)], "m-1");

  // None left: logged all the same, without a unit, for the member's partition to refuse.
  logged = settle(redeem("r-2", "m-2", "mug", coupon_code_from_bits(8)));
  ASSERT_TRUE(logged.has_value());
  EXPECT_FALSE(std::get<RewardRedeemEvent>(logged->body).stock_granted);

  // A reward without a stock takes no unit.
  asked_.clear();
  logged = settle(redeem("r-3", "m-1", "drink", coupon_code_from_bits(9)));
  ASSERT_TRUE(logged.has_value());
  EXPECT_EQ(asked_.size(), 2u) << "client id and code only";
}

TEST_F(EventClaimsTest, ACodeAnotherMemberHoldsIsDrawnAgain) {
  const std::string taken = coupon_code_from_bits(11);
  owners_[identifier_claim_key(IdentifierKind::coupon_code, taken)] = "other";
  std::optional<Event> logged = settle(redeem("r-1", "m-1", "drink", taken));
  ASSERT_TRUE(logged.has_value()) << result_.rejection.message;
  const std::string& drawn = std::get<RewardRedeemEvent>(logged->body).code;
  EXPECT_NE(drawn, taken);
  EXPECT_TRUE(parse_coupon_code(drawn).has_value());
  EXPECT_EQ(owners_[identifier_claim_key(IdentifierKind::coupon_code, drawn)], "m-1");
  EXPECT_EQ(owners_[identifier_claim_key(IdentifierKind::coupon_code, taken)], "other");
}

TEST_F(EventClaimsTest, ACouponUseAndCancellationFindTheirMemberThroughTheCode) {
  const std::string code = coupon_code_from_bits(12);
  owners_[identifier_claim_key(IdentifierKind::coupon_code, code)] = "m-1";
  CouponUseEvent use;
  use.use_id = "u-1";
  use.code = code;
  use.store_id = "s-1";
  std::optional<Event> logged = settle(Event{use});
  ASSERT_TRUE(logged.has_value()) << result_.rejection.message;
  EXPECT_EQ(logged->member_id(), "m-1");
  EXPECT_EQ(owners_["cu:u-1"], "m-1") << "its use id is the member's cluster-wide";

  CouponCancelEvent cancel;
  cancel.code = coupon_code_from_bits(13);  // nobody's
  EXPECT_FALSE(settle(Event{cancel}).has_value());
  EXPECT_EQ(result_.rejection.code, ErrorCode::not_found);
  EXPECT_EQ(result_.rejection.field, "code");
}

TEST_F(EventClaimsTest, AClaimThatDoesNotSettleAnswersWhyAndLogsNothing) {
  unavailable_ = true;
  EXPECT_FALSE(settle(purchase("e-9", "m-1")).has_value());
  EXPECT_EQ(result_.rejection.code, ErrorCode::unavailable);
}

}  // namespace
}  // namespace loyalty::cluster
