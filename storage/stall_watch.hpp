// Counts RocksDB's write stalls for StorageFigures: a column family's change from normal to
// delayed or stopped starts an episode, its change back to normal ends it.
// Thread-safety: RocksDB calls the listener from its background threads; read() from any.
#pragma once

#include <rocksdb/listener.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace loyalty::storage {

class StallWatch final : public rocksdb::EventListener {
 public:
  using Clock = std::chrono::steady_clock;

  void OnStallConditionsChanged(const rocksdb::WriteStallInfo& info) override {
    changed(info.cf_name, info.condition.cur != rocksdb::WriteStallCondition::kNormal,
            Clock::now());
  }

  void changed(const std::string& family, bool stalled, Clock::time_point now) {
    std::lock_guard lock(mutex_);
    const auto started = stalled_since_.find(family);
    if (stalled && started == stalled_since_.end()) {
      stalled_since_.emplace(family, now);
      ++episodes_;
    } else if (!stalled && started != stalled_since_.end()) {
      ended_seconds_ += std::chrono::duration<double>(now - started->second).count();
      stalled_since_.erase(started);
    }
  }

  // Episodes so far, and the seconds spent in them up to `now` (ongoing ones included).
  void read(uint64_t& episodes, double& seconds, Clock::time_point now = Clock::now()) const {
    std::lock_guard lock(mutex_);
    episodes = episodes_;
    seconds = ended_seconds_;
    for (const auto& [family, since] : stalled_since_) {
      seconds += std::chrono::duration<double>(now - since).count();
    }
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Clock::time_point> stalled_since_;
  uint64_t episodes_ = 0;
  double ended_seconds_ = 0;
};

}  // namespace loyalty::storage
