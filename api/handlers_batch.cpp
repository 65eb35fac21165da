// POST /v1/events:batch: up to 1,000 purchases and refunds as a JSON array or NDJSON. Every
// readable event is submitted to the runtime in the order given (so events of one member apply
// in that order); the answer waits for all of them and lists a result per event, in order.
#include <atomic>
#include <boost/beast/core/string.hpp>
#include <boost/json/array.hpp>
#include <unordered_map>

#include "api/handlers.hpp"
#include "api/handlers_events.hpp"
#include "api/request_parsing.hpp"

namespace loyalty::api {
namespace {

// Everything one batch needs until its last event is answered. Each result slot is written by
// exactly one completion; `pending` reaching 0 (acq_rel) publishes them all to the last one.
struct BatchState {
  std::vector<BatchItem> items;
  std::vector<std::string> refund_members;  // per item: the refunded purchase's member, if known
  std::vector<boost::json::object> results;
  std::atomic<size_t> pending{0};
  Respond respond;

  const std::string* event_id(size_t index) const {
    return items[index].event_id ? &*items[index].event_id : nullptr;
  }

  void finish(size_t index, const Reply& reply) {
    results[index] = batch_result_json(index, event_id(index), reply);
    if (pending.fetch_sub(1, std::memory_order_acq_rel) == 1) answer();
  }

  void answer() {
    boost::json::array list;
    list.reserve(results.size());
    for (boost::json::object& result : results) list.push_back(std::move(result));
    respond(json_response(http::status::ok, boost::json::object{{"results", std::move(list)}}));
  }
};

std::optional<BatchFormat> batch_format(const HttpRequest& request) {
  std::string_view type = request[http::field::content_type];
  type = type.substr(0, type.find(';'));
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  if (boost::beast::iequals(type, "application/json")) return BatchFormat::json_array;
  if (boost::beast::iequals(type, "application/x-ndjson") ||
      boost::beast::iequals(type, "application/ndjson")) {
    return BatchFormat::ndjson;
  }
  return std::nullopt;
}

}  // namespace

RouteResult handle_batch(const ApiContext& context, const HttpRequest& request,
                         const Principal& principal) {
  const std::optional<BatchFormat> format = batch_format(request);
  if (!format) {
    return problem_response_with_status(
        http::status::unsupported_media_type, ErrorCode::invalid_request,
        "send the batch as Content-Type application/json (an array of events) or "
        "application/x-ndjson (one event per line)",
        "Content-Type");
  }
  std::variant<std::vector<BatchItem>, Problem> parsed =
      parse_batch_request(request.body(), *format);
  if (const Problem* problem = std::get_if<Problem>(&parsed)) return problem_response(*problem);

  auto state = std::make_shared<BatchState>();
  state->items = std::move(std::get<std::vector<BatchItem>>(parsed));
  const size_t count = state->items.size();
  state->refund_members.resize(count);
  state->results.resize(count);

  // Refusals known before anything is submitted: unreadable items and store scope.
  std::vector<std::optional<Reply>> early(count);
  // Purchases submitted earlier in this batch, by event id, for refunds of them.
  std::unordered_map<std::string_view, const PurchaseEvent*> purchases_by_id;
  size_t to_submit = 0;
  for (size_t i = 0; i < count; ++i) {
    auto& parsed_item = state->items[i].parsed;
    if (const ParseError* error = std::get_if<ParseError>(&parsed_item)) {
      early[i] = error->to_problem();
    } else if (const auto* purchase = std::get_if<PurchaseEvent>(&parsed_item)) {
      if (Rejection r = authorize_store(principal, purchase->store_id); !r.ok()) {
        early[i] = make_problem(r);
      }
    } else {
      RefundEvent& refund = std::get<RefundEvent>(parsed_item);
      const auto earlier = purchases_by_id.find(refund.original_event_id);
      if (earlier != purchases_by_id.end()) {
        const PurchaseEvent* original = earlier->second;
        // Its purchase is earlier in this batch and not stored yet: naming the member lets the
        // runtime queue the refund behind it in the same partition.
        refund.member_id = original->member_id;
        state->refund_members[i] = original->member_id;
        if (Rejection r = authorize_store(principal, original->store_id); !r.ok()) {
          early[i] = make_problem(ErrorCode::forbidden,
                                  "this key may not refund purchases made at that store",
                                  "original_event_id");
        }
      } else if (std::optional<Problem> problem =
                     prepare_refund(context, principal, refund, state->refund_members[i])) {
        early[i] = std::move(*problem);
      }
    }
    if (early[i]) {
      state->results[i] = batch_result_json(i, state->event_id(i), *early[i]);
      continue;
    }
    ++to_submit;
    if (const auto* purchase = std::get_if<PurchaseEvent>(&parsed_item)) {
      purchases_by_id.emplace(purchase->event_id, purchase);  // the first one wins
    }
  }
  state->pending.store(to_submit, std::memory_order_relaxed);

  return Deferred{[context, state, early = std::move(early)](Respond respond) {
    state->respond = std::move(respond);
    if (state->pending.load(std::memory_order_relaxed) == 0) {
      state->answer();
      return;
    }
    for (size_t i = 0; i < state->items.size(); ++i) {
      if (early[i]) continue;
      auto& parsed_item = state->items[i].parsed;
      // The ids are taken before the event moves into the runtime.
      if (auto* purchase = std::get_if<PurchaseEvent>(&parsed_item)) {
        PurchaseEvent ids = purchase_ids(*purchase);
        submit_for_request(*context.runtime, Event{std::move(*purchase)},
                           [state, i, ids = std::move(ids)](EventResult&& result) {
                             state->finish(i, purchase_reply(ids, result));
                           });
      } else {
        RefundEvent& refund = std::get<RefundEvent>(parsed_item);
        RefundEvent ids = refund_ids(refund);
        submit_for_request(*context.runtime, Event{std::move(refund)},
                           [state, i, ids = std::move(ids)](EventResult&& result) {
                             state->finish(i, refund_reply(ids, state->refund_members[i], result));
                           });
      }
    }
  }};
}

}  // namespace loyalty::api
