// The log-linear latency histogram (see histogram.hpp).
#include "bench/loadgen/histogram.hpp"

#include <bit>

namespace loyalty::bench {

size_t LatencyHistogram::bucket_of(uint64_t nanoseconds) {
  constexpr uint64_t kLinearMax = uint64_t{1} << kSubBucketBits;
  if (nanoseconds < kLinearMax) return static_cast<size_t>(nanoseconds);
  const int exponent = static_cast<int>(std::bit_width(nanoseconds)) - 1 - kSubBucketBits;  // ≥ 0
  if (exponent + 1 >= kExponents) return kBuckets - 1;
  const uint64_t mantissa = (nanoseconds >> exponent) - kLinearMax;  // 0 .. kLinearMax - 1
  return (static_cast<size_t>(exponent + 1) << kSubBucketBits) + static_cast<size_t>(mantissa);
}

double LatencyHistogram::upper_bound_ns(size_t bucket) {
  constexpr uint64_t kLinearMax = uint64_t{1} << kSubBucketBits;
  if (bucket < kLinearMax) return static_cast<double>(bucket + 1);
  const size_t exponent = (bucket >> kSubBucketBits) - 1;
  const uint64_t mantissa = bucket & (kLinearMax - 1);
  return static_cast<double>((kLinearMax + mantissa + 1) << exponent);
}

void LatencyHistogram::record(int64_t nanoseconds) {
  const uint64_t value = nanoseconds < 0 ? 0 : static_cast<uint64_t>(nanoseconds);
  buckets_[bucket_of(value)].fetch_add(1, std::memory_order_relaxed);
  uint64_t seen = max_ns_.load(std::memory_order_relaxed);
  while (value > seen && !max_ns_.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
  }
}

uint64_t LatencyHistogram::count() const {
  uint64_t total = 0;
  for (const auto& bucket : buckets_) total += bucket.load(std::memory_order_relaxed);
  return total;
}

double LatencyHistogram::percentile_us(double fraction) const {
  const uint64_t total = count();
  if (total == 0) return 0;
  const auto wanted = static_cast<uint64_t>(fraction * static_cast<double>(total) + 0.5);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += buckets_[i].load(std::memory_order_relaxed);
    if (seen >= wanted && seen > 0) {
      const double bound = upper_bound_ns(i);
      const auto max_ns = static_cast<double>(max_ns_.load(std::memory_order_relaxed));
      return (bound < max_ns ? bound : max_ns) / 1000.0;
    }
  }
  return max_us();
}

double LatencyHistogram::max_us() const {
  return static_cast<double>(max_ns_.load(std::memory_order_relaxed)) / 1000.0;
}

}  // namespace loyalty::bench
