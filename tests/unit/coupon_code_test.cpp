// Coupon codes as domain.md gives them: 12 characters of Crockford's Base32, 55 random bits and
// a Luhn mod 32 check character that stops any one mistyped character before a lookup.
#include "engine/coupon_code.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <random>
#include <set>
#include <vector>

namespace loyalty {
namespace {

constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

std::vector<uint64_t> some_bits() {
  std::mt19937_64 random(20261207);
  std::vector<uint64_t> bits{0, (uint64_t{1} << 55) - 1, 1, uint64_t{1} << 54};
  for (int i = 0; i < 200; ++i) bits.push_back(random());
  return bits;
}

TEST(CouponCode, IsTwelveCharactersOfTheAlphabetAndReadsBack) {
  for (const uint64_t bits : some_bits()) {
    const std::string code = coupon_code_from_bits(bits);
    ASSERT_EQ(code.size(), kCouponCodeLength);
    for (const char c : code) EXPECT_NE(kAlphabet.find(c), std::string_view::npos) << code;
    EXPECT_EQ(parse_coupon_code(code), code);
  }
}

TEST(CouponCode, CarriesFiftyFiveBits) {
  // Different low 55 bits, different codes; the bits above them play no part.
  std::set<std::string> codes;
  for (uint64_t bits = 0; bits < 4096; ++bits) codes.insert(coupon_code_from_bits(bits << 43));
  EXPECT_EQ(codes.size(), 4096u);
  EXPECT_EQ(coupon_code_from_bits(uint64_t{1} << 60), coupon_code_from_bits(0));
  EXPECT_NE(coupon_code_from_bits(uint64_t{1} << 54), coupon_code_from_bits(0));
}

TEST(CouponCode, AnyOneMistypedCharacterIsRefused) {
  for (const uint64_t bits : some_bits()) {
    const std::string code = coupon_code_from_bits(bits);
    for (size_t at = 0; at < code.size(); ++at) {
      for (const char other : kAlphabet) {
        if (other == code[at]) continue;
        std::string typo = code;
        typo[at] = other;
        EXPECT_FALSE(parse_coupon_code(typo).has_value()) << code << " as " << typo;
      }
    }
  }
}

TEST(CouponCode, ReadsLowerCaseAndGroupsAndRefusesWhatCannotBeOne) {
  const std::string code = coupon_code_from_bits(0x1234'5678'9ABC'DEull);
  std::string lower = code;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_EQ(parse_coupon_code(lower), code);
  const std::string grouped = code.substr(0, 4) + "-" + code.substr(4, 4) + " " + code.substr(8);
  EXPECT_EQ(parse_coupon_code(grouped), code);
  EXPECT_FALSE(parse_coupon_code(code.substr(0, 11)).has_value()) << "too short";
  EXPECT_FALSE(parse_coupon_code(code + "0").has_value()) << "too long";
  EXPECT_FALSE(parse_coupon_code("").has_value());
  for (const char outside : {'I', 'L', 'O', 'U', '*', '_', 'i'}) {
    std::string bad = code;
    bad[3] = outside;
    EXPECT_FALSE(parse_coupon_code(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace loyalty
