// What submit() does to an accepted event before it is queued: stamp the server's time where
// the client sent none, and find the member of events that name something else instead (a
// refund its purchase, a hold action its hold). Runs on the submitting thread.
#pragma once

#include "engine/events.hpp"
#include "engine/outcome.hpp"
#include "engine/status.hpp"
#include "engine/store.hpp"

namespace loyalty {

// Sets `at` of redemptions, holds, hold actions, adjustments, reward redemptions and coupon uses
// and cancellations to `now` when it is 0. Call
// after fingerprint(): the fingerprint leaves `at` out, so a retry is the same request.
void stamp_server_time(Event& event, TimeMs now);

// Gives a reward redemption without a coupon code one (55 bits from the kernel's CSPRNG,
// getrandom, so codes cannot be guessed from others), and a member change its update_id. They
// go into the logged event, so a replay issues the same ones.
void draw_server_ids(Event& event);

// Sets the member_id of a refund (from its original purchase), a hold action (from its
// hold) or a coupon use or cancellation (from its coupon). An unknown purchase or hold is refused
// with not_found, unless the event already names a member: then the partition writer checks it
// against what an earlier event of its batch may have written (a purchase and its refund submitted
// back to back). `status` is not ok when the store could not be read; the rejection is then
// meaningless.
Rejection resolve_member(MemberStore& store, Event& event, Status& status);

// The same, given the member the purchase or hold belongs to ("" when none is known): cluster
// mode learns it from the key's claim (engine/claim_keys.hpp owner_lookup_key).
Rejection resolve_member_as(Event& event, const std::string& owner);

}  // namespace loyalty
