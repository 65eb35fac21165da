// A member's state: balances, tier, counters and the lots their points live in.
// Owned by the partition writer that serialises all changes of the member.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/time.hpp"
#include "engine/types.hpp"

namespace loyalty {

struct Balance {
  Points available = 0;
  Points pending = 0;  // earned but not yet available (pending_days)
  Points held = 0;     // reserved by open holds
  Points total() const { return available + pending + held; }
  friend bool operator==(const Balance&, const Balance&) = default;
};

// Points earned by one event, spent and expired earliest-expiring first.
struct Lot {
  uint64_t lot_id = 0;    // per-member sequence, 1, 2, …
  std::string reference;  // the event that created it
  TimeMs earned_at = 0;
  TimeMs available_at = 0;  // pending until then
  TimeMs expires_at = kTimeNever;
  Points points_initial = 0;
  Points points_remaining = 0;
  friend bool operator==(const Lot&, const Lot&) = default;
};

struct MemberState {
  std::string member_id;
  TimeMs joined_at = 0;
  std::string phone;
  std::string card_no;
  std::string profile_json;
  std::string referral_code;
  std::string referred_by;
  uint64_t signup_fingerprint = 0;  // tells an identical sign-up retry from a conflict

  uint32_t tier_index = 0;
  TimeMs tier_since = 0;
  Balance balance;
  Points lifetime_points = 0;  // everything ever credited
  uint32_t purchase_count = 0;
  uint32_t program_version = 0;  // the version that last changed the member

  uint64_t next_ledger_seq = 1;
  uint64_t next_lot_id = 1;
  uint64_t next_notification_seq = 1;  // the WebSocket feed's per-member seq
  std::vector<Lot> lots;               // open lots (points_remaining != 0), by lot_id

  friend bool operator==(const MemberState&, const MemberState&) = default;
};

}  // namespace loyalty
