// Business outcomes: why an event was refused. Stable numbers (they are stored and sent);
// mapped to HTTP statuses in exactly one place, in api/.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace loyalty {

enum class ErrorCode : uint16_t {
  ok = 0,
  invalid_request = 1,
  unauthorized = 2,
  forbidden = 3,
  not_found = 4,
  member_exists = 5,
  unknown_referral_code = 6,
  insufficient_points = 7,
  idempotency_conflict = 8,
  hold_not_active = 9,
  refund_exceeds_purchase = 10,
  currency_mismatch = 11,
  payload_too_large = 12,
  rate_limited = 13,
  unavailable = 14,
  out_of_stock = 15,
  member_limit_reached = 16,
  tier_not_eligible = 17,
  reward_not_available = 18,
  coupon_not_active = 19,
  identifier_taken = 20,  // a member's new phone or card is another member's
  member_blocked = 21,    // the member is blocked: it earns nothing and redeems nothing
};

std::string_view error_code_name(ErrorCode code);

// A refusal: the code, the request field it is about (empty when none) and a sentence
// for the integrator.
struct [[nodiscard]] Rejection {
  ErrorCode code = ErrorCode::ok;
  std::string field;
  std::string message;

  bool ok() const { return code == ErrorCode::ok; }
  static Rejection none() { return {}; }
};

}  // namespace loyalty
