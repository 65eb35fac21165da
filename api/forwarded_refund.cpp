#include "api/forwarded_refund.hpp"

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "engine/time.hpp"

namespace loyalty::api {
namespace {

ErrorCode error_code_named(std::string_view name) {
  for (uint16_t code = 0; code <= static_cast<uint16_t>(ErrorCode::unavailable); ++code) {
    if (error_code_name(static_cast<ErrorCode>(code)) == name) {
      return static_cast<ErrorCode>(code);
    }
  }
  return ErrorCode::unavailable;
}

}  // namespace

HttpRequest refund_request(const RefundEvent& refund) {
  boost::json::object body{{"event_id", refund.event_id},
                           {"original_event_id", refund.original_event_id},
                           {"occurred_at", format_rfc3339(refund.occurred_at)}};
  if (refund.amount_minor) {
    body["amount_minor"] = *refund.amount_minor;
  } else {
    boost::json::array lines;
    for (const RefundLine& line : refund.lines) {
      lines.push_back(boost::json::object{{"sku", line.sku}, {"amount_minor", line.amount_minor}});
    }
    body["lines"] = std::move(lines);
  }
  HttpRequest request{http::verb::post, "/v1/events/refund", 11};
  request.set(http::field::content_type, "application/json");
  request.body() = boost::json::serialize(body);
  request.prepare_payload();
  return request;
}

Reply reply_of(const HttpResponse& response) {
  boost::system::error_code error;
  const boost::json::value parsed = boost::json::parse(response.body(), error);
  const boost::json::object* body = parsed.if_object();
  if (error || body == nullptr) {
    return Problem{http::status::service_unavailable, ErrorCode::unavailable,
                   "the partition's owner sent an answer this node cannot read", ""};
  }
  if (response.result_int() < 300) return Success{response.result(), *body};
  Problem problem{response.result(), ErrorCode::unavailable, "", ""};
  if (const boost::json::string* code =
          body->contains("code") ? body->at("code").if_string() : nullptr) {
    problem.code = error_code_named(*code);
  }
  if (const auto* detail = body->if_contains("detail"); detail && detail->is_string()) {
    problem.detail = std::string(detail->get_string());
  }
  if (const auto* errors = body->if_contains("errors"); errors && errors->is_array()) {
    const boost::json::array& list = errors->get_array();
    if (!list.empty() && list[0].is_object()) {
      if (const auto* field = list[0].get_object().if_contains("field");
          field && field->is_string()) {
        problem.field = std::string(field->get_string());
      }
    }
  }
  return problem;
}

}  // namespace loyalty::api
