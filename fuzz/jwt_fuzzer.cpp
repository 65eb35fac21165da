// Fuzz target: member tokens (api/jwt.hpp), verified with a fixed secret at a fixed time.
// Input: a mode byte, then either a raw token (even mode) or, for odd modes, a header JSON and
// a payload JSON separated by one 0xFF byte, which the target signs with the secret. Properties:
// - a token that verifies carries exactly the signed payload: its `sub`, its `exp` (whole
//   seconds, cut towards the past), a header with alg HS256 and no crit;
// - a correctly signed token is never refused for its signature, and one with a plain header
//   and valid claims is accepted;
// - changing any one character of a signed token makes it fail;
// - base64url has one spelling per byte string: decode(encode(x)) == x, and text that decodes
//   is the encoding of what it decodes to.
#include <boost/json/parse.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/jwt.hpp"
#include "api/request_parsing.hpp"
#include "fuzz/property.hpp"

namespace {
namespace json = boost::json;
using namespace loyalty::api;

constexpr std::string_view kSecret = "fuzz-secret-0123456789abcdef0123";
constexpr int64_t kNowS = 1'800'000'000;
constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";

const MemberTokenVerifier& verifier() {
  static const MemberTokenVerifier instance{std::string(kSecret)};
  return instance;
}

void check_base64url(std::string_view bytes) {
  const std::optional<std::string> decoded = base64url_decode(base64url_encode(bytes));
  FUZZ_PROPERTY(decoded && *decoded == bytes, "decode(encode(x)) == x");
  if (const std::optional<std::string> as_text = base64url_decode(bytes)) {
    FUZZ_PROPERTY(base64url_encode(*as_text) == bytes, "one spelling per byte string");
  }
}

std::optional<json::object> object_of(std::string_view text) {
  boost::system::error_code error;
  json::value value = json::parse(text, error);
  if (error || !value.is_object()) return std::nullopt;
  return std::move(value.as_object());
}

// An integer NumericDate, or a finite number cut towards the past, as RFC 7519 allows.
std::optional<int64_t> seconds_of(const json::value& value) {
  if (value.is_int64()) return value.as_int64();
  if (value.is_uint64() && value.as_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    return static_cast<int64_t>(value.as_uint64());
  }
  if (value.is_double() && std::isfinite(value.as_double()) &&
      std::fabs(value.as_double()) < 9e18) {
    return static_cast<int64_t>(std::floor(value.as_double()));
  }
  return std::nullopt;
}

void check_signed(std::string_view header_json, std::string_view payload_json, uint8_t mode) {
  const std::string token = sign_hs256(kSecret, header_json, payload_json);
  const TokenResult result = verifier().verify(token, kNowS);
  const std::optional<json::object> header = object_of(header_json);
  const std::optional<json::object> payload = object_of(payload_json);

  if (const auto* claims = std::get_if<MemberTokenClaims>(&result)) {
    FUZZ_PROPERTY(header && header->contains("alg") && header->at("alg") == "HS256" &&
                      !header->contains("crit"),
                  "a verified token's header names HS256 and no crit");
    FUZZ_PROPERTY(payload && payload->contains("sub") && payload->at("sub").is_string() &&
                      payload->at("sub").as_string() == claims->member_id,
                  "a verified token's member is the signed sub");
    const json::value* exp = payload->if_contains("exp");
    FUZZ_PROPERTY(exp != nullptr && seconds_of(*exp) == claims->expires_at_s,
                  "a verified token's expiry is the signed exp");
    FUZZ_PROPERTY(claims->expires_at_s > kNowS, "a verified token has not expired");
    if (const json::value* nbf = payload->if_contains("nbf")) {
      FUZZ_PROPERTY(seconds_of(*nbf) && *seconds_of(*nbf) <= kNowS, "nbf has passed");
    }
  } else {
    const TokenError error = std::get<TokenError>(result);
    FUZZ_PROPERTY(error != TokenError::bad_signature, "a correctly signed token has a good HMAC");
    // A plain header and claims that are obviously fine must be accepted.
    const bool plain_header = header && header->size() <= 2 && header->contains("alg") &&
                              header->at("alg") == "HS256" &&
                              (header->size() == 1 || header->contains("typ"));
    const bool plain_claims = payload && payload->size() == 2 && payload->contains("sub") &&
                              payload->at("sub").is_string() &&
                              is_valid_id(payload->at("sub").as_string()) &&
                              payload->contains("exp") && payload->at("exp").is_int64() &&
                              payload->at("exp").as_int64() > kNowS;
    FUZZ_PROPERTY(
        !(plain_header && plain_claims && token.size() <= MemberTokenVerifier::kTokenLengthMax),
        "a well-formed, unexpired, correctly signed token is accepted");
  }

  // One character changed anywhere: refused, whatever it is changed to.
  if (token.empty()) return;
  const size_t position = (size_t{mode} * 7919) % token.size();
  std::string tampered = token;
  const size_t index = kAlphabet.find(token[position]);
  tampered[position] =
      kAlphabet[(index == std::string_view::npos ? 0 : index + 1 + mode % 7) % kAlphabet.size()];
  if (tampered == token) return;
  FUZZ_PROPERTY(!std::holds_alternative<MemberTokenClaims>(verifier().verify(tampered, kNowS)),
                "a token changed in one character is refused");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (mode % 2 == 0) {
    const TokenResult result = verifier().verify(rest, kNowS);
    (void)result;  // forging an HMAC is not a fuzzer's job; the paths before it are
    check_base64url(rest);
    for (size_t begin = 0; begin <= rest.size();) {
      const size_t dot = std::min(rest.find('.', begin), rest.size());
      check_base64url(rest.substr(begin, dot - begin));
      begin = dot + 1;
    }
    return 0;
  }
  const size_t separator = rest.find('\xff');
  if (separator == std::string_view::npos) {
    check_signed(R"({"alg":"HS256","typ":"JWT"})", rest, mode);
  } else {
    check_signed(rest.substr(0, separator), rest.substr(separator + 1), mode);
  }
  return 0;
}
