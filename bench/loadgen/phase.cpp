// The closed- and open-loop phase runner (see phase.hpp).
#include "bench/loadgen/phase.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <semaphore>
#include <thread>

#include "bench/loadgen/histogram.hpp"

namespace loyalty::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kDrainTimeout = std::chrono::seconds(120);
// An open-loop send this late (past its due time) is late; when more than kLateShareMax of
// the measured sends are, the sender (not only the server) is reported as a bottleneck.
constexpr int64_t kSenderLateNs = 10'000'000;
constexpr double kLateShareMax = 0.01;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

struct PhaseState {
  explicit PhaseState(size_t slots_count) : slots(static_cast<std::ptrdiff_t>(slots_count)) {}

  LatencyHistogram latency;
  std::counting_semaphore<> slots;
  std::atomic<int64_t> outstanding{0};
  std::atomic<uint64_t> in_window{0};
  std::atomic<uint64_t> failed{0};
  int64_t measure_start_ns = 0;
  int64_t measure_end_ns = 0;
  std::mutex failures_mutex;
  std::map<std::string, uint64_t> failures;

  void finish(int64_t intended_ns, const Outcome& outcome) {
    const int64_t now = now_ns();
    if (now >= measure_start_ns && now <= measure_end_ns) {
      in_window.fetch_add(1, std::memory_order_relaxed);
    }
    if (intended_ns >= measure_start_ns) latency.record(now - intended_ns);
    if (!outcome.ok) {
      failed.fetch_add(1, std::memory_order_relaxed);
      std::lock_guard lock(failures_mutex);
      ++failures[outcome.failure];
    }
    slots.release();
    outstanding.fetch_sub(1, std::memory_order_acq_rel);
  }
};

bool drain(const std::atomic<int64_t>& outstanding) {
  const auto deadline = Clock::now() + kDrainTimeout;
  while (outstanding.load(std::memory_order_acquire) > 0) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace

PhaseResult run_phase(Target& target, Workload& workload, const PhaseSpec& spec) {
  const bool open_loop = spec.rate > 0;
  PhaseState state(open_loop ? spec.in_flight_max : spec.window);
  const int64_t start = now_ns();
  state.measure_start_ns = start + static_cast<int64_t>(spec.warmup_seconds * 1e9);
  state.measure_end_ns = state.measure_start_ns + static_cast<int64_t>(spec.seconds * 1e9);
  const double interval_ns = open_loop ? 1e9 / spec.rate : 0;
  uint64_t measured_sends = 0;
  uint64_t late_sends = 0;

  for (uint64_t sent = 0;; ++sent) {
    int64_t intended = 0;
    if (open_loop) {
      intended = start + static_cast<int64_t>(static_cast<double>(sent) * interval_ns);
      if (intended >= state.measure_end_ns) break;
      const int64_t now = now_ns();
      if (intended > now) {
        std::this_thread::sleep_for(std::chrono::nanoseconds(intended - now));
      }
      if (intended >= state.measure_start_ns) {
        ++measured_sends;
        if (now - intended > kSenderLateNs) ++late_sends;
      }
      state.slots.acquire();
    } else {
      // Closed loop: the next event goes as soon as one of the window is answered.
      bool got = false;
      while (!got && now_ns() < state.measure_end_ns) {
        got = state.slots.try_acquire_for(std::chrono::milliseconds(50));
      }
      if (!got) break;
      intended = now_ns();
      if (intended >= state.measure_end_ns) {
        state.slots.release();
        break;
      }
    }
    uint64_t ticket = 0;
    Event event = workload.next(ticket);
    state.outstanding.fetch_add(1, std::memory_order_acq_rel);
    target.submit(std::move(event), [&state, &workload, intended, ticket](const Outcome& outcome) {
      if (outcome.ok) workload.committed(ticket);
      state.finish(intended, outcome);
    });
  }
  if (!drain(state.outstanding)) {
    std::fprintf(stderr, "loadgen: %s: events still unanswered after %lld s\n", spec.name.c_str(),
                 static_cast<long long>(kDrainTimeout.count()));
    std::fflush(stderr);
    std::_Exit(1);  // completions still reference this frame: nothing safe to return to
  }

  PhaseResult result;
  result.name = spec.name;
  result.rate_asked = spec.rate;
  result.seconds = spec.seconds;
  result.completed = state.in_window.load();
  result.events_per_s = static_cast<double>(result.completed) / spec.seconds;
  result.failed = state.failed.load();
  result.failures = state.failures;
  result.p50_us = state.latency.percentile_us(0.50);
  result.p99_us = state.latency.percentile_us(0.99);
  result.p999_us = state.latency.percentile_us(0.999);
  result.max_us = state.latency.max_us();
  result.sender_fell_behind =
      static_cast<double>(late_sends) > kLateShareMax * static_cast<double>(measured_sends);
  return result;
}

uint64_t populate_members(Target& target, const Workload& workload, uint64_t count, size_t window) {
  std::counting_semaphore<> slots(static_cast<std::ptrdiff_t>(window));
  std::atomic<int64_t> outstanding{0};
  std::atomic<uint64_t> failed{0};
  std::mutex first_failure_mutex;
  std::string first_failure;
  // Referred members second: their referrers' codes exist by then.
  for (const bool referred : {false, true}) {
    for (uint64_t i = 0; i < count; ++i) {
      if (is_referred(i) != referred) continue;
      slots.acquire();
      outstanding.fetch_add(1, std::memory_order_acq_rel);
      target.submit(Event{workload.populate_signup(i)}, [&](const Outcome& outcome) {
        if (!outcome.ok) {
          failed.fetch_add(1, std::memory_order_relaxed);
          std::lock_guard lock(first_failure_mutex);
          if (first_failure.empty()) first_failure = outcome.failure;
        }
        slots.release();
        outstanding.fetch_sub(1, std::memory_order_acq_rel);
      });
    }
    if (!drain(outstanding)) {
      std::fprintf(stderr, "loadgen: populate: sign-ups still unanswered\n");
      std::_Exit(1);
    }
  }
  if (failed.load() > 0) {
    std::fprintf(stderr, "loadgen: populate: %llu sign-ups failed, the first with %s\n",
                 static_cast<unsigned long long>(failed.load()), first_failure.c_str());
  }
  return failed.load();
}

}  // namespace loyalty::bench
