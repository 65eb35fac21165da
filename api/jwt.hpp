// Member tokens (api.md "Auth"): HS256 JSON Web Tokens signed by the app backend with the
// configured secret, `sub` = member id, `exp` required. Only HS256 is accepted: a token that
// names any other `alg` (`none` included) is refused before its signature is looked at.
// Thread-safety: MemberTokenVerifier is immutable after construction; the free functions are
// pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace loyalty::api {

// Base64url without padding (RFC 7515 §2). Decoding refuses '=' padding, characters outside
// [A-Za-z0-9_-], a length of 1 mod 4, and non-zero unused trailing bits (so every byte string
// has exactly one accepted spelling).
std::string base64url_encode(std::string_view bytes);
std::optional<std::string> base64url_decode(std::string_view text);

// HMAC-SHA256 of `data` under `key` (OpenSSL): 32 raw bytes.
std::string hmac_sha256(std::string_view key, std::string_view data);

// "<b64url(header_json)>.<b64url(payload_json)>.<b64url(HMAC-SHA256)>". The JSON texts are
// signed as given: tests use it to build tokens, also deliberately bad ones.
std::string sign_hs256(std::string_view secret, std::string_view header_json,
                       std::string_view payload_json);

struct MemberTokenClaims {
  std::string member_id;     // `sub`
  int64_t expires_at_s = 0;  // `exp`, seconds since the Unix epoch
};

// Why a token was refused. All of them answer 401; the kind is for tests and logs.
enum class TokenError : uint8_t {
  malformed = 0,      // not three base64url parts, or a header/payload that is not a JSON object
  bad_algorithm = 1,  // `alg` is not "HS256" (or the header has `crit`)
  bad_signature = 2,  // the HMAC does not match
  bad_claims = 3,     // `sub` or `exp` missing or of the wrong type, `sub` not a valid id
  expired = 4,        // exp <= now
  not_yet_valid = 5,  // nbf > now
};

std::string_view token_error_name(TokenError error);

using TokenResult = std::variant<MemberTokenClaims, TokenError>;

class MemberTokenVerifier {
 public:
  // Longest token accepted; far above what a header with `sub` and `exp` needs.
  static constexpr size_t kTokenLengthMax = 4096;

  // `secret` must not be empty (member tokens are off when none is configured).
  explicit MemberTokenVerifier(std::string secret);

  // Checks structure, algorithm, signature (constant-time), then the claims against `now_s`.
  [[nodiscard]] TokenResult verify(std::string_view token, int64_t now_s) const;

 private:
  std::string secret_;
};

}  // namespace loyalty::api
