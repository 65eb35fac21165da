// Event endpoints: POST /v1/events/purchase and /v1/events/refund, parsed here and applied by
// the runtime; plus the translation of the runtime's refusals into problems, shared by all
// asynchronous handlers.
#include "api/handlers_events.hpp"

#include <boost/json/object.hpp>

#include "api/cluster_reads.hpp"
#include "api/event_intake.hpp"
#include "api/handlers.hpp"
#include "api/log.hpp"
#include "api/request_parsing.hpp"
#include "api/responses.hpp"
#include "engine/claim_keys.hpp"

namespace loyalty::api {

Problem runtime_problem(const Rejection& rejection) {
  return make_problem(rejection, InvalidKind::semantic);
}

Problem result_problem(const EventResult& result) {
  if (!result.storage.ok()) {
    log_line("runtime: storage is unavailable: " + result.storage.message());
    return make_problem(ErrorCode::unavailable, "storage is unavailable; retry shortly");
  }
  return runtime_problem(result.rejection);
}

Problem storage_problem(const Status& status, std::string_view what) {
  log_line("storage error in " + std::string(what) + ": " + status.message());
  return make_problem(ErrorCode::unavailable, "storage is unavailable; retry shortly");
}

Problem missing_answer(std::string_view what) {
  log_line(std::string(what) + ": the runtime returned no answer of the expected kind");
  return make_problem(ErrorCode::unavailable, "the server could not answer; retry shortly");
}

Reply purchase_reply(const PurchaseEvent& ids, const EventResult& result) {
  return reply_from<PurchaseAnswer>(
      result, "purchase " + ids.event_id, [&](const PurchaseAnswer& answer) -> Reply {
        return Success{http::status::ok, purchase_response_json(ids, answer, result.replayed)};
      });
}

Reply refund_reply(const RefundEvent& ids, const std::string& member_id,
                   const EventResult& result) {
  return reply_from<
      RefundAnswer>(result, "refund " + ids.event_id, [&](const RefundAnswer& answer) -> Reply {
    // The member the runtime found for it, else the one the request named.
    const std::string& member = !result.member_id.empty() ? result.member_id : member_id;
    return Success{http::status::ok, refund_response_json(ids, member, answer, result.replayed)};
  });
}

PurchaseEvent purchase_ids(const PurchaseEvent& purchase) {
  PurchaseEvent ids;
  ids.event_id = purchase.event_id;
  ids.member_id = purchase.member_id;
  return ids;
}

RefundEvent refund_ids(const RefundEvent& refund) {
  RefundEvent ids;
  ids.event_id = refund.event_id;
  ids.original_event_id = refund.original_event_id;
  return ids;
}

std::optional<Problem> prepare_refund(const ApiContext& context, const Principal& principal,
                                      const RefundEvent& refund, std::string& member_id) {
  std::optional<PurchaseRecord> original;
  if (Status status = context.store->load_purchase(refund.original_event_id, original);
      !status.ok()) {
    return storage_problem(status, "load_purchase");
  }
  if (original) member_id = original->member_id;
  if (principal.role != Role::pos || principal.all_stores) return std::nullopt;
  if (!original) {
    return make_problem(ErrorCode::not_found, "no purchase with this event id",
                        "original_event_id");
  }
  if (!authorize_store(principal, original->store_id).ok()) {
    return make_problem(ErrorCode::forbidden,
                        "this key may not refund purchases made at that store",
                        "original_event_id");
  }
  return std::nullopt;
}

namespace {

// A single event over HTTP, through the one path every front end takes: admitted at once (a
// refusal is answered without a round trip to a writer), then submitted.
RouteResult submit_request(const ApiContext& context, const Principal& principal,
                           ClientEvent event) {
  if (std::optional<Problem> problem = admit_client_event(context, principal, event, nullptr)) {
    return problem_response(*problem);
  }
  return Deferred{[context, event = std::move(event)](Respond respond) mutable {
    submit_admitted_event(context, std::move(event), [respond = std::move(respond)](Reply&& reply) {
      respond(to_response(reply));
    });
  }};
}

}  // namespace

RouteResult handle_purchase(const ApiContext& context, const HttpRequest& request,
                            const Principal& principal) {
  Parsed<PurchaseEvent> parsed = parse_purchase_request(request.body());
  if (const ParseError* error = std::get_if<ParseError>(&parsed)) return error->to_response();
  return submit_request(context, principal, std::move(std::get<PurchaseEvent>(parsed)));
}

RouteResult handle_refund(const ApiContext& context, const HttpRequest& request,
                          const Principal& principal, bool forwarded) {
  Parsed<RefundEvent> parsed = parse_refund_request(request.body());
  if (const ParseError* error = std::get_if<ParseError>(&parsed)) return error->to_response();
  // Cluster mode: a store-scoped key may refund only its stores' purchases, which only the
  // owner of the purchase's member holds: the purchase id's claim names the member, and that
  // owner takes the whole request as if it had been sent there.
  if (context.cluster_reads != nullptr && !forwarded && principal.role == Role::pos &&
      !principal.all_stores) {
    const RefundEvent& refund = std::get<RefundEvent>(parsed);
    return context.cluster_reads->through_claim(
        *owner_lookup_key(Event{refund}), [request](const std::string&) { return request; },
        principal,
        problem_response(ErrorCode::not_found, "no purchase with this event id",
                         "original_event_id"));
  }
  return submit_request(context, principal, std::move(std::get<RefundEvent>(parsed)));
}

}  // namespace loyalty::api
