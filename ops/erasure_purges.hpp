// Erasures' purges from the data folder (storage/erasure.hpp), on a thread of their own: one
// reads the whole event log and compacts, which must not hold a partition writer or a request
// thread. The erasure's commit leaves a mark; each mark is purged, then removed. The marks a
// stop left are purged after the next start; a purge that cannot run now (a job holds a snapshot
// of the data) or fails is tried again every `retry` until it succeeds.
// Thread-safety: every public method from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "storage/rocks_store.hpp"

namespace loyalty::ops {

class ErasurePurges {
 public:
  // Called on the purges' thread when the purge asked for has run (ok) or has failed (it is
  // then retried without telling anyone).
  using Done = std::function<void(const Status&, const storage::ErasureReport&)>;

  ErasurePurges(RocksStore& store, std::function<void(std::string_view)> log = {},
                std::chrono::milliseconds retry = std::chrono::seconds(30));
  ~ErasurePurges();  // stop()
  ErasurePurges(const ErasurePurges&) = delete;
  ErasurePurges& operator=(const ErasurePurges&) = delete;

  Status start();  // queues the marks a previous process left, starts the thread
  void stop();     // lets the running purge finish; idempotent

  // Purges `member_id`'s erasure (committed before this call) and calls `done`.
  void submit(std::string member_id, Done done);

 private:
  struct Request {
    std::string member_id;
    Done done;  // empty for retries and for marks found at start
  };
  void loop();
  void say(std::string_view line) const;

  RocksStore& store_;
  std::function<void(std::string_view)> log_;
  const std::chrono::milliseconds retry_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Request> queue_;
  std::deque<std::string> retries_;  // run again from next_retry_ on
  std::chrono::steady_clock::time_point next_retry_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace loyalty::ops
