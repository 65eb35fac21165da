// Ledger entries: the append-only record of every movement of points.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/time.hpp"
#include "engine/types.hpp"

namespace loyalty {

enum class EntryType : uint8_t {
  earn = 1,
  bonus = 2,
  referral_bonus = 3,
  referral_reversal = 4,
  redeem = 5,
  hold = 6,
  hold_release = 7,
  hold_capture = 8,
  reverse = 9,
  restore = 10,
  expire = 11,
  adjust = 12,
  tier_change = 13,
  reward_redeem = 14,   // points spent on a catalog reward
  reward_cancel = 15,   // a cancelled coupon's points given back
  coupon_use = 16,      // 0 points: a coupon used
  coupon_expire = 17,   // 0 points: a coupon past its date
  coupon_restore = 18,  // 0 points: a coupon active again after its purchase was refunded
  member_update = 19,   // 0 points: customer service changed the member (audit: who, what)
  member_erase = 20,    // 0 points: the member's personal data was erased (audit: who, why)
};

std::string_view entry_type_name(EntryType type);

struct LedgerEntry {
  uint64_t seq = 0;  // per member, 1, 2, …; newest first on read
  EntryType type = EntryType::earn;
  Points points = 0;
  TimeMs at = 0;
  std::string reference;  // the client id of the event it came from
  std::string rule;       // what produced it, e.g. "base", "milestone:3"
  uint32_t program_version = 0;
  Points balance_after = 0;  // Σ of the member's ledger up to and including this entry
  std::string actor{};       // who made it: event_actor() of its event (engine/events.hpp)
  friend bool operator==(const LedgerEntry&, const LedgerEntry&) = default;
};

}  // namespace loyalty
