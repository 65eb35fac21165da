// Reading and writing the frames of GET /v1/stream. Binary EventFrames are turned into the JSON
// object of the same event and read by the REST readers, so both encodings are checked alike.
#include "api/ws_protocol.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <limits>

#include "api/json_fields.hpp"
#include "api/request_parsing_items.hpp"
#include "api/wire_generated.h"
#include "engine/time.hpp"

namespace loyalty::api::ws {
namespace json = boost::json;
using json_fields::Fields;
using json_fields::malformed;

namespace {

constexpr int64_t kSeqMax = std::numeric_limits<int64_t>::max();
// A binary frame is at most the read limit (64 KiB); this bounds the Verifier's work too.
constexpr flatbuffers::uoffset_t kVerifierDepthMax = 16;
constexpr flatbuffers::uoffset_t kVerifierTablesMax = 4096;

BatchItem read_event(const json::value& value) {
  return read_typed_event(value, "event", "event must be a JSON object");
}

void put_string(json::object& object, std::string_view key, const flatbuffers::String* value) {
  if (value != nullptr) object[key] = value->string_view();
}

json::object purchase_object(const wire::Purchase& purchase) {
  json::object object;
  object["type"] = "purchase";
  put_string(object, "event_id", purchase.event_id());
  put_string(object, "member_id", purchase.member_id());
  put_string(object, "store_id", purchase.store_id());
  put_string(object, "occurred_at", purchase.occurred_at());
  put_string(object, "currency", purchase.currency());
  if (const auto* lines = purchase.lines()) {
    json::array list;
    for (const wire::PurchaseLine* line : *lines) {
      json::object row;
      put_string(row, "sku", line->sku());
      put_string(row, "category", line->category());
      row["quantity"] = line->quantity();
      row["amount_minor"] = line->amount_minor();
      list.push_back(std::move(row));
    }
    object["lines"] = std::move(list);
  }
  object["redeem_points"] = purchase.redeem_points();
  put_string(object, "hold_id", purchase.hold_id());
  return object;
}

json::object refund_object(const wire::Refund& refund) {
  json::object object;
  object["type"] = "refund";
  put_string(object, "event_id", refund.event_id());
  put_string(object, "original_event_id", refund.original_event_id());
  put_string(object, "occurred_at", refund.occurred_at());
  if (const auto amount = refund.amount_minor(); amount.has_value()) {
    object["amount_minor"] = amount.value();
  }
  if (const auto* lines = refund.lines()) {
    json::array list;
    for (const wire::RefundLine* line : *lines) {
      json::object row;
      put_string(row, "sku", line->sku());
      row["amount_minor"] = line->amount_minor();
      list.push_back(std::move(row));
    }
    object["lines"] = std::move(list);
  }
  return object;
}

int64_t integer_of(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr) return 0;
  if (value->is_int64()) return value->get_int64();
  if (value->is_uint64() && value->get_uint64() <= static_cast<uint64_t>(kSeqMax)) {
    return static_cast<int64_t>(value->get_uint64());
  }
  return 0;
}

std::string string_of(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->get_string()) : std::string();
}

json::object result_json(const std::string* event_id, const Reply& reply) {
  json::object result;
  result["op"] = "result";
  for (auto& field : batch_result_json(0, event_id, reply)) {
    if (field.key() != "index") result[field.key()] = std::move(field.value());
  }
  return result;
}

}  // namespace

ClientMessage parse_text_frame(std::string_view text) {
  json::value storage;
  Parsed<ClientMessage> parsed = json_fields::guarded<ClientMessage>([&]() -> ClientMessage {
    const json::object& object = json_fields::parse_object(text, storage);
    const Fields f(object, "");
    const std::string op = f.string("op", f.required("op"));
    if (op == "subscribe") {
      f.refuse_unknown({"op", "member_id", "after_seq"});
      SubscribeOp subscribe;
      subscribe.member_id = f.id("member_id", f.required("member_id"));
      if (const json::value* v = f.optional("after_seq")) {
        subscribe.after_seq = static_cast<uint64_t>(f.integer("after_seq", *v, 0, kSeqMax));
      }
      return subscribe;
    }
    if (op == "event") {
      f.refuse_unknown({"op", "event"});
      return EventOp{read_event(f.required("event"))};
    }
    malformed("op", "op must be \"subscribe\" or \"event\"");
  });
  if (const ParseError* error = std::get_if<ParseError>(&parsed)) {
    return BadFrame{error->to_problem()};
  }
  return std::move(std::get<ClientMessage>(parsed));
}

