// Fuzz target: coupon codes (engine/coupon_code.hpp) as a member types them or a till scans
// them. Properties:
// - what parses is 12 characters of the alphabet, and parses again to itself;
// - the code made from any 55 bits parses back to itself, and every one-character change of it
//   is refused (the check character catches it before any lookup);
// - text with a character outside the alphabet, hyphens and spaces aside, never parses.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "engine/coupon_code.hpp"
#include "fuzz/property.hpp"

namespace {

constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

bool outside_alphabet(char c) {
  if (c == '-' || c == ' ') return false;
  if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return kAlphabet.find(c) == std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace loyalty;
  const std::string_view typed(reinterpret_cast<const char*>(data), size);
  if (const std::optional<std::string> code = parse_coupon_code(typed)) {
    FUZZ_PROPERTY(code->size() == kCouponCodeLength, "a code is 12 characters");
    for (const char c : *code) {
      FUZZ_PROPERTY(kAlphabet.find(c) != std::string_view::npos, "of the alphabet, upper case");
    }
    FUZZ_PROPERTY(parse_coupon_code(*code) == code, "a code parses to itself");
    bool foreign = false;
    for (const char c : typed) foreign = foreign || outside_alphabet(c);
    FUZZ_PROPERTY(!foreign, "no character outside the alphabet gets through");
  }
  if (size >= sizeof(uint64_t)) {
    uint64_t bits = 0;
    std::memcpy(&bits, data, sizeof bits);
    const std::string made = coupon_code_from_bits(bits);
    FUZZ_PROPERTY(parse_coupon_code(made) == made, "a made code parses back");
    const size_t at = size > sizeof bits ? data[sizeof bits] % kCouponCodeLength : 0;
    const char other = kAlphabet[(size > sizeof bits + 1 ? data[sizeof bits + 1] : 1) % 32];
    if (other != made[at]) {
      std::string typo = made;
      typo[at] = other;
      FUZZ_PROPERTY(!parse_coupon_code(typo).has_value(), "one mistyped character is refused");
    }
  }
  return 0;
}
