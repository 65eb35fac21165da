// Program versions and their activation in cluster mode (cluster.md: PUT /v1/program on any
// node activates the new version on every partition at one point of each partition's log).
//
// etcd numbers them: "/<name>/program/v/<version, 10 digits>" holds each version's TOML (the
// same text keeps its number), "/<name>/program/active" the last activation as
// "<activation> <version> <activated_at ms>", replaced by compare-and-set so two activations
// made at once get two numbers. The activation is then put in every partition's log, through
// the partition's owner (Nats-Msg-Id "program-<activation>-<partition>": JetStream's window is
// the stream's), with the version's TOML; each applier switches its
// partition there (Runtime::apply_logged_program) and keeps the version in its node's folder.
// A partition whose log missed it (the node making it died half-way, NATS refused a publish)
// gets it from its owner, who compares etcd's last activation with its partition's
// (reconcile()); a later activation number always wins, so a late or repeated one is harmless.
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cluster/cluster_config.hpp"
#include "cluster/etcd_client.hpp"
#include "cluster/log_codec.hpp"
#include "engine/runtime/program_registry.hpp"
#include "engine/runtime/runtime.hpp"
#include "storage/rocks_store.hpp"

namespace loyalty::cluster {

class ProgramActivations {
 public:
  // `etcd` and `store` outlive it; `append` puts an activation in a partition's log.
  ProgramActivations(const ClusterConfig& config, EtcdClient& etcd, LogAppend append,
                     RocksStore& store);

  // The program a partition's log had reached in this node's folder (RuntimeOptions::
  // partition_program): its last committed activation, or version 1 before any.
  PartitionProgram partition_program(uint32_t partition);

  // At start: the folder's version 1 (what it was seeded with) must be the cluster's, which
  // the first node records; the registry (what this node's API answers with) moves to etcd's
  // last activation when that is newer than the folder's. Refused (invalid_argument) when the
  // node was seeded with another program.
  Status join(ProgramRegistry& registry);

  // PUT /v1/program: numbers the version in etcd, makes it the last activation there and
  // publishes it to every partition's log. `busy` (a message for the caller) when a publish
  // failed or other activations kept winning the number: the
  // activation stands in etcd and reaches the missing partitions through their owners; a retry
  // of the same text publishes it again. `out` is the version, active here at once.
  Status activate(Program program, std::string source_toml, TimeMs now,
                  std::shared_ptr<const ProgramVersion>& out, TimeMs& activated_at);

  // Version `number` as the cluster numbered it (from etcd, kept in this folder when it was not):
  // what a recalculation names. Not found: not_found.
  Status version(uint32_t number, std::shared_ptr<const ProgramVersion>& out);
  // Numbers `source_toml` in etcd without activating it (the same text keeps its number), and
  // keeps it here: the version an applied recalculation's adjustments name.
  Status register_version(const std::string& source_toml,
                          std::shared_ptr<const ProgramVersion>& out);

  // The applier's, for an activation read from `partition`'s log: the version parsed and
  // kept in this folder, the registry moved when it is the newest this node has seen.
  Status prepare(uint32_t partition, const ProgramActivation& logged, PartitionProgram& out);

  // Housekeeping (rate-limited here): publishes etcd's last activation to each partition of
  // `owned` (owned here, its log applied to its end) that has not applied it.
  void reconcile(const std::vector<uint32_t>& owned);

 private:
  struct Active {
    uint64_t activation = 0;
    uint32_t version = 0;
    TimeMs activated_at = 0;
    int64_t mod_revision = 0;  // 0: no activation yet
  };
  Status read_active(Active& out);
  // Puts the folder's versions in etcd where missing; a number etcd holds with other text is
  // refused (invalid_argument).
  Status reseed(const std::vector<StoredProgramVersion>& stored);
  // The number of `source_toml` in etcd, given now when it had none.
  Status number_of(const std::string& source_toml, uint32_t& number);
  Status version_text(uint32_t version, std::string& toml);
  // Keeps the version in the folder (the same number must be the same text) and parses it.
  Status keep(uint32_t number, const std::string& toml, TimeMs activated_at,
              std::shared_ptr<const ProgramVersion>& out);
  // Makes `activation` the registry's (and the folder's active version) when it is the newest
  // seen. Caller holds mutex_.
  Status adopt(uint64_t activation, const std::shared_ptr<const ProgramVersion>& version,
               TimeMs activated_at);
  Status publish(uint32_t partition, const ProgramActivation& activation);
  std::string key(std::string_view suffix) const;

  const ClusterConfig& config_;
  EtcdClient& etcd_;
  const LogAppend append_;
  RocksStore& store_;

  std::mutex mutex_;
  ProgramRegistry* registry_ = nullptr;
  uint64_t adopted_ = 0;  // the newest activation seen here (committed, logged or made)
  std::shared_ptr<const ProgramVersion> adopted_version_;               // its version
  std::map<uint32_t, std::shared_ptr<const ProgramVersion>> versions_;  // parsed, by number
  std::map<uint32_t, uint64_t> partition_activation_;  // what each partition's log reached
  std::map<uint32_t, std::chrono::steady_clock::time_point> republished_;
  std::chrono::steady_clock::time_point next_reconcile_{};
};

}  // namespace loyalty::cluster
