// Stage 2 of an event, between validate_input (no state) and apply_event (effects): what the
// event needs from stored state, read through a view, and the refusals that state decides: a
// client id used before (answered again, or a conflict), a phone, card or referral code that
// is another member's, a purchase or hold that is missing or not the member's.
//
// Prepare decides; the view only reads. The runtime's view reads its batch overlay, then the
// store, and claims ids against the other partitions' requests in flight; the test scenario's
// view reads maps. Both run this code, so what tests check is what the server does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/apply.hpp"
#include "engine/events.hpp"
#include "engine/member_state.hpp"
#include "engine/purchase_record.hpp"
#include "engine/status.hpp"
#include "engine/store.hpp"

namespace loyalty {

// What prepare reads. Every read may fail (storage): a Status that is not a refusal.
class PrepareView {
 public:
  // An earlier use of a client id.
  struct PreviousUse {
    const IdempotencyRecord* record = nullptr;  // settled: valid until the next call
    bool in_flight = false;  // a request of another member with this id is not settled yet
  };

  virtual ~PrepareView() = default;
  virtual Status previous_use(const std::string& key, const std::string& member_id,
                              PreviousUse& out) = 0;
  // Whether `value` may become `member_id`'s: held by nobody else, stored or in flight.
  virtual Status identifier_free(IdentifierKind kind, const std::string& value,
                                 const std::string& member_id, bool& free) = 0;
  // The member that holds `value` ("" when none).
  virtual Status identifier_owner(IdentifierKind kind, const std::string& value,
                                  std::string& member_id) = 0;
  // nullptr when there is none. Valid until the batch writes that purchase (hold) again.
  virtual Status purchase(const std::string& event_id, const PurchaseRecord*& out) = 0;
  virtual Status hold(const std::string& hold_id, const StoredHold*& out) = 0;
  virtual Status coupon(const std::string& code, const StoredCoupon*& out) = 0;
  // Reserves one unit of `reward`'s stock for the redemption with client key `key` when the
  // program may still issue one (`granted`). The runtime gives the unit back if the redemption
  // is then refused, and counts it as out once the redemption is committed.
  virtual Status take_stock(const Reward& reward, const std::string& key, bool& granted) = 0;
};

struct Prepared {
  ApplyContext context;
  Rejection rejection;    // refused by what is stored: apply nothing
  bool replayed = false;  // the same id and payload were settled before: answer them again
  Answer answer;          // the earlier answer (replayed); sign-ups answer with the member
  std::vector<IdentifierClaim> identifiers;  // what a sign-up takes: phone, card, code

  bool decided() const { return replayed || !rejection.ok(); }
};

// The refusals prepare gives for what another member holds, also given by cluster mode when
// the key's claim (engine/claim_keys.hpp) is another member's: a client id used by another
// member, a phone or card of another member, no free referral code after this many tries.
Rejection client_id_taken(EventType kind);
Rejection identifier_taken(IdentifierKind kind);
inline constexpr uint32_t kReferralCodeAttemptsMax = 16;
Rejection no_referral_code_free();
// A purchase or hold action naming a hold that is missing or another member's.
Rejection hold_not_found();
// A coupon use or cancellation naming a code no coupon has.
Rejection coupon_not_found();
// A redemption whose drawn coupon code is another coupon's (2^55 codes: about never).
Rejection coupon_code_taken();

// `member` is the member's current state (nullopt: unknown); `fingerprint` is the request's
// as the client sent it. A sign-up is completed with what was resolved (its referrer, its
// referral code), which the event log then keeps, so that a replay resolves nothing again.
Status prepare_event(PrepareView& view, const ProgramVersion& program,
                     const std::optional<MemberState>& member, Event& event, uint64_t fingerprint,
                     Prepared& out);

}  // namespace loyalty
