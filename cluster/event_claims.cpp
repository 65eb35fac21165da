#include "cluster/event_claims.hpp"

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "engine/claim_keys.hpp"
#include "engine/prepare.hpp"
#include "engine/referral_code.hpp"
#include "engine/runtime/intake.hpp"

namespace loyalty::cluster {
namespace {

enum class Step {
  member,
  hold,
  client_id,
  referrer,
  card_free,
  phone,
  card,
  referral_code,
  update_card_free,
  update_phone,
  update_card,
  coupon_code,
  stock,
  log
};

// A coupon code drawn anew when another member holds it (55 random bits: never, in practice).
constexpr uint32_t kCouponCodeAttemptsMax = 3;

struct Settling {
  Event event;
  uint64_t request_fingerprint = 0;
  AskClaim ask;
  Stocked stocked;
  LogEvent log;
  Completion done;
  Step step = Step::member;
  uint32_t code_attempt = 0;
  bool coupon_code_claimed = false;
};

void advance(std::shared_ptr<Settling> settling);

// Logs `payload` in its home partition and goes on with `settled` given the result (a
// refusal it returns answers the client); a result that is not ok answers the client with why.
template <typename Settled>
void ask_home(const std::shared_ptr<Settling>& settling, LogPayload payload, Settled settled) {
  settling->ask(std::move(payload), [settling, settled](EventResult&& result) mutable {
    if (!result.storage.ok() || !result.rejection.ok()) {
      settling->done(std::move(result));
      return;
    }
    if (std::optional<Rejection> refused = settled(result)) {
      EventResult answer;
      answer.rejection = std::move(*refused);
      settling->done(std::move(answer));
      return;
    }
    advance(std::move(settling));
  });
}

// Asks for `key` (for the event's member, or only whose it is) and goes on with `settled`
// given its owner. With `grant`, the key's grants are counted (a phone's, a card's: a change
// gives up the grant the member holds it by, docs/decisions.md "Changed identifiers in cluster
// mode") and the one the member got is written there: it travels in the event.
template <typename Settled>
void ask(const std::shared_ptr<Settling>& settling, std::string key, bool for_member,
         Settled settled, uint64_t* grant = nullptr) {
  ClaimAsk claim{std::move(key), for_member ? settling->event.member_id() : std::string()};
  if (grant != nullptr) claim.request = settling->event.idempotency_key();
  ask_home(settling, std::move(claim), [settled, grant](const EventResult& result) mutable {
    if (grant != nullptr) *grant = result.claim_grant;
    return settled(result.claim_owner);
  });
}

// Asks for one of the sign-up's identifiers, refused when another member holds it.
bool ask_identifier(const std::shared_ptr<Settling>& settling, IdentifierKind kind,
                    const std::string& value, uint64_t& grant) {
  if (value.empty()) return false;
  ask(
      settling, identifier_claim_key(kind, value), true,
      [settling, kind](const std::string& owner) -> std::optional<Rejection> {
        if (owner == settling->event.member_id()) return std::nullopt;
        return identifier_taken(kind);
      },
      &grant);
  return true;
}

// Runs the next step that applies; each asks one claim and comes back here when it settled.
void advance(std::shared_ptr<Settling> settling) {
  Event& event = settling->event;
  auto* signup = std::get_if<SignupEvent>(&event.body);
  auto* redeem = std::get_if<RewardRedeemEvent>(&event.body);
  auto* update = std::get_if<MemberUpdateEvent>(&event.body);
  // A change's new phone or card, claimed for the member; another's is `identifier_taken`.
  const auto claim_for_update = [&settling](IdentifierKind kind, const std::string& value,
                                            const char* field, uint64_t& grant) {
    ask(
        settling, identifier_claim_key(kind, value), true,
        [settling, field](const std::string& owner) -> std::optional<Rejection> {
          if (owner == settling->event.member_id()) return std::nullopt;
          return Rejection{ErrorCode::identifier_taken, field,
                           std::string("another member has this ") + field};
        },
        &grant);
  };
  while (true) {
    const Step step = settling->step;
    if (step == Step::log) {
      settling->log(std::move(event), settling->request_fingerprint, std::move(settling->done));
      return;
    }
    settling->step = static_cast<Step>(static_cast<int>(step) + 1);
    switch (step) {
      case Step::member:
        if (std::optional<std::string> key = owner_lookup_key(event)) {
          ask(settling, std::move(*key), false,
              [settling](const std::string& owner) -> std::optional<Rejection> {
                Rejection refused = resolve_member_as(settling->event, owner);
                if (refused.ok()) return std::nullopt;
                return refused;
              });
          return;
        }
        break;
      case Step::hold:
        // A hold of a member of another partition is not found by the purchase's appliers
        // (they read only their own partition): refused here as single mode refuses it there.
        if (std::optional<std::string> key = purchase_hold_key(event)) {
          ask(settling, std::move(*key), false,
              [settling](const std::string& owner) -> std::optional<Rejection> {
                if (owner.empty() || owner == settling->event.member_id()) return std::nullopt;
                return hold_not_found();
              });
          return;
        }
        break;
      case Step::client_id:
        if (std::optional<std::string> key = client_id_claim_key(event)) {
          ask(settling, std::move(*key), true,
              [settling](const std::string& owner) -> std::optional<Rejection> {
                if (owner == settling->event.member_id()) return std::nullopt;
                return client_id_taken(settling->event.type());
              });
          return;
        }
        break;
      case Step::referrer:
        if (signup != nullptr && !signup->referral_code.empty() &&
            signup->referrer_member_id.empty()) {
          const std::string code = normalise_referral_code(signup->referral_code);
          if (code.empty()) break;  // the engine refuses it as unknown, as in single mode
          ask(settling, identifier_claim_key(IdentifierKind::referral_code, code), false,
              [signup](const std::string& owner) -> std::optional<Rejection> {
                signup->referrer_member_id = owner;  // none: the engine refuses the code
                return std::nullopt;
              });
          return;
        }
        break;
      case Step::card_free:
        // A refused sign-up gives no claim back (docs/decisions.md "Claims"): a card that is
        // another member's is found before the phone is claimed, so such a refused sign-up leaves
        // its phone free for the next one. (Only a sign-up racing for the same card between this
        // look and the claim below still leaves its phone to a member that does not exist.)
        if (signup != nullptr && !signup->phone.empty() && !signup->card_no.empty()) {
          ask(settling, identifier_claim_key(IdentifierKind::card, signup->card_no), false,
              [settling](const std::string& owner) -> std::optional<Rejection> {
                if (owner.empty() || owner == settling->event.member_id()) return std::nullopt;
                return identifier_taken(IdentifierKind::card);
              });
          return;
        }
        break;
      case Step::phone:
        if (signup != nullptr &&
            ask_identifier(settling, IdentifierKind::phone, signup->phone, signup->phone_grant)) {
          return;
        }
        break;
      case Step::card:
        if (signup != nullptr &&
            ask_identifier(settling, IdentifierKind::card, signup->card_no, signup->card_grant)) {
          return;
        }
        break;
      case Step::referral_code:
        if (signup != nullptr && signup->assigned_referral_code.empty()) {
          // The engine's candidates, in its order, until one is this member's.
          if (settling->code_attempt == kReferralCodeAttemptsMax) {
            EventResult refused;
            refused.rejection = no_referral_code_free();
            settling->done(std::move(refused));
            return;
          }
          std::string code = referral_code_for(event.member_id(), settling->code_attempt++);
          settling->step = Step::referral_code;  // again, until one is granted
          ask(settling, identifier_claim_key(IdentifierKind::referral_code, code), true,
              [signup, code](const std::string& owner) -> std::optional<Rejection> {
                if (owner == signup->member_id) signup->assigned_referral_code = code;
                return std::nullopt;
              });
          return;
        }
        break;
      case Step::update_card_free:
        // As a sign-up's: a change refused for its card must not have counted a grant of its
        // phone (the member would then hold the phone by a grant its record never learns, and a
        // later change away from it would leave it reserved).
        if (update != nullptr && update->phone && !update->phone->empty() && update->card_no &&
            !update->card_no->empty()) {
          ask(settling, identifier_claim_key(IdentifierKind::card, *update->card_no), false,
              [settling](const std::string& owner) -> std::optional<Rejection> {
                if (owner.empty() || owner == settling->event.member_id()) return std::nullopt;
                return Rejection{ErrorCode::identifier_taken, "card_no",
                                 "another member has this card_no"};
              });
          return;
        }
        break;
      case Step::update_phone:
        if (update != nullptr && update->phone && !update->phone->empty()) {
          claim_for_update(IdentifierKind::phone, *update->phone, "phone", update->phone_grant);
          return;
        }
        break;
      case Step::update_card:
        if (update != nullptr && update->card_no && !update->card_no->empty()) {
          claim_for_update(IdentifierKind::card, *update->card_no, "card_no", update->card_grant);
          return;
        }
        break;
      case Step::coupon_code:
        if (redeem != nullptr && !settling->coupon_code_claimed) {
          if (settling->code_attempt == kCouponCodeAttemptsMax) {
            EventResult refused;
            refused.rejection = coupon_code_taken();
            settling->done(std::move(refused));
            return;
          }
          ++settling->code_attempt;
          settling->step = Step::coupon_code;  // again, until one is the member's
          ask(settling, identifier_claim_key(IdentifierKind::coupon_code, redeem->code), true,
              [settling, redeem](const std::string& owner) -> std::optional<Rejection> {
                if (owner == redeem->member_id) {
                  settling->coupon_code_claimed = true;
                } else {
                  redeem->code.clear();
                  draw_server_ids(settling->event);
                }
                return std::nullopt;
              });
          return;
        }
        break;
      case Step::stock:
        // The unit is the code's: a retry of the request draws another code and takes another
        // unit, which its member's partition gives back when it answers with the first coupon.
        if (redeem != nullptr && settling->stocked(redeem->reward_id)) {
          ask_home(settling, StockAsk{StockMove::take, StockUnit{redeem->reward_id, redeem->code}},
                   [redeem](const EventResult& result) -> std::optional<Rejection> {
                     // None left: logged all the same, so that the member's partition answers
                     // with every reason in single mode's order (out_of_stock when it is the
                     // only one).
                     redeem->stock_granted = result.stock_granted;
                     return std::nullopt;
                   });
          return;
        }
        break;
      case Step::log:
        break;
    }
  }
}

}  // namespace

void settle_claims(Event&& event, uint64_t request_fingerprint, AskClaim ask, Stocked stocked,
                   LogEvent log, Completion&& done) {
  auto settling = std::make_shared<Settling>();
  settling->event = std::move(event);
  settling->request_fingerprint = request_fingerprint;
  settling->ask = std::move(ask);
  settling->stocked = std::move(stocked);
  settling->log = std::move(log);
  settling->done = std::move(done);
  advance(std::move(settling));
}

}  // namespace loyalty::cluster
