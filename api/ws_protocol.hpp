// The frames of the WebSocket GET /v1/stream (api.md "WebSocket") as values: what a client's
// text or binary frame asks for, and the bytes of every frame the server sends. Events are read
// with the same object readers as POST /v1/events/* and answered with the same bodies.
// Thread-safety: free functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "api/reply.hpp"
#include "api/request_parsing.hpp"
#include "engine/apply.hpp"

namespace loyalty::api::ws {

// {"op":"subscribe","member_id":"…","after_seq":N?}
struct SubscribeOp {
  std::string member_id;
  std::optional<uint64_t> after_seq;  // catch up on the stored feed from after this seq
};

// {"op":"event","event":{"type":"purchase"|"refund", …}}, or a binary EventFrame. A bad event
// is still an EventOp (its parsed holds the ParseError): it gets a result in its place.
struct EventOp {
  BatchItem item;
};

// A text frame that is no operation at all: answered with an error frame, the socket stays.
struct BadFrame {
  Problem problem;
};

using ClientMessage = std::variant<SubscribeOp, EventOp, BadFrame>;

ClientMessage parse_text_frame(std::string_view text);

// A binary frame: a FlatBuffers EventFrame (api/schema/wire.fbs), run through the Verifier
// before anything is read from it, then through the JSON event readers.
BatchItem parse_binary_frame(std::string_view bytes);

// {"type","member_id","seq","points","reference","at"}
std::string push_text(std::string_view member_id, const Notification& notification);
// {"op":"subscribed","member_id","seq"}: seq is the member's latest notification seq.
std::string subscribed_text(std::string_view member_id, uint64_t seq);
// {"op":"error", …problem fields}, plus member_id for a refused subscription.
std::string error_text(const Problem& problem, std::string_view member_id = {});
// {"op":"result","event_id","status", …the REST body or the problem's fields}
std::string result_text(const std::string* event_id, const Reply& reply);
// The same as a FlatBuffers ResultFrame.
std::string result_binary(const std::string* event_id, const Reply& reply);

}  // namespace loyalty::api::ws
