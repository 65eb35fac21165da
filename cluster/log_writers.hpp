// The one way into the partitions' logs: each partition's messages form a chain. A message
// goes in only directly after the one its writer saw last (JetStream's expected last subject
// sequence, checked by the stream's leader) and names that one's Nats-Msg-Id as its
// predecessor, which every chained reader checks (JetStreamLog::Reader). nats-server 2.9
// replicas can drift apart after a crash (a message missing, or another in its place, on one
// server: nats-server issues 4174, 5576); a reader served by such a replica then stops
// instead of applying another history than the owner's (docs/decisions.md "NATS replicas that
// drift apart").
// A writer appends one message of a partition at a time (the next when the servers have
// acknowledged it), in the order given. Before its first message, and whenever the servers
// find another message in its place (a writer that was the owner a moment ago) or fail to
// answer, it learns the partition's last message from the stream's leader and waits until this
// node's applier of the partition has applied exactly that one: a message of another history
// (a drifted leader's) is never taken as a predecessor; the writer waits, and says so.
// Thread-safety: every member from any thread; `done` runs on the client library's thread or
// on the writers' own thread, never under a lock of theirs.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "cluster/jetstream_log.hpp"

namespace loyalty::cluster {

class LogWriters {
 public:
  // The Nats-Msg-Id of the last message this node's applier of `partition` has applied ("":
  // none yet), or nullopt when it has no applier of it.
  using AppliedLast = std::function<std::optional<std::string>(uint32_t partition)>;
  // `subject_of` names a partition's subject. `log` outlives the writers.
  LogWriters(JetStreamLog& log, std::function<std::string(uint32_t)> subject_of,
             AppliedLast applied_last);
  ~LogWriters();  // what is queued is answered as an error
  LogWriters(const LogWriters&) = delete;
  LogWriters& operator=(const LogWriters&) = delete;

  // Appends after everything appended before it here; `done` as JetStreamLog::publish_async
  // gives it, once the servers took it (or found it a copy). Errors are retried while the
  // partition is this node's; `done` hears of one only when forget() or the destructor drops it.
  void append(uint32_t partition, std::string msg_id, std::shared_ptr<const std::string> data,
              JetStreamLog::Published done);
  // Stops writing `partition` (this node no longer owns it): what is queued is answered with an
  // error, and a later append starts by learning the partition's last message again.
  void forget(uint32_t partition);

  // What a partition's writer is waiting for now ("" when writing or idle), for last_error.
  std::string waiting(uint32_t partition) const;

 private:
  struct Pending {
    std::string msg_id;
    std::shared_ptr<const std::string> data;  // shared: a resend or a send after a forget()
    JetStreamLog::Published done;
  };
  struct Partition {
    bool synced = false;     // `after` is the partition's last message
    bool in_flight = false;  // queue.front() is with the servers
    JetStreamLog::Chain after;
    std::deque<Pending> queue;
    std::string waiting;      // why it is not writing, when it is not
    uint64_t generation = 0;  // forget() makes acknowledgements of earlier sends stale
  };

  // Sends the partition's next message if it may (lock held; the send itself is not).
  void send_next(uint32_t partition, std::unique_lock<std::mutex>& lock);
  void on_acknowledged(uint32_t partition, uint64_t generation, Status status, uint64_t sequence,
                       bool duplicate);
  void run();  // learns the last message of partitions that are not synced
  enum class Sync { done, waiting, unreachable };
  Sync sync(uint32_t partition);  // one attempt, without the lock

  JetStreamLog& log_;
  const std::function<std::string(uint32_t)> subject_of_;
  const AppliedLast applied_last_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<uint32_t, Partition> partitions_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts after everything it uses exists
};

}  // namespace loyalty::cluster
