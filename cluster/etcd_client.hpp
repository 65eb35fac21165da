// A small client of etcd's JSON gateway (/v3/kv/range, /v3/kv/txn, /v3/lease/*): plain HTTP,
// no gRPC. Only what cluster mode needs: leases, compare-and-set on a key's revisions, reads of
// a prefix. Keys and values are bytes (base64 on the wire is handled here).
// Every call is synchronous with a deadline; on a failure the next endpoint is tried, except
// for a compare-and-set that may have been carried out: that error is the caller's, who reads
// again. Thread-safety: calls are serialised by an internal mutex (one connection).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.hpp"

namespace loyalty::cluster {

struct EtcdKeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;  // the revision that created the key: an epoch for fencing
  int64_t mod_revision = 0;
  int64_t lease = 0;
};

class EtcdClient {
 public:
  // `endpoints`: "http://HOST:PORT"; `timeout` bounds each call (connect, write, read).
  EtcdClient(std::vector<std::string> endpoints, std::chrono::milliseconds timeout);
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  Status grant_lease(int64_t ttl_seconds, int64_t& lease_id);
  // `ttl_left` is 0 when the lease is gone (expired or revoked): whatever it held is gone too.
  Status keep_alive(int64_t lease_id, int64_t& ttl_left);
  Status revoke_lease(int64_t lease_id);

  Status get(std::string_view key, std::optional<EtcdKeyValue>& out);
  // Every key starting with `prefix`, in key order; `revision` (optional) is the store's
  // revision the read saw. `keys_only`: the values are left empty (not sent).
  Status get_prefix(std::string_view prefix, std::vector<EtcdKeyValue>& out,
                    int64_t* revision = nullptr, bool keys_only = false);
  Status put(std::string_view key, std::string_view value, int64_t lease_id = 0);
  // Creates `key` only if it does not exist. `created` tells which; when it existed,
  // `existing` (optional) gets it.
  Status create(std::string_view key, std::string_view value, int64_t lease_id, bool& created,
                std::optional<EtcdKeyValue>* existing = nullptr);
  // Writes `key` only while its mod_revision is still `mod_revision` (0: only while it does not
  // exist). `put` tells whether it was written; `revision` (optional) gets the key's new
  // mod_revision when it was.
  Status put_if(std::string_view key, std::string_view value, int64_t mod_revision, bool& put,
                int64_t* revision = nullptr);
  // Deletes `key` only while its mod_revision is still `mod_revision`.
  Status remove_if(std::string_view key, int64_t mod_revision, bool& removed);
  Status remove(std::string_view key);
  Status remove_prefix(std::string_view prefix);  // every key starting with `prefix`

  // The endpoint the last call used (for GET /v1/cluster), and whether it answered.
  std::string endpoint() const;

 private:
  class Connection;
  // POSTs `body` to `path`, trying each endpoint once from the current one; the answer's body.
  // `retry_sent` false: not again once the request may have reached etcd (compare-and-sets).
  Status post(std::string_view path, const std::string& body, std::string& answer,
              bool retry_sent = true);

  std::vector<std::string> endpoints_;
  std::chrono::milliseconds timeout_;
  mutable std::mutex mutex_;
  size_t current_ = 0;
  std::unique_ptr<Connection> connection_;
};

}  // namespace loyalty::cluster
