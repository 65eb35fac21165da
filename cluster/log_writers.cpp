#include "cluster/log_writers.hpp"

#include <vector>

namespace loyalty::cluster {
namespace {

// Beyond this many messages queued for one partition (its log not answering), an append is
// refused at once: its request is answered 503 and the client retries.
constexpr size_t kQueueMax = 10'000;
constexpr auto kSyncPause = std::chrono::milliseconds(20);

}  // namespace

LogWriters::LogWriters(JetStreamLog& log, std::function<std::string(uint32_t)> subject_of,
                       AppliedLast applied_last)
    : log_(log),
      subject_of_(std::move(subject_of)),
      applied_last_(std::move(applied_last)),
      thread_([this] { run(); }) {}

LogWriters::~LogWriters() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::vector<uint32_t> partitions;
  {
    const std::lock_guard lock(mutex_);
    for (const auto& [partition, state] : partitions_) partitions.push_back(partition);
  }
  for (uint32_t partition : partitions) forget(partition);
}

void LogWriters::append(uint32_t partition, std::string msg_id,
                        std::shared_ptr<const std::string> data, JetStreamLog::Published done) {
  std::unique_lock lock(mutex_);
  Partition& state = partitions_[partition];
  if (stopping_ || state.queue.size() >= kQueueMax) {
    lock.unlock();
    done(Status::error(Status::Code::busy,
                       "the partition's log is not taking messages now; retry shortly"),
         0, false);
    return;
  }
  state.queue.push_back({std::move(msg_id), std::move(data), std::move(done)});
  if (state.synced) {
    send_next(partition, lock);
  } else {
    wake_.notify_one();
  }
}

void LogWriters::send_next(uint32_t partition, std::unique_lock<std::mutex>& lock) {
  Partition& state = partitions_[partition];
  if (!state.synced || state.in_flight || state.queue.empty()) return;
  state.in_flight = true;
  const Pending& next = state.queue.front();
  const std::string msg_id = next.msg_id;
  const std::shared_ptr<const std::string> data = next.data;  // forget() may drop the queue
  const JetStreamLog::Chain after = state.after;
  const uint64_t generation = state.generation;
  lock.unlock();  // the acknowledgement may come before publish_async returns
  log_.publish_async(
      subject_of_(partition), msg_id, *data,
      [this, partition, generation](Status status, uint64_t sequence, bool duplicate) {
        on_acknowledged(partition, generation, std::move(status), sequence, duplicate);
      },
      &after);
  lock.lock();
}

void LogWriters::on_acknowledged(uint32_t partition, uint64_t generation, Status status,
                                 uint64_t sequence, bool duplicate) {
  std::unique_lock lock(mutex_);
  Partition& state = partitions_[partition];
  if (state.generation != generation || !state.in_flight) return;  // forgotten meanwhile
  state.in_flight = false;
  if (!status.ok()) {
    // Another message in its place, or no answer (it may have gone in): learn the last message
    // again, then send the same message again (a copy that went in is then found a duplicate).
    state.synced = false;
    state.waiting = status.message();
    wake_.notify_one();
    return;
  }
  // A duplicate went in earlier (a client's retry): the chain's end did not move.
  if (!duplicate) state.after = {sequence, state.queue.front().msg_id};
  JetStreamLog::Published done = std::move(state.queue.front().done);
  state.queue.pop_front();
  send_next(partition, lock);
  lock.unlock();
  done(Status::ok_status(), sequence, duplicate);
}

void LogWriters::forget(uint32_t partition) {
  std::deque<Pending> dropped;
  {
    const std::lock_guard lock(mutex_);
    Partition& state = partitions_[partition];
    ++state.generation;
    state.synced = false;
    state.in_flight = false;
    state.waiting.clear();
    dropped.swap(state.queue);
  }
  for (Pending& pending : dropped) {
    pending.done(Status::error(Status::Code::busy,
                               "this node no longer writes the partition's log; retry shortly"),
                 0, false);
  }
}

std::string LogWriters::waiting(uint32_t partition) const {
  const std::lock_guard lock(mutex_);
  const auto it = partitions_.find(partition);
  return it == partitions_.end() || it->second.synced ? std::string() : it->second.waiting;
}

void LogWriters::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    std::vector<uint32_t> unsynced;
    for (const auto& [partition, state] : partitions_) {
      if (!state.synced && !state.in_flight && !state.queue.empty()) unsynced.push_back(partition);
    }
    if (unsynced.empty()) {
      wake_.wait(lock);
      continue;
    }
    lock.unlock();
    for (uint32_t partition : unsynced) {
      // The servers not answering one answer none: the round ends, and starts again soon.
      if (sync(partition) == Sync::unreachable) break;
    }
    lock.lock();
    // Those still waiting (for this node's applier, or for the servers) are asked again soon.
    wake_.wait_for(lock, kSyncPause, [this] { return stopping_; });
  }
}

LogWriters::Sync LogWriters::sync(uint32_t partition) {
  uint64_t generation = 0;
  {
    const std::lock_guard lock(mutex_);
    generation = partitions_[partition].generation;
  }
  const auto wait_for = [&](std::string why, Sync result = Sync::waiting) {
    const std::lock_guard lock(mutex_);
    partitions_[partition].waiting = std::move(why);
    return result;
  };
  uint64_t sequence = 0;
  std::string last_id;
  if (Status s = log_.last_message(subject_of_(partition), sequence, last_id); !s.ok()) {
    return wait_for(s.message(), Sync::unreachable);
  }
  const std::optional<std::string> applied = applied_last_(partition);
  if (!applied) return wait_for("this node does not apply the partition");
  if (*applied != last_id) {
    // Behind (it applies the log continuously: soon), or the leader's copy holds a message of
    // another history, which is never written after.
    return wait_for("the log's last message (" + last_id + ", at " + std::to_string(sequence) +
                    " on the stream's leader) is not the last one applied here (" + *applied +
                    ") yet");
  }
  std::unique_lock lock(mutex_);
  Partition& state = partitions_[partition];
  if (state.generation != generation || state.in_flight) return Sync::waiting;
  state.after = {sequence, last_id};
  state.synced = true;
  state.waiting.clear();
  send_next(partition, lock);
  return Sync::done;
}

}  // namespace loyalty::cluster
