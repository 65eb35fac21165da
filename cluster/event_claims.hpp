// The claims an event needs before its partition's log takes it (docs/decisions.md "Claims"),
// asked one after another of the keys' home partitions: whose purchase a refund names (or whose
// hold a hold action or a purchase names, whose coupon a use or cancellation names), the client
// id the event takes, whose referral code a sign-up names, the sign-up's phone, card and
// referral code, and a reward redemption's coupon code and unit of stock. What they settle
// completes the event, so every applier of its partition decides it without reading other
// partitions; then `log` takes it. A key that is another member's answers the client at once with
// the refusal single mode gives, and the event is never logged. Thread-safety: each step runs on
// whichever thread answered the claim before it.
#pragma once

#include <cstdint>
#include <functional>

#include "cluster/log_codec.hpp"
#include "engine/events.hpp"
#include "engine/runtime/runtime.hpp"

namespace loyalty::cluster {

// Logs `ask` (a ClaimAsk or a StockAsk) in its home partition and calls `done` with
// EventResult::claim_owner or ::stock_granted (or a result that is not ok: nothing settled).
using AskClaim = std::function<void(LogPayload ask, Completion done)>;
using LogEvent =
    std::function<void(Event&& event, uint64_t request_fingerprint, Completion&& done)>;
// Whether the reward has a stock limit in this node's program: a redemption of it takes a unit
// of its stock (docs/decisions.md "Stock in cluster mode") before it is logged.
using Stocked = std::function<bool(const std::string& reward_id)>;

void settle_claims(Event&& event, uint64_t request_fingerprint, AskClaim ask, Stocked stocked,
                   LogEvent log, Completion&& done);

}  // namespace loyalty::cluster
