// Strict parsing of request bodies (Boost.JSON) into engine events: unknown fields, wrong JSON
// types, non-integers where integers belong and malformed ids are refused, each error naming
// the field ("lines[2].amount_minor"). The engine's validate_input checks the meaning again.
// Thread-safety: free functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

#include "api/problem.hpp"
#include "engine/events.hpp"

namespace loyalty::api {

inline constexpr unsigned kJsonDepthMax = 32;  // nesting limit of any request body

struct ParseError {
  std::string field;  // "" when about the body as a whole
  std::string message;
  InvalidKind kind = InvalidKind::malformed;  // semantic: well-formed but out of range

  HttpResponse to_response() const {
    return problem_response(ErrorCode::invalid_request, message, field, kind);
  }
};

template <class T>
using Parsed = std::variant<T, ParseError>;

// POST /v1/members: {member_id, referral_code?, joined_at?, phone?, card_no?, profile?}.
// Optional fields may be null, meaning absent. `profile` must be an object; it is kept as its
// serialized JSON.
Parsed<SignupEvent> parse_signup_request(std::string_view body);

// POST /v1/events/purchase: {event_id, member_id, store_id, occurred_at, currency,
// lines: [{sku, category, quantity, amount_minor}], redeem_points?, hold_id?}.
Parsed<PurchaseEvent> parse_purchase_request(std::string_view body);

// 1 to 128 printable ASCII characters, no spaces (api.md ids).
bool is_valid_id(std::string_view id);

}  // namespace loyalty::api
