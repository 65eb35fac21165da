// The answer to one request as a value: a JSON body with its status, or a problem. Single
// endpoints send it as a response; the batch endpoint embeds one per event in its results.
// Thread-safety: plain values and free functions.
#pragma once

#include <boost/json/object.hpp>
#include <variant>

#include "api/http_message.hpp"
#include "api/problem.hpp"

namespace loyalty::api {

struct Success {
  http::status status = http::status::ok;
  boost::json::object body;
};

using Reply = std::variant<Success, Problem>;

HttpResponse to_response(const Reply& reply);

// The reply as a batch result: {index, status, event_id, ...the body or the problem's fields}.
// `event_id` is null when the item had none that could be read.
boost::json::object batch_result_json(size_t index, const std::string* event_id,
                                      const Reply& reply);

}  // namespace loyalty::api
