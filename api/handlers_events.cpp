// Event endpoints: POST /v1/events/purchase, parsed here and applied by the runtime; plus the
// translation of the runtime's refusals into problems, shared by all asynchronous handlers.
#include <boost/json/object.hpp>

#include "api/handlers.hpp"
#include "api/log.hpp"
#include "api/problem.hpp"
#include "api/request_parsing.hpp"
#include "api/responses.hpp"

namespace loyalty::api {
namespace {

HttpResponse purchase_answer(const PurchaseEvent& purchase, const EventResult& result) {
  if (!result.rejection.ok()) return runtime_problem(result.rejection);
  const PurchaseAnswer* answer = std::get_if<PurchaseAnswer>(&result.answer);
  if (answer == nullptr) {
    log_line("purchase " + purchase.event_id + ": the runtime returned no answer");
    return problem_response(ErrorCode::unavailable, "the server could not answer; retry shortly");
  }
  return json_response(http::status::ok,
                       purchase_response_json(purchase, *answer, result.replayed));
}

}  // namespace

HttpResponse runtime_problem(const Rejection& rejection) {
  if (rejection.code == ErrorCode::unavailable && rejection.message.starts_with("storage")) {
    log_line("runtime: " + rejection.message);
    return problem_response(ErrorCode::unavailable, "storage is unavailable; retry shortly");
  }
  return problem_response(rejection, InvalidKind::semantic);
}

HttpResponse storage_problem(const Status& status, std::string_view what) {
  log_line("storage error in " + std::string(what) + ": " + status.message());
  return problem_response(ErrorCode::unavailable, "storage is unavailable; retry shortly");
}

RouteResult handle_purchase(const ApiContext& context, const HttpRequest& request,
                            const Principal& principal) {
  Parsed<PurchaseEvent> parsed = parse_purchase_request(request.body());
  if (const ParseError* error = std::get_if<ParseError>(&parsed)) return error->to_response();
  PurchaseEvent& purchase = std::get<PurchaseEvent>(parsed);
  if (Rejection r = authorize_store(principal, purchase.store_id); !r.ok()) {
    return problem_response(r);
  }
  // The answer only needs the ids; the event itself moves into the runtime.
  PurchaseEvent ids;
  ids.event_id = purchase.event_id;
  ids.member_id = purchase.member_id;
  Event event{std::move(purchase)};
  return Deferred{
      [context, event = std::move(event), ids = std::move(ids)](Respond respond) mutable {
        context.runtime->submit(
            std::move(event), [ids = std::move(ids), respond = std::move(respond)](
                                  EventResult&& result) { respond(purchase_answer(ids, result)); });
      }};
}

}  // namespace loyalty::api
