// Figures the runtime keeps about itself for operators: events applied by type, batch sizes and
// commit latency as fixed-bucket histograms. Plain counters only; the API renders them (in the
// Prometheus text format) so the engine knows nothing of any exposition format.
// Thread-safety: the writer threads record with relaxed atomic adds (no locks on the hot
// path); any thread may read at any time. A reader may see a histogram's count and buckets
// from slightly different moments, which is fine for monitoring.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>

#include "engine/events.hpp"

namespace loyalty {

// A histogram over fixed, ascending upper bounds (Prometheus `le`), plus an implicit +Inf.
template <size_t kBounds>
class FixedHistogram {
 public:
  explicit constexpr FixedHistogram(const std::array<double, kBounds>& upper_bounds)
      : upper_bounds_(upper_bounds) {}

  void record(double value) {
    size_t bucket = 0;
    while (bucket < kBounds && value > upper_bounds_[bucket]) ++bucket;
    counts_[bucket].fetch_add(1, std::memory_order_relaxed);
    // Sums are kept in millionths so that one atomic integer add suffices.
    sum_micros_.fetch_add(static_cast<uint64_t>(value * 1e6 + 0.5), std::memory_order_relaxed);
  }

  std::span<const double> upper_bounds() const { return upper_bounds_; }
  // Observations in bucket i alone (not cumulative); i == kBounds is the +Inf bucket.
  uint64_t bucket_count(size_t i) const { return counts_[i].load(std::memory_order_relaxed); }
  double sum() const {
    return static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6;
  }

 private:
  std::array<double, kBounds> upper_bounds_;
  std::array<std::atomic<uint64_t>, kBounds + 1> counts_{};
  std::atomic<uint64_t> sum_micros_{0};
};

// Batch sizes: events per group commit (batch_events_max defaults to 512).
inline constexpr std::array<double, 11> kBatchEventsBounds{1,  2,   4,   8,   16,  32,
                                                           64, 128, 256, 512, 1024};
// Commit latency in seconds, 0.5 ms to 2.5 s.
inline constexpr std::array<double, 12> kCommitSecondsBounds{
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5};

// The largest EventType value (member_erase); counters are indexed by the enum's number.
inline constexpr size_t kEventTypeMax = static_cast<size_t>(EventType::member_erase);

class RuntimeMetrics {
 public:
  void count_applied(EventType type) {
    const auto index = static_cast<size_t>(type);
    if (index <= kEventTypeMax) applied_[index].fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t applied(EventType type) const {
    const auto index = static_cast<size_t>(type);
    return index <= kEventTypeMax ? applied_[index].load(std::memory_order_relaxed) : 0;
  }

  // Active coupons and their points program-wide (single mode; in cluster mode, of the
  // partitions this node applies): the store's totals at start, moved by every commit.
  void add_coupons(const CouponsChange& change) {
    coupons_active_.fetch_add(change.active, std::memory_order_relaxed);
    coupon_points_.fetch_add(change.points, std::memory_order_relaxed);
  }
  int64_t coupons_active() const { return coupons_active_.load(std::memory_order_relaxed); }
  int64_t coupon_points() const { return coupon_points_.load(std::memory_order_relaxed); }

  FixedHistogram<kBatchEventsBounds.size()> batch_events{kBatchEventsBounds};
  FixedHistogram<kCommitSecondsBounds.size()> commit_seconds{kCommitSecondsBounds};

 private:
  std::array<std::atomic<uint64_t>, kEventTypeMax + 1> applied_{};
  std::atomic<int64_t> coupons_active_{0};
  std::atomic<int64_t> coupon_points_{0};
};

}  // namespace loyalty
