// API keys: `Authorization: Bearer <key>` → SHA-256 → the configured key's Principal, and the
// role and store-scope checks of api.md "Auth". Member JWTs come later.
// Thread-safety: a KeyTable is immutable after construction; share it between threads freely.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "api/server_config.hpp"
#include "engine/outcome.hpp"

namespace loyalty::api {

// Who is calling, as far as the API cares.
struct Principal {
  std::string name;  // the key's configured name (safe to log)
  Role role = Role::app;
  std::vector<std::string> stores;  // pos: the stores it may post for
  bool all_stores = false;          // pos: stores = ["*"]
};

// Lower-case hex SHA-256 of `data` (OpenSSL EVP).
std::string sha256_hex(std::string_view data);

class KeyTable {
 public:
  explicit KeyTable(const std::vector<ApiKeyConfig>& keys);

  // The principal for an Authorization header value; nullopt when the header is missing,
  // not "Bearer <key>", or names no configured key.
  std::optional<Principal> authenticate(std::string_view authorization_header) const;

 private:
  std::unordered_map<std::string, Principal> by_digest_;
};

// unauthorized when there is no principal, forbidden when its role is not in `allowed`;
// Rejection::none() when the call may go ahead.
Rejection authorize(const std::optional<Principal>& principal, std::initializer_list<Role> allowed);

// forbidden (field store_id) when a pos key posts for a store outside its scope. Other roles
// are not store-scoped.
Rejection authorize_store(const Principal& principal, std::string_view store_id);

}  // namespace loyalty::api
