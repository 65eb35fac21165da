// Cluster mode's claims (docs/decisions.md "Claims"): what must belong to one member
// cluster-wide (a client id, a phone, a card, a referral code) is granted in the log of the
// key's home partition before an event that takes it is logged, so that every applier of the
// event's own partition decides it without reading other partitions' state.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "engine/events.hpp"
#include "engine/store.hpp"

namespace loyalty {

// A claim of `key` for `member_id` in the key's home partition (ClaimWrite), granted when the
// key is free or already the member's. With `member_id` empty it only asks whose the key is.
// With `release`, gives the key up when it is `member_id`'s (an erased member's phone and card,
// docs/decisions.md "Erasure in cluster mode") and, when `grant` is not 0, still by that grant
// (a changed phone or card, docs/decisions.md "Changed identifiers in cluster mode"); the
// answer names whose it is after.
struct ClaimAsk {
  std::string key;
  std::string member_id;
  bool release = false;
  // A release: the grant it gives up (0: whichever, an erasure's).
  uint64_t grant = 0;
  // A grant: the request asking (the event's client id), when grants of the key are counted (a
  // phone's, a card's): a copy of the same request is answered with the grant it got, not
  // counted again. Empty: a grant to the member it already is changes nothing.
  std::string request{};
};

// "i:" + the kind's digit + ":" + value: an identifier's key (also the runtime's in-flight claim).
std::string identifier_claim_key(IdentifierKind kind, std::string_view value);

// The client id an event takes for its member cluster-wide: its idempotency key when a client
// names it (purchases, refunds, redemptions, holds, adjustments, reward redemptions, coupon
// uses). nullopt for sign-ups (a member id lives in its own partition), hold captures and voids
// (the hold's id was claimed by the hold, and a hold of another member is not found), coupon
// cancellations (the code is the member's), and what the engine and jobs make.
std::optional<std::string> client_id_claim_key(const Event& event);

// The key a hold's id was claimed under (its hold event's idempotency key): whose it is names
// the hold's member.
std::string hold_claim_key(std::string_view hold_id);

// The key whose owner is the member a refund (its purchase's client id), a hold capture or
// void (its hold's) or a coupon use or cancellation (its code's) belongs to; nullopt for other
// events.
std::optional<std::string> owner_lookup_key(const Event& event);

// The key whose owner is the member of the hold a purchase pays with; nullopt without one.
std::optional<std::string> purchase_hold_key(const Event& event);

// Cluster mode's stock (docs/decisions.md "Stock in cluster mode"): a reward's units are
// counted in the home partition of stock_key(reward_id), one per coupon code. A unit is taken
// there for the code a redemption will issue before the redemption is logged, and given back
// (through an outbox, exactly once) when the redemption did not issue that coupon or the coupon
// is cancelled. `count` changes nothing and answers the units left.
// (StockUnit, a unit by its coupon code, is in engine/store.hpp.)
enum class StockMove : uint8_t { take = 1, give_back = 2, count = 3 };
struct StockAsk {
  StockMove move = StockMove::take;
  StockUnit unit;  // `count` names only the reward
};

// "s:" + reward id: the key whose home partition counts the reward's units.
std::string stock_key(std::string_view reward_id);

}  // namespace loyalty
