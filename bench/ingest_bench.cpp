// In-process ingest through the embedded API: purchases submitted to the runtime over a real
// RocksDB store in a temporary folder, many in flight at once so group commit can batch them.
// Reports purchases per second for durability = wal and fsync, and heap allocations per
// purchase (bench/counting_allocator.hpp): everything the runtime, the engine and RocksDB
// allocate while the purchases run, and apart from it what making the request itself took.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <random>

#include "bench/counting_allocator.hpp"
#include "engine/runtime/runtime.hpp"
#include "storage/rocks_store.hpp"

namespace loyalty {
namespace {

constexpr int kMembers = 10'000;
constexpr int kInFlightMax = 8192;  // how many purchases the closed loop keeps outstanding

Program bench_program() {
  Program program;
  program.id = "bench";
  program.currency = "CNY";
  program.earning.points_per_unit = Decimal::from_integer(1);
  program.earning.unit_minor = 100;
  program.earning.category_multipliers["beverage"] = *Decimal::parse("2");
  program.expiry.mode = ExpiryMode::days;
  return program;
}

// Waits until fewer than `limit` submissions are outstanding.
class InFlight {
 public:
  void acquire(int limit) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return count_ < limit; });
    ++count_;
  }
  void release() {
    {
      std::lock_guard lock(mutex_);
      --count_;
    }
    changed_.notify_all();
  }
  void wait_idle() {
    acquire(1);
    release();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int count_ = 0;
};

void ingest_purchases(benchmark::State& state) {
  const auto durability = static_cast<Durability>(state.range(0));
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("loyalty-ingest-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  {
    std::unique_ptr<RocksStore> store;
    if (!RocksStore::open({.path = dir.string(), .durability = durability}, store).ok()) {
      state.SkipWithError("cannot open the store");
      return;
    }
    ProgramRegistry programs(
        std::make_shared<ProgramVersion>(ProgramVersion{1, bench_program(), ""}));
    Runtime runtime({.partitions = 2}, *store, programs, [] { return TimeMs{1'795'169'700'000}; });
    InFlight in_flight;
    std::atomic<int64_t> failures{0};
    auto done = [&](EventResult&& result) {
      if (!result.rejection.ok()) ++failures;
      in_flight.release();
    };
    for (int i = 0; i < kMembers; ++i) {
      SignupEvent signup;
      signup.member_id = "member-" + std::to_string(i);
      in_flight.acquire(kInFlightMax);
      runtime.submit(Event{signup}, done);
    }
    in_flight.wait_idle();

    std::mt19937_64 random(42);
    int64_t sequence = 0;
    const auto make_purchase = [&] {
      PurchaseEvent p;
      p.event_id = "bench-" + std::to_string(sequence++);
      p.member_id = "member-" + std::to_string(random() % kMembers);
      p.store_id = "s-1";
      p.occurred_at = 1'795'169'700'000;
      p.currency = "CNY";
      p.lines = {{"latte-l", "beverage", 1, 3200}, {"bagel", "food", 1, 1500}};
      return Event{std::move(p)};
    };
    // What making one request costs by itself (its strings and lines), on this thread only: the
    // writers and RocksDB's threads allocate meanwhile.
    const uint64_t request_start = bench::thread_allocations();
    { const Event sample = make_purchase(); }
    const uint64_t request_allocations = bench::thread_allocations() - request_start;
    const uint64_t start = bench::allocations();
    for (auto _ : state) {
      Event event = make_purchase();
      in_flight.acquire(kInFlightMax);
      runtime.submit(std::move(event), done);
    }
    in_flight.wait_idle();
    const double per_event = static_cast<double>(bench::allocations() - start) /
                             static_cast<double>(std::max<int64_t>(1, state.iterations()));
    state.counters["allocs_per_event"] = per_event;
    state.counters["allocs_of_request"] = static_cast<double>(request_allocations);
    state.SetItemsProcessed(state.iterations());
    state.counters["failed"] = static_cast<double>(failures.load());
    runtime.stop();
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(ingest_purchases)
    ->ArgName("durability")
    ->Arg(static_cast<int>(Durability::wal))
    ->Arg(static_cast<int>(Durability::fsync))
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace loyalty
