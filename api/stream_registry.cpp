// The registry of open WebSocket sessions.
#include "api/stream_registry.hpp"

#include <vector>

namespace loyalty::api {

void StreamRegistry::add(const std::shared_ptr<Session>& session) {
  const std::lock_guard lock(mutex_);
  sessions_.emplace(session.get(), session);
}

void StreamRegistry::remove(const Session* session) {
  const std::lock_guard lock(mutex_);
  sessions_.erase(session);
}

void StreamRegistry::go_away_all() {
  std::vector<std::shared_ptr<Session>> open;
  {
    const std::lock_guard lock(mutex_);
    open.reserve(sessions_.size());
    for (const auto& [key, session] : sessions_) {
      // Empty when the session is being destroyed: it is going anyway.
      if (std::shared_ptr<Session> alive = session.lock()) open.push_back(std::move(alive));
    }
  }
  // Outside the lock: dropping the last reference here runs a destructor that calls remove().
  for (const std::shared_ptr<Session>& session : open) session->go_away();
}

size_t StreamRegistry::size() const {
  const std::lock_guard lock(mutex_);
  return sessions_.size();
}

}  // namespace loyalty::api
