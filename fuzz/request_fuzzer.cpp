// Fuzz target: the JSON request parsers (api/request_parsing*.hpp) and the engine's stateless
// validator behind them. The first byte picks the endpoint, the rest is the body. Properties:
// - a body that is accepted, written back as JSON and parsed again gives the same event;
// - what a parser accepts the engine's validate_input accepts too, except the two cross-field
//   checks left to the engine (a purchase total over 10^12, a refund naming itself);
// - a refusal is a 400/422 problem naming a sentence, and its problem+json body is valid JSON.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/request_parsing.hpp"
#include "engine/apply.hpp"
#include "fuzz/event_json.hpp"
#include "fuzz/property.hpp"

namespace {
namespace json = boost::json;
using namespace loyalty;
using namespace loyalty::api;

// Far enough ahead that no parseable time is "in the future", far from overflow.
constexpr TimeMs kNowMs = INT64_MAX / 4;
constexpr std::string_view kPathMemberId = "m-path";
constexpr std::string_view kPathCode = "5VMJAYXQNTZR";  // a valid code, as the path gives it

void check_refusal(const ParseError& error) {
  FUZZ_PROPERTY(!error.message.empty(), "a refusal says why");
  const Problem problem = error.to_problem();
  FUZZ_PROPERTY(problem.code == ErrorCode::invalid_request, "parse refusals are invalid_request");
  FUZZ_PROPERTY(problem.status == http::status::bad_request ||
                    problem.status == http::status::unprocessable_entity,
                "parse refusals are 400 or 422");
  boost::system::error_code parse_error;
  json::parse(json::serialize(problem_json(problem)), parse_error);
  FUZZ_PROPERTY(!parse_error, "the problem+json body is valid JSON");
}

// validate_input accepts what the parser accepted; `allowed` names the one refusal that is the
// engine's to make for this event, if any.
void check_validates(const Event& event, std::string_view allowed = {}) {
  const Rejection rejection = validate_input(event, kNowMs);
  if (rejection.ok() || (!allowed.empty() && rejection.field == allowed)) return;
  std::fprintf(stderr, "validate_input refused %s: %s\n", rejection.field.c_str(),
               rejection.message.c_str());
  FUZZ_PROPERTY(false, "the engine's validator accepts what the parser accepted");
}

void check_purchase(const PurchaseEvent& purchase) {
  AmountMinor total = 0;  // ≤ 500 lines × 10^12: no overflow
  for (const PurchaseLine& line : purchase.lines) total += line.amount_minor;
  check_validates(Event{purchase}, total > kAmountMax ? "lines" : "");
}

void check_refund(const RefundEvent& refund) {
  check_validates(Event{refund},
                  refund.event_id == refund.original_event_id ? "original_event_id" : "");
}

// Parses `body` with `parse`; when accepted, checks it, writes it back and parses it again.
template <class Parse, class Write, class Check>
void round_trip(std::string_view body, Parse parse, Write write, Check check) {
  auto parsed = parse(body);
  if (const ParseError* error = std::get_if<ParseError>(&parsed)) {
    check_refusal(*error);
    return;
  }
  const auto& event = std::get<0>(parsed);
  check(event);
  const std::string written = json::serialize(write(event));
  auto again = parse(written);
  if (const ParseError* error = std::get_if<ParseError>(&again)) {
    std::fprintf(stderr, "written back: %s\nrefused: %s: %s\n", written.c_str(),
                 error->field.c_str(), error->message.c_str());
  }
  FUZZ_PROPERTY(std::holds_alternative<std::decay_t<decltype(event)>>(again),
                "an accepted body written back is accepted");
  FUZZ_PROPERTY(fuzz::same(event, std::get<0>(again)), "an accepted body round-trips unchanged");
}

void fuzz_batch(std::string_view body, BatchFormat format) {
  auto parsed = parse_batch_request(body, format);
  if (const Problem* problem = std::get_if<Problem>(&parsed)) {
    FUZZ_PROPERTY(problem->field == "events", "a refused batch names events");
    FUZZ_PROPERTY(problem->status == http::status::bad_request ||
                      problem->status == http::status::payload_too_large,
                  "a refused batch is 400 or 413");
    return;
  }
  const auto& items = std::get<std::vector<BatchItem>>(parsed);
  FUZZ_PROPERTY(!items.empty() && items.size() <= kBatchEventsMax, "1 to 1000 items");
  json::array written;
  for (const BatchItem& item : items) {
    if (const auto* error = std::get_if<ParseError>(&item.parsed)) {
      check_refusal(*error);
    } else if (const auto* purchase = std::get_if<PurchaseEvent>(&item.parsed)) {
      FUZZ_PROPERTY(item.event_id == purchase->event_id, "the item's event_id is the event's");
      check_purchase(*purchase);
      written.push_back(fuzz::purchase_json(*purchase, "purchase"));
    } else {
      const auto& refund = std::get<RefundEvent>(item.parsed);
      FUZZ_PROPERTY(item.event_id == refund.event_id, "the item's event_id is the event's");
      check_refund(refund);
      written.push_back(fuzz::refund_json(refund, "refund"));
    }
  }
  if (written.empty()) return;
  // The accepted items, written back as one JSON array, are read as the same events.
  auto again = parse_batch_request(json::serialize(written), BatchFormat::json_array);
  FUZZ_PROPERTY(std::holds_alternative<std::vector<BatchItem>>(again), "written batch accepted");
  const auto& again_items = std::get<std::vector<BatchItem>>(again);
  FUZZ_PROPERTY(again_items.size() == written.size(), "written batch keeps its items");
  size_t next = 0;
  for (const BatchItem& item : items) {
    if (std::holds_alternative<ParseError>(item.parsed)) continue;
    const BatchItem& other = again_items[next++];
    if (const auto* purchase = std::get_if<PurchaseEvent>(&item.parsed)) {
      const auto* other_purchase = std::get_if<PurchaseEvent>(&other.parsed);
      FUZZ_PROPERTY(other_purchase != nullptr && fuzz::same(*purchase, *other_purchase),
                    "a batch purchase round-trips unchanged");
    } else {
      const auto* other_refund = std::get_if<RefundEvent>(&other.parsed);
      FUZZ_PROPERTY(
          other_refund != nullptr && fuzz::same(std::get<RefundEvent>(item.parsed), *other_refund),
          "a batch refund round-trips unchanged");
    }
  }
}

void fuzz_empty(std::string_view body) {
  const std::optional<ParseError> error = check_empty_request(body);
  if (error) {
    check_refusal(*error);
    return;
  }
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return;
  boost::system::error_code parse_error;
  const json::value value = json::parse(body, parse_error);
  FUZZ_PROPERTY(!parse_error && value.is_object() && value.as_object().empty(),
                "an accepted action body is blank or {}");
}

void fuzz_endpoint(char selector, std::string_view body) {
  switch (selector) {
    case 'P':
      return round_trip(
          body, parse_purchase_request,
          [](const PurchaseEvent& p) { return fuzz::purchase_json(p); }, check_purchase);
    case 'Q':
      return round_trip(
          body,
          [](std::string_view text) -> Parsed<PurchaseEvent> {  // the basket; a draft aside
            Parsed<QuoteRequest> quote = parse_quote_request(text);
            if (const ParseError* error = std::get_if<ParseError>(&quote)) return *error;
            return std::get<QuoteRequest>(std::move(quote)).purchase;
          },
          [](const PurchaseEvent& p) { return fuzz::purchase_json(p); },
          [](PurchaseEvent quote) {
            if (quote.event_id.empty()) quote.event_id = "quote";  // a quote may leave it out
            check_purchase(quote);
          });
    case 'R':
      return round_trip(
          body, parse_refund_request, [](const RefundEvent& r) { return fuzz::refund_json(r); },
          check_refund);
    case 'S':
      return round_trip(body, parse_signup_request, fuzz::signup_json, [](const SignupEvent& s) {
        check_validates(Event{s});
        // The profile is stored as text and handed back to the app and to exports: JSON.
        if (s.profile_json.empty()) return;
        boost::system::error_code error;
        const json::value profile = json::parse(s.profile_json, error);
        FUZZ_PROPERTY(!error && profile.is_object(), "the stored profile is a JSON object");
      });
    case 'D':
      return round_trip(
          body,
          [](std::string_view text) {
            return parse_redemption_request(text, std::string(kPathMemberId));
          },
          fuzz::redemption_json, [](const RedemptionEvent& r) { check_validates(Event{r}); });
    case 'A':
      return round_trip(
          body,
          [](std::string_view text) {
            return parse_adjustment_request(text, std::string(kPathMemberId));
          },
          fuzz::adjustment_json, [](const AdjustmentEvent& a) { check_validates(Event{a}); });
    case 'H':
      return round_trip(body, parse_hold_request, fuzz::hold_json,
                        [](const HoldEvent& h) { check_validates(Event{h}); });
    case 'W':  // a reward redemption; the member and reward come from the path
      return round_trip(
          body,
          [](std::string_view text) {
            return parse_reward_redeem_request(text, std::string(kPathMemberId), "r-path");
          },
          fuzz::reward_redeem_json, [](const RewardRedeemEvent& r) { check_validates(Event{r}); });
    case 'U':  // a coupon use; the code comes from the path (already normalised)
      return round_trip(
          body,
          [](std::string_view text) {
            return parse_coupon_use_request(text, std::string(kPathCode));
          },
          fuzz::coupon_use_json, [](const CouponUseEvent& u) { check_validates(Event{u}); });
    case 'E':
      return fuzz_empty(body);
    case 'B':
      return fuzz_batch(body, BatchFormat::json_array);
    case 'N':
      return fuzz_batch(body, BatchFormat::ndjson);
    default:
      return;
  }
}

}  // namespace

// Input: one selector byte (P purchase, Q quote, R refund, S sign-up, D redemption,
// A adjustment, H hold, E hold action or coupon cancellation, W reward redemption, U coupon use,
// B batch as a JSON array, N batch as NDJSON; any other byte picks one by its value), then the
// request body.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static constexpr std::string_view kSelectors = "PQRSDAHEBNWU";
  char selector = static_cast<char>(data[0]);
  if (kSelectors.find(selector) == std::string_view::npos) {
    selector = kSelectors[data[0] % kSelectors.size()];
  }
  fuzz_endpoint(selector, std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  return 0;
}
