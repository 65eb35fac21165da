// RFC 9457 problem details (`application/problem+json`) and THE mapping from the engine's
// ErrorCode to an HTTP status: every error response of the API is built here.
// Thread-safety: free functions.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/http_message.hpp"
#include "engine/outcome.hpp"

namespace loyalty::api {

// invalid_request has two statuses: 400 when the request is not well-formed (bad JSON, a
// wrong type, a missing or unknown field, a malformed id) and 422 when it is well-formed but
// refused on its meaning (an event from the future, an amount out of range).
enum class InvalidKind : uint8_t { malformed = 0, semantic = 1 };

http::status http_status(ErrorCode code, InvalidKind kind = InvalidKind::malformed);

// A problem as a value: sent on its own as a response, or embedded in a batch result.
struct Problem {
  http::status status = http::status::bad_request;
  ErrorCode code = ErrorCode::invalid_request;
  std::string detail;  // a sentence for integrators, never internals
  std::string field;   // "" when about the request as a whole
};

Problem make_problem(ErrorCode code, std::string detail, std::string field = {},
                     InvalidKind kind = InvalidKind::malformed);
Problem make_problem(const Rejection& rejection, InvalidKind kind = InvalidKind::malformed);

// {type, title, status, code, detail, errors: [{field, message}]}.
boost::json::object problem_json(const Problem& problem);

// The response: problem_json() as application/problem+json, with WWW-Authenticate on 401 and
// Retry-After on 429 and 503.
HttpResponse problem_response(const Problem& problem);

// The problem response for a code: status from http_status(), `detail` as given, and one
// entry in `errors` when `field` is not empty. No internals go in here: callers pass
// sentences written for integrators, never exception texts or paths.
HttpResponse problem_response(ErrorCode code, std::string_view detail, std::string_view field = {},
                              InvalidKind kind = InvalidKind::malformed);
HttpResponse problem_response(const Rejection& rejection,
                              InvalidKind kind = InvalidKind::malformed);

// For the few transport-level answers with a status outside the mapping (405 method not
// allowed, 431 header fields too large); the code still comes from the stable list.
HttpResponse problem_response_with_status(http::status status, ErrorCode code,
                                          std::string_view detail, std::string_view field = {});

}  // namespace loyalty::api
