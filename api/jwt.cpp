// HS256 member tokens: careful base64url, OpenSSL HMAC, CRYPTO_memcmp, Boost.JSON claims.
// Order of checks: shape → header (alg) → signature → claims, so nothing of an unsigned
// payload is interpreted.
#include "api/jwt.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cmath>

#include "api/request_parsing.hpp"

namespace loyalty::api {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr size_t kSignatureBytes = 32;

// -1 for a character outside the base64url alphabet.
int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// A JSON object, or nullopt for anything else (parse errors included; never throws).
std::optional<boost::json::object> parse_object(std::string_view text) {
  boost::system::error_code error;
  boost::json::value value = boost::json::parse(text, error);
  if (error || !value.is_object()) return std::nullopt;
  return std::move(value.as_object());
}

// A NumericDate (RFC 7519 §2): an integer or a finite number of seconds; fractions are cut
// towards the past so that `exp` never lasts longer than written.
std::optional<int64_t> numeric_date(const boost::json::value& value) {
  if (value.is_int64()) return value.as_int64();
  if (value.is_uint64()) {
    const uint64_t number = value.as_uint64();
    if (number > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(number);
  }
  if (value.is_double()) {
    const double number = value.as_double();
    if (!std::isfinite(number) || number < -9.0e18 || number > 9.0e18) return std::nullopt;
    return static_cast<int64_t>(std::floor(number));
  }
  return std::nullopt;
}

}  // namespace

std::string base64url_encode(std::string_view bytes) {
  std::string text;
  text.reserve((bytes.size() * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t group = (static_cast<uint8_t>(bytes[i]) << 16) |
                           (static_cast<uint8_t>(bytes[i + 1]) << 8) |
                           static_cast<uint8_t>(bytes[i + 2]);
    text.push_back(kAlphabet[(group >> 18) & 63]);
    text.push_back(kAlphabet[(group >> 12) & 63]);
    text.push_back(kAlphabet[(group >> 6) & 63]);
    text.push_back(kAlphabet[group & 63]);
  }
  const size_t rest = bytes.size() - i;
  if (rest == 1) {
    const uint32_t group = static_cast<uint8_t>(bytes[i]) << 16;
    text.push_back(kAlphabet[(group >> 18) & 63]);
    text.push_back(kAlphabet[(group >> 12) & 63]);
  } else if (rest == 2) {
    const uint32_t group =
        (static_cast<uint8_t>(bytes[i]) << 16) | (static_cast<uint8_t>(bytes[i + 1]) << 8);
    text.push_back(kAlphabet[(group >> 18) & 63]);
    text.push_back(kAlphabet[(group >> 12) & 63]);
    text.push_back(kAlphabet[(group >> 6) & 63]);
  }
  return text;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;  // no byte string encodes to this length
  std::string bytes;
  bytes.reserve(text.size() * 3 / 4);
  uint32_t bits = 0;
  int bit_count = 0;
  for (const char c : text) {
    const int value = sextet(c);
    if (value < 0) return std::nullopt;  // '=', '+', '/', whitespace, anything else
    bits = (bits << 6) | static_cast<uint32_t>(value);
    bit_count += 6;
    if (bit_count >= 8) {
      bit_count -= 8;
      bytes.push_back(static_cast<char>((bits >> bit_count) & 0xff));
    }
  }
  // The 2 or 4 bits left over must be zero: otherwise two spellings decode to the same bytes.
  if ((bits & ((1u << bit_count) - 1)) != 0) return std::nullopt;
  return bytes;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  // HMAC() with a null key pointer for an empty key is fine; callers never pass one anyway.
  const unsigned char* result = HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                                     reinterpret_cast<const unsigned char*>(data.data()),
                                     data.size(), digest.data(), &length);
  if (result == nullptr || length != kSignatureBytes) return {};  // never matches a signature
  return std::string(reinterpret_cast<const char*>(digest.data()), length);
}

std::string sign_hs256(std::string_view secret, std::string_view header_json,
                       std::string_view payload_json) {
  std::string signing_input = base64url_encode(header_json) + "." + base64url_encode(payload_json);
  const std::string signature = hmac_sha256(secret, signing_input);
  return signing_input + "." + base64url_encode(signature);
}

std::string_view token_error_name(TokenError error) {
  switch (error) {
    case TokenError::malformed:
      return "malformed";
    case TokenError::bad_algorithm:
      return "bad_algorithm";
    case TokenError::bad_signature:
      return "bad_signature";
    case TokenError::bad_claims:
      return "bad_claims";
    case TokenError::expired:
      return "expired";
    case TokenError::not_yet_valid:
      return "not_yet_valid";
  }
  return "malformed";
}

MemberTokenVerifier::MemberTokenVerifier(std::string secret) : secret_(std::move(secret)) {}

TokenResult MemberTokenVerifier::verify(std::string_view token, int64_t now_s) const {
  if (secret_.empty() || token.empty() || token.size() > kTokenLengthMax) {
    return TokenError::malformed;
  }
  const size_t first_dot = token.find('.');
  if (first_dot == std::string_view::npos) return TokenError::malformed;
  const size_t second_dot = token.find('.', first_dot + 1);
  if (second_dot == std::string_view::npos ||
      token.find('.', second_dot + 1) != std::string_view::npos) {
    return TokenError::malformed;  // JWE (five parts) and anything else is not ours
  }
  const std::string_view header_part = token.substr(0, first_dot);
  const std::string_view payload_part = token.substr(first_dot + 1, second_dot - first_dot - 1);
  const std::string_view signature_part = token.substr(second_dot + 1);
  if (header_part.empty() || payload_part.empty()) return TokenError::malformed;

  const std::optional<std::string> header_json = base64url_decode(header_part);
  if (!header_json) return TokenError::malformed;
  const std::optional<boost::json::object> header = parse_object(*header_json);
  if (!header) return TokenError::malformed;
  const boost::json::value* alg = header->if_contains("alg");
  if (alg == nullptr || !alg->is_string() || alg->as_string() != "HS256") {
    return TokenError::bad_algorithm;
  }
  // RFC 7515 §4.1.11: extensions we do not understand must not be ignored.
  if (header->contains("crit")) return TokenError::bad_algorithm;

  const std::optional<std::string> signature = base64url_decode(signature_part);
  if (!signature || signature->size() != kSignatureBytes) return TokenError::bad_signature;
  const std::string expected =
      hmac_sha256(secret_, token.substr(0, second_dot));  // "<header>.<payload>" as sent
  if (expected.size() != kSignatureBytes ||
      CRYPTO_memcmp(expected.data(), signature->data(), kSignatureBytes) != 0) {
    return TokenError::bad_signature;
  }

  const std::optional<std::string> payload_json = base64url_decode(payload_part);
  if (!payload_json) return TokenError::malformed;
  const std::optional<boost::json::object> payload = parse_object(*payload_json);
  if (!payload) return TokenError::malformed;
  const boost::json::value* sub = payload->if_contains("sub");
  const boost::json::value* exp = payload->if_contains("exp");
  if (sub == nullptr || !sub->is_string() || exp == nullptr) return TokenError::bad_claims;
  const std::string_view member_id = sub->as_string();
  if (!is_valid_id(member_id)) return TokenError::bad_claims;
  const std::optional<int64_t> expires_at = numeric_date(*exp);
  if (!expires_at) return TokenError::bad_claims;
  if (*expires_at <= now_s) return TokenError::expired;
  if (const boost::json::value* nbf = payload->if_contains("nbf")) {
    const std::optional<int64_t> not_before = numeric_date(*nbf);
    if (!not_before) return TokenError::bad_claims;
    if (*not_before > now_s) return TokenError::not_yet_valid;
  }
  return MemberTokenClaims{std::string(member_id), *expires_at};
}

}  // namespace loyalty::api
