// Input events: what clients ask the engine to do. Each carries the client id that makes
// it idempotent. These are the records of the event log, replayed to rebuild state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "engine/time.hpp"
#include "engine/types.hpp"

namespace loyalty {

enum class EventType : uint8_t { signup = 1, purchase = 2 };

struct SignupEvent {
  std::string member_id;
  std::string referral_code;        // empty: none
  std::optional<TimeMs> joined_at;  // absent in the request: the runtime stamps the clock
  std::string phone;                // empty: none
  std::string card_no;              // empty: none
  std::string profile_json;         // free-form JSON object kept for the app, "" when absent

  // Filled by the runtime before the event is logged (not part of the fingerprint), so a
  // replay of the log reproduces them without consulting other members.
  std::string assigned_referral_code;
  std::string referrer_member_id;    // the owner of referral_code
  uint64_t request_fingerprint = 0;  // fingerprint() of the request as the client sent it
};

struct PurchaseLine {
  std::string sku;
  std::string category;
  int64_t quantity = 1;
  AmountMinor amount_minor = 0;  // the line's total, not a unit price
};

struct PurchaseEvent {
  std::string event_id;
  std::string member_id;
  std::string store_id;
  TimeMs occurred_at = 0;
  std::string currency;
  std::vector<PurchaseLine> lines;
  Points redeem_points = 0;
  std::string hold_id;  // empty: none
};

using EventBody = std::variant<SignupEvent, PurchaseEvent>;

struct Event {
  EventBody body;

  EventType type() const;
  const std::string& member_id() const;
  // The idempotency key: a kind prefix plus the client id, so ids of different kinds
  // never collide.
  std::string idempotency_key() const;
};

// A 64-bit digest of the event's canonical content, used to tell an identical retry
// (same digest) from a different payload under the same id (idempotency conflict).
uint64_t fingerprint(const Event& event);

}  // namespace loyalty
