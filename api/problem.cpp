// Problem details bodies and the ErrorCode → HTTP status mapping.
#include "api/problem.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace loyalty::api {
namespace {

std::string_view title_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::ok:
      return "OK";
    case ErrorCode::invalid_request:
      return "Invalid request";
    case ErrorCode::unauthorized:
      return "Unauthorized";
    case ErrorCode::forbidden:
      return "Forbidden";
    case ErrorCode::not_found:
      return "Not found";
    case ErrorCode::member_exists:
      return "Member exists";
    case ErrorCode::unknown_referral_code:
      return "Unknown referral code";
    case ErrorCode::insufficient_points:
      return "Insufficient points";
    case ErrorCode::idempotency_conflict:
      return "Idempotency conflict";
    case ErrorCode::hold_not_active:
      return "Hold not active";
    case ErrorCode::refund_exceeds_purchase:
      return "Refund exceeds purchase";
    case ErrorCode::currency_mismatch:
      return "Currency mismatch";
    case ErrorCode::payload_too_large:
      return "Payload too large";
    case ErrorCode::rate_limited:
      return "Rate limited";
    case ErrorCode::unavailable:
      return "Unavailable";
    case ErrorCode::out_of_stock:
      return "Out of stock";
    case ErrorCode::member_limit_reached:
      return "Member limit reached";
    case ErrorCode::tier_not_eligible:
      return "Tier not eligible";
    case ErrorCode::reward_not_available:
      return "Reward not available";
    case ErrorCode::coupon_not_active:
      return "Coupon not active";
    case ErrorCode::identifier_taken:
      return "Identifier taken";
    case ErrorCode::member_blocked:
      return "Member blocked";
  }
  return "Error";
}

}  // namespace

http::status http_status(ErrorCode code, InvalidKind kind) {
  switch (code) {
    case ErrorCode::ok:
      return http::status::ok;
    case ErrorCode::invalid_request:
      return kind == InvalidKind::semantic ? http::status::unprocessable_entity
                                           : http::status::bad_request;
    case ErrorCode::unauthorized:
      return http::status::unauthorized;
    case ErrorCode::forbidden:
      return http::status::forbidden;
    case ErrorCode::not_found:
      return http::status::not_found;
    case ErrorCode::member_exists:
      return http::status::conflict;
    case ErrorCode::unknown_referral_code:
      return http::status::unprocessable_entity;
    case ErrorCode::insufficient_points:
      return http::status::unprocessable_entity;
    case ErrorCode::idempotency_conflict:
      return http::status::conflict;
    case ErrorCode::hold_not_active:
      return http::status::conflict;
    case ErrorCode::refund_exceeds_purchase:
      return http::status::unprocessable_entity;
    case ErrorCode::currency_mismatch:
      return http::status::unprocessable_entity;
    case ErrorCode::payload_too_large:
      return http::status::payload_too_large;
    case ErrorCode::rate_limited:
      return http::status::too_many_requests;
    case ErrorCode::unavailable:
      return http::status::service_unavailable;
    // What stops a redemption, like insufficient_points: the request is fine, the rules say no.
    case ErrorCode::out_of_stock:
    case ErrorCode::member_limit_reached:
    case ErrorCode::tier_not_eligible:
    case ErrorCode::reward_not_available:
      return http::status::unprocessable_entity;
    case ErrorCode::coupon_not_active:
      return http::status::conflict;  // api.md: a used, expired or cancelled coupon
    case ErrorCode::identifier_taken:
      return http::status::conflict;
    case ErrorCode::member_blocked:
      return http::status::forbidden;
  }
  return http::status::internal_server_error;
}

Problem make_problem(ErrorCode code, std::string detail, std::string field, InvalidKind kind) {
  return Problem{http_status(code, kind), code, std::move(detail), std::move(field)};
}

Problem make_problem(const Rejection& rejection, InvalidKind kind) {
  return make_problem(rejection.code, rejection.message, rejection.field, kind);
}

boost::json::object problem_json(const Problem& problem) {
  const std::string_view name = error_code_name(problem.code);
  boost::json::object body;
  body["type"] = "https://loyalty-engine.dev/problems/" + std::string(name);
  body["title"] = title_of(problem.code);
  body["status"] = static_cast<unsigned>(problem.status);
  body["code"] = name;
  body["detail"] = problem.detail;
  boost::json::array errors;
  if (!problem.field.empty()) {
    errors.push_back(boost::json::object{{"field", problem.field}, {"message", problem.detail}});
  }
  body["errors"] = std::move(errors);
  return body;
}

HttpResponse problem_response(const Problem& problem) {
  HttpResponse response{problem.status, 11};
  response.set(http::field::content_type, "application/problem+json");
  if (problem.code == ErrorCode::unauthorized) {
    response.set(http::field::www_authenticate, "Bearer");
  }
  if (problem.code == ErrorCode::unavailable || problem.code == ErrorCode::rate_limited) {
    response.set(http::field::retry_after, "1");
  }
  response.body() = boost::json::serialize(problem_json(problem));
  return response;
}

HttpResponse problem_response_with_status(http::status status, ErrorCode code,
                                          std::string_view detail, std::string_view field) {
  return problem_response(Problem{status, code, std::string(detail), std::string(field)});
}

HttpResponse problem_response(ErrorCode code, std::string_view detail, std::string_view field,
                              InvalidKind kind) {
  return problem_response_with_status(http_status(code, kind), code, detail, field);
}

HttpResponse problem_response(const Rejection& rejection, InvalidKind kind) {
  return problem_response(rejection.code, rejection.message, rejection.field, kind);
}

}  // namespace loyalty::api
