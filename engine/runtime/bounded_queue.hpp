// A bounded multi-producer, single-consumer queue: producers never block (a full queue is
// refused, which the API turns into 503), the consumer takes everything up to a batch limit.
// push_past_capacity is for internal traffic whose amount is bounded elsewhere.
// Thread-safety: try_push, push_past_capacity and close from any thread; pop_batch from the
// one consumer.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <utility>
#include <vector>

namespace loyalty {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity) {}

  enum class PushResult { pushed, full, closed };

  PushResult try_push(T&& item) {
    bool wake = false;
    {
      std::lock_guard lock(mutex_);
      if (closed_) return PushResult::closed;
      if (items_.size() >= capacity_) return PushResult::full;
      items_.push_back(std::move(item));
      wake = std::exchange(consumer_waiting_, false);
    }
    if (wake) ready_.notify_one();
    return PushResult::pushed;
  }

  // Ignores the capacity; refuses only when closed. For follow-up events, which are bounded by
  // the client events that triggered them and must not be dropped by a busy partition.
  PushResult push_past_capacity(T&& item) {
    bool wake = false;
    {
      std::lock_guard lock(mutex_);
      if (closed_) return PushResult::closed;
      items_.push_back(std::move(item));
      wake = std::exchange(consumer_waiting_, false);
    }
    if (wake) ready_.notify_one();
    return PushResult::pushed;
  }

  // Blocks until at least one item is there or the queue is closed; false when closed and
  // drained. Moves up to `max_items` items into `out` (cleared first). The consumer is woken
  // once per wait, by the first push: the pushes after it find it awake and make no syscall.
  bool pop_batch(std::vector<T>& out, size_t max_items) {
    out.clear();
    std::unique_lock lock(mutex_);
    while (items_.empty() && !closed_) {
      consumer_waiting_ = true;
      ready_.wait(lock);
    }
    consumer_waiting_ = false;
    if (items_.empty()) return false;
    while (!items_.empty() && out.size() < max_items) {
      out.push_back(std::move(items_.front()));
      items_.pop_front();
    }
    return true;
  }

  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    ready_.notify_all();
  }

  size_t size() const {
    std::lock_guard lock(mutex_);
    return items_.size();
  }

 private:
  const size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<T> items_;
  bool closed_ = false;
  bool consumer_waiting_ = false;  // in pop_batch's wait, not yet woken by a push
};

}  // namespace loyalty
