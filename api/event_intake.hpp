// The one way a client's purchase or refund reaches the runtime, whichever front end read it:
// POST /v1/events/purchase and /refund, POST /v1/events:batch, and the WebSocket's JSON and
// FlatBuffers frames. Authorisation (the key's role and store scope), the refund's member (from
// its stored purchase, or from a purchase the same connection or batch sent that is not stored
// yet) and the submission exist here once; each front end only turns bytes into the event and
// the reply into bytes. Thread-safety: call on the front end's own thread or strand; `done`
// runs once, on a runtime writer thread, or at once when the event is refused before it.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>

#include "api/auth.hpp"
#include "api/reply.hpp"
#include "api/router.hpp"

namespace loyalty::api {

using ClientEvent = std::variant<PurchaseEvent, RefundEvent>;

// Purchases one connection or batch submitted whose answers it has not had yet, by event id: a
// refund of one names its member, so the runtime queues it behind the purchase. The front end
// owns it; submit_client_event adds each purchase it submits, the front end removes what it
// knows is stored (or keeps it for the batch's life).
struct PurchaseInFlight {
  std::string member_id;
  std::string store_id;
};
using PurchasesInFlight = std::unordered_map<std::string, PurchaseInFlight>;

using ReplyDone = std::function<void(Reply&&)>;

// Whether the caller may send `event` (its role, its store scope), with a refund's member
// named on it when known; a problem when it may not go on. A purchase is added to `in_flight`
// (which may be null: a single request has no earlier purchases).
std::optional<Problem> admit_client_event(const ApiContext& context, const Principal& principal,
                                          ClientEvent& event, PurchasesInFlight* in_flight);

// Submits an admitted event; `done` gets its reply on a runtime writer thread.
void submit_admitted_event(const ApiContext& context, ClientEvent event, ReplyDone done);

// Both, for the front ends that answer every event through a callback (batch, WebSocket).
void submit_client_event(const ApiContext& context, const Principal& principal, ClientEvent event,
                         PurchasesInFlight* in_flight, ReplyDone done);

}  // namespace loyalty::api
