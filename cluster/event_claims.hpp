// The claims an event needs before its partition's log takes it (docs/decisions.md "Claims"),
// asked one after another of the keys' home partitions: whose purchase a refund names (or whose
// hold a hold action or a purchase names), the client id the event takes, whose referral code a
// sign-up names, and the sign-up's phone, card and referral code. What they settle completes the
// event, so every applier of its partition decides it without reading other partitions; then
// `log` takes it. A key that is another member's answers the client at once with the refusal
// single mode gives, and the event is never logged.
// Thread-safety: each step runs on whichever thread answered the claim before it.
#pragma once

#include <cstdint>
#include <functional>

#include "engine/events.hpp"
#include "engine/runtime/runtime.hpp"

namespace loyalty::cluster {

// Logs `ask` in its key's home partition and calls `done` with EventResult::claim_owner (or a
// result that is not ok: the claim was not settled).
using AskClaim = std::function<void(ClaimAsk ask, Completion done)>;
using LogEvent =
    std::function<void(Event&& event, uint64_t request_fingerprint, Completion&& done)>;

void settle_claims(Event&& event, uint64_t request_fingerprint, AskClaim ask, LogEvent log,
                   Completion&& done);

}  // namespace loyalty::cluster
