// Request body parsing: JSON → engine events, refusing anything not in the contract.
#include "api/request_parsing.hpp"

#include <algorithm>
#include <boost/json/error.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <initializer_list>
#include <limits>

#include "engine/types.hpp"

namespace loyalty::api {
namespace json = boost::json;
namespace {

constexpr int64_t kQuantityMax = 1'000'000;  // as engine validate_input

// Thrown inside this file only and caught by the two entry points: keeps field checks linear.
struct Refusal {
  ParseError error;
};

[[noreturn]] void malformed(std::string field, std::string message) {
  throw Refusal{{std::move(field), std::move(message), InvalidKind::malformed}};
}

[[noreturn]] void out_of_range(std::string field, std::string message) {
  throw Refusal{{std::move(field), std::move(message), InvalidKind::semantic}};
}

// An object being read, with the path of its fields ("" at the top, "lines[2]." inside).
class Fields {
 public:
  Fields(const json::object& object, std::string prefix)
      : object_(object), prefix_(std::move(prefix)) {}

  void refuse_unknown(std::initializer_list<std::string_view> known) const {
    for (const auto& member : object_) {
      if (std::find(known.begin(), known.end(), member.key()) == known.end()) {
        malformed(path(member.key()), path(member.key()) + " is not a known field");
      }
    }
  }

  std::string path(std::string_view key) const { return prefix_ + std::string(key); }

  // The value, or nullptr when absent; null counts as absent for optional fields.
  const json::value* optional(std::string_view key) const {
    const json::value* value = object_.if_contains(key);
    return value == nullptr || value->is_null() ? nullptr : value;
  }

  const json::value& required(std::string_view key) const {
    const json::value* value = object_.if_contains(key);
    if (value == nullptr || value->is_null()) malformed(path(key), path(key) + " is required");
    return *value;
  }

  std::string string(std::string_view key, const json::value& value) const {
    const json::string* text = value.if_string();
    if (text == nullptr) malformed(path(key), path(key) + " must be a string");
    return std::string(text->data(), text->size());
  }

  std::string id(std::string_view key, const json::value& value) const {
    std::string text = string(key, value);
    if (!is_valid_id(text)) {
      malformed(path(key),
                path(key) + " must be 1 to 128 printable ASCII characters without spaces");
    }
    return text;
  }

  // Names such as SKUs and categories: printable ASCII, spaces allowed.
  std::string name(std::string_view key, const json::value& value) const {
    std::string text = string(key, value);
    const bool printable =
        std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
    if (text.empty() || text.size() > kIdLengthMax || !printable) {
      malformed(path(key), path(key) + " must be 1 to 128 printable ASCII characters");
    }
    return text;
  }

