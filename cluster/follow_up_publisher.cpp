#include "cluster/follow_up_publisher.hpp"

#include <cstdio>

#include "cluster/log_codec.hpp"
#include "engine/runtime/runtime.hpp"
#include "storage/record_codec.hpp"

namespace loyalty::cluster {

FollowUpPublisher::FollowUpPublisher(uint32_t partitions, LogAppend append, RocksStore& store)
    : partitions_(partitions),
      append_(std::move(append)),
      store_(store),
      thread_([this] { run(); }) {}

FollowUpPublisher::~FollowUpPublisher() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void FollowUpPublisher::publish(const Event& follow_up) {
  {
    const std::lock_guard lock(mutex_);
    queue_.emplace_back(follow_up);
  }
  wake_.notify_one();
}

void FollowUpPublisher::publish(const StockUnit& give_back) {
  {
    const std::lock_guard lock(mutex_);
    queue_.emplace_back(give_back);
  }
  wake_.notify_one();
}

void FollowUpPublisher::publish(const ClaimRelease& release) {
  {
    const std::lock_guard lock(mutex_);
    queue_.emplace_back(release);
  }
  wake_.notify_one();
}

uint64_t FollowUpPublisher::published() const {
  const std::lock_guard lock(mutex_);
  return published_;
}

void FollowUpPublisher::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping with nothing left
    std::variant<Event, StockUnit, ClaimRelease> item = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    // In the log now: the outbox need not hold it. (Were this lost, the outbox's copy is
    // published again at the next start and dropped as a copy where it lands.)
    CommitBatch remove;
    LogPayload payload;
    std::string id;
    if (const Event* follow_up = std::get_if<Event>(&item)) {
      id = storage::follow_up_id(*follow_up);
      remove.outbox_deletes.push_back(id);
      payload = *follow_up;
    } else if (const auto* unit = std::get_if<StockUnit>(&item)) {
      id = "stock unit " + unit->code;
      remove.give_backs_sent.push_back(unit->code);
      payload = StockAsk{StockMove::give_back, *unit};
    } else {
      const ClaimRelease& release = std::get<ClaimRelease>(item);
      id = "release of grant " + std::to_string(release.grant) + " of a claim";
      remove.claim_releases_sent.push_back(release);
      payload = ClaimAsk{release.key, release.member_id, /*release=*/true, release.grant, ""};
    }
    const uint32_t partition = *payload_partition(payload, partitions_);
    Status status = append_(partition, std::move(payload));
    if (status.ok()) status = store_.commit(remove);
    lock.lock();
    if (status.ok()) {
      ++published_;
    } else if (stopping_) {
      return;  // stays in the outbox: published at the next start
    } else {
      std::fprintf(stderr, "cluster: follow-up %s: %s (retrying)\n", id.c_str(),
                   status.message().c_str());
      queue_.push_front(std::move(item));  // in order: a reversal after its reward
      wake_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stopping_; });
    }
  }
}

}  // namespace loyalty::cluster
