// Fuzz target: the FlatBuffers binary frames of GET /v1/stream (api/schema/wire.fbs), which
// api/ws_protocol.cpp runs through the Verifier before reading anything. Properties: an event
// read from a frame, built again into an EventFrame and read again is the same; the same event
// sent as a JSON text frame is read as the same event (both encodings are checked alike).
#include <flatbuffers/flatbuffers.h>

#include <boost/json/serialize.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/wire_generated.h"
#include "api/ws_protocol.hpp"
#include "fuzz/event_json.hpp"
#include "fuzz/property.hpp"

namespace {
namespace json = boost::json;
using namespace loyalty;
using namespace loyalty::api;

flatbuffers::Offset<flatbuffers::String> text(flatbuffers::FlatBufferBuilder& builder,
                                              const std::string& value) {
  return value.empty() ? flatbuffers::Offset<flatbuffers::String>() : builder.CreateString(value);
}

std::string finish(flatbuffers::FlatBufferBuilder& builder, wire::EventBody type,
                   flatbuffers::Offset<void> body) {
  builder.Finish(wire::CreateEventFrame(builder, type, body));
  return std::string(reinterpret_cast<const char*>(builder.GetBufferPointer()), builder.GetSize());
}

std::string frame_of(const PurchaseEvent& purchase) {
  flatbuffers::FlatBufferBuilder builder;
  std::vector<flatbuffers::Offset<wire::PurchaseLine>> lines;
  for (const PurchaseLine& line : purchase.lines) {
    const auto sku = builder.CreateString(line.sku);
    const auto category = builder.CreateString(line.category);
    lines.push_back(
        wire::CreatePurchaseLine(builder, sku, category, line.quantity, line.amount_minor));
  }
  const auto body = wire::CreatePurchase(
      builder, text(builder, purchase.event_id), text(builder, purchase.member_id),
      text(builder, purchase.store_id), builder.CreateString(format_rfc3339(purchase.occurred_at)),
      text(builder, purchase.currency), builder.CreateVector(lines), purchase.redeem_points,
      text(builder, purchase.hold_id));
  return finish(builder, wire::EventBody::Purchase, body.Union());
}

std::string frame_of(const RefundEvent& refund) {
  flatbuffers::FlatBufferBuilder builder;
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<wire::RefundLine>>> lines;
  if (!refund.amount_minor) {
    std::vector<flatbuffers::Offset<wire::RefundLine>> rows;
    for (const RefundLine& line : refund.lines) {
      const auto sku = builder.CreateString(line.sku);
      rows.push_back(wire::CreateRefundLine(builder, sku, line.amount_minor));
    }
    lines = builder.CreateVector(rows);
  }
  flatbuffers::Optional<int64_t> amount = flatbuffers::nullopt;
  if (refund.amount_minor) amount = *refund.amount_minor;
  const auto body = wire::CreateRefund(
      builder, text(builder, refund.event_id), text(builder, refund.original_event_id),
      builder.CreateString(format_rfc3339(refund.occurred_at)), amount, lines);
  return finish(builder, wire::EventBody::Refund, body.Union());
}

template <class Event>
void check_same_event(const BatchItem& item, const Event& event, const char* what) {
  const Event* other = std::get_if<Event>(&item.parsed);
  if (other == nullptr) {
    const auto* error = std::get_if<ParseError>(&item.parsed);
    std::fprintf(stderr, "%s refused: %s: %s\n", what, error ? error->field.c_str() : "",
                 error ? error->message.c_str() : "(another event type)");
  }
  FUZZ_PROPERTY(other != nullptr && fuzz::same(event, *other), what);
}

template <class Event>
void check_encodings(const BatchItem& item, const Event& event, json::object event_json) {
  FUZZ_PROPERTY(item.event_id == event.event_id, "the item's event_id is the event's");
  check_same_event(ws::parse_binary_frame(frame_of(event)), event,
                   "an event rebuilt as an EventFrame is read the same");
  const ws::ClientMessage text_frame = ws::parse_text_frame(
      json::serialize(json::object{{"op", "event"}, {"event", std::move(event_json)}}));
  const auto* event_op = std::get_if<ws::EventOp>(&text_frame);
  FUZZ_PROPERTY(event_op != nullptr, "the same event as a text frame is an event frame");
  check_same_event(event_op->item, event, "the same event as a text frame is read the same");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A copy, so that ASan sees reads past the frame's end exactly (the WebSocket read buffer
  // is not aligned either).
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const BatchItem item = ws::parse_binary_frame(bytes);
  if (const auto* error = std::get_if<ParseError>(&item.parsed)) {
    FUZZ_PROPERTY(!error->message.empty(), "a refused frame is told why");
  } else if (const auto* purchase = std::get_if<PurchaseEvent>(&item.parsed)) {
    check_encodings(item, *purchase, fuzz::purchase_json(*purchase, "purchase"));
  } else {
    const auto& refund = std::get<RefundEvent>(item.parsed);
    check_encodings(item, refund, fuzz::refund_json(refund, "refund"));
  }
  return 0;
}
