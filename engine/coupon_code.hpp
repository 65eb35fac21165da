// Coupon codes (domain.md "Rewards, coupons and the points mall"): 12 characters of Crockford's
// Base32 alphabet (0-9 and A-Z without I, L, O, U). The first 11 carry 55 random bits; the last
// is a Luhn mod 32 check character over the alphabet, so any one mistyped character (and most
// swaps of two neighbours) is caught before a lookup. Read case-insensitively; the hyphens and
// spaces a till prints or a member types between groups are ignored (docs/decisions.md).
// The engine draws no randomness: whoever issues a code gives it the bits (a CSPRNG's).
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace loyalty {

inline constexpr size_t kCouponCodeLength = 12;
inline constexpr int kCouponCodeRandomBits = 55;  // 11 characters of 5 bits

// The code carrying the low 55 bits of `random_bits` (upper case, with its check character).
std::string coupon_code_from_bits(uint64_t random_bits);

// The code as it is stored (12 upper-case characters) when `typed` is one; nullopt when it is
// not: another length, a character outside the alphabet, or a check character that does not
// match (a mistyped code).
std::optional<std::string> parse_coupon_code(std::string_view typed);

}  // namespace loyalty