BatchItem parse_binary_frame(std::string_view bytes) {
  BatchItem item;
  flatbuffers::Verifier verifier(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                                 kVerifierDepthMax, kVerifierTablesMax);
  if (!wire::VerifyEventFrameBuffer(verifier)) {
    item.parsed = ParseError{"", "the binary frame is not a valid EventFrame (api/schema/wire.fbs)",
                             InvalidKind::malformed};
    return item;
  }
  const wire::EventFrame* frame = wire::GetEventFrame(bytes.data());
  if (const wire::Purchase* purchase = frame->event_as_Purchase()) {
    return read_event(purchase_object(*purchase));
  }
  if (const wire::Refund* refund = frame->event_as_Refund()) {
    return read_event(refund_object(*refund));
  }
  item.parsed =
      ParseError{"event", "the EventFrame holds no Purchase or Refund", InvalidKind::malformed};
  return item;
}

std::string push_text(std::string_view member_id, const Notification& notification) {
  return json::serialize(json::object{{"type", notification.type},
                                      {"member_id", member_id},
                                      {"seq", notification.seq},
                                      {"points", notification.points},
                                      {"reference", notification.reference},
                                      {"at", format_rfc3339(notification.at)}});
}

std::string subscribed_text(std::string_view member_id, uint64_t seq) {
  return json::serialize(
      json::object{{"op", "subscribed"}, {"member_id", member_id}, {"seq", seq}});
}

std::string error_text(const Problem& problem, std::string_view member_id) {
  json::object frame;
  frame["op"] = "error";
  if (!member_id.empty()) frame["member_id"] = member_id;
  for (auto& field : problem_json(problem)) frame[field.key()] = std::move(field.value());
  return json::serialize(frame);
}

std::string result_text(const std::string* event_id, const Reply& reply) {
  return json::serialize(result_json(event_id, reply));
}

std::string result_binary(const std::string* event_id, const Reply& reply) {
  const json::object result = result_json(event_id, reply);
  flatbuffers::FlatBufferBuilder builder(1024);
  const auto text = [&](const std::string& value) {
    return value.empty() ? flatbuffers::Offset<flatbuffers::String>() : builder.CreateString(value);
  };
  const auto event_id_offset = event_id != nullptr ? builder.CreateString(*event_id)
                                                   : flatbuffers::Offset<flatbuffers::String>();
  std::string code;
  std::string detail;
  std::string field;
  if (const Problem* problem = std::get_if<Problem>(&reply)) {
    code = string_of(result, "code");
    detail = problem->detail;
    field = problem->field;
  }
  const auto code_offset = text(code);
  const auto detail_offset = text(detail);
  const auto field_offset = text(field);
  const auto member_offset = text(string_of(result, "member_id"));
  const auto tier_offset = text(string_of(result, "tier"));
  const auto body_offset = builder.CreateString(json::serialize(result));
  json::object balance;
  for (const std::string_view key : {"balance", "balance_after"}) {
    if (const json::value* v = result.if_contains(key); v != nullptr && v->is_object()) {
      balance = v->get_object();
    }
  }
  const json::value* replayed = result.if_contains("replayed");

  wire::ResultFrameBuilder frame(builder);
  frame.add_event_id(event_id_offset);
  frame.add_status(static_cast<uint16_t>(integer_of(result, "status")));
  frame.add_code(code_offset);
  frame.add_detail(detail_offset);
  frame.add_field(field_offset);
  frame.add_member_id(member_offset);
  frame.add_points_earned(integer_of(result, "points_earned"));
  frame.add_points_redeemed(integer_of(result, "points_redeemed"));
  frame.add_points_reversed(integer_of(result, "points_reversed"));
  frame.add_balance_available(integer_of(balance, "available"));
  frame.add_balance_pending(integer_of(balance, "pending"));
  frame.add_balance_held(integer_of(balance, "held"));
  frame.add_tier(tier_offset);
  frame.add_replayed(replayed != nullptr && replayed->is_bool() && replayed->get_bool());
  frame.add_body_json(body_offset);
  builder.Finish(frame.Finish());
  return std::string(reinterpret_cast<const char*>(builder.GetBufferPointer()), builder.GetSize());
}

}  // namespace loyalty::api::ws
