// Strict reading of JSON request objects, shared by the request parsers (request_parsing*.cpp):
// unknown fields, wrong types, non-integers and malformed ids are refused with the field's path
// ("lines[2].amount_minor"). Internal to api/: the parsers' public face is request_parsing.hpp.
// Thread-safety: values and free functions.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "api/request_parsing.hpp"
#include "engine/time.hpp"

namespace loyalty::api::json_fields {

// Thrown inside the parsers only and caught by guarded(): keeps field checks linear.
struct Refusal {
  ParseError error;
};

[[noreturn]] void malformed(std::string field, std::string message);
[[noreturn]] void out_of_range(std::string field, std::string message);

// An object being read, with the path of its fields ("" at the top, "lines[2]." inside).
class Fields {
 public:
  Fields(const boost::json::object& object, std::string prefix)
      : object_(object), prefix_(std::move(prefix)) {}

  // `also_known` is one more accepted key ("type" in a batch item), empty when none.
  void refuse_unknown(std::initializer_list<std::string_view> known,
                      std::string_view also_known = {}) const;

  std::string path(std::string_view key) const { return prefix_ + std::string(key); }

  // The value, or nullptr when absent; null counts as absent for optional fields.
  const boost::json::value* optional(std::string_view key) const;
  const boost::json::value& required(std::string_view key) const;

  std::string string(std::string_view key, const boost::json::value& value) const;
  // 1 to 128 printable ASCII characters, no spaces.
  std::string id(std::string_view key, const boost::json::value& value) const;
  // Names such as SKUs and categories: 1 to 128 printable ASCII characters, spaces allowed.
  std::string name(std::string_view key, const boost::json::value& value) const;
  // Free text (reasons, notes): 1 to `length_max` bytes of UTF-8 without control characters.
  std::string text(std::string_view key, const boost::json::value& value, size_t length_max) const;
  // Integers outside [min, max] are well-formed but refused (422); fractions are malformed.
  int64_t integer(std::string_view key, const boost::json::value& value, int64_t min,
                  int64_t max) const;
  TimeMs time(std::string_view key, const boost::json::value& value) const;

 private:
  std::string range_message(std::string_view key, int64_t min, int64_t max) const;

  const boost::json::object& object_;
  std::string prefix_;
};

// Parses `body` into `storage` (depth ≤ kJsonDepthMax), refusing text that is not JSON.
void parse_json(std::string_view body, boost::json::value& storage);
// As parse_json, and the body must be an object.
const boost::json::object& parse_object(std::string_view body, boost::json::value& storage);

// Runs `read`, turning a Refusal into the ParseError it carries.
template <class T, class Read>
Parsed<T> guarded(Read&& read) {
  try {
    return read();
  } catch (const Refusal& refusal) {
    return refusal.error;
  }
}

}  // namespace loyalty::api::json_fields
