// Applies one partition's log on this node (as its owner or a standby): reads the log from
// the position the node's RocksDB last committed for it, decodes each message and hands it to
// the log-driven runtime in order. Every applier of a partition computes the same state.
// After a batch fails to commit it waits for what it queued to finish, and reads the log again
// from the committed position (Runtime::apply_logged), so nothing is skipped or applied twice.
// Thread-safety: construct and destroy on one thread; applied_through() from any.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "cluster/jetstream_log.hpp"
#include "cluster/log_codec.hpp"
#include "engine/runtime/runtime.hpp"
#include "storage/rocks_store.hpp"

namespace loyalty::cluster {

// The subject of a partition's log: "<name>.p.<partition>".
std::string partition_subject(const std::string& cluster_name, uint32_t partition);

class PartitionApplier {
 public:
  // Told, on a runtime writer thread, the result of every message applied, with its
  // Nats-Msg-Id: the submit path answers the request that published it.
  using Applied = std::function<void(const LogMessage& message, EventResult&& result)>;
  // Turns a program activation read from the log into the partition's program (the version
  // kept in this node's folder); not ok stops the applier there, as corruption does.
  using PrepareProgram = std::function<Status(const ProgramActivation&, PartitionProgram&)>;

  struct Options {
    std::string cluster_name;
    uint32_t partition = 0;
    size_t fetch_max = 512;               // messages per fetch (one runtime batch at most)
    size_t outstanding_max = 4096;        // queued in the runtime before fetching more
    std::chrono::milliseconds wait{200};  // a fetch's long poll
  };

  // Starts the thread. `log`, `runtime` and `store` outlive the applier.
  PartitionApplier(Options options, JetStreamLog& log, Runtime& runtime, RocksStore& store,
                   Applied applied, PrepareProgram prepare_program);
  ~PartitionApplier();  // stops reading, waits for what it queued
  PartitionApplier(const PartitionApplier&) = delete;
  PartitionApplier& operator=(const PartitionApplier&) = delete;

  uint32_t partition() const { return options_.partition; }
  // The stream sequence of the last message whose batch committed here (0: none yet).
  uint64_t applied_through() const { return applied_through_.load(); }
  // Messages of the partition's log not applied here yet: what the reader has still to
  // receive (as the servers last counted) and what is queued in the runtime.
  uint64_t lag() const { return reader_pending_.load() + outstanding_.load(); }
  // Whether the last fetch found nothing more: this node has applied the log to its end.
  bool caught_up() const { return caught_up_.load(); }
  // The Nats-Msg-Id of the message at applied_through() ("" before the first): where this
  // node's writer of the partition appends after (cluster/log_writers.hpp).
  std::string last_applied_id() const;
  // Asks the stream's leader (on the applier's thread) for the partition's last message; until
  // this node has applied that message, applied_log_end() is false. Called when the node
  // becomes the partition's owner: it serves reads only once it has applied every write the
  // previous owner could have acknowledged. (By its id: a replica may number it otherwise.)
  void find_log_end();
  bool applied_log_end() const { return log_end_known_.load() && log_end_reached_.load(); }
  // The last error that stopped reading for a while ("" when none, or reading again since),
  // for GET /v1/cluster.
  std::string last_error() const;

 private:
  void run();
  Status open_reader();
  void wait_for_outstanding();

  const Options options_;
  JetStreamLog& log_;
  Runtime& runtime_;
  RocksStore& store_;
  const Applied applied_;
  const PrepareProgram prepare_program_;
  const std::string subject_;

  std::unique_ptr<JetStreamLog::Reader> reader_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> applied_through_{0};
  std::atomic<bool> caught_up_{false};
  std::atomic<size_t> outstanding_{0};
  std::atomic<uint64_t> reader_pending_{0};
  std::atomic<bool> batch_failed_{false};
  mutable std::mutex mutex_;
  std::condition_variable drained_;
  std::string last_error_;
  std::atomic<bool> log_end_wanted_{false};
  std::atomic<bool> log_end_known_{false};
  std::atomic<bool> log_end_reached_{false};
  std::string log_end_id_;       // under mutex_
  std::string last_applied_id_;  // under mutex_
  std::thread thread_;           // last: starts after everything it uses exists
};

}  // namespace loyalty::cluster
