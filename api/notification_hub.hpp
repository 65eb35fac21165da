// Fan-out of durable notifications to WebSocket subscribers (after Beast's chat-multi example:
// shared state apart from the sessions). The runtime's notification sink calls publish() on
// writer threads; the hub hands each notification to every subscriber of its member, which
// posts it to its own strand. The hub never blocks on a session and holds no session alive.
// Thread-safety: every method may be called from any thread.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/apply.hpp"

namespace loyalty::api {

// What a WebSocket session offers the hub. deliver() is called on a runtime writer thread,
// possibly concurrently with the session's own work: it must only post and never block.
class NotificationSubscriber {
 public:
  virtual ~NotificationSubscriber() = default;
  virtual void deliver(const std::string& member_id, const Notification& notification) = 0;
};

class NotificationHub {
 public:
  NotificationHub() = default;
  NotificationHub(const NotificationHub&) = delete;
  NotificationHub& operator=(const NotificationHub&) = delete;

  // Registers `subscriber` for `member_id` (again: no effect).
  void subscribe(const std::string& member_id,
                 const std::shared_ptr<NotificationSubscriber>& subscriber);
  // Removes it; `subscriber` is only compared, so a session may call this from its destructor.
  void unsubscribe(const std::string& member_id, const NotificationSubscriber* subscriber);
  // Hands the notification to every live subscriber of the member, in call order per member.
  void publish(const std::string& member_id, const Notification& notification);

  // Members with at least one subscriber (for tests and metrics).
  size_t member_count() const;

 private:
  struct Entry {
    const NotificationSubscriber* key;
    std::weak_ptr<NotificationSubscriber> subscriber;
  };

  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::vector<Entry>> subscribers_;
};

}  // namespace loyalty::api
