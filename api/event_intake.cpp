#include "api/event_intake.hpp"

#include <optional>
#include <utility>

#include "api/cluster_reads.hpp"
#include "api/forwarded_refund.hpp"
#include "api/handlers.hpp"
#include "api/handlers_events.hpp"
#include "engine/claim_keys.hpp"

namespace loyalty::api {
namespace {

Problem store_forbidden() {
  return make_problem(ErrorCode::forbidden, "this key may not refund purchases made at that store",
                      "original_event_id");
}

std::optional<Problem> admit_purchase(const Principal& principal, const PurchaseEvent& purchase,
                                      PurchasesInFlight* in_flight) {
  if (Rejection r = authorize_store(principal, purchase.store_id); !r.ok()) {
    return make_problem(r);
  }
  if (in_flight != nullptr) {
    in_flight->try_emplace(purchase.event_id,
                           PurchaseInFlight{purchase.member_id, purchase.store_id});
  }
  return std::nullopt;
}

std::optional<Problem> admit_refund(const ApiContext& context, const Principal& principal,
                                    RefundEvent& refund, const PurchasesInFlight* in_flight) {
  if (in_flight != nullptr) {
    if (const auto earlier = in_flight->find(refund.original_event_id);
        earlier != in_flight->end()) {
      // Its purchase is not stored yet: naming the member queues the refund behind it.
      if (!authorize_store(principal, earlier->second.store_id).ok()) return store_forbidden();
      refund.member_id = earlier->second.member_id;
      return std::nullopt;
    }
  }
  // From the stored purchase (also what the runtime routes it by; "" when there is none).
  return prepare_refund(context, principal, refund, refund.member_id);
}

}  // namespace

std::optional<Problem> admit_client_event(const ApiContext& context, const Principal& principal,
                                          ClientEvent& event, PurchasesInFlight* in_flight) {
  if (Rejection r = authorize(principal, {Role::pos, Role::admin}); !r.ok()) {
    return make_problem(r);
  }
  if (const auto* purchase = std::get_if<PurchaseEvent>(&event)) {
    return admit_purchase(principal, *purchase, in_flight);
  }
  return admit_refund(context, principal, std::get<RefundEvent>(event), in_flight);
}

void submit_admitted_event(const ApiContext& context, ClientEvent event, ReplyDone done) {
  // The answer only needs the ids; the event itself moves into the runtime.
  if (auto* purchase = std::get_if<PurchaseEvent>(&event)) {
    PurchaseEvent ids = purchase_ids(*purchase);
    submit_for_request(*context.runtime, Event{std::move(*purchase)},
                       [ids = std::move(ids), done = std::move(done)](EventResult&& result) {
                         done(purchase_reply(ids, result));
                       });
    return;
  }
  RefundEvent& refund = std::get<RefundEvent>(event);
  RefundEvent ids = refund_ids(refund);
  std::string member_id = refund.member_id;
  submit_for_request(
      *context.runtime, Event{std::move(refund)},
      [ids = std::move(ids), member_id = std::move(member_id), done = std::move(done)](
          EventResult&& result) { done(refund_reply(ids, member_id, result)); });
}

void submit_client_event(const ApiContext& context, const Principal& principal, ClientEvent event,
                         PurchasesInFlight* in_flight, ReplyDone done) {
  // Cluster mode: a store-scoped key's refund is checked where its purchase is, by the owner of
  // the purchase's member, as the single request is (api/forwarded_refund.hpp). One of a
  // purchase this batch or connection sent just before is checked here against that purchase.
  if (const auto* refund = std::get_if<RefundEvent>(&event);
      refund != nullptr && context.cluster_reads != nullptr && principal.role == Role::pos &&
      !principal.all_stores &&
      (in_flight == nullptr || in_flight->count(refund->original_event_id) == 0)) {
    context.cluster_reads
        ->through_claim(
            *owner_lookup_key(Event{*refund}),
            [request = refund_request(*refund)](const std::string&) { return request; }, principal,
            problem_response(ErrorCode::not_found, "no purchase with this event id",
                             "original_event_id"))
        .start([done = std::move(done)](HttpResponse&& response) { done(reply_of(response)); });
    return;
  }
  if (std::optional<Problem> problem = admit_client_event(context, principal, event, in_flight)) {
    return done(std::move(*problem));
  }
  submit_admitted_event(context, std::move(event), std::move(done));
}

}  // namespace loyalty::api
