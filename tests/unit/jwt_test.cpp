// Member tokens: base64url edge cases, the RFC 7515 A.1 HS256 known answer (reproduced with
// `openssl dgst -sha256 -mac HMAC`), and every way a token is refused; then the KeyTable and
// the scope checks that the router and the WebSocket feed use.
#include "api/jwt.hpp"

#include <gtest/gtest.h>

#include <string>

#include "api/auth.hpp"

namespace loyalty::api {
namespace {

constexpr int64_t kNow = 1'800'000'000;  // 2027-01-15
const std::string kSecret = "unit-test-member-secret";

std::string token_for(std::string_view payload_json, std::string_view secret = kSecret) {
  return sign_hs256(secret, R"({"alg":"HS256","typ":"JWT"})", payload_json);
}

std::string claims(std::string_view sub, int64_t exp) {
  return R"({"sub":")" + std::string(sub) + R"(","exp":)" + std::to_string(exp) + "}";
}

TokenError error_of(const TokenResult& result) {
  const TokenError* error = std::get_if<TokenError>(&result);
  EXPECT_NE(error, nullptr) << "the token was accepted";
  return error ? *error : TokenError::malformed;
}

TEST(Base64Url, RoundTripsEveryLength) {
  std::string bytes;
  for (int i = 0; i < 70; ++i) {
    const std::string text = base64url_encode(bytes);
    EXPECT_EQ(text.find_first_of("=+/"), std::string::npos);
    EXPECT_EQ(base64url_decode(text), bytes) << text;
    bytes.push_back(static_cast<char>(i * 37 + 255));
  }
}

TEST(Base64Url, KnownValues) {
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_EQ(base64url_decode("-_8"), std::string("\xfb\xff"));
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  EXPECT_EQ(base64url_encode("foo"), "Zm9v");
}

TEST(Base64Url, RefusesWhatIsNotCanonicalBase64Url) {
  EXPECT_EQ(base64url_decode("Zg=="), std::nullopt);  // padding
  EXPECT_EQ(base64url_decode("Zm8="), std::nullopt);
  EXPECT_EQ(base64url_decode("+/8"), std::nullopt);    // the other alphabet
  EXPECT_EQ(base64url_decode("Zm 9v"), std::nullopt);  // whitespace
  EXPECT_EQ(base64url_decode("Zm9v."), std::nullopt);
  EXPECT_EQ(base64url_decode(std::string("Zm\0v", 4)), std::nullopt);
  EXPECT_EQ(base64url_decode("Z"), std::nullopt);    // 1 mod 4: no byte string has it
  EXPECT_EQ(base64url_decode("Zh"), std::nullopt);   // unused bits set ("Zg" is canonical)
  EXPECT_EQ(base64url_decode("Zm9"), std::nullopt);  // unused bits set ("Zm8")
  EXPECT_EQ(base64url_decode(""), std::string());
}

// RFC 7515 Appendix A.1: the HS256 example, key from its JWK "k".
TEST(Hs256, Rfc7515KnownAnswer) {
  const std::string key = *base64url_decode(
      "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow");
  const std::string signing_input =
      "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
      "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVl"
      "fQ";
  EXPECT_EQ(base64url_encode(hmac_sha256(key, signing_input)),
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");

  // The signature verifies; the token is then refused only because it has no `sub`.
  const MemberTokenVerifier verifier(key);
  const std::string token = signing_input + ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  EXPECT_EQ(error_of(verifier.verify(token, 1300819379)), TokenError::bad_claims);
  EXPECT_EQ(error_of(verifier.verify(signing_input + ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl",
                                     1300819379)),
            TokenError::bad_signature);
}

// Signed with `openssl dgst -sha256 -mac HMAC -macopt key:known-answer-secret`, not by us.
TEST(Hs256, MemberTokenKnownAnswer) {
  const std::string token =
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJtLTQyIiwiZXhwIjo0MTAyNDQ0ODAwfQ."
      "Au1R9NA_cyONcRXLFMgGTUx_wPY9Bg3X0zJLIe9ARDw";
  const MemberTokenVerifier verifier("known-answer-secret");
  const TokenResult result = verifier.verify(token, kNow);
  const MemberTokenClaims* accepted = std::get_if<MemberTokenClaims>(&result);
  ASSERT_NE(accepted, nullptr);
  EXPECT_EQ(accepted->member_id, "m-42");
  EXPECT_EQ(accepted->expires_at_s, 4102444800);
  EXPECT_EQ(token_for(R"({"sub":"m-42","exp":4102444800})", "known-answer-secret"), token);
}

TEST(MemberTokenVerifier, AcceptsAValidToken) {
  const MemberTokenVerifier verifier(kSecret);
  const TokenResult result = verifier.verify(token_for(claims("m-1", kNow + 60)), kNow);
  ASSERT_TRUE(std::holds_alternative<MemberTokenClaims>(result));
  EXPECT_EQ(std::get<MemberTokenClaims>(result).member_id, "m-1");
}

TEST(MemberTokenVerifier, ExpiredAtExp) {
  const MemberTokenVerifier verifier(kSecret);
  EXPECT_EQ(error_of(verifier.verify(token_for(claims("m-1", kNow)), kNow)), TokenError::expired);
  EXPECT_EQ(error_of(verifier.verify(token_for(claims("m-1", kNow - 1)), kNow)),
            TokenError::expired);
  EXPECT_EQ(error_of(verifier.verify(token_for(R"({"sub":"m-1","exp":1800000000.5})"), kNow)),
            TokenError::expired);  // fractions count towards the past
}

TEST(MemberTokenVerifier, RefusesOtherAlgorithms) {
  const MemberTokenVerifier verifier(kSecret);
  const std::string payload = claims("m-1", kNow + 60);
  // alg none with an empty signature, and with the HS256 signature kept.
  const std::string none =
      base64url_encode(R"({"alg":"none","typ":"JWT"})") + "." + base64url_encode(payload) + ".";
  EXPECT_EQ(error_of(verifier.verify(none, kNow)), TokenError::bad_algorithm);
  for (const char* header :
       {R"({"alg":"none"})", R"({"alg":"HS512"})", R"({"alg":"RS256"})", R"({"alg":"hs256"})",
        R"({"alg":["HS256"]})", R"({"typ":"JWT"})", R"({"alg":"HS256","crit":["exp"]})"}) {
    EXPECT_EQ(error_of(verifier.verify(sign_hs256(kSecret, header, payload), kNow)),
              TokenError::bad_algorithm)
        << header;
  }
}

TEST(MemberTokenVerifier, RefusesTampering) {
  const MemberTokenVerifier verifier(kSecret);
  const std::string token = token_for(claims("m-1", kNow + 60));
  const size_t dot = token.rfind('.');
  // Another member in the payload, with the original signature.
  const std::string other = token.substr(0, token.find('.') + 1) +
                            base64url_encode(claims("m-2", kNow + 60)) + token.substr(dot);
  EXPECT_EQ(error_of(verifier.verify(other, kNow)), TokenError::bad_signature);
  // One signature character changed.
  std::string flipped = token;
  flipped[dot + 1] = flipped[dot + 1] == 'A' ? 'B' : 'A';
  EXPECT_EQ(error_of(verifier.verify(flipped, kNow)), TokenError::bad_signature);
  // A truncated signature, and one signed with another secret.
  EXPECT_EQ(error_of(verifier.verify(token.substr(0, token.size() - 2), kNow)),
            TokenError::bad_signature);
  EXPECT_EQ(error_of(verifier.verify(token_for(claims("m-1", kNow + 60), "other"), kNow)),
            TokenError::bad_signature);
  // A padded signature is not base64url.
  EXPECT_EQ(error_of(verifier.verify(token + "=", kNow)), TokenError::bad_signature);
}

TEST(MemberTokenVerifier, RefusesMalformedTokens) {
  const MemberTokenVerifier verifier(kSecret);
  const std::string token = token_for(claims("m-1", kNow + 60));
  for (const std::string& bad :
       {std::string(), std::string("abc"), std::string("a.b"), token + ".x", std::string(".."),
        "!!!" + token.substr(token.find('.')), std::string(5000, 'a'),
        sign_hs256(kSecret, "not json", claims("m-1", kNow + 60)),
        sign_hs256(kSecret, R"(["alg","HS256"])", claims("m-1", kNow + 60))}) {
    EXPECT_EQ(error_of(verifier.verify(bad, kNow)), TokenError::malformed) << bad;
  }
  EXPECT_EQ(error_of(verifier.verify(sign_hs256(kSecret, R"({"alg":"HS256"})", "[1]"), kNow)),
            TokenError::malformed);
}

TEST(MemberTokenVerifier, RefusesBadClaims) {
  const MemberTokenVerifier verifier(kSecret);
  for (const char* payload :
       {R"({"sub":"m-1"})", R"({"exp":4102444800})", R"({"sub":7,"exp":4102444800})",
        R"({"sub":"","exp":4102444800})", R"({"sub":"a b","exp":4102444800})",
        R"({"sub":"m-1","exp":"4102444800"})", R"({"sub":"m-1","exp":null})",
        R"({"sub":"m-1","exp":4102444800,"nbf":"soon"})"}) {
    EXPECT_EQ(error_of(verifier.verify(token_for(payload), kNow)), TokenError::bad_claims)
        << payload;
  }
  EXPECT_EQ(error_of(verifier.verify(
                token_for(R"({"sub":"m-1","exp":4102444800,"nbf":4102444000})"), kNow)),
            TokenError::not_yet_valid);
}

TEST(MemberTokenVerifier, NoSecretNoTokens) {
  const MemberTokenVerifier verifier("");
  EXPECT_EQ(error_of(verifier.verify(token_for(claims("m-1", kNow + 60), ""), kNow)),
            TokenError::malformed);
}

// --- KeyTable and the scope checks -------------------------------------------------------

KeyTable table_at(int64_t now_s, std::string secret = kSecret) {
  ApiKeyConfig admin{"admin-1", Role::admin, sha256_hex("admin-key"), {}, false};
  return KeyTable({admin}, std::move(secret), [now_s] { return now_s * 1000 + 999; });
}

TEST(KeyTable, AuthenticatesMemberTokens) {
  const KeyTable keys = table_at(kNow);
  const auto principal = keys.authenticate("Bearer " + token_for(claims("m-1", kNow + 1)));
  ASSERT_TRUE(principal.has_value());
  EXPECT_EQ(principal->member_scope, "m-1");
  EXPECT_EQ(principal->name, "member-token");
  EXPECT_FALSE(keys.authenticate("Bearer " + token_for(claims("m-1", kNow))).has_value());
  EXPECT_FALSE(keys.authenticate("Bearer " + token_for(claims("m-1", kNow + 1), "x")));
  const auto admin = keys.authenticate("Bearer admin-key");
  ASSERT_TRUE(admin.has_value());
  EXPECT_FALSE(admin->is_member_token());
  // Without a configured secret, no token is accepted.
  EXPECT_FALSE(table_at(kNow, "").authenticate("Bearer " + token_for(claims("m-1", kNow + 1), "")));
}

TEST(Authorize, MemberTokensReadOnlyTheirMember) {
  Principal member;
  member.name = "member-token";
  member.member_scope = "m-1";
  const std::optional<Principal> caller = member;
  EXPECT_TRUE(authorize_member_read(caller, "m-1", {Role::app, Role::admin}).ok());
  EXPECT_EQ(authorize_member_read(caller, "m-2", {Role::app, Role::admin}).code,
            ErrorCode::forbidden);
  // Every role check refuses it, whatever its `role` says.
  EXPECT_EQ(authorize(caller, {Role::app, Role::pos, Role::admin}).code, ErrorCode::forbidden);
  EXPECT_EQ(authorize_store(member, "s-1").code, ErrorCode::forbidden);
  EXPECT_TRUE(may_subscribe(member, "m-1"));
  EXPECT_FALSE(may_subscribe(member, "m-2"));

  const std::optional<Principal> nobody;
  EXPECT_EQ(authorize_member_read(nobody, "m-1", {Role::app}).code, ErrorCode::unauthorized);
  const Principal pos{"pos-1", Role::pos, {"s-1"}, false, std::nullopt};
  EXPECT_EQ(authorize_member_read(pos, "m-1", {Role::app}).code, ErrorCode::forbidden);
  EXPECT_TRUE(authorize_member_read(pos, "m-1", {Role::pos}).ok());
  EXPECT_FALSE(may_subscribe(pos, "m-1"));
  EXPECT_TRUE(may_subscribe(Principal{"app-1", Role::app, {}, false, std::nullopt}, "m-9"));
}

}  // namespace
}  // namespace loyalty::api
