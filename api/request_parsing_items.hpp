// The object readers that the single endpoints and the batch envelope share. Internal to api/.
// They throw json_fields::Refusal; wrap calls in json_fields::guarded().
#pragma once

#include <boost/json/object.hpp>
#include <string_view>

#include "engine/events.hpp"

namespace loyalty::api {

// `also_known`: one more key accepted and ignored ("type" in a batch item), empty when none.
PurchaseEvent read_purchase_object(const boost::json::object& object, std::string_view also_known);
RefundEvent read_refund_object(const boost::json::object& object, std::string_view also_known);

}  // namespace loyalty::api
