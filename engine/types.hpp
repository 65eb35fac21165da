// Basic quantities of the domain. Money and points are integers: no floating point anywhere.
#pragma once

#include <cstdint>
#include <string>

namespace loyalty {

using Points = int64_t;       // signed: a refund may leave a member in debt
using AmountMinor = int64_t;  // money in the program currency's minor units (fen, cents)

inline constexpr AmountMinor kAmountMax = 1'000'000'000'000;  // api.md: 0 ≤ amount ≤ 10^12
inline constexpr Points kPointsMax = 1'000'000'000'000;
inline constexpr size_t kIdLengthMax = 128;  // api.md: ids ≤ 128 printable ASCII characters
inline constexpr size_t kLinesMax = 500;     // api.md: ≤ 500 lines per purchase
inline constexpr size_t kCouponsPerPurchaseMax = 20;  // coupons one sale may use

// Identifiers held by one member program-wide; a coupon's code names the member it was issued to.
enum class IdentifierKind : uint8_t { phone = 1, card = 2, referral_code = 3, coupon_code = 4 };

// One identifier a member holds (taken at sign-up or a change, released by a change).
struct IdentifierClaim {
  IdentifierKind kind = IdentifierKind::phone;
  std::string value;
  std::string member_id;
  // Cluster mode, a phone or card a change released: the grant of its claim the member held it
  // by (MemberState::phone_grant), named in the claim's release; 0 elsewhere.
  uint64_t grant = 0;
};

}  // namespace loyalty
