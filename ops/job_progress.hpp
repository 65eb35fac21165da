// How far a long operation has come, readable from any thread while it runs (GET /v1/jobs,
// loyaltyctl's progress bar).
#pragma once

#include <atomic>
#include <cstdint>

namespace loyalty::ops {

struct JobProgress {
  std::atomic<uint64_t> done{0};
  std::atomic<uint64_t> total{0};
  // Set by whoever runs the operation to have it stop early (loyaltyd shutting down): it stops
  // starting steps, waits for the ones under way, and returns a non-ok Status. Every step is
  // idempotent, so running the operation again later finishes the work exactly once.
  std::atomic<bool> stop_requested{false};
};

}  // namespace loyalty::ops
