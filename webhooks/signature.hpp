// Standard Webhooks 1.0 signatures (standardwebhooks.com): a secret is "whsec_" + base64 of its
// key bytes; a signature is "v1," + base64 of HMAC-SHA256(key, id + "." + timestamp + "." +
// body), and webhook-signature lists one per secret that signs, space-separated.
// Thread-safety: free functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace loyalty::webhooks {

inline constexpr std::string_view kSecretPrefix = "whsec_";

// A new secret: 32 bytes from OpenSSL's CSPRNG.
std::string new_secret();
// Whether `secret` is "whsec_" + base64 of 24 to 64 bytes.
bool valid_secret(std::string_view secret);
// "v1,<base64>"; `secret` must be valid_secret.
std::string sign(std::string_view secret, std::string_view message_id, int64_t timestamp,
                 std::string_view body);

}  // namespace loyalty::webhooks
