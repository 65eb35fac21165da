// Exact decimals from configuration: at most 4 fractional digits, held as an integer
// count of 1/10000ths so that no floating point ever enters the points arithmetic.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace loyalty {

struct Decimal {
  static constexpr int64_t kScale = 10000;
  static constexpr int kFractionDigitsMax = 4;

  int64_t scaled = 0;  // value × 10^4

  static constexpr Decimal from_integer(int64_t whole) { return Decimal{whole * kScale}; }
  // Accepts "12", "-1.5", "0.0001"; refuses more than 4 fractional digits, exponents,
  // and magnitudes whose scaled value would not fit in 60 bits (far above any sane rate).
  static std::optional<Decimal> parse(std::string_view text);

  std::string to_string() const;
  bool is_negative() const { return scaled < 0; }
  friend constexpr auto operator<=>(Decimal, Decimal) = default;
};

}  // namespace loyalty
