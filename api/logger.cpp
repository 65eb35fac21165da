// The JSON line logger behind log.hpp and the request log.
#include "api/logger.hpp"

#include <boost/json/serialize.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>

#include "engine/time.hpp"

namespace loyalty::api {
namespace {

// Always with milliseconds, so that lines sort and align.
std::string now_text() {
  const auto now = std::chrono::system_clock::now();
  const TimeMs ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::string text = format_rfc3339(ms - ms % kMsPerSecond);  // "…:SSZ"
  char fraction[8];
  std::snprintf(fraction, sizeof fraction, ".%03d", static_cast<int>(ms % kMsPerSecond));
  text.insert(text.size() - 1, fraction);
  return text;
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
  boost::json::object line;
  line.reserve(fields.size() + 3);
  line["time"] = now_text();
  line["level"] = log_level_name(level);
  line["msg"] = message;
  for (const auto& field : fields) line[field.key()] = field.value();
  return boost::json::serialize(line);
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

void log_request(const RequestLogEntry& entry) {
  boost::json::object fields;
  fields["request_id"] = entry.request_id;
  fields["method"] = entry.method;
  fields["route"] = entry.route;
  fields["status"] = entry.status;
  if (!entry.principal.empty()) fields["principal"] = entry.principal;
  if (!entry.member_id.empty()) fields["member_id"] = entry.member_id;
  const LogLevel level = entry.status >= 500 ? LogLevel::error : LogLevel::info;
  std::string line = format_log_line(level, "request", fields);
  // Boost.JSON writes doubles as "2.26E0"; "2.260" reads better and parses the same.
  char duration[48];
  const double milliseconds = std::isfinite(entry.duration_ms) ? entry.duration_ms : 0.0;
  std::snprintf(duration, sizeof duration, ",\"duration_ms\":%.3f", milliseconds);
  line.insert(line.size() - 1, duration);  // before the closing brace
  write_line(std::move(line));
}

}  // namespace loyalty::api
