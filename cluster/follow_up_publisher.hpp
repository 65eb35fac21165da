// Puts the follow-ups this node's appliers make (a referrer's reward, its clawback) in their own
// member's partition log (through that partition's owner, LogAppend), then removes each from
// the outbox. Every applier of the trigger's partition sends them: JetStream drops the copies
// inside its window, the target's idempotency record any after it, so a crash anywhere between
// the trigger's commit and the append loses nothing and applies nothing twice. Units of stock
// given back (engine/claim_keys.hpp StockAsk) go the same way to their rewards' home
// partitions, where a unit that is not out any more (a copy) changes nothing; and changed phones
// and cards given up (engine/store.hpp ClaimRelease), where a release of a grant that is not the
// key's last (a copy, or one granted again since) changes nothing.
// Thread-safety: publish() from any thread (the runtime's writers).
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <variant>

#include "cluster/log_codec.hpp"
#include "engine/events.hpp"
#include "storage/rocks_store.hpp"

namespace loyalty::cluster {

class FollowUpPublisher {
 public:
  FollowUpPublisher(uint32_t partitions, LogAppend append, RocksStore& store);
  ~FollowUpPublisher();  // stops; what is still queued stays in the outbox for the next start
  FollowUpPublisher(const FollowUpPublisher&) = delete;
  FollowUpPublisher& operator=(const FollowUpPublisher&) = delete;

  void publish(const Event& follow_up);
  void publish(const StockUnit& give_back);
  void publish(const ClaimRelease& release);
  uint64_t published() const;

 private:
  void run();

  const uint32_t partitions_;
  const LogAppend append_;
  RocksStore& store_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::variant<Event, StockUnit, ClaimRelease>> queue_;
  bool stopping_ = false;
  uint64_t published_ = 0;
  std::thread thread_;  // last
};

}  // namespace loyalty::cluster
