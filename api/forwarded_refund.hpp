// Cluster mode: a store-scoped POS key may refund only its stores' purchases, and only the owner
// of the purchase's member holds the purchase. A single POST /v1/events/refund goes to that
// owner whole (api/handlers_events.cpp); a refund inside a batch or on the WebSocket goes the
// same way as that request, made here, and its answer comes back as the item's reply.
// Thread-safety: free functions.
#pragma once

#include "api/http_message.hpp"
#include "api/reply.hpp"
#include "engine/events.hpp"

namespace loyalty::api {

// POST /v1/events/refund with the refund as its JSON body, as a till would send it.
HttpRequest refund_request(const RefundEvent& refund);

// A response of this API as the reply it was rendered from (a body, or a problem).
Reply reply_of(const HttpResponse& response);

}  // namespace loyalty::api
