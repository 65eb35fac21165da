// Strict parsing of request bodies (Boost.JSON) into engine events: unknown fields, wrong JSON
// types, non-integers where integers belong and malformed ids are refused, each error naming
// the field ("lines[2].amount_minor"). The engine's validate_input checks the meaning again.
// Thread-safety: free functions.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "api/problem.hpp"
#include "engine/events.hpp"

namespace loyalty::api {

inline constexpr unsigned kJsonDepthMax = 32;  // nesting limit of any request body

struct ParseError {
  std::string field;  // "" when about the body as a whole
  std::string message;
  InvalidKind kind = InvalidKind::malformed;  // semantic: well-formed but out of range

  Problem to_problem() const {
    return make_problem(ErrorCode::invalid_request, message, field, kind);
  }
  HttpResponse to_response() const { return problem_response(to_problem()); }
};

template <class T>
using Parsed = std::variant<T, ParseError>;

// POST /v1/members: {member_id, referral_code?, joined_at?, phone?, card_no?, profile?}.
// Optional fields may be null, meaning absent. `profile` must be an object; it is kept as its
// serialized JSON.
Parsed<SignupEvent> parse_signup_request(std::string_view body);
// PATCH /v1/members/{member_id}: {phone?, card_no?, profile?, blocked?}; null removes a phone or
// card and clears the profile; at least one field.
Parsed<MemberUpdateEvent> parse_member_update_request(std::string_view body, std::string member_id);
// POST /v1/members/{member_id}:erase: {erasure_id, reason} → a member_erase event.
Parsed<Event> parse_member_erase_request(std::string_view body, std::string member_id);

// POST /v1/events/purchase: {event_id, member_id, store_id, occurred_at, currency,
// lines: [{sku, category, quantity, amount_minor}], redeem_points?, hold_id?}.
Parsed<PurchaseEvent> parse_purchase_request(std::string_view body);

// POST /v1/quotes: a purchase body whose event_id may be left out ("" then).
// POST /v1/quotes: the basket, and (admin) the draft program.toml to quote it under.
struct QuoteRequest {
  PurchaseEvent purchase{};
  std::optional<std::string> program_toml{};
};
Parsed<QuoteRequest> parse_quote_request(std::string_view body);

// POST /v1/events/refund: {event_id, original_event_id, occurred_at, amount_minor? | lines?},
// exactly one of amount_minor and lines ([{sku, amount_minor}], 1 to 500 of them). member_id
// is left empty: the runtime resolves it from the original purchase.
Parsed<RefundEvent> parse_refund_request(std::string_view body);

// POST /v1/members/{member_id}/redemptions: {redemption_id, points, reward_id?, note?}.
// `member_id` comes from the path.
Parsed<RedemptionEvent> parse_redemption_request(std::string_view body, std::string member_id);

// POST /v1/members/{member_id}/adjustments: {adjustment_id, points (≠ 0), reason}.
Parsed<AdjustmentEvent> parse_adjustment_request(std::string_view body, std::string member_id);

// POST /v1/holds: {hold_id, member_id, points, ttl_seconds?}.
Parsed<HoldEvent> parse_hold_request(std::string_view body);

// POST /v1/members/{member_id}/rewards/{reward_id}:redeem: {redemption_id}.
Parsed<RewardRedeemEvent> parse_reward_redeem_request(std::string_view body, std::string member_id,
                                                      std::string reward_id);
// POST /v1/coupons/{code}:use: {use_id, store_id, event_id?}; `code` already normalised.
Parsed<CouponUseEvent> parse_coupon_use_request(std::string_view body, std::string code);

// POST /v1/holds/{hold_id}:capture and :void take no fields: an empty body or {}.
std::optional<ParseError> check_empty_request(std::string_view body);

inline constexpr size_t kBatchEventsMax = 1000;  // api.md: up to 1,000 events per batch
inline constexpr size_t kTextLengthMax = 500;    // bytes of a reason or note

enum class BatchFormat : uint8_t { json_array = 0, ndjson = 1 };

// One event of a batch: the typed event, or why it was refused. Items are numbered from 0 in
// the order given (blank NDJSON lines are not items).
struct BatchItem {
  std::optional<std::string> event_id;  // when the item had a readable one
  std::variant<PurchaseEvent, RefundEvent, ParseError> parsed;
};

// POST /v1/events:batch. The items, or the problem with the batch as a whole: 400 when the
// envelope cannot be read (not a JSON array, no events), 413 payload_too_large (field
// "events") beyond kBatchEventsMax events. A bad item is only that item's refusal.
std::variant<std::vector<BatchItem>, Problem> parse_batch_request(std::string_view body,
                                                                  BatchFormat format);

// 1 to 128 printable ASCII characters, no spaces (api.md ids).
bool is_valid_id(std::string_view id);

}  // namespace loyalty::api
