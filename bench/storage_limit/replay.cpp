// Writing batches straight through RocksDB for the storage limit (see replay.hpp).
#include "bench/storage_limit/replay.hpp"

#include <rocksdb/write_batch.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "bench/loadgen/workload.hpp"
#include "bench/loadgen/zipf.hpp"
#include "bench/storage_limit/raw_db.hpp"
#include "storage/keys.hpp"

namespace loyalty::bench {
namespace {

constexpr size_t kMemberValueBytes = 200;
constexpr size_t kLedgerValueBytes = 100;
constexpr size_t kIdempotencyValueBytes = 100;

struct Totals {
  std::atomic<uint64_t> events{0};
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<bool> failed{false};
  std::string error;  // written by the first writer to fail (failed == true before)
};

// Runs `writers` threads, each calling `write_one(writer, totals)` until the time is up.
template <typename WriteOne>
double run_writers(uint32_t writers, double seconds, Totals& totals, WriteOne write_one) {
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  for (uint32_t writer = 0; writer < writers; ++writer) {
    threads.emplace_back([&, writer] {
      while (std::chrono::steady_clock::now() < end && !totals.failed.load()) {
        write_one(writer);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void fail(Totals& totals, const rocksdb::Status& status) {
  bool expected = false;
  if (totals.failed.compare_exchange_strong(expected, true)) totals.error = status.ToString();
}

bool open_fresh(const ReplayOptions& options, RawDb& raw, std::string& error) {
  std::filesystem::remove_all(options.folder);
  return create_store_folder(options.folder, error) &&
         raw.open(options.folder, /*keep_wal=*/false, error);
}

// Copies a batch's writes into `out`, except those to the families `without` names.
class FamilyFilter final : public rocksdb::WriteBatch::Handler {
 public:
  FamilyFilter(const RawDb& raw, const std::map<uint32_t, std::string>& names,
               const std::set<std::string>& without, rocksdb::WriteBatch& out)
      : raw_(raw), names_(names), without_(without), out_(out) {}

  rocksdb::Status PutCF(uint32_t id, const rocksdb::Slice& key,
                        const rocksdb::Slice& value) override {
    rocksdb::ColumnFamilyHandle* family = kept(id);
    return family == nullptr ? rocksdb::Status::OK() : out_.Put(family, key, value);
  }
  rocksdb::Status MergeCF(uint32_t id, const rocksdb::Slice& key,
                          const rocksdb::Slice& value) override {
    rocksdb::ColumnFamilyHandle* family = kept(id);
    return family == nullptr ? rocksdb::Status::OK() : out_.Merge(family, key, value);
  }
  rocksdb::Status DeleteCF(uint32_t id, const rocksdb::Slice& key) override {
    rocksdb::ColumnFamilyHandle* family = kept(id);
    return family == nullptr ? rocksdb::Status::OK() : out_.Delete(family, key);
  }
  rocksdb::Status DeleteRangeCF(uint32_t id, const rocksdb::Slice& begin,
                                const rocksdb::Slice& end) override {
    rocksdb::ColumnFamilyHandle* family = kept(id);
    return family == nullptr ? rocksdb::Status::OK() : out_.DeleteRange(family, begin, end);
  }

 private:
  rocksdb::ColumnFamilyHandle* kept(uint32_t id) const {
    const std::string& name = names_.at(id);
    return without_.contains(name) ? nullptr : raw_.family(name);
  }

  const RawDb& raw_;
  const std::map<uint32_t, std::string>& names_;
  const std::set<std::string>& without_;
  rocksdb::WriteBatch& out_;
};

rocksdb::WriteOptions write_options(Durability durability) {
  rocksdb::WriteOptions write;
  write.sync = durability == Durability::fsync;  // as RocksStore::commit
  return write;
}

}  // namespace

bool replay_layout(const ReplayOptions& options, const CapturedLayout& layout, ReplayResult& out,
                   std::string& error) {
  ReplayResult result;
  {
    RawDb raw;
    if (!open_fresh(options, raw, error)) return false;
    if (raw.family_names() != layout.family_ids) {
      error = "the fresh folder's column families differ from the captured ones";
      return false;
    }
    // Each writer replays its own share of the batches, as each partition commits its own.
    std::vector<std::vector<std::pair<rocksdb::WriteBatch, uint32_t>>> shares(options.writers);
    for (size_t i = 0; i < layout.batches.size(); ++i) {
      rocksdb::WriteBatch batch(layout.batches[i]);
      if (!options.without.empty()) {
        rocksdb::WriteBatch kept;
        FamilyFilter filter(raw, layout.family_ids, options.without, kept);
        if (rocksdb::Status status = batch.Iterate(&filter); !status.ok()) {
          error = "filtering a captured batch: " + status.ToString();
          return false;
        }
        batch = std::move(kept);
      }
      shares[i % options.writers].emplace_back(std::move(batch), layout.batch_events[i]);
    }
    const rocksdb::WriteOptions write = write_options(options.durability);
    Totals totals;
    std::vector<size_t> next(options.writers, 0);
    result.seconds = run_writers(options.writers, options.seconds, totals, [&](uint32_t writer) {
      auto& share = shares[writer];
      if (share.empty()) return;
      auto& [batch, events] = share[next[writer]++ % share.size()];
      if (rocksdb::Status status = raw.db().Write(write, &batch); !status.ok()) {
        return fail(totals, status);
      }
      totals.events.fetch_add(events, std::memory_order_relaxed);
      totals.batches.fetch_add(1, std::memory_order_relaxed);
      totals.bytes.fetch_add(batch.GetDataSize(), std::memory_order_relaxed);
    });
    if (totals.failed) {
      error = totals.error;
      return false;
    }
    result.events = totals.events;
    result.batches = totals.batches;
    result.bytes = totals.bytes;
  }
  std::filesystem::remove_all(options.folder);
  out = result;
  return true;
}

bool write_reference_shape(const ReplayOptions& options, const ReferenceShape& shape,
                           ReplayResult& out, std::string& error) {
  ReplayResult result;
  {
    RawDb raw;
    if (!open_fresh(options, raw, error)) return false;
    rocksdb::ColumnFamilyHandle* members = raw.family(std::string(storage::kMembersFamily));
    rocksdb::ColumnFamilyHandle* ledger = raw.family(std::string(storage::kLedgerFamily));
    rocksdb::ColumnFamilyHandle* idempotency = raw.family(std::string(storage::kIdempotencyFamily));
    if (members == nullptr || ledger == nullptr || idempotency == nullptr) {
      error = "the store has no members / ledger / idempotency column family";
      return false;
    }
    const rocksdb::WriteOptions write = write_options(options.durability);
    const ZipfSampler sampler(shape.members, shape.skew);
    std::vector<std::mt19937_64> randoms;
    for (uint32_t writer = 0; writer < options.writers; ++writer) randoms.emplace_back(writer + 1);
    std::vector<uint64_t> sequences(options.writers, 0);
    // Values are random bytes: records do not compress much.
    std::string noise(4096, '\0');
    std::mt19937_64 fill(7);
    for (char& c : noise) c = static_cast<char>(fill() & 0xff);
    Totals totals;
    result.seconds = run_writers(options.writers, options.seconds, totals, [&](uint32_t writer) {
      rocksdb::WriteBatch batch;
      std::mt19937_64& random = randoms[writer];
      std::string key;
      for (uint32_t i = 0; i < shape.batch_events; ++i) {
        const uint64_t sequence = sequences[writer]++;
        const std::string member = member_id_of(sampler(random));
        const size_t offset = random() % (noise.size() - kMemberValueBytes);
        rocksdb::Status status =
            batch.Put(members, member, {noise.data() + offset, kMemberValueBytes});
        key = member;
        key += '\0';
        key.append(reinterpret_cast<const char*>(&sequence), sizeof sequence);
        if (status.ok())
          status = batch.Put(ledger, key, {noise.data() + offset, kLedgerValueBytes});
        key = "p:w" + std::to_string(writer) + "-" + std::to_string(sequence);
        if (status.ok()) {
          status = batch.Put(idempotency, key, {noise.data() + offset, kIdempotencyValueBytes});
        }
        if (!status.ok()) return fail(totals, status);
      }
      if (rocksdb::Status status = raw.db().Write(write, &batch); !status.ok()) {
        return fail(totals, status);
      }
      totals.events.fetch_add(shape.batch_events, std::memory_order_relaxed);
      totals.batches.fetch_add(1, std::memory_order_relaxed);
      totals.bytes.fetch_add(batch.GetDataSize(), std::memory_order_relaxed);
    });
    if (totals.failed) {
      error = totals.error;
      return false;
    }
    result.events = totals.events;
    result.batches = totals.batches;
    result.bytes = totals.bytes;
  }
  std::filesystem::remove_all(options.folder);
  out = result;
  return true;
}

}  // namespace loyalty::bench
