// Cluster mode never puts a member's phone or card in the input log (docs/decisions.md
// "Erasure in cluster mode"). Its claims (cluster/event_claims.hpp) and lookups name them by a
// keyed digest, HMAC-SHA-256 under a secret the cluster's first node makes and keeps in etcd
// ("/<name>/identifier_secret"), so that claims still compare equal across members, a raw scan
// of the log finds no number, and no one without the secret can test guesses against it (a
// plain hash of an 11-digit phone number is undone by trying them all). The same secret keys
// the fingerprints in events' message ids, which are digests of the request's values too. Each
// node keeps a copy in its folder, so that a cluster whose etcd was lost gets it back.
// Thread-safety: const after load().
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "cluster/etcd_client.hpp"
#include "engine/status.hpp"
#include "storage/rocks_store.hpp"

namespace loyalty::cluster {

class IdentifierKeys {
 public:
  // Reads the cluster's secret under `prefix` ("/<name>/"), making it when there is none (or
  // putting back the copy `store` keeps, after etcd was lost), and keeps a copy in `store`. A
  // folder made with another secret is refused (corruption).
  static Status load(EtcdClient& etcd, const std::string& prefix, RocksStore& store,
                     std::unique_ptr<IdentifierKeys>& out);
  explicit IdentifierKeys(std::string secret) : secret_(std::move(secret)) {}

  // A claim key as the log carries it: a phone's or a card's (engine/claim_keys.hpp
  // identifier_claim_key, "i:1:…" and "i:2:…") as "i:<kind>#" and 32 hex digits of its digest;
  // any other key (client ids, referral and coupon codes) unchanged.
  std::string protect(const std::string& claim_key) const;
  // A request's fingerprint as a message id shows it: keyed, so it cannot be tried against.
  uint64_t protect(uint64_t fingerprint) const;

 private:
  std::string secret_;
};

}  // namespace loyalty::cluster
