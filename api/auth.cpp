// API key authentication: keys are stored only as SHA-256 digests, so a key is hashed once per
// request and looked up by its digest. A credential that is no key is tried as a member token.
#include "api/auth.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>

#include "api/system_clock.hpp"

namespace loyalty::api {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  // Fetched once: EVP_sha256() makes OpenSSL 3 look the algorithm up again on every digest,
  // which was half of the digest's cost, and every request with an API key takes one.
  static const EVP_MD* const kSha256 = [] {
    const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched != nullptr ? fetched : EVP_sha256();
  }();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &length, kSha256, nullptr) != 1) {
    return {};  // no digest matches "", so the caller treats it as an unknown key
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0x0f]);
  }
  return hex;
}

KeyTable::KeyTable(const std::vector<ApiKeyConfig>& keys, std::string member_token_secret,
                   std::function<TimeMs()> clock)
    : clock_(clock ? std::move(clock) : std::function<TimeMs()>(&system_clock_ms)) {
  for (const ApiKeyConfig& key : keys) {
    by_digest_.emplace(key.sha256_hex,
                       Principal{key.name, key.role, key.stores, key.all_stores, std::nullopt});
  }
  if (!member_token_secret.empty()) member_tokens_.emplace(std::move(member_token_secret));
}

std::optional<Principal> KeyTable::authenticate(std::string_view authorization_header) const {
  const std::string_view header = trim(authorization_header);
  const size_t space = header.find(' ');
  if (space == std::string_view::npos || !iequals(header.substr(0, space), "bearer")) {
    return std::nullopt;
  }
  const std::string_view key = trim(header.substr(space + 1));
  if (key.empty() || key.find_first_of(" \t") != std::string_view::npos) return std::nullopt;
  const auto it = by_digest_.find(sha256_hex(key));
  if (it != by_digest_.end()) return it->second;
  if (!member_tokens_) return std::nullopt;
  // Floor division: a token is expired from the first millisecond of its `exp` second.
  const TimeMs now_ms = clock_();
  const int64_t now_s = now_ms >= 0 ? now_ms / 1000 : -((-now_ms + 999) / 1000);
  const TokenResult result = member_tokens_->verify(key, now_s);
  const MemberTokenClaims* claims = std::get_if<MemberTokenClaims>(&result);
  if (claims == nullptr) return std::nullopt;
  Principal principal;
  principal.name = std::string(kMemberTokenName);
  principal.role = Role::app;  // unused: member_scope makes every role check refuse it
  principal.member_scope = claims->member_id;
  return principal;
}

Rejection authorize(const std::optional<Principal>& principal, RoleSet allowed) {
  if (!principal) {
    return {ErrorCode::unauthorized, "",
            "a valid API key or an unexpired member token is required: Authorization: Bearer "
            "<credential>"};
  }
  if (principal->is_member_token()) {
    return {ErrorCode::forbidden, "", "a member token may only read its own member"};
  }
  if (!allowed.contains(principal->role)) {
    return {ErrorCode::forbidden, "",
            "this endpoint is not open to " + std::string(role_name(principal->role)) + " keys"};
  }
  return Rejection::none();
}

Rejection authorize_member_read(const std::optional<Principal>& principal,
                                std::string_view member_id, RoleSet allowed) {
  if (principal && principal->is_member_token()) {
    if (*principal->member_scope == member_id) return Rejection::none();
    return {ErrorCode::forbidden, "", "this member token is for another member"};
  }
  return authorize(principal, allowed);
}

bool may_subscribe(const Principal& principal, std::string_view member_id) {
  if (principal.is_member_token()) return *principal.member_scope == member_id;
  return principal.role == Role::admin || principal.role == Role::app;
}

Rejection authorize_store(const Principal& principal, std::string_view store_id) {
  if (principal.is_member_token()) {
    return {ErrorCode::forbidden, "store_id", "a member token may not post for a store"};
  }
  if (principal.role != Role::pos || principal.all_stores) return Rejection::none();
  if (std::find(principal.stores.begin(), principal.stores.end(), store_id) !=
      principal.stores.end()) {
    return Rejection::none();
  }
  return {ErrorCode::forbidden, "store_id", "this key may not post for this store"};
}

}  // namespace loyalty::api
