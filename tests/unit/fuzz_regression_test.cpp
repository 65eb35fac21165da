// Inputs the fuzzers (fuzz/) found wrong, kept as tests: each reads its saved input from
// fuzz/corpus/<target>/regression_* and checks the behaviour the fix gave it.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>
#include <sstream>
#include <string>

#include "api/request_parsing.hpp"
#include "engine/program_toml.hpp"
#include "engine/time.hpp"
#include "engine/tzdb/os_time_zones.hpp"

namespace loyalty {
namespace {

std::string corpus_file(const std::string& target, const std::string& name) {
  std::ifstream file(std::string(LOYALTY_SOURCE_DIR) + "/fuzz/corpus/" + target + "/" + name,
                     std::ios::binary);
  std::stringstream text;
  text << file.rdbuf();
  EXPECT_FALSE(text.str().empty()) << target << "/" << name;
  return text.str();
}

// A fuzz/corpus file of fuzz_request: the selector byte, then the request body.
std::string request_body(const std::string& name) {
  const std::string input = corpus_file("request", name);
  return input.empty() ? input : input.substr(1);
}

// fuzz_request: "9999-12-31T23:59:59-01:00" was accepted as a time in year 10000 UTC, which
// format_rfc3339 wrote as "10000-01-01T00:59:59Z", a time nothing (the API, import) reads back.
TEST(FuzzRegression, TimesOutsideFourDigitUtcYearsAreRefused) {
  EXPECT_FALSE(parse_rfc3339("9999-12-31T23:59:59-01:00").has_value());
  EXPECT_FALSE(parse_rfc3339("0000-01-01T00:00:00+00:01").has_value());

  for (const char* edge : {"9999-12-31T23:59:59.999Z", "0000-01-01T00:00:00Z"}) {
    const std::optional<TimeMs> time = parse_rfc3339(edge);
    ASSERT_TRUE(time.has_value()) << edge;
    EXPECT_EQ(format_rfc3339(*time), edge);
  }
  const std::optional<TimeMs> shifted = parse_rfc3339("9999-12-31T23:59:59+01:00");
  ASSERT_TRUE(shifted.has_value());
  EXPECT_EQ(format_rfc3339(*shifted), "9999-12-31T22:59:59Z");
}

TEST(FuzzRegression, PurchaseInYear10000IsRefusedNamingOccurredAt) {
  const auto parsed = api::parse_purchase_request(request_body("regression_time_year_10000"));
  const auto* error = std::get_if<api::ParseError>(&parsed);
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(error->field, "occurred_at");
}

TEST(FuzzRegression, RefundBeforeYear0IsRefusedNamingOccurredAt) {
  const auto parsed = api::parse_refund_request(request_body("regression_time_year_minus_1"));
  const auto* error = std::get_if<api::ParseError>(&parsed);
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(error->field, "occurred_at");
}

// fuzz_request: a profile number beyond a double's range (1e400) was stored, and written back
// by Boost.JSON as `Infinity`, which is not JSON: loyaltyctl export events could not read it.
TEST(FuzzRegression, ProfileNumberBeyondDoubleIsRefusedNamingProfile) {
  // Boost.JSON 1.81 reads 0e400 as NaN, written back as `NaN`: refused alike.
  for (const char* name : {"regression_profile_1e400", "regression_profile_0e400"}) {
    const auto parsed = api::parse_signup_request(request_body(name));
    const auto* error = std::get_if<api::ParseError>(&parsed);
    ASSERT_NE(error, nullptr) << name;
    EXPECT_EQ(error->field, "profile");
  }

  // Large but finite numbers are kept, and stay JSON.
  const auto fine = api::parse_signup_request(
      R"({"member_id":"m-1","profile":{"a":1e308,"b":-1e-400,"c":18446744073709551616}})");
  ASSERT_TRUE(std::holds_alternative<SignupEvent>(fine));
  boost::system::error_code json_error;
  boost::json::parse(std::get<SignupEvent>(fine).profile_json, json_error);
  EXPECT_FALSE(json_error) << std::get<SignupEvent>(fine).profile_json;
}

// fuzz_program_toml: tier benefits `{ x = 1e400 }` were accepted; the member view parsed them
// to infinity and answered GET /v1/members/{id} with `"benefits":{"x":Infinity}`, not JSON.
TEST(FuzzRegression, BenefitNumberBeyondDoubleIsRefusedNamingTheKey) {
  const auto parsed =
      parse_program_toml(corpus_file("program_toml", "regression_benefits_1e400.toml"),
                         "program.toml", os_time_zones());
  const auto* error = std::get_if<ProgramLoadError>(&parsed);
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(error->key, "tiers.levels[0].benefits.x");

  // fuzz_program_toml again: `0e400` is 0 to toml11 but NaN to Boost.JSON 1.81, so zeros are
  // written as 0.0.
  const auto zeros =
      parse_program_toml(corpus_file("program_toml", "regression_benefits_0e400.toml"),
                         "program.toml", os_time_zones());
  ASSERT_TRUE(std::holds_alternative<Program>(zeros));
  EXPECT_EQ(std::get<Program>(zeros).tiers->levels[0].benefits_json, R"({"x":0.0,"y":-0.0})");

  const std::string large = R"([program]
id = "p"
currency = "CNY"
[earning]
points_per_unit = 1
unit_minor = 100
[tiers]
[[tiers.levels]]
name = "green"
threshold = 0
benefits = { x = 1.5e300, y = 1e-400 }
)";
  const auto accepted = parse_program_toml(large, "program.toml", os_time_zones());
  ASSERT_TRUE(std::holds_alternative<Program>(accepted));
  const std::string& benefits = std::get<Program>(accepted).tiers->levels[0].benefits_json;
  boost::system::error_code json_error;
  const boost::json::value value = boost::json::parse(benefits, json_error);
  ASSERT_FALSE(json_error) << benefits;
  boost::json::parse(boost::json::serialize(value), json_error);
  EXPECT_FALSE(json_error) << boost::json::serialize(value);
}

// fuzz_program_toml: invalid UTF-8 inside a TOML literal string ('…' or '''…''') made toml11
// 3.7 read past the end of its buffer while reporting it (ASan: heap-buffer-overflow). The text
// is now checked to be UTF-8, as TOML requires, before toml11 sees it.
TEST(FuzzRegression, ProgramTextThatIsNotUtf8IsRefusedWithItsLine) {
  for (const char* name :
       {"regression_literal_string_bad_utf8.toml", "regression_ml_literal_string_bad_utf8.toml"}) {
    const auto parsed =
        parse_program_toml(corpus_file("program_toml", name), "program.toml", os_time_zones());
    const auto* error = std::get_if<ProgramLoadError>(&parsed);
    ASSERT_NE(error, nullptr) << name;
    EXPECT_NE(error->message.find("not valid UTF-8"), std::string::npos) << error->message;
  }
  const std::string header = "[program]\nid = \"p\"\ncurrency = \"CNY\"\n# ";
  for (const char* bad : {"\xC0\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xF5", "\xE2\x82"}) {
    const auto parsed = parse_program_toml(header + bad + "\n", "program.toml", os_time_zones());
    const auto* error = std::get_if<ProgramLoadError>(&parsed);
    ASSERT_NE(error, nullptr);
    EXPECT_EQ(error->message, "program.toml:4: not valid UTF-8 (TOML files are UTF-8)");
  }
  // UTF-8 itself is welcome, in comments and in strings.
  const auto accepted = parse_program_toml(header + "caf\xC3\xA9 \xF0\x9F\x98\x80\n" +
                                               "[earning]\npoints_per_unit = 1\nunit_minor = 100\n",
                                           "program.toml", os_time_zones());
  EXPECT_TRUE(std::holds_alternative<Program>(accepted));
}

}  // namespace
}  // namespace loyalty
