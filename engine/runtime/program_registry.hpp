// The active program version, swapped atomically when an operator activates a new one.
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <memory>
#include <mutex>

#include "engine/program.hpp"

namespace loyalty {

class ProgramRegistry {
 public:
  explicit ProgramRegistry(std::shared_ptr<const ProgramVersion> initial)
      : active_(std::move(initial)) {}

  std::shared_ptr<const ProgramVersion> active() const {
    std::lock_guard lock(mutex_);
    return active_;
  }
  void activate(std::shared_ptr<const ProgramVersion> version) {
    std::lock_guard lock(mutex_);
    active_ = std::move(version);
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const ProgramVersion> active_;
};

}  // namespace loyalty
