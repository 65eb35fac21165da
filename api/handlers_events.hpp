// Pieces of the purchase and refund endpoints that the one submit path (event_intake.cpp) uses.
// Internal to api/.
// Thread-safety: as route().
#pragma once

#include <optional>
#include <string>

#include "api/auth.hpp"
#include "api/reply.hpp"
#include "api/router.hpp"

namespace loyalty::api {

// Just the ids of an event, kept for its answer while the event itself moves into the runtime.
PurchaseEvent purchase_ids(const PurchaseEvent& purchase);
RefundEvent refund_ids(const RefundEvent& refund);

// The replies to a finished purchase / refund (200 with the answer, or the problem).
// `member_id` is the refunded purchase's member when it was known beforehand ("" if not).
Reply purchase_reply(const PurchaseEvent& ids, const EventResult& result);
Reply refund_reply(const RefundEvent& ids, const std::string& member_id, const EventResult& result);

// Reads the purchase a refund names, for the member it belongs to (`member_id`, left empty
// when the purchase is not stored yet) and, for store-scoped pos keys, the store check: such a
// key may refund only purchases made at its stores. A problem when the refund may not go on.
std::optional<Problem> prepare_refund(const ApiContext& context, const Principal& principal,
                                      const RefundEvent& refund, std::string& member_id);

}  // namespace loyalty::api
