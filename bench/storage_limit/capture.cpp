// Capturing our commits' write batches from the WAL (see capture.hpp).
#include "bench/storage_limit/capture.hpp"

#include <rocksdb/transaction_log.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <semaphore>
#include <thread>

#include "bench/loadgen/bench_store.hpp"
#include "bench/loadgen/phase.hpp"
#include "bench/storage_limit/raw_db.hpp"
#include "storage/keys.hpp"

namespace loyalty::bench {
namespace {

constexpr size_t kWindow = 4096;  // events in flight, as loadgen's closed loop

// Counts the operations of one batch per column family.
class Counter final : public rocksdb::WriteBatch::Handler {
 public:
  explicit Counter(std::map<uint32_t, FamilyWrites>& by_id) : by_id_(by_id) {}
  rocksdb::Status PutCF(uint32_t id, const rocksdb::Slice& key,
                        const rocksdb::Slice& value) override {
    FamilyWrites& writes = by_id_[id];
    ++writes.puts;
    writes.key_bytes += key.size();
    writes.value_bytes += value.size();
    return rocksdb::Status::OK();
  }
  // A merge is one more write of the batch (the program's figures, storage/stock_counter.hpp).
  rocksdb::Status MergeCF(uint32_t id, const rocksdb::Slice& key,
                          const rocksdb::Slice& value) override {
    return PutCF(id, key, value);
  }
  rocksdb::Status DeleteCF(uint32_t id, const rocksdb::Slice& key) override {
    (void)key;
    ++by_id_[id].deletes;
    return rocksdb::Status::OK();
  }
  rocksdb::Status DeleteRangeCF(uint32_t id, const rocksdb::Slice& begin,
                                const rocksdb::Slice& end) override {
    (void)begin;
    (void)end;
    ++by_id_[id].deletes;
    return rocksdb::Status::OK();
  }

 private:
  std::map<uint32_t, FamilyWrites>& by_id_;
};

// Runs `count` events of the workload through the engine, kWindow in flight.
void run_events(BenchEngine& engine, Workload& workload, uint64_t count) {
  std::counting_semaphore<> slots(static_cast<std::ptrdiff_t>(kWindow));
  std::atomic<int64_t> outstanding{0};
  for (uint64_t i = 0; i < count; ++i) {
    slots.acquire();
    uint64_t ticket = 0;
    Event event = workload.next(ticket);
    outstanding.fetch_add(1);
    engine.submit(std::move(event), [&, ticket](const Outcome& outcome) {
      if (outcome.ok) workload.committed(ticket);
      slots.release();
      outstanding.fetch_sub(1);
    });
  }
  while (outstanding.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

}  // namespace

bool capture_layout(const CaptureOptions& options, CapturedLayout& out, std::string& error) {
  std::filesystem::remove_all(options.folder);
  Workload workload(options.workload, &wall_clock_ms);
  {
    BenchEngine engine;
    if (!engine.open({.data_dir = options.folder, .durability = Durability::wal}, error)) {
      return false;
    }
    if (populate_members(engine, workload, options.workload.members, kWindow) > 0) {
      error = "populating the capture folder failed";
      return false;
    }
  }
  {
    // Reopened: the WAL holds only the run below, and is read back after the close.
    BenchEngine engine;
    if (!engine.open(
            {.data_dir = options.folder, .durability = Durability::wal, .flush_at_close = false},
            error)) {
      return false;
    }
    run_events(engine, workload, options.events);
  }

  std::map<uint32_t, FamilyWrites> by_id;
  {
    RawDb raw;
    if (!raw.open(options.folder, /*keep_wal=*/true, error)) return false;
    out.family_ids = raw.family_names();
    std::unique_ptr<rocksdb::TransactionLogIterator> log;
    rocksdb::Status status = raw.db().GetUpdatesSince(0, &log);
    if (!status.ok()) {
      error = "reading the WAL: " + status.ToString();
      return false;
    }
    uint32_t events_family = UINT32_MAX;
    for (const auto& [id, name] : out.family_ids) {
      if (name == storage::kEventsFamily) events_family = id;
    }
    for (; log->Valid(); log->Next()) {
      rocksdb::BatchResult batch = log->GetBatch();
      std::map<uint32_t, FamilyWrites> counts;
      Counter counter(counts);
      if (status = batch.writeBatchPtr->Iterate(&counter); !status.ok()) {
        error = "reading a WAL batch: " + status.ToString();
        return false;
      }
      uint32_t events = 0;
      for (const auto& [id, writes] : counts) {
        if (id == events_family) events = static_cast<uint32_t>(writes.puts);
        FamilyWrites& total = by_id[id];
        total.puts += writes.puts;
        total.deletes += writes.deletes;
        total.key_bytes += writes.key_bytes;
        total.value_bytes += writes.value_bytes;
      }
      out.batches.push_back(batch.writeBatchPtr->Data());
      out.batch_events.push_back(events);
      out.events += events;
    }
    if (!log->status().ok()) {
      error = "reading the WAL: " + log->status().ToString();
      return false;
    }
  }
  for (const auto& [id, writes] : by_id) out.families[out.family_ids[id]] = writes;
  std::filesystem::remove_all(options.folder);
  if (out.events == 0) {
    error = "the WAL held no logged events";
    return false;
  }
  return true;
}

void print_layout(const CapturedLayout& layout) {
  const auto events = static_cast<double>(layout.events);
  std::printf("our layout: %zu batches, %.1f events per batch, per event:\n", layout.batches.size(),
              events / static_cast<double>(layout.batches.size()));
  double puts = 0;
  double bytes = 0;
  for (const auto& [name, writes] : layout.families) {
    const double family_puts = static_cast<double>(writes.puts) / events;
    const double family_bytes = static_cast<double>(writes.key_bytes + writes.value_bytes) / events;
    puts += family_puts + static_cast<double>(writes.deletes) / events;
    bytes += family_bytes;
    std::printf(
        "  %-12s %5.2f puts %5.2f deletes  key %5.1f B  value %6.1f B  (%.1f B/event)\n",
        name.c_str(), family_puts, static_cast<double>(writes.deletes) / events,
        writes.puts ? static_cast<double>(writes.key_bytes) / static_cast<double>(writes.puts)
                    : 0.0,
        writes.puts ? static_cast<double>(writes.value_bytes) / static_cast<double>(writes.puts)
                    : 0.0,
        family_bytes);
  }
  std::printf("  total        %5.2f writes, %.0f B of keys and values per event\n", puts, bytes);
  std::fflush(stdout);
}

}  // namespace loyalty::bench
