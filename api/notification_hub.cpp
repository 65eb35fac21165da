// The subscriber map: the lock is held only to copy the member's subscribers out, never while
// a subscriber runs, so a publish on one writer thread does not wait for another's.
#include "api/notification_hub.hpp"

#include <algorithm>

namespace loyalty::api {

void NotificationHub::subscribe(const std::string& member_id,
                                const std::shared_ptr<NotificationSubscriber>& subscriber) {
  const std::lock_guard lock(mutex_);
  std::vector<Entry>& entries = subscribers_[member_id];
  const bool known = std::any_of(entries.begin(), entries.end(),
                                 [&](const Entry& entry) { return entry.key == subscriber.get(); });
  if (!known) entries.push_back({subscriber.get(), subscriber});
}

void NotificationHub::unsubscribe(const std::string& member_id,
                                  const NotificationSubscriber* subscriber) {
  const std::lock_guard lock(mutex_);
  const auto it = subscribers_.find(member_id);
  if (it == subscribers_.end()) return;
  std::erase_if(it->second, [&](const Entry& entry) { return entry.key == subscriber; });
  if (it->second.empty()) subscribers_.erase(it);
}

void NotificationHub::publish(const std::string& member_id, const Notification& notification) {
  std::vector<std::shared_ptr<NotificationSubscriber>> live;
  {
    const std::lock_guard lock(mutex_);
    const auto it = subscribers_.find(member_id);
    if (it == subscribers_.end()) return;
    live.reserve(it->second.size());
    for (const Entry& entry : it->second) {
      if (auto subscriber = entry.subscriber.lock()) live.push_back(std::move(subscriber));
    }
  }
  for (const auto& subscriber : live) subscriber->deliver(member_id, notification);
}

size_t NotificationHub::member_count() const {
  const std::lock_guard lock(mutex_);
  return subscribers_.size();
}

}  // namespace loyalty::api
