#include "api/event_intake.hpp"

#include <optional>
#include <utility>

#include "api/handlers.hpp"
#include "api/handlers_events.hpp"

namespace loyalty::api {
namespace {

Problem store_forbidden() {
  return make_problem(ErrorCode::forbidden, "this key may not refund purchases made at that store",
                      "original_event_id");
}

void submit_purchase(const ApiContext& context, const Principal& principal, PurchaseEvent& purchase,
                     PurchasesInFlight* in_flight, ReplyDone& done) {
  if (Rejection r = authorize_store(principal, purchase.store_id); !r.ok()) {
    return done(make_problem(r));
  }
  if (in_flight != nullptr) {
    in_flight->try_emplace(purchase.event_id,
                           PurchaseInFlight{purchase.member_id, purchase.store_id});
  }
  // The answer only needs the ids; the event itself moves into the runtime.
  PurchaseEvent ids = purchase_ids(purchase);
  submit_for_request(*context.runtime, Event{std::move(purchase)},
                     [ids = std::move(ids), done = std::move(done)](EventResult&& result) {
                       done(purchase_reply(ids, result));
                     });
}

void submit_refund(const ApiContext& context, const Principal& principal, RefundEvent& refund,
                   const PurchasesInFlight* in_flight, ReplyDone& done) {
  std::string member_id;
  const auto earlier = in_flight != nullptr ? in_flight->find(refund.original_event_id)
                                            : PurchasesInFlight::const_iterator{};
  if (in_flight != nullptr && earlier != in_flight->end()) {
    // Its purchase is not stored yet: naming the member queues the refund behind it.
    if (!authorize_store(principal, earlier->second.store_id).ok()) {
      return done(store_forbidden());
    }
    refund.member_id = earlier->second.member_id;
    member_id = earlier->second.member_id;
  } else if (std::optional<Problem> problem =
                 prepare_refund(context, principal, refund, member_id)) {
    return done(std::move(*problem));
  }
  RefundEvent ids = refund_ids(refund);
  submit_for_request(
      *context.runtime, Event{std::move(refund)},
      [ids = std::move(ids), member_id = std::move(member_id), done = std::move(done)](
          EventResult&& result) { done(refund_reply(ids, member_id, result)); });
}

}  // namespace

void submit_client_event(const ApiContext& context, const Principal& principal, ClientEvent event,
                         PurchasesInFlight* in_flight, ReplyDone done) {
  if (Rejection r = authorize(principal, {Role::pos, Role::admin}); !r.ok()) {
    return done(make_problem(r));
  }
  if (auto* purchase = std::get_if<PurchaseEvent>(&event)) {
    return submit_purchase(context, principal, *purchase, in_flight, done);
  }
  submit_refund(context, principal, std::get<RefundEvent>(event), in_flight, done);
}

}  // namespace loyalty::api
