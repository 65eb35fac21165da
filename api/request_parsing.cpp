// Request body parsing: JSON → engine events, refusing anything not in the contract. Sign-ups,
// purchases, quotes and refunds here; points and holds in request_parsing_points.cpp; the
// batch envelope in request_parsing_batch.cpp.
#include "api/request_parsing.hpp"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <cmath>

#include "api/json_fields.hpp"
#include "api/request_parsing_items.hpp"
#include "engine/coupon_code.hpp"
#include "engine/types.hpp"

namespace loyalty::api {
namespace json = boost::json;
using json_fields::Fields;
using json_fields::malformed;

namespace {

constexpr int64_t kQuantityMax = 1'000'000;  // as engine validate_input

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

RefundLine parse_refund_line(const json::value& value, const std::string& at) {
  const json::object* object = value.if_object();
  if (object == nullptr) malformed(at, at + " must be an object");
  const Fields f(*object, at + ".");
  f.refuse_unknown({"sku", "amount_minor"});
  RefundLine line;
  line.sku = f.name("sku", f.required("sku"));
  line.amount_minor = f.integer("amount_minor", f.required("amount_minor"), 1, kAmountMax);
  return line;
}

const json::array& lines_array(const Fields& f) {
  const json::array* lines = f.required("lines").if_array();
  if (lines == nullptr) malformed("lines", "lines must be an array");
  if (lines->empty()) malformed("lines", "at least one line is needed");
  if (lines->size() > kLinesMax) malformed("lines", "at most 500 lines are allowed");
  return *lines;
}

// Boost.JSON reads a number beyond a double's range (1e400) as infinity and writes it back as
// `Infinity`, which is not JSON: a profile holding one could never be read again (loyaltyctl
// export events). Found by fuzz/request_fuzzer.cpp.
bool numbers_finite(const json::value& value) {
  if (const double* number = value.if_double()) return std::isfinite(*number);
  if (const json::array* array = value.if_array()) {
    return std::all_of(array->begin(), array->end(), numbers_finite);
  }
  if (const json::object* object = value.if_object()) {
    return std::all_of(object->begin(), object->end(), [](const json::key_value_pair& member) {
      return numbers_finite(member.value());
    });
  }
  return true;
}

// A member's profile as stored: any JSON object the app sends, kept as its text.
std::string read_profile(const json::value& value) {
  if (!value.is_object()) malformed("profile", "profile must be an object");
  if (!numbers_finite(value)) {
    malformed("profile", "profile numbers must be within the range of a double (about 1e308)");
  }
  return json::serialize(value);
}

SignupEvent read_signup(std::string_view body) {
  json::value storage;
  const Fields f(json_fields::parse_object(body, storage), "");
  f.refuse_unknown({"member_id", "referral_code", "joined_at", "phone", "card_no", "profile"});
  SignupEvent signup;
  signup.member_id = f.id("member_id", f.required("member_id"));
  if (const json::value* v = f.optional("referral_code")) {
    signup.referral_code = f.id("referral_code", *v);
  }
  if (const json::value* v = f.optional("joined_at")) signup.joined_at = f.time("joined_at", *v);
  if (const json::value* v = f.optional("phone")) signup.phone = f.id("phone", *v);
  if (const json::value* v = f.optional("card_no")) signup.card_no = f.id("card_no", *v);
  if (const json::value* v = f.optional("profile")) signup.profile_json = read_profile(*v);
  return signup;
}

// The codes a sale used, as the till read them: case and group separators do not matter; a
// mistyped one is caught by its check character and named.
std::vector<std::string> read_coupon_codes(const json::value& value) {
  const json::array* codes = value.if_array();
  if (codes == nullptr) malformed("coupons", "coupons must be an array of coupon codes");
  if (codes->size() > kCouponsPerPurchaseMax) {
    malformed("coupons",
              "a purchase uses at most " + std::to_string(kCouponsPerPurchaseMax) + " coupons");
  }
  std::vector<std::string> out;
  out.reserve(codes->size());
  for (size_t i = 0; i < codes->size(); ++i) {
    const std::string field = "coupons[" + std::to_string(i) + "]";
    const json::string* typed = (*codes)[i].if_string();
    if (typed == nullptr) malformed(field, field + " must be a string");
    std::optional<std::string> code = parse_coupon_code(std::string_view(*typed));
    if (!code) {
      malformed(field, field +
                           " is not a coupon code: 12 characters whose last checks the others "
                           "(mistyped?)");
    }
    if (std::find(out.begin(), out.end(), *code) != out.end()) {
      malformed(field, "the same coupon is named twice");
    }
    out.push_back(std::move(*code));
  }
  return out;
}

PurchaseEvent read_purchase_fields(const json::object& object, bool event_id_required,
                                   std::string_view also_known) {
  const Fields f(object, "");
  f.refuse_unknown({"event_id", "member_id", "store_id", "occurred_at", "currency", "lines",
                    "redeem_points", "hold_id", "coupons"},
                   also_known);
  PurchaseEvent purchase;
  if (event_id_required) {
    purchase.event_id = f.id("event_id", f.required("event_id"));
  } else if (const json::value* v = f.optional("event_id")) {
    purchase.event_id = f.id("event_id", *v);
  }
  purchase.member_id = f.id("member_id", f.required("member_id"));
  purchase.store_id = f.id("store_id", f.required("store_id"));
  purchase.occurred_at = f.time("occurred_at", f.required("occurred_at"));
  purchase.currency = f.string("currency", f.required("currency"));
  const bool iso_code = purchase.currency.size() == 3 &&
                        std::all_of(purchase.currency.begin(), purchase.currency.end(),
                                    [](char c) { return c >= 'A' && c <= 'Z'; });
  if (!iso_code) malformed("currency", "currency must be an ISO 4217 code such as CNY");

  const json::array& lines = lines_array(f);
  purchase.lines.reserve(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    purchase.lines.push_back(parse_line(lines[i], "lines[" + std::to_string(i) + "]"));
  }
  if (const json::value* v = f.optional("redeem_points")) {
    purchase.redeem_points = f.integer("redeem_points", *v, 0, kPointsMax);
  }
  if (const json::value* v = f.optional("hold_id")) purchase.hold_id = f.id("hold_id", *v);
  if (const json::value* v = f.optional("coupons")) purchase.coupons = read_coupon_codes(*v);
  return purchase;
}

}  // namespace

PurchaseEvent read_purchase_object(const json::object& object, std::string_view also_known) {
  return read_purchase_fields(object, true, also_known);
}

RefundEvent read_refund_object(const json::object& object, std::string_view also_known) {
  const Fields f(object, "");
  f.refuse_unknown({"event_id", "original_event_id", "occurred_at", "amount_minor", "lines"},
                   also_known);
  RefundEvent refund;
  refund.event_id = f.id("event_id", f.required("event_id"));
  refund.original_event_id = f.id("original_event_id", f.required("original_event_id"));
  refund.occurred_at = f.time("occurred_at", f.required("occurred_at"));
  const json::value* amount = f.optional("amount_minor");
  const bool has_lines = f.optional("lines") != nullptr;
  if ((amount != nullptr) == has_lines) {
    malformed("amount_minor",
              "give exactly one of amount_minor (a refund by amount) or lines (by SKU)");
  }
  if (amount != nullptr) {
    refund.amount_minor = f.integer("amount_minor", *amount, 1, kAmountMax);
  } else {
    const json::array& lines = lines_array(f);
    refund.lines.reserve(lines.size());
    for (size_t i = 0; i < lines.size(); ++i) {
      refund.lines.push_back(parse_refund_line(lines[i], "lines[" + std::to_string(i) + "]"));
    }
  }
  return refund;
}

bool is_valid_id(std::string_view id) {
  if (id.empty() || id.size() > kIdLengthMax) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

Parsed<SignupEvent> parse_signup_request(std::string_view body) {
  return json_fields::guarded<SignupEvent>([&] { return read_signup(body); });
}

Parsed<MemberUpdateEvent> parse_member_update_request(std::string_view body,
                                                      std::string member_id) {
  return json_fields::guarded<MemberUpdateEvent>([&] {
    json::value storage;
    const json::object& object = json_fields::parse_object(body, storage);
    const Fields f(object, "");
    f.refuse_unknown({"phone", "card_no", "profile", "blocked", "reason"});
    MemberUpdateEvent update;
    update.member_id = std::move(member_id);
    // null removes the phone or card, or clears the profile (Fields takes null for absent).
    const auto is_null = [&object](std::string_view key) {
      const json::value* v = object.if_contains(key);
      return v != nullptr && v->is_null();
    };
    if (is_null("phone")) update.phone = std::string();
    if (is_null("card_no")) update.card_no = std::string();
    if (is_null("profile")) update.profile_json = std::string();
    if (const json::value* v = f.optional("phone")) update.phone = f.id("phone", *v);
    if (const json::value* v = f.optional("card_no")) update.card_no = f.id("card_no", *v);
    if (const json::value* v = f.optional("profile")) update.profile_json = read_profile(*v);
    if (const json::value* v = f.optional("blocked")) {
      if (!v->is_bool()) malformed("blocked", "blocked must be true or false");
      update.blocked = v->as_bool();
    }
    if (!update.phone && !update.card_no && !update.profile_json && !update.blocked) {
      malformed("phone", "give at least one of phone, card_no, profile and blocked");
    }
    // Why customer service changed the member, for the audit entry (optional: an app's own
    // change of a member's phone has none).
    if (const json::value* v = f.optional("reason")) {
      update.reason = f.text("reason", *v, kTextLengthMax);
    }
    return update;
  });
}

Parsed<Event> parse_member_erase_request(std::string_view body, std::string member_id) {
  return json_fields::guarded<Event>([&] {
    json::value storage;
    const Fields f(json_fields::parse_object(body, storage), "");
    f.refuse_unknown({"erasure_id", "reason"});
    MemberUpdateEvent erasure;
    erasure.member_id = std::move(member_id);
    erasure.update_id = f.id("erasure_id", f.required("erasure_id"));
    erasure.reason = f.text("reason", f.required("reason"), kTextLengthMax);
    return Event(EventType::member_erase, std::move(erasure));
  });
}

Parsed<PurchaseEvent> parse_purchase_request(std::string_view body) {
  return json_fields::guarded<PurchaseEvent>([&] {
    json::value storage;
    return read_purchase_fields(json_fields::parse_object(body, storage), true, {});
  });
}

Parsed<QuoteRequest> parse_quote_request(std::string_view body) {
  return json_fields::guarded<QuoteRequest>([&] {
    json::value storage;
    const json::object& object = json_fields::parse_object(body, storage);
    QuoteRequest quote;
    quote.purchase = read_purchase_fields(object, false, "program_toml");
    const Fields f(object, "");
    if (const json::value* v = f.optional("program_toml")) {
      quote.program_toml = f.string("program_toml", *v);
    }
    return quote;
  });
}

Parsed<RefundEvent> parse_refund_request(std::string_view body) {
  return json_fields::guarded<RefundEvent>([&] {
    json::value storage;
    return read_refund_object(json_fields::parse_object(body, storage), {});
  });
}

}  // namespace loyalty::api
