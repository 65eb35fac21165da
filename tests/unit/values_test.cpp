// Exact decimals, rationals and RFC 3339 time: the building blocks of the arithmetic.
#include <gtest/gtest.h>

#include "engine/decimal.hpp"
#include "engine/rational.hpp"
#include "engine/referral_code.hpp"
#include "engine/time.hpp"

namespace loyalty {
namespace {

TEST(Decimal, ParsesExactlyUpToFourDigits) {
  EXPECT_EQ(Decimal::parse("1.2345")->scaled, 12345);
  EXPECT_EQ(Decimal::parse("2")->scaled, 20000);
  EXPECT_EQ(Decimal::parse("0.0001")->scaled, 1);
  EXPECT_EQ(Decimal::parse("-1.5")->scaled, -15000);
  EXPECT_EQ(Decimal::parse("1_000.5")->scaled, 10005000);
  EXPECT_FALSE(Decimal::parse("1.23456").has_value());
  EXPECT_FALSE(Decimal::parse("1e3").has_value());
  EXPECT_FALSE(Decimal::parse("").has_value());
  EXPECT_FALSE(Decimal::parse(".").has_value());
  EXPECT_FALSE(Decimal::parse("1.2.3").has_value());
  EXPECT_EQ(Decimal::parse("1.2500")->to_string(), "1.25");
  EXPECT_EQ(Decimal::parse("-0.05")->to_string(), "-0.05");
}

TEST(Rational, RoundsFloorAndNearest) {
  const Rational r = *Rational::ratio(9, 2);  // 4.5
  EXPECT_EQ(r.rounded(Rounding::floor), 4);
  EXPECT_EQ(r.rounded(Rounding::nearest), 5);
  const Rational n = *Rational::ratio(-9, 2);
  EXPECT_EQ(n.rounded(Rounding::floor), -5);
  EXPECT_EQ(Rational::of(*Decimal::parse("1.25")).times(Rational::of(64))->rounded(Rounding::floor),
            80);
}

TEST(Time, ParsesAndFormatsRfc3339) {
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_rfc3339("2026-11-20T10:15:00Z"), 1795169700000);
  EXPECT_EQ(parse_rfc3339("2026-11-20T18:15:00+08:00"), parse_rfc3339("2026-11-20T10:15:00Z"));
  EXPECT_EQ(parse_rfc3339("2026-11-20T10:15:00.5Z"), 1795169700500);
  EXPECT_FALSE(parse_rfc3339("2026-02-30T00:00:00Z").has_value());
  EXPECT_FALSE(parse_rfc3339("2026-11-20 10:15:00Z").has_value());
  EXPECT_FALSE(parse_rfc3339("2026-11-20T10:15:00").has_value());
  EXPECT_FALSE(parse_rfc3339("2026-11-20T24:00:00Z").has_value());
  EXPECT_EQ(format_rfc3339(1795169700000), "2026-11-20T10:15:00Z");
  EXPECT_EQ(format_rfc3339(1795169700123), "2026-11-20T10:15:00.123Z");
}

TEST(Time, CalendarArithmetic) {
  const TimeMs friday = *parse_rfc3339("2026-11-20T10:00:00Z");
  EXPECT_EQ(iso_weekday(friday), 5);
  EXPECT_EQ(iso_weekday(*parse_rfc3339("2026-11-22T23:59:59Z")), 7);
  EXPECT_EQ(end_of_month_after(friday, 0), *parse_rfc3339("2026-12-01T00:00:00Z"));
  EXPECT_EQ(end_of_month_after(friday, 2), *parse_rfc3339("2027-02-01T00:00:00Z"));
  EXPECT_EQ(add_months(*parse_rfc3339("2026-01-31T08:00:00Z"), 1),
            *parse_rfc3339("2026-02-28T08:00:00Z"));
  EXPECT_EQ(month_index(friday) - month_index(*parse_rfc3339("2025-11-30T00:00:00Z")), 12);
}

TEST(ReferralCode, StableUnambiguousAndNormalised) {
  const std::string code = referral_code_for("m-42", 0);
  EXPECT_EQ(code, referral_code_for("m-42", 0));
  EXPECT_NE(code, referral_code_for("m-42", 1));
  EXPECT_NE(code, referral_code_for("m-43", 0));
  EXPECT_EQ(code.size(), kReferralCodeLength);
  EXPECT_EQ(code.find_first_of("01OIL"), std::string::npos);
  std::string lower = code;
  for (char& c : lower) c = static_cast<char>(std::tolower(c));
  EXPECT_EQ(normalise_referral_code(lower), code);
  EXPECT_EQ(normalise_referral_code("O0O0O0O0"), "");
}

}  // namespace
}  // namespace loyalty
