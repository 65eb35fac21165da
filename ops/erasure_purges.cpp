// Erasures' purges on their own thread (see erasure_purges.hpp).
#include "ops/erasure_purges.hpp"

#include <algorithm>
#include <vector>

namespace loyalty::ops {

ErasurePurges::ErasurePurges(RocksStore& store, std::function<void(std::string_view)> log,
                             std::chrono::milliseconds retry)
    : store_(store), log_(std::move(log)), retry_(retry) {}

ErasurePurges::~ErasurePurges() { stop(); }

void ErasurePurges::say(std::string_view line) const {
  if (log_) log_(line);
}

Status ErasurePurges::start() {
  std::vector<std::string> pending;
  if (Status status = store_.pending_erasures(pending); !status.ok()) return status;
  const std::lock_guard lock(mutex_);
  for (auto it = pending.rbegin(); it != pending.rend(); ++it) {  // before anything asked
    say("erasure of " + *it + ": unfinished at the last stop, purging");
    queue_.push_front({std::move(*it), {}});
  }
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
  return Status::ok_status();
}

void ErasurePurges::stop() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Whoever waits for a purge still queued hears that it runs after the next start.
  std::deque<Request> unfinished;
  {
    const std::lock_guard lock(mutex_);
    unfinished.swap(queue_);
  }
  const Status stopping =
      Status::error(Status::Code::busy, "the server is stopping: the purge runs after its start");
  for (Request& request : unfinished) {
    if (request.done) request.done(stopping, {});
  }
}

void ErasurePurges::submit(std::string member_id, Done done) {
  {
    const std::lock_guard lock(mutex_);
    queue_.push_back({std::move(member_id), std::move(done)});
  }
  changed_.notify_all();
}

void ErasurePurges::loop() {
  while (true) {
    Request request;
    {
      std::unique_lock lock(mutex_);
      changed_.wait_for(lock, retry_, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      if (!retries_.empty() && std::chrono::steady_clock::now() >= next_retry_) {
        for (std::string& member_id : retries_) queue_.push_back({std::move(member_id), {}});
        retries_.clear();
      }
      if (queue_.empty()) continue;
      request = std::move(queue_.front());
      queue_.pop_front();
    }
    storage::ErasureReport report;
    const Status purged = store_.purge_erasure(request.member_id, report);
    if (purged.ok()) {
      say("erasure of " + request.member_id + ": purged from the data folder (" +
          std::to_string(report.events_scrubbed) + " events blanked)");
    } else {
      say("erasure of " + request.member_id + ": purge failed, retried later: " + purged.message());
      const std::lock_guard lock(mutex_);
      if (retries_.empty()) next_retry_ = std::chrono::steady_clock::now() + retry_;
      if (std::find(retries_.begin(), retries_.end(), request.member_id) == retries_.end()) {
        retries_.push_back(request.member_id);
      }
    }
    if (request.done) request.done(purged, report);
  }
}

}  // namespace loyalty::ops
