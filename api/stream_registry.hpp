// The open WebSocket sessions of a server, so that a shutdown can tell each client it is going
// away (close code 1001) instead of just cutting the connection.
// Thread-safety: every method may be called from any thread.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace loyalty::api {

class StreamRegistry {
 public:
  // A session that can be asked to close. go_away() must not block: it posts to the session.
  class Session {
   public:
    virtual void go_away() = 0;

   protected:
    ~Session() = default;
  };

  void add(const std::shared_ptr<Session>& session);
  void remove(const Session* session);  // from the session's destructor
  // Asks every session open now to go away.
  void go_away_all();
  size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<const Session*, std::weak_ptr<Session>> sessions_;
};

}  // namespace loyalty::api
