// POST /v1/events:batch: up to 1,000 purchases and refunds as a JSON array or NDJSON. Every
// readable event is submitted to the runtime in the order given (so events of one member apply
// in that order); the answer waits for all of them and lists a result per event, in order.
#include <atomic>
#include <boost/beast/core/string.hpp>
#include <boost/json/array.hpp>

#include "api/event_intake.hpp"
#include "api/handlers.hpp"
#include "api/request_parsing.hpp"

namespace loyalty::api {
namespace {

// Everything one batch needs until its last event is answered. Each result slot is written by
// exactly one completion; `pending` reaching 0 (acq_rel) publishes them all to the last one.
struct BatchState {
  std::vector<BatchItem> items;
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
  state->results.resize(count);
  state->pending.store(count, std::memory_order_relaxed);

  return Deferred{[context, principal, state](Respond respond) {
    state->respond = std::move(respond);
    // Purchases earlier in this batch, for refunds of them (not stored yet).
    PurchasesInFlight earlier;
    for (size_t i = 0; i < state->items.size(); ++i) {
      auto& parsed_item = state->items[i].parsed;
      if (const ParseError* error = std::get_if<ParseError>(&parsed_item)) {
        state->finish(i, error->to_problem());
        continue;
      }
      ClientEvent event = std::holds_alternative<PurchaseEvent>(parsed_item)
                              ? ClientEvent{std::move(std::get<PurchaseEvent>(parsed_item))}
                              : ClientEvent{std::move(std::get<RefundEvent>(parsed_item))};
      submit_client_event(context, principal, std::move(event), &earlier,
                          [state, i](Reply&& reply) { state->finish(i, reply); });
    }
  }};
}

}  // namespace loyalty::api
