// The object readers that the single endpoints and the batch envelope share. Internal to api/.
// They throw json_fields::Refusal; wrap calls in json_fields::guarded().
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <string_view>

#include "api/request_parsing.hpp"
#include "engine/events.hpp"

namespace loyalty::api {

// `also_known`: one more key accepted and ignored ("type" in a batch item), empty when none.
PurchaseEvent read_purchase_object(const boost::json::object& object, std::string_view also_known);
RefundEvent read_refund_object(const boost::json::object& object, std::string_view also_known);

// A typed event ({"type": "purchase"|"refund", …}) as a batch item, never throwing: the batch
// endpoint's items and the stream's events. When `value` is no object, the refusal names
// `field` with `not_an_object`.
BatchItem read_typed_event(const boost::json::value& value, std::string_view field,
                           std::string_view not_an_object);

}  // namespace loyalty::api
