// Overflow-checked rational arithmetic; see rational.hpp for why.
#include "engine/rational.hpp"

#include <limits>

#include "engine/check.hpp"

namespace loyalty {
namespace {

Int128 abs128(Int128 v) { return v < 0 ? -v : v; }

Int128 gcd128(Int128 a, Int128 b) {
  a = abs128(a);
  b = abs128(b);
  while (b != 0) {
    const Int128 t = a % b;
    a = b;
    b = t;
  }
  return a == 0 ? 1 : a;
}

Rational normalised(Int128 numerator, Int128 denominator) {
  LOYALTY_CHECK(denominator != 0);
  if (denominator < 0) {
    numerator = -numerator;
    denominator = -denominator;
  }
  const Int128 divisor = gcd128(numerator, denominator);
  return Rational{numerator / divisor, denominator / divisor};
}

std::optional<Int128> checked_mul(Int128 a, Int128 b) {
  Int128 out;
  if (__builtin_mul_overflow(a, b, &out)) return std::nullopt;
  return out;
}

std::optional<Int128> checked_add(Int128 a, Int128 b) {
  Int128 out;
  if (__builtin_add_overflow(a, b, &out)) return std::nullopt;
  return out;
}

}  // namespace

Rational Rational::of(Decimal value) { return normalised(value.scaled, Decimal::kScale); }

std::optional<Rational> Rational::ratio(int64_t numerator, int64_t denominator) {
  if (denominator == 0) return std::nullopt;
  return normalised(numerator, denominator);
}

std::optional<Rational> Rational::times(const Rational& other) const {
  // Cross-reduce first so the products stay as small as the exact answer allows.
  const Int128 g1 = gcd128(numerator, other.denominator);
  const Int128 g2 = gcd128(other.numerator, denominator);
  auto num = checked_mul(numerator / g1, other.numerator / g2);
  auto den = checked_mul(denominator / g2, other.denominator / g1);
  if (!num || !den) return std::nullopt;
  return normalised(*num, *den);
}

std::optional<Rational> Rational::plus(const Rational& other) const {
  const Int128 g = gcd128(denominator, other.denominator);
  auto left = checked_mul(numerator, other.denominator / g);
  auto right = checked_mul(other.numerator, denominator / g);
  auto den = checked_mul(denominator, other.denominator / g);
  if (!left || !right || !den) return std::nullopt;
  auto num = checked_add(*left, *right);
  if (!num) return std::nullopt;
  return normalised(*num, *den);
}

std::optional<int64_t> Rational::rounded(Rounding mode) const {
  Int128 quotient = numerator / denominator;
  Int128 remainder = numerator % denominator;
  if (remainder < 0) {  // C++ truncates toward zero; floor needs toward -infinity
    quotient -= 1;
    remainder += denominator;
  }
  // Half rounds up (away from zero for the non-negative values earning produces).
  if (mode == Rounding::nearest && remainder * 2 >= denominator) quotient += 1;
  if (quotient > std::numeric_limits<int64_t>::max() ||
      quotient < std::numeric_limits<int64_t>::min()) {
    return std::nullopt;
  }
  return static_cast<int64_t>(quotient);
}

}  // namespace loyalty
