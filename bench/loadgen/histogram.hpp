// Latencies of one phase: a log-linear histogram (about 1.5% resolution, 1 µs to hours) that
// any thread may record into without a lock, read as percentiles at the end.
// Thread-safety: record() from any thread; the readers after recording stopped.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace loyalty::bench {

class LatencyHistogram {
 public:
  void record(int64_t nanoseconds);
  uint64_t count() const;
  // The latency at or below which `fraction` (0..1] of the recorded ones lie, in microseconds;
  // 0 when nothing was recorded.
  double percentile_us(double fraction) const;
  double max_us() const;

 private:
  static constexpr int kSubBucketBits = 6;  // 64 linear steps per power of two
  static constexpr int kExponents = 40;     // 2^40 ns ≈ 18 minutes
  static constexpr size_t kBuckets = size_t{kExponents} << kSubBucketBits;

  static size_t bucket_of(uint64_t nanoseconds);
  static double upper_bound_ns(size_t bucket);

  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> max_ns_{0};
};

}  // namespace loyalty::bench
