// Engine events as clients send them: REST requests (api.md bodies), events:batch items,
// WebSocket JSON text frames and FlatBuffers EventFrames (api/schema/wire.fbs). The loadgen
// makes its own ids, so strings are written without JSON escaping.
// Thread-safety: free functions.
#pragma once

#include <string>
#include <string_view>

#include "engine/events.hpp"

namespace loyalty::bench {

enum class Role { pos, app };

struct HttpCall {
  std::string target;  // "/v1/events/purchase", …
  std::string body;
  Role role = Role::pos;  // whose key sends it: sign-ups are the app's
};

// The REST request of a purchase, refund, redemption or sign-up.
HttpCall http_call(const Event& event);

// The whole HTTP/1.1 request text, keep-alive.
std::string http_request_text(const HttpCall& call, std::string_view host, std::string_view key);

// {"type":"purchase"|"refund", …the REST body}: an events:batch item / a stream event.
// Only purchases and refunds can be batched or streamed.
bool stream_event_json(const Event& event, std::string& out);

// {"op":"event","event":{…}}
bool ws_text_frame(const Event& event, std::string& out);

// A FlatBuffers EventFrame.
bool ws_binary_frame(const Event& event, std::string& out);

}  // namespace loyalty::bench
