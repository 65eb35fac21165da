// Fuzz target: the JSON text frames of the WebSocket GET /v1/stream (api/ws_protocol.hpp).
// Properties: a subscription or event that is read, written back as a frame and read again is
// the same; a frame that is no operation is a 400/422 invalid_request, and the error frame
// sent for it is valid JSON naming op "error".
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/ws_protocol.hpp"
#include "fuzz/event_json.hpp"
#include "fuzz/property.hpp"

namespace {
namespace json = boost::json;
using namespace loyalty;
using namespace loyalty::api;

void check_error_frame(const Problem& problem) {
  FUZZ_PROPERTY(problem.code == ErrorCode::invalid_request, "a bad frame is invalid_request");
  FUZZ_PROPERTY(problem.status == http::status::bad_request ||
                    problem.status == http::status::unprocessable_entity,
                "a bad frame is 400 or 422");
  FUZZ_PROPERTY(!problem.detail.empty(), "a bad frame is told why");
  boost::system::error_code error;
  const json::value frame = json::parse(ws::error_text(problem), error);
  FUZZ_PROPERTY(!error && frame.is_object(), "the error frame is a JSON object");
  const json::value* op = frame.as_object().if_contains("op");
  FUZZ_PROPERTY(op != nullptr && op->is_string() && op->as_string() == "error",
                "the error frame says op error");
}

void check_subscribe(const ws::SubscribeOp& subscribe) {
  json::object frame{{"op", "subscribe"}, {"member_id", subscribe.member_id}};
  if (subscribe.after_seq) frame["after_seq"] = *subscribe.after_seq;
  const ws::ClientMessage again = ws::parse_text_frame(json::serialize(frame));
  const auto* other = std::get_if<ws::SubscribeOp>(&again);
  FUZZ_PROPERTY(other != nullptr && other->member_id == subscribe.member_id &&
                    other->after_seq == subscribe.after_seq,
                "a subscription round-trips unchanged");
}

void check_event(const BatchItem& item) {
  if (const auto* error = std::get_if<ParseError>(&item.parsed)) {
    FUZZ_PROPERTY(!error->message.empty(), "a refused event is told why");
    check_error_frame(error->to_problem());
    return;
  }
  json::object event;
  if (const auto* purchase = std::get_if<PurchaseEvent>(&item.parsed)) {
    FUZZ_PROPERTY(item.event_id == purchase->event_id, "the item's event_id is the event's");
    event = fuzz::purchase_json(*purchase, "purchase");
  } else {
    const auto& refund = std::get<RefundEvent>(item.parsed);
    FUZZ_PROPERTY(item.event_id == refund.event_id, "the item's event_id is the event's");
    event = fuzz::refund_json(refund, "refund");
  }
  const ws::ClientMessage again =
      ws::parse_text_frame(json::serialize(json::object{{"op", "event"}, {"event", event}}));
  const auto* other = std::get_if<ws::EventOp>(&again);
  FUZZ_PROPERTY(other != nullptr, "an event frame written back is an event frame");
  if (const auto* purchase = std::get_if<PurchaseEvent>(&item.parsed)) {
    const auto* other_purchase = std::get_if<PurchaseEvent>(&other->item.parsed);
    FUZZ_PROPERTY(other_purchase != nullptr && fuzz::same(*purchase, *other_purchase),
                  "a purchase frame round-trips unchanged");
  } else {
    const auto* other_refund = std::get_if<RefundEvent>(&other->item.parsed);
    FUZZ_PROPERTY(
        other_refund != nullptr && fuzz::same(std::get<RefundEvent>(item.parsed), *other_refund),
        "a refund frame round-trips unchanged");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const ws::ClientMessage message = ws::parse_text_frame(text);
  if (const auto* subscribe = std::get_if<ws::SubscribeOp>(&message)) {
    check_subscribe(*subscribe);
  } else if (const auto* event = std::get_if<ws::EventOp>(&message)) {
    check_event(event->item);
  } else {
    check_error_frame(std::get<ws::BadFrame>(message).problem);
  }
  return 0;
}
