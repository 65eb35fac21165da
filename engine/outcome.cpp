// Names of the business outcome codes, as they appear on the wire.
#include "engine/outcome.hpp"

namespace loyalty {

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::ok:
      return "ok";
    case ErrorCode::invalid_request:
      return "invalid_request";
    case ErrorCode::unauthorized:
      return "unauthorized";
    case ErrorCode::forbidden:
      return "forbidden";
    case ErrorCode::not_found:
      return "not_found";
    case ErrorCode::member_exists:
      return "member_exists";
    case ErrorCode::unknown_referral_code:
      return "unknown_referral_code";
    case ErrorCode::insufficient_points:
      return "insufficient_points";
    case ErrorCode::idempotency_conflict:
      return "idempotency_conflict";
    case ErrorCode::hold_not_active:
      return "hold_not_active";
    case ErrorCode::refund_exceeds_purchase:
      return "refund_exceeds_purchase";
    case ErrorCode::currency_mismatch:
      return "currency_mismatch";
    case ErrorCode::payload_too_large:
      return "payload_too_large";
    case ErrorCode::rate_limited:
      return "rate_limited";
    case ErrorCode::unavailable:
      return "unavailable";
    case ErrorCode::out_of_stock:
      return "out_of_stock";
    case ErrorCode::member_limit_reached:
      return "member_limit_reached";
    case ErrorCode::tier_not_eligible:
      return "tier_not_eligible";
    case ErrorCode::reward_not_available:
      return "reward_not_available";
    case ErrorCode::coupon_not_active:
      return "coupon_not_active";
    case ErrorCode::identifier_taken:
      return "identifier_taken";
    case ErrorCode::member_blocked:
      return "member_blocked";
  }
  return "unknown";
}

}  // namespace loyalty
