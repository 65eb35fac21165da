// Exact non-negative-denominator rationals over 128-bit integers, for the once-per-event
// rounding of earned points. Every operation is overflow-checked: an overflow returns
// nullopt instead of a wrong number, and the caller refuses the event.
#pragma once

#include <cstdint>
#include <optional>

#include "engine/decimal.hpp"

namespace loyalty {

__extension__ typedef __int128 Int128;  // GCC/Clang extension, no pedantic noise

enum class Rounding : uint8_t { floor = 0, nearest = 1 };

struct Rational {
  Int128 numerator = 0;
  Int128 denominator = 1;  // always > 0, and gcd(numerator, denominator) == 1

  static Rational of(int64_t value) { return Rational{value, 1}; }
  static Rational of(Decimal value);
  static std::optional<Rational> ratio(int64_t numerator, int64_t denominator);

  std::optional<Rational> times(const Rational& other) const;
  std::optional<Rational> plus(const Rational& other) const;
  // Rounds to an integer point count; nullopt when it does not fit in 64 bits.
  std::optional<int64_t> rounded(Rounding mode) const;
};

}  // namespace loyalty
