// The JSON line logger behind log.hpp and the request log.
#include "api/logger.hpp"

#include <boost/json/serialize.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>

#include "engine/time.hpp"
#include "ops/text_escape.hpp"

namespace loyalty::api {
namespace {

// Always with milliseconds, so that lines sort and align. Each thread keeps the text of the
// last second it formatted: a busy server logs many lines a second.
std::string now_text() {
  const auto now = std::chrono::system_clock::now();
  const TimeMs ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const TimeMs second = ms - ms % kMsPerSecond;
  thread_local TimeMs formatted_second = -1;
  thread_local std::string second_text;  // "…:SS", without the "Z"
  if (second != formatted_second) {
    second_text = format_rfc3339(second);
    second_text.pop_back();
    formatted_second = second;
  }
  const int millis = static_cast<int>(ms % kMsPerSecond);
  std::string text = second_text;
  text += '.';
  text += static_cast<char>('0' + millis / 100);
  text += static_cast<char>('0' + millis / 10 % 10);
  text += static_cast<char>('0' + millis % 10);
  text += 'Z';
  return text;
}

void append_field(std::string& line, std::string_view key, std::string_view text) {
  line += ",\"";
  line += key;
  line += "\":\"";
  line += ops::json_escape(text);
  line += '"';
}

// `{"time":…,"level":…,"msg":…` — every line starts so; the caller adds its fields and "}".
std::string line_head(LogLevel level, std::string_view message) {
  std::string line;
  line.reserve(256);
  line += "{\"time\":\"";
  line += now_text();
  line += "\",\"level\":\"";
  line += log_level_name(level);
  line += "\",\"msg\":\"";
  line += ops::json_escape(message);
  line += '"';
  return line;
}

thread_local std::string_view current_request;

void write_line(std::string line) {
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace

std::string_view log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::info:
      return "info";
    case LogLevel::warn:
      return "warn";
    case LogLevel::error:
      return "error";
  }
  return "error";
}

std::string format_log_line(LogLevel level, std::string_view message,
                            const boost::json::object& fields) {
  std::string line = line_head(level, message);
  for (const auto& field : fields) {
    // The head's keys are the logger's own: a field may not repeat them.
    if (field.key() == "time" || field.key() == "level" || field.key() == "msg") continue;
    line += ",\"";
    line += ops::json_escape(field.key());
    line += "\":";
    line += boost::json::serialize(field.value());
  }
  line += '}';
  return line;
}

void log_event(LogLevel level, std::string_view message, boost::json::object fields) {
  if (!current_request.empty() && !fields.contains("request_id")) {
    fields["request_id"] = current_request;
  }
  write_line(format_log_line(level, message, fields));
}

RequestLogScope::RequestLogScope(std::string_view request_id)
    : previous_(std::exchange(current_request, request_id)) {}

RequestLogScope::~RequestLogScope() { current_request = previous_; }

std::string_view current_request_id() { return current_request; }

// The line format_log_line would make, without a JSON object: one is logged per request, and
// the object, its map and its serializer were an eighth of the server's time for reads.
void log_request(const RequestLogEntry& entry) {
  const LogLevel level = entry.status >= 500 ? LogLevel::error : LogLevel::info;
  std::string line = line_head(level, "request");
  append_field(line, "request_id", entry.request_id);
  append_field(line, "method", entry.method);
  append_field(line, "route", entry.route);
  line += ",\"status\":";
  line += std::to_string(entry.status);
  if (!entry.principal.empty()) append_field(line, "principal", entry.principal);
  if (!entry.member_id.empty()) append_field(line, "member_id", entry.member_id);
  // "2.260" rather than Boost.JSON's "2.26E0": it reads better and parses the same.
  char duration[48];
  const double milliseconds =
      std::isfinite(entry.duration_ms) && entry.duration_ms > 0 ? entry.duration_ms : 0.0;
  std::snprintf(duration, sizeof duration, ",\"duration_ms\":%.3f}", milliseconds);
  line += duration;
  write_line(std::move(line));
}

}  // namespace loyalty::api
