// Publishes the follow-ups this node's appliers make (a referrer's reward, its clawback) to
// their own member's partition log, with the follow-up's id as Nats-Msg-Id, then removes each
// from the outbox. Every applier of the trigger's partition publishes them: JetStream drops the
// copies inside its window, the target's idempotency record any after it, so a crash anywhere
// between the trigger's commit and the publish loses nothing and applies nothing twice.
// Thread-safety: publish() from any thread (the runtime's writers).
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "cluster/jetstream_log.hpp"
#include "engine/events.hpp"
#include "storage/rocks_store.hpp"

namespace loyalty::cluster {

class FollowUpPublisher {
 public:
  FollowUpPublisher(std::string cluster_name, uint32_t partitions, JetStreamLog& log,
                    RocksStore& store);
  ~FollowUpPublisher();  // publishes what is queued (while the log answers), then stops
  FollowUpPublisher(const FollowUpPublisher&) = delete;
  FollowUpPublisher& operator=(const FollowUpPublisher&) = delete;

  void publish(const Event& follow_up);
  uint64_t published() const;

 private:
  void run();

  const std::string cluster_name_;
  const uint32_t partitions_;
  JetStreamLog& log_;
  RocksStore& store_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Event> queue_;
  bool stopping_ = false;
  uint64_t published_ = 0;
  std::thread thread_;  // last
};

}  // namespace loyalty::cluster
