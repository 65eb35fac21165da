#include "cluster/identifier_keys.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <optional>
#include <string_view>

#include "engine/check.hpp"
#include "engine/claim_keys.hpp"

namespace loyalty::cluster {
namespace {

constexpr size_t kSecretBytes = 32;
constexpr size_t kDigestHexDigits = 32;  // 128 bits: no two numbers a cluster holds collide

std::string to_hex(const unsigned char* bytes, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text;
  text.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    text.push_back(kDigits[bytes[i] >> 4]);
    text.push_back(kDigits[bytes[i] & 0x0f]);
  }
  return text;
}

std::array<unsigned char, 32> hmac(const std::string& secret, std::string_view data) {
  std::array<unsigned char, 32> digest{};
  unsigned int size = 0;
  LOYALTY_CHECK(HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
                     reinterpret_cast<const unsigned char*>(data.data()), data.size(),
                     digest.data(), &size) != nullptr &&
                size == digest.size());
  return digest;
}

bool is_personal(const std::string& claim_key) {
  // "i:<kind>:<value>": the kinds that are a person's (a referral code or a coupon's is not).
  for (IdentifierKind kind : {IdentifierKind::phone, IdentifierKind::card}) {
    const std::string prefix = identifier_claim_key(kind, "");
    if (claim_key.starts_with(prefix)) return true;
  }
  return false;
}

}  // namespace

Status IdentifierKeys::load(EtcdClient& etcd, const std::string& prefix, RocksStore& store,
                            std::unique_ptr<IdentifierKeys>& out) {
  // The folder's copy first: after a loss of etcd, the first node back puts the secret back.
  std::string mine;
  if (Status s = store.cluster_secret(mine); !s.ok()) return s;
  if (mine.empty()) {
    std::array<unsigned char, kSecretBytes> fresh{};
    LOYALTY_CHECK(RAND_bytes(fresh.data(), static_cast<int>(fresh.size())) == 1);
    mine = to_hex(fresh.data(), fresh.size());
  }
  const std::string key = prefix + "identifier_secret";
  bool created = false;
  std::optional<EtcdKeyValue> existing;
  if (Status s = etcd.create(key, mine, 0, created, &existing); !s.ok()) return s;
  std::string secret = created ? mine : existing ? existing->value : std::string();
  if (secret.size() != kSecretBytes * 2) {
    return Status::error(Status::Code::corruption,
                         "etcd: " + key + " is not the secret this cluster's first node made");
  }
  std::string kept;
  if (Status s = store.cluster_secret(kept); !s.ok()) return s;
  if (!kept.empty() && kept != secret) {
    return Status::error(Status::Code::corruption,
                         "etcd: " + key + " is not the secret this node's folder was made with " +
                             "(a folder of another cluster, or etcd of another one)");
  }
  if (kept.empty()) {
    if (Status s = store.save_cluster_secret(secret); !s.ok()) return s;
  }
  out = std::make_unique<IdentifierKeys>(std::move(secret));
  return Status::ok_status();
}

std::string IdentifierKeys::protect(const std::string& claim_key) const {
  if (!is_personal(claim_key)) return claim_key;
  const auto digest = hmac(secret_, claim_key);
  // "i:1#…": the kind stays readable (GET /v1/cluster, logs); the value does not.
  return claim_key.substr(0, 3) + "#" + to_hex(digest.data(), kDigestHexDigits / 2);
}

uint64_t IdentifierKeys::protect(uint64_t fingerprint) const {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(fingerprint >> (56 - 8 * i));
  const auto digest = hmac(secret_, "fingerprint:" + bytes);
  uint64_t keyed = 0;
  for (int i = 0; i < 8; ++i) keyed = keyed << 8 | digest[i];
  return keyed;
}

}  // namespace loyalty::cluster
