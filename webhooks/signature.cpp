#include "webhooks/signature.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <optional>
#include <vector>

#include "engine/check.hpp"

namespace loyalty::webhooks {
namespace {

constexpr size_t kSecretBytes = 32;
constexpr size_t kSecretBytesMin = 24;
constexpr size_t kSecretBytesMax = 64;

std::string base64(const unsigned char* bytes, size_t size) {
  std::string out(4 * ((size + 2) / 3), '\0');
  const int written =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes, static_cast<int>(size));
  LOYALTY_CHECK(written >= 0 && static_cast<size_t>(written) == out.size());
  return out;
}

// The bytes of standard base64 with padding; nullopt when `text` is not that.
std::optional<std::vector<unsigned char>> unbase64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  std::vector<unsigned char> out(text.size() / 4 * 3);
  const int written =
      EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                      static_cast<int>(text.size()));
  if (written < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding's bytes as zeros.
  size_t padding = 0;
  if (text.ends_with("==")) {
    padding = 2;
  } else if (text.ends_with('=')) {
    padding = 1;
  }
  out.resize(static_cast<size_t>(written) - padding);
  return out;
}

}  // namespace

std::string new_secret() {
  unsigned char key[kSecretBytes];
  LOYALTY_CHECK(RAND_bytes(key, sizeof key) == 1);
  return std::string(kSecretPrefix) + base64(key, sizeof key);
}

bool valid_secret(std::string_view secret) {
  if (!secret.starts_with(kSecretPrefix)) return false;
  const auto key = unbase64(secret.substr(kSecretPrefix.size()));
  return key && key->size() >= kSecretBytesMin && key->size() <= kSecretBytesMax;
}

std::string sign(std::string_view secret, std::string_view message_id, int64_t timestamp,
                 std::string_view body) {
  LOYALTY_CHECK(secret.starts_with(kSecretPrefix));
  const auto key = unbase64(secret.substr(kSecretPrefix.size()));
  LOYALTY_CHECK(key.has_value());
  std::string content;
  content.reserve(message_id.size() + body.size() + 24);
  content.append(message_id).append(".").append(std::to_string(timestamp)).append(".");
  content.append(body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_size = 0;
  LOYALTY_CHECK(HMAC(EVP_sha256(), key->data(), static_cast<int>(key->size()),
                     reinterpret_cast<const unsigned char*>(content.data()), content.size(), mac,
                     &mac_size) != nullptr);
  return "v1," + base64(mac, mac_size);
}

}  // namespace loyalty::webhooks
