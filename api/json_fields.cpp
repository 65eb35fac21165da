// Field readers for the strict request parsers.
#include "api/json_fields.hpp"

#include <algorithm>
#include <boost/json/error.hpp>
#include <boost/json/parse.hpp>
#include <limits>

#include "engine/types.hpp"

namespace loyalty::api::json_fields {
namespace json = boost::json;

void malformed(std::string field, std::string message) {
  throw Refusal{{std::move(field), std::move(message), InvalidKind::malformed}};
}

void out_of_range(std::string field, std::string message) {
  throw Refusal{{std::move(field), std::move(message), InvalidKind::semantic}};
}

void Fields::refuse_unknown(std::initializer_list<std::string_view> known,
                            std::string_view also_known) const {
  for (const auto& member : object_) {
    if (!also_known.empty() && member.key() == also_known) continue;
    if (std::find(known.begin(), known.end(), member.key()) == known.end()) {
      malformed(path(member.key()), path(member.key()) + " is not a known field");
    }
  }
}

const json::value* Fields::optional(std::string_view key) const {
  const json::value* value = object_.if_contains(key);
  return value == nullptr || value->is_null() ? nullptr : value;
}

const json::value& Fields::required(std::string_view key) const {
  const json::value* value = object_.if_contains(key);
  if (value == nullptr || value->is_null()) malformed(path(key), path(key) + " is required");
  return *value;
}

std::string Fields::string(std::string_view key, const json::value& value) const {
  const json::string* text = value.if_string();
  if (text == nullptr) malformed(path(key), path(key) + " must be a string");
  return std::string(text->data(), text->size());
}

std::string Fields::id(std::string_view key, const json::value& value) const {
  std::string text = string(key, value);
  if (!is_valid_id(text)) {
    malformed(path(key), path(key) + " must be 1 to 128 printable ASCII characters without spaces");
  }
  return text;
}

std::string Fields::name(std::string_view key, const json::value& value) const {
  std::string text = string(key, value);
  const bool printable =
      std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
  if (text.empty() || text.size() > kIdLengthMax || !printable) {
    malformed(path(key), path(key) + " must be 1 to 128 printable ASCII characters");
  }
  return text;
}

std::string Fields::text(std::string_view key, const json::value& value, size_t length_max) const {
  std::string text = string(key, value);
  // Boost.JSON has checked the UTF-8; only control characters are left to refuse.
  const bool clean = std::all_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte >= 0x20 && byte != 0x7f;
  });
  if (text.empty() || text.size() > length_max || !clean) {
    malformed(path(key), path(key) + " must be 1 to " + std::to_string(length_max) +
                             " bytes of text without control characters");
  }
  return text;
}

int64_t Fields::integer(std::string_view key, const json::value& value, int64_t min,
                        int64_t max) const {
  int64_t number = 0;
  if (const int64_t* signed_number = value.if_int64()) {
    number = *signed_number;
  } else if (const uint64_t* unsigned_number = value.if_uint64()) {
    if (*unsigned_number > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      out_of_range(path(key), range_message(key, min, max));
    }
    number = static_cast<int64_t>(*unsigned_number);
  } else {
    malformed(path(key), path(key) + " must be an integer");
  }
  if (number < min || number > max) out_of_range(path(key), range_message(key, min, max));
  return number;
}

TimeMs Fields::time(std::string_view key, const json::value& value) const {
  const std::optional<TimeMs> parsed = parse_rfc3339(string(key, value));
  if (!parsed) {
    malformed(path(key), path(key) + " must be an RFC 3339 time such as 2026-11-20T10:15:00Z");
  }
  return *parsed;
}

std::string Fields::range_message(std::string_view key, int64_t min, int64_t max) const {
  const auto show = [](int64_t n) {
    if (n == kAmountMax) return std::string("10^12");
    if (n == -kAmountMax) return std::string("-10^12");
    return std::to_string(n);
  };
  return path(key) + " must be between " + show(min) + " and " + show(max);
}

void parse_json(std::string_view body, json::value& storage) {
  json::parse_options options;
  options.max_depth = kJsonDepthMax;
  boost::system::error_code error;
  storage = json::parse(body, error, {}, options);
  if (error == json::error::too_deep) {
    malformed("", "the JSON nests deeper than " + std::to_string(kJsonDepthMax) + " levels");
  }
  if (error) malformed("", "the body is not valid JSON (" + error.message() + ")");
}

const json::object& parse_object(std::string_view body, json::value& storage) {
  parse_json(body, storage);
  const json::object* object = storage.if_object();
  if (object == nullptr) malformed("", "the body must be a JSON object");
  return *object;
}

}  // namespace loyalty::api::json_fields
