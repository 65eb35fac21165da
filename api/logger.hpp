// Structured logs: one JSON object per line on stderr, for requests and for server events.
// {"time": "2026-11-23T09:06:13.120Z", "level": "info", "msg": "request", ...fields}.
// What goes in: key names (or "member-token"), member ids, routes as path templates, request
// ids. What never goes in: keys, tokens, secrets, phone or card numbers, raw paths or queries
// (a lookup's query carries a phone number). Callers keep to that; the logger cannot tell.
// Thread-safety: every function may be called from any thread; each line is one fwrite, so
// lines of different threads do not interleave.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <string_view>

namespace loyalty::api {

enum class LogLevel : uint8_t { info = 0, warn = 1, error = 2 };

std::string_view log_level_name(LogLevel level);

// A server event: `message` says what happened; `fields` add machine-readable detail. Written
// while a RequestLogScope is open on this thread, the line also carries its `request_id`.
void log_event(LogLevel level, std::string_view message, boost::json::object fields = {});

// Marks this thread as handling the request `request_id` until the scope ends, so that every
// line logged meanwhile (a handler's storage error, a refusal from the runtime) can be found
// from the id the client was answered with. Scopes nest; the id must outlive the scope.
class RequestLogScope {
 public:
  explicit RequestLogScope(std::string_view request_id);
  ~RequestLogScope();
  RequestLogScope(const RequestLogScope&) = delete;
  RequestLogScope& operator=(const RequestLogScope&) = delete;

 private:
  std::string_view previous_;
};

// The innermost open scope's request id on this thread; "" when none.
std::string_view current_request_id();

// One answered HTTP request.
struct RequestLogEntry {
  std::string_view request_id;
  std::string_view method;
  std::string_view route;  // the route's path template, or "unmatched"
  unsigned status = 0;
  double duration_ms = 0;      // from the whole request being read to its response being ready
  std::string_view principal;  // the key's name, "member-token", or "" when unauthenticated
  std::string_view member_id;  // a member token's member, "" otherwise
};

void log_request(const RequestLogEntry& entry);

// The JSON text of one line, without the newline (for tests).
std::string format_log_line(LogLevel level, std::string_view message,
                            const boost::json::object& fields);

}  // namespace loyalty::api
