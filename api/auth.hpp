// Credentials: `Authorization: Bearer <key>` → SHA-256 → the configured key's Principal, or
// `Bearer <member token>` (an HS256 JWT, api/jwt.hpp) → a member-scoped Principal; and the role,
// store and member-scope checks of api.md "Auth".
// Thread-safety: a KeyTable is immutable after construction; share it between threads freely.
#pragma once

#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "api/jwt.hpp"
#include "api/server_config.hpp"
#include "engine/outcome.hpp"
#include "engine/time.hpp"

namespace loyalty::api {

// Who is calling, as far as the API cares.
struct Principal {
  std::string name;  // the key's configured name (safe to log)
  Role role = Role::app;
  std::vector<std::string> stores;  // pos: the stores it may post for
  bool all_stores = false;          // pos: stores = ["*"]
  // Set for a member token: the member it speaks for. Such a principal may read only that
  // member (GET /v1/members/{id}, /ledger, /referrals) and subscribe only to it; `role` is
  // then meaningless and every role check refuses it. `name` is "member-token".
  std::optional<std::string> member_scope;

  bool is_member_token() const { return member_scope.has_value(); }
};

// The name member-token principals log under (never the token itself).
inline constexpr std::string_view kMemberTokenName = "member-token";

// Lower-case hex SHA-256 of `data` (OpenSSL EVP).
std::string sha256_hex(std::string_view data);

class KeyTable {
 public:
  // `member_token_secret` empty: member tokens are refused. `clock` tells `exp` from now
  // (milliseconds since the epoch; the system clock when not given).
  explicit KeyTable(const std::vector<ApiKeyConfig>& keys, std::string member_token_secret = {},
                    std::function<TimeMs()> clock = {});

  // The principal for an Authorization header value; nullopt when the header is missing,
  // not "Bearer <credential>", or the credential is neither a configured key nor a valid,
  // unexpired member token.
  std::optional<Principal> authenticate(std::string_view authorization_header) const;

 private:
  std::unordered_map<std::string, Principal> by_digest_;
  std::optional<MemberTokenVerifier> member_tokens_;
  std::function<TimeMs()> clock_;
};

// The key roles a route or message is open to: {Role::pos, Role::admin}. A value, so that the
// route table (api/routes.cpp) can hold it.
class RoleSet {
 public:
  constexpr RoleSet() = default;
  constexpr RoleSet(std::initializer_list<Role> roles) {
    for (const Role role : roles) bits_ = static_cast<uint8_t>(bits_ | bit(role));
  }
  constexpr bool contains(Role role) const { return (bits_ & bit(role)) != 0; }

 private:
  static constexpr uint8_t bit(Role role) {
    return static_cast<uint8_t>(1u << static_cast<unsigned>(role));
  }
  uint8_t bits_ = 0;
};

// unauthorized when there is no principal, forbidden when its role is not in `allowed` or it
// is a member token; Rejection::none() when the call may go ahead.
Rejection authorize(const std::optional<Principal>& principal, RoleSet allowed);

// For reads of one member (GET /v1/members/{id}, /ledger, /referrals): a member token for
// `member_id` may go ahead, one for another member is forbidden; keys as authorize().
Rejection authorize_member_read(const std::optional<Principal>& principal,
                                std::string_view member_id, RoleSet allowed);

// The WebSocket feed: whether `principal` may subscribe to `member_id`. admin and app keys
// may follow any member, a member token only its own; pos keys may not subscribe.
bool may_subscribe(const Principal& principal, std::string_view member_id);

// forbidden (field store_id) when a pos key posts for a store outside its scope. Other roles
// are not store-scoped.
Rejection authorize_store(const Principal& principal, std::string_view store_id);

}  // namespace loyalty::api