  int64_t integer(std::string_view key, const json::value& value, int64_t min, int64_t max) const {
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

  TimeMs time(std::string_view key, const json::value& value) const {
    const std::optional<TimeMs> parsed = parse_rfc3339(string(key, value));
    if (!parsed) {
      malformed(path(key), path(key) + " must be an RFC 3339 time such as 2026-11-20T10:15:00Z");
    }
    return *parsed;
  }

 private:
  std::string range_message(std::string_view key, int64_t min, int64_t max) const {
    return path(key) + " must be between " + std::to_string(min) + " and " +
           (max == kAmountMax ? std::string("10^12") : std::to_string(max));
  }

  const json::object& object_;
  std::string prefix_;
};

const json::object& parse_object(std::string_view body, json::value& storage) {
  json::parse_options options;
  options.max_depth = kJsonDepthMax;
  boost::system::error_code error;
  storage = json::parse(body, error, {}, options);
  if (error == json::error::too_deep) {
    malformed("", "the JSON nests deeper than " + std::to_string(kJsonDepthMax) + " levels");
  }
  if (error) malformed("", "the body is not valid JSON (" + error.message() + ")");
  const json::object* object = storage.if_object();
  if (object == nullptr) malformed("", "the body must be a JSON object");
  return *object;
}

PurchaseLine parse_line(const json::value& value, const std::string& at) {
  const json::object* object = value.if_object();
  if (object == nullptr) malformed(at, at + " must be an object");
  const Fields f(*object, at + ".");
  f.refuse_unknown({"sku", "category", "quantity", "amount_minor"});
  PurchaseLine line;
  line.sku = f.name("sku", f.required("sku"));
  line.category = f.name("category", f.required("category"));
  line.quantity = f.integer("quantity", f.required("quantity"), 1, kQuantityMax);
  line.amount_minor = f.integer("amount_minor", f.required("amount_minor"), 0, kAmountMax);
  return line;
}

SignupEvent read_signup(std::string_view body) {
  json::value storage;
  const Fields f(parse_object(body, storage), "");
  f.refuse_unknown({"member_id", "referral_code", "joined_at", "phone", "card_no", "profile"});
  SignupEvent signup;
  signup.member_id = f.id("member_id", f.required("member_id"));
  if (const json::value* v = f.optional("referral_code")) {
    signup.referral_code = f.id("referral_code", *v);
  }
  if (const json::value* v = f.optional("joined_at")) signup.joined_at = f.time("joined_at", *v);
  if (const json::value* v = f.optional("phone")) signup.phone = f.id("phone", *v);
  if (const json::value* v = f.optional("card_no")) signup.card_no = f.id("card_no", *v);
  if (const json::value* v = f.optional("profile")) {
    if (!v->is_object()) malformed("profile", "profile must be an object");
    signup.profile_json = json::serialize(*v);
  }
  return signup;
}

PurchaseEvent read_purchase(std::string_view body) {
  json::value storage;
  const Fields f(parse_object(body, storage), "");
  f.refuse_unknown({"event_id", "member_id", "store_id", "occurred_at", "currency", "lines",
                    "redeem_points", "hold_id"});
  PurchaseEvent purchase;
  purchase.event_id = f.id("event_id", f.required("event_id"));
  purchase.member_id = f.id("member_id", f.required("member_id"));
  purchase.store_id = f.id("store_id", f.required("store_id"));
  purchase.occurred_at = f.time("occurred_at", f.required("occurred_at"));
  purchase.currency = f.string("currency", f.required("currency"));
  const bool iso_code = purchase.currency.size() == 3 &&
                        std::all_of(purchase.currency.begin(), purchase.currency.end(),
                                    [](char c) { return c >= 'A' && c <= 'Z'; });
  if (!iso_code) malformed("currency", "currency must be an ISO 4217 code such as CNY");

  const json::array* lines = f.required("lines").if_array();
  if (lines == nullptr) malformed("lines", "lines must be an array");
  if (lines->empty()) malformed("lines", "a purchase needs at least one line");
  if (lines->size() > kLinesMax) malformed("lines", "a purchase has at most 500 lines");
  purchase.lines.reserve(lines->size());
  for (size_t i = 0; i < lines->size(); ++i) {
    purchase.lines.push_back(parse_line((*lines)[i], "lines[" + std::to_string(i) + "]"));
  }
  if (const json::value* v = f.optional("redeem_points")) {
    purchase.redeem_points = f.integer("redeem_points", *v, 0, kPointsMax);
  }
  if (const json::value* v = f.optional("hold_id")) purchase.hold_id = f.id("hold_id", *v);
  return purchase;
}

template <class T, class Read>
Parsed<T> guarded(std::string_view body, Read read) {
  try {
    return read(body);
  } catch (const Refusal& refusal) {
    return refusal.error;
  }
}

}  // namespace

bool is_valid_id(std::string_view id) {
  if (id.empty() || id.size() > kIdLengthMax) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

Parsed<SignupEvent> parse_signup_request(std::string_view body) {
  return guarded<SignupEvent>(body, read_signup);
}

Parsed<PurchaseEvent> parse_purchase_request(std::string_view body) {
  return guarded<PurchaseEvent>(body, read_purchase);
}

}  // namespace loyalty::api
