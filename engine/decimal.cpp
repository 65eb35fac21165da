// Parsing and printing of exact config decimals.
#include "engine/decimal.hpp"

namespace loyalty {

std::optional<Decimal> Decimal::parse(std::string_view text) {
  constexpr int64_t kWholeMax = int64_t{1} << 46;  // keeps scaled below 2^60
  if (text.empty()) return std::nullopt;
  bool negative = false;
  if (text.front() == '+' || text.front() == '-') {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  int64_t whole = 0;
  int64_t fraction = 0;
  int fraction_digits = 0;
  bool seen_point = false;
  bool seen_digit = false;
  for (char c : text) {
    if (c == '_') continue;  // TOML allows 1_000
    if (c == '.') {
      if (seen_point) return std::nullopt;
      seen_point = true;
      continue;
    }
    if (c < '0' || c > '9') return std::nullopt;
    seen_digit = true;
    const int digit = c - '0';
    if (seen_point) {
      if (++fraction_digits > kFractionDigitsMax) return std::nullopt;
      fraction = fraction * 10 + digit;
    } else {
      whole = whole * 10 + digit;
      if (whole > kWholeMax) return std::nullopt;
    }
  }
  if (!seen_digit) return std::nullopt;
  for (int i = fraction_digits; i < kFractionDigitsMax; ++i) fraction *= 10;
  const int64_t scaled = whole * kScale + fraction;
  return Decimal{negative ? -scaled : scaled};
}

std::string Decimal::to_string() const {
  const int64_t magnitude = scaled < 0 ? -scaled : scaled;
  std::string out = (scaled < 0 ? "-" : "") + std::to_string(magnitude / kScale);
  int64_t fraction = magnitude % kScale;
  if (fraction != 0) {
    std::string digits = std::to_string(fraction);
    digits.insert(0, static_cast<size_t>(kFractionDigitsMax) - digits.size(), '0');
    while (digits.back() == '0') digits.pop_back();
    out += "." + digits;
  }
  return out;
}

}  // namespace loyalty
