// Erasure in cluster mode's input log (api.md "POST /v1/members/{member_id}:erase": "in cluster
// mode the input log's messages too"; docs/decisions.md "Erasure in cluster mode"). Phones and
// cards cross the log's claims only as keyed digests (cluster/identifier_keys.hpp), so what
// holds an erased member's personal data are its own partition's messages: its sign-ups and
// changes, which every applier lists at its commit (RocksStore::personal_messages). After the
// erasure's commit, the partition's owner, for the member:
// 1. reads those messages and gives up the claims of every phone and card they name (in the
//    keys' home partitions: another member may take them now), before anything is erased, so
//    that a retry after a crash still knows them;
// 2. puts in each message's stand-in, the same message blanked, then erases it
//    (JetStreamLog::put_stand_in, erase): a node replaying the log reads the stand-in there;
// 3. ends the erasure's mark. Every applier of the partition keeps the mark and the list, so a
//    new owner finishes what a dead one began (each step finds what is done already).
// Thread-safety: submit() from any thread; the work runs on a thread of its own.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "cluster/identifier_keys.hpp"
#include "cluster/jetstream_log.hpp"
#include "cluster/log_codec.hpp"
#include "storage/rocks_store.hpp"

namespace loyalty::cluster {

class LogErasures {
 public:
  // `erased`: messages replaced by this run (0 when a former run did it all).
  using Done = std::function<void(const Status& status, uint64_t erased)>;
  using Owns = std::function<bool(uint32_t partition)>;

  struct Options {
    std::string cluster_name;
    uint32_t partitions = 0;
    // How often the marks of this node's partitions are looked at again (those left by a
    // failed run, a stop, or an owner that died).
    std::chrono::milliseconds retry{30'000};
  };

  // All outlive this object. `append` puts a claim's release in its home partition's log.
  LogErasures(Options options, JetStreamLog& log, RocksStore& store, const IdentifierKeys& keys,
              LogAppend append, Owns owns);
  ~LogErasures();  // lets a running erasure finish; the rest stay marked
  LogErasures(const LogErasures&) = delete;
  LogErasures& operator=(const LogErasures&) = delete;

  // Erases `member_id`'s personal data from its partition's log (its erasure committed here).
  void submit(std::string member_id, Done done);

 private:
  struct Request {
    std::string member_id;
    Done done;  // empty for marks found by the retry
  };
  void loop();
  Status erase(const std::string& member_id, uint64_t& erased);
  Status release_claims(const std::string& member_id, const std::vector<Event>& messages);

  const Options options_;
  JetStreamLog& log_;
  RocksStore& store_;
  const IdentifierKeys& keys_;
  const LogAppend append_;
  const Owns owns_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Request> queue_;
  bool stopping_ = false;
  std::thread thread_;  // last
};

}  // namespace loyalty::cluster
