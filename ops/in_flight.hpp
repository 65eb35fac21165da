// Bounds the requests an operation has submitted to the runtime and not yet seen answered, so
// a store-wide job never overflows the partitions' queues, and lets it wait until all are in.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace loyalty::ops {

class InFlight {
 public:
  explicit InFlight(size_t limit) : limit_(limit) {}

  void acquire() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return count_ < limit_; });
    ++count_;
  }
  void release() {
    std::lock_guard lock(mutex_);
    --count_;
    changed_.notify_all();
  }
  void wait_idle() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return count_ == 0; });
  }

 private:
  const size_t limit_;
  std::mutex mutex_;
  std::condition_variable changed_;
  size_t count_ = 0;
};

}  // namespace loyalty::ops
