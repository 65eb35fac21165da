#include "engine/coupon_code.hpp"

#include <array>

namespace loyalty {
namespace {

constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr int kBase = 32;
static_assert(kAlphabet.size() == kBase);

// The character's value in the alphabet (upper or lower case); -1 when it has none.
int value_of(char c) {
  if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  const size_t at = kAlphabet.find(c);
  return at == std::string_view::npos ? -1 : static_cast<int>(at);
}

// Luhn mod N: from the right, every second value doubled and its two base-32 digits added. With
// `has_check` the rightmost value is the check character (not doubled); the sum of a valid
// code is then a multiple of 32.
int luhn_sum(const std::array<int, kCouponCodeLength>& values, size_t count, bool has_check) {
  int sum = 0;
  bool doubled = !has_check;
  for (size_t i = count; i-- > 0;) {
    int addend = values[i] * (doubled ? 2 : 1);
    addend = addend / kBase + addend % kBase;
    sum += addend;
    doubled = !doubled;
  }
  return sum;
}

}  // namespace

std::string coupon_code_from_bits(uint64_t random_bits) {
  std::array<int, kCouponCodeLength> values{};
  std::string code(kCouponCodeLength, '0');
  for (size_t i = 0; i + 1 < kCouponCodeLength; ++i) {
    values[i] = static_cast<int>((random_bits >> (5 * (kCouponCodeLength - 2 - i))) & 31);
    code[i] = kAlphabet[static_cast<size_t>(values[i])];
  }
  const int check = (kBase - luhn_sum(values, kCouponCodeLength - 1, false) % kBase) % kBase;
  code.back() = kAlphabet[static_cast<size_t>(check)];
  return code;
}

std::optional<std::string> parse_coupon_code(std::string_view typed) {
  std::array<int, kCouponCodeLength> values{};
  std::string code;
  code.reserve(kCouponCodeLength);
  for (const char c : typed) {
    if (c == '-' || c == ' ') continue;
    const int value = value_of(c);
    if (value < 0 || code.size() == kCouponCodeLength) return std::nullopt;
    values[code.size()] = value;
    code.push_back(kAlphabet[static_cast<size_t>(value)]);
  }
  if (code.size() != kCouponCodeLength) return std::nullopt;
  if (luhn_sum(values, kCouponCodeLength, true) % kBase != 0) return std::nullopt;
  return code;
}

}  // namespace loyalty
