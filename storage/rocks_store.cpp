// RocksStore: the engine's MemberStore on RocksDB. One column family per record kind, one
// WriteBatch per commit, FlatBuffers values verified on every read.
#include "storage/rocks_store.hpp"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/iterator.h>
#include <rocksdb/listener.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/snapshot.h>
#include <rocksdb/table.h>
#include <rocksdb/transaction_log.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <limits>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <variant>

#include "engine/check.hpp"
#include "storage/keys.hpp"
#include "storage/record_codec.hpp"
#include "storage/stall_watch.hpp"
#include "storage/stock_counter.hpp"

namespace loyalty {
namespace {

using storage::MemberKey;

enum Family : size_t {
  members = 0,
  lots,
  ledger,
  idempotency,
  events,
  identifiers,
  meta,
  purchases,
  holds,
  referrals,
  outbox,
  coupons,
  member_coupons,
  stock,
  family_count,
};

struct FamilySpec {
  std::string_view name;
  bool point_lookups;  // read mostly by Get: a bloom filter saves the block reads of a miss
};

constexpr std::array<FamilySpec, family_count> kFamilies = {{
    {storage::kMembersFamily, true},
    {storage::kLotsFamily, false},
    {storage::kLedgerFamily, false},
    {storage::kIdempotencyFamily, true},
    {storage::kEventsFamily, false},
    {storage::kIdentifiersFamily, true},
    {storage::kMetaFamily, false},
    {storage::kPurchasesFamily, true},
    {storage::kHoldsFamily, true},
    {storage::kReferralsFamily, false},
    {storage::kOutboxFamily, false},
    {storage::kCouponsFamily, true},
    {storage::kMemberCouponsFamily, false},
    {storage::kStockFamily, true},
}};

constexpr int kBloomBitsPerKey = 10;  // ≈1% false positives
// The memtable's bloom filter, as a share of its write buffer (RocksDB suggests up to 0.25).
constexpr double kMemtableBloomRatio = 0.05;
// Each family's memtable. Writes are bound by the memtable's skiplist inserts, whose cost grows
// with its size (cache misses per level); 8 MiB instead of RocksDB's 64 MiB took our layout's
// storage limit from 37,000 to 58,000 events/s on the 2-core machine (bench/RESULTS.md).
constexpr size_t kMemtableBytes = size_t{8} << 20;
// Level 1 as large as the level-0 files that trigger a compaction into it (4 memtables), as
// RocksDB's tuning guide advises: with 8 MiB memtables its 256 MiB default would keep a large
// store's newest quarter GiB per family uncompressed. 2,000,000 members: 333 B on disk per
// member instead of 464, at the same rate.
constexpr uint64_t kLevel1Bytes = 4 * kMemtableBytes;
// Background syncs of SST and WAL files every 1 MiB, so that a sync (or the kernel's
// writeback) never has a large backlog to push at once.
constexpr uint64_t kBytesPerSync = uint64_t{1} << 20;

rocksdb::Slice slice(std::string_view bytes) { return {bytes.data(), bytes.size()}; }
std::string_view view(const rocksdb::Slice& bytes) { return {bytes.data(), bytes.size()}; }

Status from_rocks(const rocksdb::Status& status) {
  if (status.ok()) return Status::ok_status();
  Status::Code code = Status::Code::io_error;
  if (status.IsCorruption()) {
    code = Status::Code::corruption;
  } else if (status.IsBusy() || status.IsTryAgain()) {
    code = Status::Code::busy;
  } else if (status.IsInvalidArgument()) {
    code = Status::Code::invalid_argument;
  }
  return Status::error(code, status.ToString());
}

// After a failed write RocksDB refuses every write (a "background error") until DB::Resume(),
// which flushes the memtables. RocksStore resumes on its own next write (Impl::write) once the
// disk has room for that flush, and RocksDB's recovery threads are turned off: writes come back
// with the first request after space returns, and no resume runs while the disk is still full.
// (In RocksDB 7.8 a resume that fails half-way, its flushes still running, can leave the next
// resume waiting for ever; and RocksDB's own polling for space mixed with ours answers "busy".)
// Soft errors (a compaction short of space) do not stop writes or background work.
// A resume moves writes to a new WAL file only when some memtable holds data (it flushes them);
// with every memtable empty (just after open, or after a resume) RocksDB 7.8 keeps the WAL writer
// that failed, and the next write trips an assertion in Debian's build (an I/O error in others).
// So the default column family, which holds nothing else, always keeps one key in its memtable,
// written without the WAL: put back after each flush of that family.
class WriteRecovery final : public rocksdb::EventListener {
 public:
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason /*reason*/, rocksdb::Status /*error*/,
                            bool* auto_recovery) override {
    *auto_recovery = false;
  }
  void OnFlushCompleted(rocksdb::DB* /*db*/, const rocksdb::FlushJobInfo& flush) override {
    if (flush.cf_name == rocksdb::kDefaultColumnFamilyName) anchor_needed.store(true);
  }

  std::atomic<bool> anchor_needed{true};
};

// Free space a resume wants beyond the memtables it flushes.
constexpr uint64_t kResumeHeadroomBytes = uint64_t{1} << 20;
// How long a resume waits for running flushes and compactions to end, and how often it looks.
constexpr std::chrono::milliseconds kQuietWaitMax{3000};
constexpr std::chrono::milliseconds kQuietPoll{10};

constexpr std::string_view kMemtableAnchorKey = "loyalty:memtable-anchor";

// Cluster mode: this node's copy of the cluster's identifier secret (cluster/identifier_keys.hpp).
constexpr std::string_view kClusterSecretKey = "cluster_identifier_secret";

Status corrupt_key(std::string_view family) {
  return Status::error(Status::Code::corruption,
                       "malformed key in column family " + std::string(family));
}

Status corruption(std::string_view what) {
  return Status::error(Status::Code::corruption, "corrupt record: " + std::string(what));
}

rocksdb::ColumnFamilyOptions family_options(const std::shared_ptr<rocksdb::Cache>& cache,
                                            bool point_lookups) {
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  if (point_lookups) table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(kBloomBitsPerKey));
  rocksdb::ColumnFamilyOptions options;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  if (point_lookups) {
    // Most lookups of these families miss (a new purchase's id, first in "purchases" then in
    // "idempotency"): a bloom filter over the memtable answers a miss without walking its
    // skiplist, which took 5% of loyaltyd's CPU under wrk (perf record).
    options.memtable_whole_key_filtering = true;
    options.memtable_prefix_bloom_size_ratio = kMemtableBloomRatio;
  }
  options.write_buffer_size = kMemtableBytes;
  options.max_bytes_for_level_base = kLevel1Bytes;
  options.target_file_size_base = kMemtableBytes;
  // Levels 0 and 1 hold the newest few tens of MiB and are rewritten by every compaction into
  // level 1: compressing them cost the writers a tenth of the machine (Snappy in each flush).
  // The deeper levels, where nearly all data of a large store lives, use LZ4.
  options.compression_per_level = {rocksdb::kNoCompression, rocksdb::kNoCompression};
  options.compression_per_level.resize(options.num_levels, rocksdb::kLZ4Compression);
  return options;
}

// Lots with no points left are not part of a member's state. Commits delete them; folders
// written before that may still hold some.
void keep_open_lot(Lot&& lot, std::vector<Lot>& lots) {
  if (lot.points_remaining != 0) lots.push_back(std::move(lot));
}

}  // namespace

struct RocksStore::Impl {
  RocksStoreOptions options;
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;  // every open family, for the close
  std::array<rocksdb::ColumnFamilyHandle*, family_count> families{};
  // The log_seq of the next logged event. Commits reserve a run with one fetch_add, so a
  // partition's events stay in its commit order; commits of different partitions may land
  // in the log out of seq order, which replay does not need (their members are disjoint).
  // A failed write leaves its seqs unused: readers of the log must accept gaps.
  std::atomic<uint64_t> next_log_seq{1};
  // The first log_seq of each commit between its reservation and the end of its write: readers
  // that follow the log (webhook deliveries) stop before the lowest, which may land later.
  std::mutex log_mutex;
  std::set<uint64_t> log_in_flight;

  uint64_t reserve_log_seqs(size_t count) {
    const std::lock_guard lock(log_mutex);
    const uint64_t first = next_log_seq.fetch_add(count);
    log_in_flight.insert(first);
    return first;
  }
  void settle_log_seqs(uint64_t first) {
    const std::lock_guard lock(log_mutex);
    log_in_flight.erase(first);
  }
  uint64_t log_horizon() {
    const std::lock_guard lock(log_mutex);
    return log_in_flight.empty() ? next_log_seq.load() : *log_in_flight.begin();
  }
  std::shared_ptr<WriteRecovery> recovery;
  std::shared_ptr<storage::StallWatch> stalls;
  uint32_t layout = storage::kLayoutCurrent;
  std::atomic<bool> write_failed{false};  // the last write failed: resume before the next
  std::mutex resume_mutex;                // one resume at a time; the others then find it done
  std::mutex maintenance_mutex;           // one backup or erasure purge at a time
  // Job messages are numbered in the order they are written (under this lock).
  std::mutex job_message_mutex;
  uint64_t next_job_message = 1;

  rocksdb::ColumnFamilyHandle* family(Family which) const { return families[which]; }

  // Until no flush or compaction runs (one that failed holds its thread a second more), or
  // kQuietWaitMax has passed.
  void wait_for_quiet_background() const {
    const auto deadline = std::chrono::steady_clock::now() + kQuietWaitMax;
    while (std::chrono::steady_clock::now() < deadline) {
      uint64_t flushes = 0, compactions = 0;
      db->GetIntProperty(rocksdb::DB::Properties::kNumRunningFlushes, &flushes);
      db->GetIntProperty(rocksdb::DB::Properties::kNumRunningCompactions, &compactions);
      if (flushes == 0 && compactions == 0) return;
      std::this_thread::sleep_for(kQuietPoll);
    }
  }

  // Whether the disk has room for what a resume writes (the memtables), when the file system
  // can tell; RocksDB's own recovery asks the same before resuming.
  Status room_to_resume() const {
    uint64_t free_bytes = 0;
    if (!db->GetEnv()->GetFreeSpace(options.path, &free_bytes).ok()) return Status::ok_status();
    uint64_t memtable_bytes = 0;
    db->GetAggregatedIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &memtable_bytes);
    if (free_bytes >= memtable_bytes + kResumeHeadroomBytes) return Status::ok_status();
    return Status::error(Status::Code::io_error, "writes stopped: the disk is full (" +
                                                     std::to_string(free_bytes) + " bytes free)");
  }

  // One atomic write with the store's durability; resumes writes after a failed one first
  // (WriteRecovery). A write that fails leaves nothing of its batch behind.
  Status write(rocksdb::WriteBatch& batch) {
    if (write_failed.load()) {
      std::lock_guard lock(resume_mutex);
      if (write_failed.load()) {
        if (Status room = room_to_resume(); !room.ok()) return room;
        // A flush or compaction still running can fail into the resume and make it fail; and a
        // resume started while the flushes of one that failed still run can wait for ever
        // (RocksDB 7.8). So it starts once background work is quiet, waiting a bounded time.
        wait_for_quiet_background();
        const rocksdb::Status resumed = db->Resume();
        if (!resumed.ok()) {
          return Status::error(Status::Code::io_error, "writes stopped: " + resumed.ToString());
        }
        write_failed.store(false);
      }
    }
    if (recovery->anchor_needed.exchange(false)) {
      rocksdb::WriteOptions unlogged;
      unlogged.disableWAL = true;
      if (!db->Put(unlogged, handles.front(), slice(kMemtableAnchorKey), {}).ok()) {
        recovery->anchor_needed.store(true);
      }
    }
    rocksdb::WriteOptions write_options;
    write_options.sync = options.durability == Durability::fsync;
    const rocksdb::Status written = db->Write(write_options, &batch);
    if (!written.ok()) {
      write_failed.store(true);
      return Status::error(Status::Code::io_error, written.ToString());
    }
    return Status::ok_status();
  }

  ~Impl() {
    if (db == nullptr) return;
    // The WAL of a Durability::wal store sits in the page cache; a clean close makes it
    // durable like fsync would have. Not after a failed write that was not resumed: the WAL
    // writer that failed may still be the current one, and syncing it trips an assertion in
    // RocksDB 7.8 (the close then reports the error instead).
    // Then every memtable is flushed, so that the next start has no WAL to replay (the
    // anchor goes to disk with the default family: an empty value nothing reads).
    if (!write_failed.load()) {
      const rocksdb::Status flushed = db->FlushWAL(/*sync=*/true);
      if (!flushed.ok()) {
        std::fprintf(stderr, "rocks_store: FlushWAL: %s\n", flushed.ToString().c_str());
      }
      rocksdb::FlushOptions wait;
      wait.wait = true;
      const rocksdb::Status memtables =
          options.flush_at_close ? db->Flush(wait, handles) : rocksdb::Status::OK();
      if (!memtables.ok()) {
        std::fprintf(stderr, "rocks_store: Flush: %s\n", memtables.ToString().c_str());
      }
    }
    for (rocksdb::ColumnFamilyHandle* handle : handles) {
      const rocksdb::Status destroyed = db->DestroyColumnFamilyHandle(handle);
      LOYALTY_CHECK(destroyed.ok());
    }
    handles.clear();
    const rocksdb::Status closed = db->Close();
    if (!closed.ok()) std::fprintf(stderr, "rocks_store: Close: %s\n", closed.ToString().c_str());
    db.reset();
  }

  // Reads the folder's record layout, or writes the current one into a new folder. An older
  // layout opens only to be read by loyaltyctl migrate; a newer one never.
  Status settle_layout(bool existed, const std::vector<std::string>& existing) {
    std::string value;
    const rocksdb::Status got =
        db->Get(rocksdb::ReadOptions(), family(meta), slice(storage::kLayoutKey), &value);
    if (got.ok()) {
      const std::optional<uint32_t> number = storage::read_u32_be(value);
      if (!number) return corrupt_key("meta (layout)");
      layout = *number;
    } else if (!got.IsNotFound()) {
      return from_rocks(got);
    } else if (existed && std::find(existing.begin(), existing.end(), storage::kFeedFamily) !=
                              existing.end()) {
      layout = 1;
    } else {
      std::string current;
      storage::append_u32_be(current, storage::kLayoutCurrent);
      rocksdb::WriteOptions synced;
      synced.sync = true;
      if (Status status =
              from_rocks(db->Put(synced, family(meta), slice(storage::kLayoutKey), current));
          !status.ok()) {
        return status;
      }
      layout = storage::kLayoutCurrent;
    }
    if (layout > storage::kLayoutCurrent) {
      return Status::error(Status::Code::invalid_argument,
                           "data folder " + options.path + " has record layout " +
                               std::to_string(layout) + ", newer than this release's (" +
                               std::to_string(storage::kLayoutCurrent) +
                               "): open it with the release that wrote it");
    }
    if (layout < storage::kLayoutCurrent && !options.open_older_layout) {
      return Status::error(
          Status::Code::invalid_argument,
          "data folder " + options.path + " has record layout " + std::to_string(layout) +
              " (an older release); this release uses " + std::to_string(storage::kLayoutCurrent) +
              ": stop the server and run `loyaltyctl migrate --data " + options.path + "`");
    }
    return Status::ok_status();
  }

  // The id (a member's, a reward's) stored under `key`: "" when there is none; corruption
  // naming `what` when the value is not one.
  Status read_id(Family which, const std::string& key, const char* what, std::string& out) const {
    out.clear();
    std::string stored;
    const rocksdb::Status got = db->Get(rocksdb::ReadOptions(), family(which), key, &stored);
    if (got.IsNotFound()) return Status::ok_status();
    if (Status status = from_rocks(got); !status.ok()) return status;
    if (!storage::valid_member_key(stored)) {
      return Status::error(Status::Code::corruption, std::string("corrupt ") + what);
    }
    out = std::move(stored);
    return Status::ok_status();
  }

  // Visits the keys in [begin, end) of `which` (to the last key when `end` is empty).
  template <typename Visit>
  Status scan(Family which, rocksdb::ReadOptions read, std::string_view begin, std::string_view end,
              Visit&& visit) const {
    const rocksdb::Slice upper = slice(end);
    if (!end.empty()) read.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(read, family(which)));
    for (it->Seek(slice(begin)); it->Valid(); it->Next()) {
      bool more = true;
      if (Status status = visit(view(it->key()), view(it->value()), more); !status.ok()) {
        return status;
      }
      if (!more) return Status::ok_status();
    }
    return from_rocks(it->status());
  }

  // The value of `key` in `which` decoded by `decode(value, record)`; `out` empty when absent.
  template <typename Record, typename Decode>
  Status get(Family which, std::string_view key, std::optional<Record>& out,
             Decode&& decode) const {
    out.reset();
    rocksdb::PinnableSlice value;
    const rocksdb::Status got = db->Get(rocksdb::ReadOptions(), family(which), slice(key), &value);
    if (got.IsNotFound()) return Status::ok_status();
    if (Status status = from_rocks(got); !status.ok()) return status;
    Record record;
    if (Status status = decode(view(value), record); !status.ok()) return status;
    out = std::move(record);
    return Status::ok_status();
  }

  // The member's record without its lots; `out` empty when there is no such member.
  // With the expiry schedule it carries into `schedule` when given (decode_member).
  Status read_member_record(const rocksdb::ReadOptions& read, std::string_view member_id,
                            std::optional<MemberState>& out,
                            std::optional<ExpirySchedule>* schedule = nullptr) const {
    out.reset();
    rocksdb::PinnableSlice value;
    const rocksdb::Status got = db->Get(read, family(members), slice(member_id), &value);
    if (got.IsNotFound()) return Status::ok_status();
    if (Status status = from_rocks(got); !status.ok()) return status;
    MemberState member;
    if (Status status = storage::decode_member(member_id, view(value), member, schedule);
        !status.ok()) {
      return status;
    }
    out = std::move(member);
    return Status::ok_status();
  }

  // The member with its lots; for a view (`for_view`), a member whose record carries an
  // expiry schedule comes with that instead of the lots apart.
  Status load_member(std::string_view member_id, std::optional<MemberState>& out,
                     std::optional<ExpirySchedule>& schedule, bool for_view) const {
    out.reset();
    schedule.reset();
    if (!storage::valid_member_key(member_id)) return Status::ok_status();
    // One snapshot for the record and its lots, so a reader never mixes two commits.
    rocksdb::ManagedSnapshot snapshot(db.get());
    rocksdb::ReadOptions read;
    read.snapshot = snapshot.snapshot();
    if (Status status = read_member_record(read, member_id, out, for_view ? &schedule : nullptr);
        !status.ok() || !out) {
      return status;
    }
    if (lots_in_record(*out)) {
      schedule.reset();
    } else if (!schedule) {
      if (Status status = read_lots(read, member_id, out->lots); !status.ok()) {
        out.reset();
        return status;
      }
    }
    return Status::ok_status();
  }

  // Whether the member's lots live in its record (layout 7), so none are read apart.
  bool lots_in_record(const MemberState& member) const {
    return layout >= 7 && storage::lots_inline(member);
  }

  // The member's history (layout 6): its events newest first, from the one at `log_seq` down
  // the chain each names, visited as visit(log_seq, history, more) until `more` is false. An
  // event of another member on the chain is corruption, or a bad cursor when it is the first
  // and came from one.
  template <typename Visit>
  Status walk_history(const rocksdb::ReadOptions& read, std::string_view member_id,
                      uint64_t log_seq, bool from_cursor, Visit&& visit) const {
    storage::EventHistory history;
    rocksdb::PinnableSlice value;
    bool first = true;
    while (log_seq != 0) {
      value.Reset();
      const rocksdb::Status got =
          db->Get(read, family(events), slice(storage::event_key(log_seq)), &value);
      if (got.IsNotFound() && first && from_cursor) return bad_cursor();
      if (got.IsNotFound()) return corruption("events (a member's history names a missing event)");
      if (Status status = from_rocks(got); !status.ok()) return status;
      if (Status status = storage::decode_event_history(view(value), history); !status.ok()) {
        return status;
      }
      if (history.member_id != member_id) {
        return first && from_cursor ? bad_cursor()
                                    : corruption("events (another member's event in a history)");
      }
      // Only events that wrote entries are on a member's history: a cursor names one of those.
      if (first && from_cursor && history.entries.empty()) return bad_cursor();
      // The chain runs strictly back in the log, so the walk ends.
      if (history.member_prev >= log_seq) return corruption("events (a history runs forward)");
      bool more = true;
      visit(log_seq, history, more);
      if (!more) return Status::ok_status();
      log_seq = history.member_prev;
      first = false;
    }
    return Status::ok_status();
  }

  // The ledger of a folder of layouts 1–5, read to be migrated: one record per entry under the
  // member's prefix of "ledger", newest first.
  Status read_older_ledger(std::string_view member_id, std::optional<LedgerCursor> cursor,
                           size_t limit, LedgerPage& out) const {
    // Keys hold ~seq, so the first key at or after ~(before_seq - 1) is the newest entry
    // older than the cursor.
    const std::string begin = cursor ? storage::ledger_key(member_id, cursor->before_seq - 1)
                                     : storage::member_prefix(member_id);
    return scan(ledger, rocksdb::ReadOptions(), begin, storage::member_prefix_end(member_id),
                [&](std::string_view key, std::string_view value, bool& more) -> Status {
                  const std::optional<storage::MemberKey> parsed = storage::parse_ledger_key(key);
                  if (!parsed || parsed->member_id != member_id || parsed->number == 0) {
                    return corrupt_key("ledger");
                  }
                  if (out.entries.size() == limit) {  // one more exists: there is a next page
                    out.next_cursor = LedgerCursor{out.entries.back().seq};
                    more = false;
                    return Status::ok_status();
                  }
                  LedgerEntry entry;
                  if (Status status = storage::decode_ledger_entry(parsed->number, value, entry);
                      !status.ok()) {
                    return status;
                  }
                  out.entries.push_back(std::move(entry));
                  return Status::ok_status();
                });
  }

  static Status bad_cursor() {
    return Status::error(Status::Code::invalid_argument,
                         "cursor: not a next_cursor of this member's ledger");
  }

  // A purchase record completed from its own event (layout 5: the record keeps only what the
  // event does not hold).
  Status load_purchase(std::string_view event_id, std::optional<PurchaseRecord>& out) const {
    out.reset();
    if (!storage::valid_member_key(event_id)) return Status::ok_status();
    rocksdb::PinnableSlice value;
    const rocksdb::Status got =
        db->Get(rocksdb::ReadOptions(), family(purchases), slice(event_id), &value);
    if (got.IsNotFound()) return Status::ok_status();
    if (Status status = from_rocks(got); !status.ok()) return status;
    uint64_t log_seq = 0;
    if (Status status = storage::purchase_log_seq(view(value), log_seq); !status.ok()) {
      return status;
    }
    std::optional<StoredEvent> event;
    if (Status status = get(events, storage::event_key(log_seq), event,
                            [log_seq](std::string_view bytes, StoredEvent& record) {
                              return storage::decode_event(log_seq, bytes, record);
                            });
        !status.ok()) {
      return status;
    }
    if (!event) return corrupt_key("purchases (its event is missing)");
    PurchaseRecord record;
    if (Status status = storage::decode_purchase(event_id, view(value), *event, record);
        !status.ok()) {
      return status;
    }
    out = std::move(record);
    return Status::ok_status();
  }

  Status read_lots(const rocksdb::ReadOptions& read, std::string_view member_id,
                   std::vector<Lot>& out) const {
    out.clear();
    return scan(
        lots, read, storage::member_prefix(member_id), storage::member_prefix_end(member_id),
        [&](std::string_view key, std::string_view value, bool&) -> Status {
          const std::optional<MemberKey> parsed = storage::parse_lot_key(key);
          if (!parsed || parsed->member_id != member_id) return corrupt_key("lots");
          Lot lot;
          if (Status status = storage::decode_lot(parsed->number, value, lot); !status.ok()) {
            return status;
          }
          keep_open_lot(std::move(lot), out);
          return Status::ok_status();
        });
  }
};

RocksStore::RocksStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RocksStore::~RocksStore() = default;

uint32_t RocksStore::layout() const { return impl_->layout; }

Status RocksStore::open(const RocksStoreOptions& options, std::unique_ptr<RocksStore>& out) {
  if (options.path.empty()) {
    return Status::error(Status::Code::invalid_argument, "rocks_store: empty path");
  }
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.bytes_per_sync = kBytesPerSync;
  db_options.wal_bytes_per_sync = kBytesPerSync;
  if (options.env != nullptr) db_options.env = options.env;
  // Failed writes are resumed by the store (WriteRecovery); the memtable anchor is never
  // flushed at close (it was never in the WAL, and nothing needs it after).
  const auto recovery = std::make_shared<WriteRecovery>();
  db_options.listeners.push_back(recovery);
  const auto stalls = std::make_shared<storage::StallWatch>();
  db_options.listeners.push_back(stalls);
  db_options.max_bgerror_resume_count = 0;
  db_options.avoid_flush_during_shutdown = true;
  db_options.db_write_buffer_size = options.memtable_budget_bytes;
  // The WAL a start-up must replay, bounded: past this RocksDB flushes the families that keep
  // the oldest WAL file alive. (Its default, four times every family's write buffers, is
  // 6.5 GiB here, and the default family's memtable anchor would keep old files alive until
  // then.)
  db_options.max_total_wal_size = options.memtable_budget_bytes;
  // Every change of the files starts a new MANIFEST holding only the live ones, so that no key
  // outlives its files there: the first and last key of an SST file of "identifiers" can be a
  // phone or card number, which an erasure must remove from the folder (storage/erasure.hpp).
  // A MANIFEST of live files is a few KiB per hundred files, written once per flush or
  // compaction.
  db_options.max_manifest_file_size = 1;

  const std::shared_ptr<rocksdb::Cache> cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, family_options(cache, false));
  for (const FamilySpec& spec : kFamilies) {
    descriptors.emplace_back(std::string(spec.name), family_options(cache, spec.point_lookups));
  }
  // Units of rewards out: every commit adds its change (storage/stock_counter.hpp).
  descriptors[1 + stock].options.merge_operator = storage::stock_count_merge_operator();
  // RocksDB refuses to open a database without naming all of its families; ones a later
  // version added are opened with defaults and left alone. A missing database lists none.
  std::vector<std::string> existing;
  const bool existed = rocksdb::DB::ListColumnFamilies(db_options, options.path, &existing).ok();
  if (existed) {
    for (const std::string& name : existing) {
      bool known = false;
      for (const rocksdb::ColumnFamilyDescriptor& descriptor : descriptors) {
        known = known || descriptor.name == name;
      }
      if (!known) descriptors.emplace_back(name, family_options(cache, false));
    }
  }

  auto impl = std::make_unique<Impl>();
  impl->recovery = recovery;
  impl->stalls = stalls;
  impl->options = options;
  rocksdb::DB* db = nullptr;
  if (Status status =
          from_rocks(rocksdb::DB::Open(db_options, options.path, descriptors, &impl->handles, &db));
      !status.ok()) {
    return status;
  }
  impl->db.reset(db);
  LOYALTY_CHECK(impl->handles.size() == descriptors.size());
  for (size_t i = 0; i < family_count; ++i) impl->families[i] = impl->handles[i + 1];

  if (Status status = impl->settle_layout(existed, existing); !status.ok()) return status;

  std::unique_ptr<rocksdb::Iterator> last(
      impl->db->NewIterator(rocksdb::ReadOptions(), impl->family(events)));
  last->SeekToLast();
  if (last->Valid()) {
    const std::optional<uint64_t> log_seq = storage::parse_event_key(view(last->key()));
    if (!log_seq) return corrupt_key("events");
    impl->next_log_seq.store(*log_seq + 1);
  } else if (Status status = from_rocks(last->status()); !status.ok()) {
    return status;
  }
  last.reset();
  {
    std::string end(storage::kJobMessageKeyPrefix);
    end.back() = static_cast<char>(end.back() + 1);
    const rocksdb::Slice upper(end);
    rocksdb::ReadOptions read;
    read.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> job(impl->db->NewIterator(read, impl->family(meta)));
    job->SeekToLast();
    // The last key below the prefix's end: a job message's, or an earlier key of "meta".
    if (job->Valid() && view(job->key()).starts_with(storage::kJobMessageKeyPrefix)) {
      const auto key = storage::parse_job_message_key(view(job->key()));
      if (!key) return corrupt_key("meta");
      impl->next_job_message = key->number + 1;
    } else if (Status status = from_rocks(job->status()); !status.ok()) {
      return status;
    }
  }

  out.reset(new RocksStore(std::move(impl)));
  return Status::ok_status();
}

Status RocksStore::load_member(std::string_view member_id, std::optional<MemberState>& out) {
  std::optional<ExpirySchedule> unused;
  return impl_->load_member(member_id, out, unused, false);
}

Status RocksStore::load_member_for_view(std::string_view member_id, std::optional<MemberState>& out,
                                        std::optional<ExpirySchedule>& schedule) {
  return impl_->load_member(member_id, out, schedule, true);
}

Status RocksStore::load_idempotency(std::string_view key, std::optional<IdempotencyRecord>& out) {
  out.reset();
  if (key.empty()) return Status::ok_status();
  // A purchase's idempotency record is its purchase record (commit).
  if (const std::optional<std::string_view> event_id = storage::purchase_event_id(key)) {
    std::optional<PurchaseRecord> purchase;
    if (Status status = impl_->load_purchase(*event_id, purchase); !status.ok()) {
      return status;
    }
    if (purchase) {
      out = IdempotencyRecord{std::string(key), purchase->request_fingerprint,
                              std::move(purchase->member_id), std::move(purchase->answer)};
      return Status::ok_status();
    }
  }
  rocksdb::PinnableSlice value;
  const rocksdb::Status got =
      impl_->db->Get(rocksdb::ReadOptions(), impl_->family(idempotency), slice(key), &value);
  if (got.IsNotFound()) return Status::ok_status();
  if (Status status = from_rocks(got); !status.ok()) return status;
  IdempotencyRecord record;
  if (Status status = storage::decode_idempotency(key, view(value), record); !status.ok()) {
    return status;
  }
  out = std::move(record);
  return Status::ok_status();
}

Status RocksStore::find_identifier(IdentifierKind kind, std::string_view value,
                                   std::string& member_id) {
  return impl_->read_id(identifiers, storage::identifier_key(kind, value), "identifier record",
                        member_id);
}

Status RocksStore::backup(const std::string& backup_dir, BackupInfo& out) {
  // A backup holds file deletions, which a purge needs (storage/erasure.hpp).
  const std::lock_guard lock(impl_->maintenance_mutex);
  return backup_database(*impl_->db, backup_dir, /*live_writes=*/true, out);
}

Status RocksStore::pending_erasures(std::vector<std::string>& member_ids) {
  member_ids.clear();
  std::string end(storage::kErasePendingKeyPrefix);
  end.back() = static_cast<char>(end.back() + 1);
  return impl_->scan(meta, rocksdb::ReadOptions(), storage::kErasePendingKeyPrefix, end,
                     [&](std::string_view key, std::string_view, bool& more) -> Status {
                       member_ids.emplace_back(key.substr(storage::kErasePendingKeyPrefix.size()));
                       more = true;
                       return Status::ok_status();
                     });
}

Status RocksStore::pending_log_erasures(std::vector<std::string>& member_ids) {
  member_ids.clear();
  std::string end(storage::kLogErasePendingKeyPrefix);
  end.back() = static_cast<char>(end.back() + 1);
  return impl_->scan(
      meta, rocksdb::ReadOptions(), storage::kLogErasePendingKeyPrefix, end,
      [&](std::string_view key, std::string_view, bool& more) -> Status {
        member_ids.emplace_back(key.substr(storage::kLogErasePendingKeyPrefix.size()));
        more = true;
        return Status::ok_status();
      });
}

Status RocksStore::personal_messages(std::string_view member_id,
                                     std::vector<std::pair<uint64_t, std::string>>& out) {
  out.clear();
  const std::string prefix = storage::personal_messages_prefix(member_id);
  std::string end = prefix;
  end.back() = static_cast<char>(end.back() + 1);
  return impl_->scan(meta, rocksdb::ReadOptions(), prefix, end,
                     [&](std::string_view key, std::string_view value, bool& more) -> Status {
                       const std::optional<uint64_t> sequence =
                           storage::read_u64_be(key.substr(prefix.size()));
                       if (!sequence || key.size() != prefix.size() + 8) {
                         return corrupt_key("meta");
                       }
                       out.emplace_back(*sequence, std::string(value));
                       more = true;
                       return Status::ok_status();
                     });
}

Status RocksStore::log_erasure_at(std::string_view member_id, std::optional<uint64_t>& sequence) {
  sequence.reset();
  std::string value;
  const rocksdb::Status got = impl_->db->Get(
      rocksdb::ReadOptions(), impl_->family(meta),
      std::string(storage::kLogErasePendingKeyPrefix) + std::string(member_id), &value);
  if (got.IsNotFound()) return Status::ok_status();
  if (Status status = from_rocks(got); !status.ok()) return status;
  sequence = storage::read_u64_be(value);
  if (!sequence || value.size() != 8) return corrupt_key("meta");
  return Status::ok_status();
}

Status RocksStore::finish_log_erasure(std::string_view member_id,
                                      const std::vector<uint64_t>& sequences) {
  LOYALTY_CHECK(storage::valid_member_key(member_id));
  rocksdb::WriteBatch write;
  rocksdb::Status put;
  for (const uint64_t sequence : sequences) {
    if (put.ok()) {
      put = write.Delete(impl_->family(meta), storage::personal_message_key(member_id, sequence));
    }
  }
  if (put.ok()) {
    put = write.Delete(impl_->family(meta),
                       std::string(storage::kLogErasePendingKeyPrefix) + std::string(member_id));
  }
  if (Status status = from_rocks(put); !status.ok()) return status;
  return impl_->write(write);
}

Status RocksStore::purge_erasure(std::string_view member_id, storage::ErasureReport& out) {
  const std::lock_guard lock(impl_->maintenance_mutex);
  storage::ErasureFamilies families{impl_->family(events),  impl_->family(idempotency),
                                    impl_->family(members), impl_->family(identifiers),
                                    impl_->family(meta),    impl_->handles};
  return storage::purge_erasure(*impl_->db, families, member_id, out);
}

Status RocksStore::find_stock_unit(std::string_view code, std::string& reward_id) {
  return impl_->read_id(meta, std::string(storage::kStockUnitKeyPrefix) += code,
                        "stock unit record", reward_id);
}

Status RocksStore::load_give_backs(std::vector<StockUnit>& out) {
  out.clear();
  const std::string prefix(storage::kGiveBackKeyPrefix);
  std::string end = prefix;
  end.back() += 1;  // just past every key with the prefix
  return impl_->scan(meta, rocksdb::ReadOptions(), prefix, end,
                     [&](std::string_view key, std::string_view value, bool&) -> Status {
                       if (!storage::valid_member_key(value)) return corruption("give-back");
                       out.push_back({std::string(value), std::string(key.substr(prefix.size()))});
                       return Status::ok_status();
                     });
}

Status RocksStore::find_claim(std::string_view key, ClaimState& out) {
  out = ClaimState{};
  std::string stored;
  const rocksdb::Status got =
      impl_->db->Get(rocksdb::ReadOptions(), impl_->family(meta), storage::claim_key(key), &stored);
  if (got.IsNotFound()) return Status::ok_status();
  if (Status status = from_rocks(got); !status.ok()) return status;
  if (!storage::decode_claim_state(stored, out)) return corruption("claim record");
  return Status::ok_status();
}

Status RocksStore::load_claim_releases(std::vector<ClaimRelease>& out) {
  out.clear();
  const std::string prefix(storage::kClaimReleaseKeyPrefix);
  std::string end = prefix;
  end.back() += 1;  // just past every key with the prefix
  return impl_->scan(meta, rocksdb::ReadOptions(), prefix, end,
                     [&](std::string_view key, std::string_view value, bool&) -> Status {
                       const std::string_view rest = key.substr(prefix.size());
                       const std::optional<uint64_t> grant =
                           storage::read_u64_be(rest.substr(0, 8));
                       if (!grant || rest.size() == 8 || !storage::valid_member_key(value)) {
                         return corruption("claim release");
                       }
                       out.push_back({std::string(rest.substr(8)), std::string(value), *grant});
                       return Status::ok_status();
                     });
}

Status RocksStore::load_purchase(std::string_view event_id, std::optional<PurchaseRecord>& out) {
  return impl_->load_purchase(event_id, out);
}

Status RocksStore::load_hold(std::string_view hold_id, std::optional<StoredHold>& out) {
  out.reset();
  if (!storage::valid_member_key(hold_id)) return Status::ok_status();
  return impl_->get(holds, hold_id, out, [hold_id](std::string_view value, StoredHold& record) {
    return storage::decode_hold(hold_id, value, record);
  });
}

Status RocksStore::load_coupon(std::string_view code, std::optional<StoredCoupon>& out) {
  out.reset();
  if (!storage::valid_member_key(code)) return Status::ok_status();
  return impl_->get(coupons, code, out, [code](std::string_view value, StoredCoupon& record) {
    return storage::decode_coupon(code, value, record);
  });
}

Status RocksStore::load_stock_counts(std::map<std::string, int64_t, std::less<>>& out) {
  out.clear();
  return impl_->scan(stock, rocksdb::ReadOptions(), {}, {},
                     [&](std::string_view key, std::string_view value, bool&) -> Status {
                       const std::optional<int64_t> count = storage::decode_stock_count(value);
                       if (!count) return corruption("stock count of " + std::string(key));
                       // Reward ids are printable: keys below ' ' are the other totals.
                       if (!key.empty() && key.front() < ' ') return Status::ok_status();
                       out.emplace(std::string(key), *count);
                       return Status::ok_status();
                     });
}

Status RocksStore::load_coupons_total(CouponsChange& out) {
  out = {};
  for (const auto& [key, total] : {std::pair{storage::kCouponsActiveKey, &out.active},
                                   std::pair{storage::kCouponPointsKey, &out.points}}) {
    std::optional<int64_t> found;
    Status status = impl_->get(stock, key, found, [](std::string_view value, int64_t& count) {
      const std::optional<int64_t> decoded = storage::decode_stock_count(value);
      if (!decoded) return corruption("coupon totals");
      count = *decoded;
      return Status::ok_status();
    });
    if (!status.ok()) return status;
    *total = found.value_or(0);
  }
  return Status::ok_status();
}

Status RocksStore::load_stats(std::optional<uint32_t> partition, std::map<StatKey, int64_t>& out) {
  out.clear();
  // Every partition's figures lie between "\x02" and "\x03".
  const std::string begin = partition ? storage::stats_partition_prefix(*partition)
                                      : std::string(storage::kStatsKeyPrefix);
  const std::string end = partition && *partition != UINT32_MAX
                              ? storage::stats_partition_prefix(*partition + 1)
                              : std::string(1, static_cast<char>(storage::kStatsKeyPrefix[0] + 1));
  return impl_->scan(stock, rocksdb::ReadOptions(), begin, end,
                     [&](std::string_view key, std::string_view value, bool&) -> Status {
                       uint32_t counted_in = 0;
                       StatKey stat;
                       const std::optional<int64_t> count = storage::decode_stock_count(value);
                       if (!count || !storage::parse_stats_key(key, counted_in, stat)) {
                         return corruption("program figures");
                       }
                       out[stat] += *count;
                       return Status::ok_status();
                     });
}

Status RocksStore::load_outbox(std::vector<Event>& out) {
  out.clear();
  return impl_->scan(outbox, rocksdb::ReadOptions(), {}, {},
                     [&](std::string_view key, std::string_view value, bool&) -> Status {
                       Event event;
                       if (Status status = storage::decode_outbox_event(key, value, event);
                           !status.ok()) {
                         return status;
                       }
                       out.push_back(std::move(event));
                       return Status::ok_status();
                     });
}

Status RocksStore::read_member_coupons(std::string_view member_id, std::optional<CouponState> state,
                                       const std::optional<CouponCursor>& cursor, size_t limit,
                                       CouponPage& out) {
  out.coupons.clear();
  out.next_cursor.reset();
  if (limit == 0 || !storage::valid_member_key(member_id)) return Status::ok_status();
  const std::string prefix = storage::member_prefix(member_id);
  // Newest first: backwards from the cursor's key (exclusive), or from the end of the prefix.
  rocksdb::ReadOptions read;
  const std::string lower = prefix;
  const rocksdb::Slice lower_bound = slice(lower);
  read.iterate_lower_bound = &lower_bound;
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(read, impl_->family(member_coupons)));
  if (cursor) {
    it->SeekForPrev(slice(storage::member_coupon_key(member_id, cursor->issued_at, cursor->code)));
    if (it->Valid() &&
        view(it->key()) == storage::member_coupon_key(member_id, cursor->issued_at, cursor->code)) {
      it->Prev();
    }
  } else {
    it->SeekForPrev(slice(storage::member_prefix_end(member_id)));
  }
  constexpr size_t kSuffix = 8;  // the big-endian issue time before the code
  for (; it->Valid(); it->Prev()) {
    const std::string_view key = view(it->key());
    if (key.size() < prefix.size() + kSuffix || key.substr(0, prefix.size()) != prefix ||
        it->value().size() != 1 ||
        static_cast<uint8_t>(it->value()[0]) > static_cast<uint8_t>(CouponState::cancelled)) {
      return corrupt_key("member_coupons");
    }
    const auto stored_state = static_cast<CouponState>(it->value()[0]);
    if (state && stored_state != *state) continue;
    if (out.coupons.size() == limit) {
      const Coupon& last = out.coupons.back();
      out.next_cursor = CouponCursor{last.issued_at, last.code};
      break;
    }
    const std::string_view code = key.substr(prefix.size() + kSuffix);
    std::optional<StoredCoupon> coupon;
    if (Status status = load_coupon(code, coupon); !status.ok()) return status;
    if (!coupon || coupon->member_id != member_id) return corrupt_key("member_coupons");
    out.coupons.push_back(std::move(coupon->coupon));
  }
  return from_rocks(it->status());
}

Status RocksStore::read_referrals(std::string_view referrer_id, std::vector<ReferralLink>& out) {
  out.clear();
  if (!storage::valid_member_key(referrer_id)) return Status::ok_status();
  return impl_->scan(referrals, rocksdb::ReadOptions(), storage::member_prefix(referrer_id),
                     storage::member_prefix_end(referrer_id),
                     [&](std::string_view key, std::string_view value, bool&) -> Status {
                       const std::optional<storage::ReferralKey> parsed =
                           storage::parse_referral_key(key);
                       if (!parsed || parsed->referrer_id != referrer_id)
                         return corrupt_key("referrals");
                       ReferralLink link;
                       if (Status status = storage::decode_referral_link(
                               parsed->referrer_id, parsed->referee_id, value, link);
                           !status.ok()) {
                         return status;
                       }
                       out.push_back(std::move(link));
                       return Status::ok_status();
                     });
}

Status RocksStore::commit(const CommitBatch& batch, uint64_t& first_log_seq) {
  // The builder's buffer is kept per thread: partition writers commit often.
  thread_local storage::RecordEncoder encoder;
  rocksdb::WriteBatch write;
  rocksdb::Status put;
  auto add = [&](Family which, std::string_view key, std::string_view value) {
    if (put.ok()) put = write.Put(impl_->family(which), slice(key), slice(value));
  };

  // Sequence numbers of entries, lots and notifications are handed out by the member's
  // counters; one written next to its member must lie below the counter it came from.
  struct BatchMember {
    const MemberState* state;
    uint64_t history_head;  // moves to each of its events as they are logged
  };
  thread_local std::unordered_map<std::string_view, BatchMember> batch_members;
  batch_members.clear();
  for (const MemberState* member : batch.members) {
    LOYALTY_CHECK(member != nullptr);
    LOYALTY_CHECK(storage::valid_member_key(member->member_id));
    LOYALTY_CHECK(member->next_ledger_seq >= 1 && member->next_lot_id >= 1 &&
                  member->next_notification_seq >= 1);
    batch_members[member->member_id] = BatchMember{member, member->history_head.log_seq};
  }
  auto member_in_batch = [&](const std::string* member_id) -> const MemberState* {
    LOYALTY_CHECK(member_id != nullptr && storage::valid_member_key(*member_id));
    const auto found = batch_members.find(*member_id);
    return found == batch_members.end() ? nullptr : found->second.state;
  };
  for (const LotWrite& lot : batch.lots) {
    const MemberState* member = member_in_batch(lot.member_id);
    LOYALTY_CHECK(lot.lot != nullptr && lot.lot->lot_id >= 1);
    // A lot is written with its member, whose record may be where it lives.
    LOYALTY_CHECK(member != nullptr && lot.lot->lot_id < member->next_lot_id);
    if (storage::lots_inline(*member)) {
      // The member record carries it: it must say what this write says (the open lots of an
      // inline member are at most kInlineLotsMax, so the search is short).
      const auto found = std::find_if(member->lots.begin(), member->lots.end(),
                                      [&](const Lot& l) { return l.lot_id == lot.lot->lot_id; });
      LOYALTY_CHECK(lot.lot->points_remaining == 0 ||
                    (found != member->lots.end() && *found == *lot.lot));
      continue;
    }
    // The batch that made the member's first lot beyond kInlineLotsMax moves every open lot out
    // of the record: written here once, as lots of their own. (A later batch that writes that
    // lot again writes them all again: harmless, and rare.)
    if (lot.lot->lot_id == storage::kInlineLotsMax + 1) {
      for (const Lot& open : member->lots) {
        if (open.lot_id <= storage::kInlineLotsMax && open.points_remaining != 0) {
          add(lots, storage::lot_key(*lot.member_id, open.lot_id), encoder.lot(open));
        }
      }
    }
    // A lot with no points left is no longer part of the member (nothing reads it again): it is
    // deleted, so that loading a member reads only its open lots.
    if (lot.lot->points_remaining == 0) {
      if (put.ok()) {
        put = write.Delete(impl_->family(lots),
                           slice(storage::lot_key(*lot.member_id, lot.lot->lot_id)));
      }
      continue;
    }
    add(lots, storage::lot_key(*lot.member_id, lot.lot->lot_id), encoder.lot(*lot.lot));
  }
  // A purchase answers its retries from its own record: its idempotency record is not written.
  thread_local std::unordered_map<std::string_view, const PurchaseRecord*> batch_purchases;
  batch_purchases.clear();
  for (const PurchaseRecord* purchase : batch.purchases) {
    LOYALTY_CHECK(purchase != nullptr);
    batch_purchases[purchase->event_id] = purchase;
  }
  for (const IdempotencyRecord* record : batch.idempotency) {
    LOYALTY_CHECK(record != nullptr && !record->key.empty());
    if (const auto* answer = std::get_if<PurchaseAnswer>(&record->answer)) {
      const std::optional<std::string_view> event_id = storage::purchase_event_id(record->key);
      LOYALTY_CHECK(event_id.has_value());
      const auto found = batch_purchases.find(*event_id);
      LOYALTY_CHECK(found != batch_purchases.end());
      const PurchaseRecord& purchase = *found->second;
      LOYALTY_CHECK(purchase.member_id == record->member_id &&
                    purchase.request_fingerprint == record->fingerprint &&
                    purchase.answer == *answer);
      continue;
    }
    add(idempotency, record->key, encoder.idempotency(*record));
  }
  // Where each purchase of the batch lands in the log: its record points there for its lines.
  struct LoggedPurchase {
    uint64_t log_seq;
    const PurchaseEvent* event;
  };
  thread_local std::unordered_map<std::string_view, LoggedPurchase> purchase_log_seqs;
  purchase_log_seqs.clear();
  first_log_seq = 0;
  // Settles the reserved seqs however the commit ends (written, failed or refused).
  // (Set in place: a temporary assigned here would settle them at once, as it is destroyed, and
  // a reader following the log would pass over records still being written.)
  struct Reservation {
    Impl* impl = nullptr;
    uint64_t first = 0;
    Reservation() = default;
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;
    ~Reservation() {
      if (impl != nullptr) impl->settle_log_seqs(first);
    }
  } reservation;
  if (!batch.events.empty()) {
    uint64_t log_seq = impl_->reserve_log_seqs(batch.events.size());
    reservation.impl = impl_.get();
    reservation.first = log_seq;
    first_log_seq = log_seq;
    for (const LoggedEvent& logged : batch.events) {
      LOYALTY_CHECK(logged.event != nullptr);
      LOYALTY_CHECK(storage::valid_member_key(logged.event->member_id()));
      // A member's history is the chain of its events that wrote in its ledger (layout 6):
      // each names the one before, and the member is written in this batch with its new head
      // (the runtime moves its copy by the same rule, Partition::move_history_heads).
      BatchMember* member = nullptr;
      // A notification follows an entry of its own event (the encoder checks it).
      if (!logged.entries.empty()) {
        LOYALTY_CHECK(logged.member != nullptr);
        const auto found = batch_members.find(logged.member->member_id);
        LOYALTY_CHECK(found != batch_members.end() && found->second.state == logged.member);
        member = &found->second;
        for (const LedgerEntry& entry : logged.entries) {
          LOYALTY_CHECK(entry.seq >= 1 && entry.seq < logged.member->next_ledger_seq);
        }
        for (const Notification& note : logged.notifications) {
          LOYALTY_CHECK(note.seq >= 1 && note.seq < logged.member->next_notification_seq);
        }
      }
      if (const auto* purchase = std::get_if<PurchaseEvent>(&logged.event->body)) {
        purchase_log_seqs[purchase->event_id] = LoggedPurchase{log_seq, purchase};
      }
      add(events, storage::event_key(log_seq),
          encoder.logged_event(logged, member != nullptr ? member->history_head : 0));
      if (logged.event->type() == EventType::member_erase) {
        // Its purge from older files follows the commit (storage/erasure.hpp); after a stop too.
        add(meta, std::string(storage::kErasePendingKeyPrefix) + logged.event->member_id(), {});
      }
      if (member != nullptr) member->history_head = log_seq;
      ++log_seq;
    }
  }
  for (const MemberState* member : batch.members) {  // in the batch's order
    add(members, member->member_id,
        encoder.member(*member, batch_members.at(member->member_id).history_head));
  }
  for (const IdentifierClaim& claim : batch.identifiers) {
    LOYALTY_CHECK(!claim.value.empty() && storage::valid_member_key(claim.member_id));
    add(identifiers, storage::identifier_key(claim.kind, claim.value), claim.member_id);
  }
  // A member's old phone or card: no other member can hold it (it was this one's until now).
  for (const IdentifierClaim& released : batch.identifiers_released) {
    LOYALTY_CHECK(!released.value.empty());
    if (put.ok()) {
      put = write.Delete(impl_->family(identifiers),
                         slice(storage::identifier_key(released.kind, released.value)));
    }
  }
  for (const PurchaseRecord* purchase : batch.purchases) {
    LOYALTY_CHECK(purchase != nullptr && storage::valid_member_key(purchase->event_id));
    LOYALTY_CHECK(storage::valid_member_key(purchase->member_id));
    // A purchase stored before keeps its place in the log; a new one is in this batch's.
    uint64_t log_seq = purchase->log_seq;
    if (log_seq == 0) {
      const auto found = purchase_log_seqs.find(purchase->event_id);
      LOYALTY_CHECK(found != purchase_log_seqs.end());
      log_seq = found->second.log_seq;
      // The record keeps none of this (layout 5): it must read back from the event as it is.
      LOYALTY_CHECK(storage::purchase_matches_event(*purchase, *found->second.event));
    }
    add(purchases, purchase->event_id, encoder.purchase(*purchase, log_seq));
  }
  for (const HoldWrite& hold : batch.holds) {
    LOYALTY_CHECK(hold.member_id != nullptr && storage::valid_member_key(*hold.member_id));
    LOYALTY_CHECK(hold.hold != nullptr && storage::valid_member_key(hold.hold->hold_id));
    add(holds, hold.hold->hold_id, encoder.hold(*hold.member_id, *hold.hold));
  }
  for (const CouponWrite& coupon : batch.coupons) {
    LOYALTY_CHECK(coupon.member_id != nullptr && storage::valid_member_key(*coupon.member_id));
    LOYALTY_CHECK(coupon.coupon != nullptr && storage::valid_member_key(coupon.coupon->code));
    add(coupons, coupon.coupon->code, encoder.coupon(*coupon.member_id, *coupon.coupon));
    const char state = static_cast<char>(coupon.coupon->state);
    add(member_coupons,
        storage::member_coupon_key(*coupon.member_id, coupon.coupon->issued_at,
                                   coupon.coupon->code),
        std::string_view(&state, 1));
  }
  const std::pair<std::string_view, int64_t> coupon_totals[] = {
      {storage::kCouponsActiveKey, batch.coupons_change.active},
      {storage::kCouponPointsKey, batch.coupons_change.points}};
  for (const auto& [key, change] : coupon_totals) {
    if (put.ok() && change != 0) {
      put =
          write.Merge(impl_->family(stock), slice(key), slice(storage::encode_stock_count(change)));
    }
  }
  for (const auto& [stat, change] : batch.stats.deltas) {
    if (put.ok()) {
      put = write.Merge(impl_->family(stock), slice(storage::stats_key(batch.partition, stat)),
                        slice(storage::encode_stock_count(change)));
    }
  }
  for (const StockChange& change : batch.stock_changes) {
    LOYALTY_CHECK(storage::valid_member_key(change.reward_id));
    if (put.ok()) {
      put = write.Merge(impl_->family(stock), slice(change.reward_id),
                        slice(storage::encode_stock_count(change.delta)));
    }
  }
  for (const ReferralLink* link : batch.referral_links) {
    LOYALTY_CHECK(link != nullptr && storage::valid_member_key(link->referrer_id) &&
                  storage::valid_member_key(link->referee_id));
    add(referrals, storage::referral_key(link->referrer_id, link->referee_id),
        encoder.referral_link(*link));
  }
  for (const Event* follow_up : batch.outbox_puts) {
    LOYALTY_CHECK(follow_up != nullptr);
    const std::string& id = storage::follow_up_id(*follow_up);
    LOYALTY_CHECK(storage::valid_member_key(id));
    add(outbox, id, encoder.event(*follow_up, 0));
  }
  // Deletes after puts: were a follow-up written and applied in one batch, it is gone after.
  for (const std::string& id : batch.outbox_deletes) {
    LOYALTY_CHECK(storage::valid_member_key(id));
    if (put.ok()) put = write.Delete(impl_->family(outbox), slice(id));
  }
  if (batch.log_position) {
    LOYALTY_CHECK(batch.log_position->sequence > 0);
    std::string sequence;
    storage::append_u64_be(sequence, batch.log_position->sequence);
    sequence += batch.log_position->msg_id;
    add(meta, storage::applied_key(batch.log_position->partition), sequence);
  }
  for (const CommitBatch::LogErasure& erasure : batch.log_erasures) {
    // And, in cluster mode, from the partition's input log (cluster/log_erasures.hpp).
    LOYALTY_CHECK(storage::valid_member_key(erasure.member_id) && erasure.sequence > 0);
    std::string at;
    storage::append_u64_be(at, erasure.sequence);
    add(meta, std::string(storage::kLogErasePendingKeyPrefix) + erasure.member_id, at);
  }
  for (const CommitBatch::PersonalMessage& message : batch.personal_messages) {
    LOYALTY_CHECK(storage::valid_member_key(message.member_id) && message.sequence > 0);
    add(meta, storage::personal_message_key(message.member_id, message.sequence), message.msg_id);
  }
  for (const ClaimWrite& claim : batch.claims) {
    LOYALTY_CHECK(!claim.key.empty());
    if (claim.state == ClaimState{}) {  // given up, never counted
      if (put.ok()) put = write.Delete(impl_->family(meta), slice(storage::claim_key(claim.key)));
      continue;
    }
    LOYALTY_CHECK(claim.state.member_id.empty() ||
                  storage::valid_member_key(claim.state.member_id));
    add(meta, storage::claim_key(claim.key), storage::encode_claim_state(claim.state));
  }
  for (const ClaimRelease& release : batch.claim_releases) {
    LOYALTY_CHECK(!release.key.empty() && release.grant != 0 &&
                  storage::valid_member_key(release.member_id));
    add(meta, storage::claim_release_key(release), release.member_id);
  }
  for (const ClaimRelease& release : batch.claim_releases_sent) {
    if (put.ok()) {
      put = write.Delete(impl_->family(meta), slice(storage::claim_release_key(release)));
    }
  }
  const std::pair<const std::vector<StockUnit>*, std::string_view> unit_puts[] = {
      {&batch.units_taken, storage::kStockUnitKeyPrefix},
      {&batch.give_backs, storage::kGiveBackKeyPrefix}};
  for (const auto& [units, prefix] : unit_puts) {
    for (const StockUnit& unit : *units) {
      LOYALTY_CHECK(storage::valid_member_key(unit.reward_id) && !unit.code.empty());
      add(meta, std::string(prefix) += unit.code, unit.reward_id);
    }
  }
  for (const StockUnit& unit : batch.units_returned) {
    LOYALTY_CHECK(!unit.code.empty());
    if (put.ok()) {
      put = write.Delete(impl_->family(meta),
                         slice(std::string(storage::kStockUnitKeyPrefix) += unit.code));
    }
  }
  for (const std::string& code : batch.give_backs_sent) {
    LOYALTY_CHECK(!code.empty());
    if (put.ok()) {
      put = write.Delete(impl_->family(meta),
                         slice(std::string(storage::kGiveBackKeyPrefix) += code));
    }
  }
  if (const auto& program_switch = batch.program_switch) {
    LOYALTY_CHECK(program_switch->activation > 0 && program_switch->version > 0);
    std::string value;
    storage::append_u64_be(value, program_switch->activation);
    storage::append_u32_be(value, program_switch->version);
    add(meta, storage::partition_program_key(program_switch->partition), value);
  }
  if (!put.ok()) return Status::error(Status::Code::io_error, put.ToString());
  return impl_->write(write);
}

Status RocksStore::read_ledger(std::string_view member_id, std::optional<LedgerCursor> cursor,
                               size_t limit, LedgerPage& out) {
  out.entries.clear();
  out.next_cursor.reset();
  if (limit == 0) {
    return Status::error(Status::Code::invalid_argument, "read_ledger: limit must be positive");
  }
  if (!storage::valid_member_key(member_id) || (cursor && cursor->before_seq == 0)) {
    return Status::ok_status();
  }
  if (impl_->layout < 6) return impl_->read_older_ledger(member_id, cursor, limit, out);
  rocksdb::ManagedSnapshot snapshot(impl_->db.get());
  rocksdb::ReadOptions read;
  read.snapshot = snapshot.snapshot();
  const uint64_t before_seq = cursor ? cursor->before_seq : std::numeric_limits<uint64_t>::max();
  uint64_t from = cursor ? cursor->log_seq : 0;
  if (from == 0) {  // from the member's newest event
    std::optional<MemberState> member;
    if (Status status = impl_->read_member_record(read, member_id, member); !status.ok()) {
      return status;
    }
    if (!member) return Status::ok_status();
    from = member->history_head.log_seq;
  }
  return impl_->walk_history(
      read, member_id, from, cursor && cursor->log_seq != 0,
      [&](uint64_t log_seq, storage::EventHistory& history, bool& more) {
        for (auto entry = history.entries.rbegin(); entry != history.entries.rend(); ++entry) {
          if (entry->seq >= before_seq) continue;
          if (out.entries.size() == limit) {  // one more exists: there is a next page
            out.next_cursor = LedgerCursor{out.entries.back().seq, log_seq};
            more = false;
            return;
          }
          out.entries.push_back(std::move(*entry));
        }
      });
}

Status RocksStore::read_notifications(std::string_view member_id, uint64_t after_seq, size_t limit,
                                      std::vector<Notification>& out) {
  out.clear();
  if (limit == 0 || !storage::valid_member_key(member_id)) return Status::ok_status();
  rocksdb::ManagedSnapshot snapshot(impl_->db.get());
  rocksdb::ReadOptions read;
  read.snapshot = snapshot.snapshot();
  std::optional<MemberState> member;
  if (Status status = impl_->read_member_record(read, member_id, member); !status.ok()) {
    return status;
  }
  if (!member) return Status::ok_status();
  // Those above the floor, which is after_seq and, with a retention, the newest notification's
  // seq minus the retention. The member's counter says how many there are, so the walk stops
  // at the last of them.
  const uint64_t newest = member->next_notification_seq - 1;
  uint64_t floor = after_seq;
  const uint64_t retention = impl_->options.feed_retention_per_member;
  if (retention > 0 && newest > retention) floor = std::max(floor, newest - retention);
  if (newest <= floor) return Status::ok_status();
  std::vector<Notification> found;  // newest first
  Status status = impl_->walk_history(read, member_id, member->history_head.log_seq, false,
                                      [&](uint64_t, storage::EventHistory& history, bool& more) {
                                        for (auto note = history.notifications.rbegin();
                                             note != history.notifications.rend(); ++note) {
                                          found.push_back(std::move(*note));
                                          if (found.back().seq <= floor + 1) {
                                            more = false;
                                            return;
                                          }
                                        }
                                      });
  if (!status.ok()) return status;
  // Oldest first, the first `limit` above the floor.
  while (!found.empty() && found.back().seq <= floor) found.pop_back();
  const size_t take = std::min(limit, found.size());
  out.reserve(take);
  for (size_t i = 0; i < take; ++i) out.push_back(std::move(found[found.size() - 1 - i]));
  return Status::ok_status();
}

Status RocksStore::save_program_version(const StoredProgramVersion& version, bool make_active) {
  if (version.number == 0) {
    return Status::error(Status::Code::invalid_argument, "program versions start at 1");
  }
  storage::RecordEncoder encoder;
  rocksdb::WriteBatch write;
  rocksdb::Status put = write.Put(impl_->family(meta), storage::program_key(version.number),
                                  slice(encoder.program_version(version)));
  if (put.ok() && make_active) {
    std::string active;
    storage::append_u32_be(active, version.number);
    put = write.Put(impl_->family(meta), storage::kProgramActiveKey, active);
  }
  if (!put.ok()) return Status::error(Status::Code::io_error, put.ToString());
  return impl_->write(write);
}

Status RocksStore::load_program_versions(std::vector<StoredProgramVersion>& out) {
  out.clear();
  std::string end(storage::kProgramKeyPrefix);
  end.back() = static_cast<char>(end.back() + 1);
  return impl_->scan(meta, rocksdb::ReadOptions(), storage::kProgramKeyPrefix, end,
                     [&](std::string_view key, std::string_view value, bool&) -> Status {
                       const std::optional<uint32_t> number = storage::parse_program_key(key);
                       if (!number) return corrupt_key("meta");
                       StoredProgramVersion version;
                       if (Status status = storage::decode_program_version(value, version);
                           !status.ok()) {
                         return status;
                       }
                       if (version.number != *number) {
                         return Status::error(Status::Code::corruption,
                                              "program version record under another number");
                       }
                       out.push_back(std::move(version));
                       return Status::ok_status();
                     });
}

Status RocksStore::active_program_version(std::optional<uint32_t>& out) {
  out.reset();
  std::string value;
  const rocksdb::Status got = impl_->db->Get(rocksdb::ReadOptions(), impl_->family(meta),
                                             storage::kProgramActiveKey, &value);
  if (got.IsNotFound()) return Status::ok_status();
  if (Status status = from_rocks(got); !status.ok()) return status;
  const std::optional<uint32_t> number = storage::read_u32_be(value);
  if (!number || *number == 0) {
    return Status::error(Status::Code::corruption, "corrupt active program version");
  }
  out = number;
  return Status::ok_status();
}

Status RocksStore::cluster_secret(std::string& out) {
  out.clear();
  const rocksdb::Status got =
      impl_->db->Get(rocksdb::ReadOptions(), impl_->family(meta), kClusterSecretKey, &out);
  if (got.IsNotFound()) return Status::ok_status();
  return from_rocks(got);
}

Status RocksStore::save_cluster_secret(std::string_view secret) {
  LOYALTY_CHECK(!secret.empty());
  rocksdb::WriteBatch write;
  if (Status status = from_rocks(write.Put(impl_->family(meta), kClusterSecretKey, slice(secret)));
      !status.ok()) {
    return status;
  }
  return impl_->write(write);
}

Status RocksStore::partition_program(uint32_t partition, uint64_t& activation, uint32_t& version) {
  activation = 0;
  version = 0;
  std::string value;
  const rocksdb::Status got = impl_->db->Get(rocksdb::ReadOptions(), impl_->family(meta),
                                             storage::partition_program_key(partition), &value);
  if (got.IsNotFound()) return Status::ok_status();
  if (Status status = from_rocks(got); !status.ok()) return status;
  const std::string_view bytes = value;
  const std::optional<uint64_t> number =
      bytes.size() == 12 ? storage::read_u64_be(bytes.substr(0, 8)) : std::nullopt;
  const std::optional<uint32_t> stored =
      bytes.size() == 12 ? storage::read_u32_be(bytes.substr(8)) : std::nullopt;
  if (!number || *number == 0 || !stored || *stored == 0) {
    return Status::error(Status::Code::corruption,
                         "corrupt program activation of partition " + std::to_string(partition));
  }
  activation = *number;
  version = *stored;
  return Status::ok_status();
}

Status RocksStore::applied_sequence(uint32_t partition, uint64_t& sequence) {
  std::string msg_id;
  return applied_position(partition, sequence, msg_id);
}

Status RocksStore::applied_position(uint32_t partition, uint64_t& sequence, std::string& msg_id) {
  sequence = 0;
  msg_id.clear();
  std::string value;
  const rocksdb::Status got = impl_->db->Get(rocksdb::ReadOptions(), impl_->family(meta),
                                             storage::applied_key(partition), &value);
  if (got.IsNotFound()) return Status::ok_status();
  if (Status status = from_rocks(got); !status.ok()) return status;
  const std::optional<uint64_t> number =
      value.size() >= 8 ? storage::read_u64_be(std::string_view(value).substr(0, 8)) : std::nullopt;
  msg_id = value.size() > 8 ? value.substr(8) : std::string();
  if (!number || *number == 0) {
    return Status::error(Status::Code::corruption,
                         "corrupt applied sequence of partition " + std::to_string(partition));
  }
  sequence = *number;
  return Status::ok_status();
}

Status RocksStore::save_job(const JobRecord& job) {
  LOYALTY_CHECK(!job.id.empty() && storage::valid_member_key(job.id));
  const std::string record = storage::encode_job(job);
  rocksdb::WriteBatch write;
  if (Status status = from_rocks(write.Put(impl_->family(meta), storage::job_key(job.id), record));
      !status.ok()) {
    return status;
  }
  if (!job.finished()) return impl_->write(write);
  const std::lock_guard lock(impl_->job_message_mutex);
  std::optional<JobRecord> before;
  if (Status status = load_job(job.id, before); !status.ok()) return status;
  const bool ends_now = before && !before->finished();
  if (ends_now) {
    if (Status status = from_rocks(
            write.Put(impl_->family(meta),
                      storage::job_message_key(impl_->next_job_message, job.id), record));
        !status.ok()) {
      return status;
    }
  }
  if (Status status = impl_->write(write); !status.ok()) return status;
  if (ends_now) ++impl_->next_job_message;
  return Status::ok_status();
}

uint64_t RocksStore::job_messages_end() {
  const std::lock_guard lock(impl_->job_message_mutex);
  return impl_->next_job_message;
}

Status RocksStore::scan_job_messages(
    uint64_t from, const std::function<bool(uint64_t number, const JobRecord& job)>& visit) {
  std::string begin(storage::kJobMessageKeyPrefix);
  storage::append_u64_be(begin, from);
  std::string end(storage::kJobMessageKeyPrefix);
  end.back() = static_cast<char>(end.back() + 1);
  return impl_->scan(meta, rocksdb::ReadOptions(), begin, end,
                     [&](std::string_view key, std::string_view value, bool& more) -> Status {
                       const auto parsed = storage::parse_job_message_key(key);
                       if (!parsed) return corrupt_key("meta");
                       JobRecord job;
                       if (Status status = storage::decode_job(parsed->job_id, value, job);
                           !status.ok()) {
                         return status;
                       }
                       more = visit(parsed->number, job);
                       return Status::ok_status();
                     });
}

Status RocksStore::load_job(std::string_view job_id, std::optional<JobRecord>& out) {
  out.reset();
  if (job_id.empty() || !storage::valid_member_key(job_id)) return Status::ok_status();
  return impl_->get(meta, storage::job_key(job_id), out,
                    [job_id](std::string_view value, JobRecord& record) {
                      return storage::decode_job(job_id, value, record);
                    });
}

Status RocksStore::scan_jobs(const std::function<bool(const JobRecord&)>& visit) {
  std::string end(storage::kJobKeyPrefix);
  end.back() = static_cast<char>(end.back() + 1);
  return impl_->scan(meta, rocksdb::ReadOptions(), storage::kJobKeyPrefix, end,
                     [&](std::string_view key, std::string_view value, bool& more) -> Status {
                       const std::optional<std::string_view> job_id = storage::parse_job_key(key);
                       if (!job_id) return corrupt_key("meta");
                       JobRecord job;
                       if (Status status = storage::decode_job(*job_id, value, job); !status.ok()) {
                         return status;
                       }
                       more = visit(job);
                       return Status::ok_status();
                     });
}

ReadSnapshot::~ReadSnapshot() { db_->ReleaseSnapshot(snapshot_); }

std::unique_ptr<ReadSnapshot> RocksStore::snapshot() {
  return std::unique_ptr<ReadSnapshot>(new ReadSnapshot(impl_->db.get(), impl_->db->GetSnapshot()));
}

Status RocksStore::scan_events(uint64_t from, const std::function<bool(const StoredEvent&)>& visit,
                               const ReadSnapshot* snapshot) {
  rocksdb::ReadOptions read;
  if (snapshot != nullptr) {
    LOYALTY_CHECK(snapshot->db_ == impl_->db.get());
    read.snapshot = snapshot->snapshot_;
  }
  return impl_->scan(events, read, storage::event_key(from), {},
                     [&](std::string_view key, std::string_view value, bool& more) -> Status {
                       const std::optional<uint64_t> log_seq = storage::parse_event_key(key);
                       if (!log_seq) return corrupt_key("events");
                       StoredEvent event;
                       if (Status status = storage::decode_event(*log_seq, value, event);
                           !status.ok()) {
                         return status;
                       }
                       more = visit(event);
                       return Status::ok_status();
                     });
}

uint64_t RocksStore::log_horizon() { return impl_->log_horizon(); }

Status RocksStore::save_webhook(const WebhookEndpoint& endpoint) {
  LOYALTY_CHECK(storage::valid_member_key(endpoint.id));
  rocksdb::WriteBatch write;
  if (Status status = from_rocks(write.Put(impl_->family(meta), storage::webhook_key(endpoint.id),
                                           storage::encode_webhook(endpoint)));
      !status.ok()) {
    return status;
  }
  return impl_->write(write);
}

Status RocksStore::load_webhook(std::string_view endpoint_id, std::optional<WebhookEndpoint>& out) {
  out.reset();
  if (!storage::valid_member_key(endpoint_id)) return Status::ok_status();
  return impl_->get(meta, storage::webhook_key(endpoint_id), out,
                    [endpoint_id](std::string_view value, WebhookEndpoint& record) {
                      return storage::decode_webhook(endpoint_id, value, record);
                    });
}

Status RocksStore::scan_webhooks(const std::function<bool(const WebhookEndpoint&)>& visit) {
  std::string end(storage::kWebhookKeyPrefix);
  end.back() = static_cast<char>(end.back() + 1);
  return impl_->scan(meta, rocksdb::ReadOptions(), storage::kWebhookKeyPrefix, end,
                     [&](std::string_view key, std::string_view value, bool& more) -> Status {
                       const std::optional<std::string_view> id = storage::parse_webhook_key(key);
                       if (!id) return corrupt_key("meta");
                       WebhookEndpoint endpoint;
                       if (Status status = storage::decode_webhook(*id, value, endpoint);
                           !status.ok()) {
                         return status;
                       }
                       more = visit(endpoint);
                       return Status::ok_status();
                     });
}

Status RocksStore::delete_webhook(std::string_view endpoint_id) {
  LOYALTY_CHECK(storage::valid_member_key(endpoint_id));
  std::string end = storage::delivery_prefix(endpoint_id);
  end.back() = static_cast<char>(end.back() + 1);
  rocksdb::WriteBatch write;
  rocksdb::Status put = write.Delete(impl_->family(meta), storage::webhook_key(endpoint_id));
  if (put.ok()) {
    put = write.DeleteRange(impl_->family(meta), storage::delivery_prefix(endpoint_id), end);
  }
  std::string lanes_end = storage::lane_cursor_prefix(endpoint_id);
  lanes_end.back() = static_cast<char>(lanes_end.back() + 1);
  if (put.ok()) {
    put =
        write.DeleteRange(impl_->family(meta), storage::lane_cursor_prefix(endpoint_id), lanes_end);
  }
  if (Status status = from_rocks(put); !status.ok()) return status;
  return impl_->write(write);
}

Status RocksStore::save_delivery(const WebhookEndpoint& endpoint, const WebhookDelivery& delivery) {
  LOYALTY_CHECK(storage::valid_member_key(endpoint.id) && delivery.endpoint_id == endpoint.id);
  rocksdb::WriteBatch write;
  rocksdb::Status put = write.Put(impl_->family(meta), storage::webhook_key(endpoint.id),
                                  storage::encode_webhook(endpoint));
  if (put.ok()) {
    put = write.Put(impl_->family(meta), storage::delivery_key(endpoint.id, delivery.position),
                    storage::encode_delivery(delivery));
  }
  if (Status status = from_rocks(put); !status.ok()) return status;
  return impl_->write(write);
}

Status RocksStore::save_lane_delivery(const WebhookDelivery* delivery, std::string_view endpoint_id,
                                      uint32_t partition, const storage::LaneCursor& cursor) {
  LOYALTY_CHECK(storage::valid_member_key(endpoint_id));
  LOYALTY_CHECK(delivery == nullptr || delivery->endpoint_id == endpoint_id);
  rocksdb::WriteBatch write;
  rocksdb::Status put =
      write.Put(impl_->family(meta), storage::lane_cursor_key(endpoint_id, partition),
                storage::encode_lane_cursor(cursor));
  if (put.ok() && delivery != nullptr) {
    put = write.Put(impl_->family(meta), storage::delivery_key(endpoint_id, delivery->position),
                    storage::encode_delivery(*delivery));
  }
  if (Status status = from_rocks(put); !status.ok()) return status;
  return impl_->write(write);
}

Status RocksStore::load_lane_cursor(std::string_view endpoint_id, uint32_t partition,
                                    std::optional<storage::LaneCursor>& out) {
  out.reset();
  if (!storage::valid_member_key(endpoint_id)) return Status::ok_status();
  std::string value;
  const rocksdb::Status got =
      impl_->db->Get(rocksdb::ReadOptions(), impl_->family(meta),
                     storage::lane_cursor_key(endpoint_id, partition), &value);
  if (got.IsNotFound()) return Status::ok_status();
  if (Status status = from_rocks(got); !status.ok()) return status;
  out = storage::decode_lane_cursor(value);
  if (!out) return Status::error(Status::Code::corruption, "webhook lane cursor");
  return Status::ok_status();
}

Status RocksStore::load_delivery(std::string_view endpoint_id, MessagePosition position,
                                 std::optional<WebhookDelivery>& out) {
  out.reset();
  if (!storage::valid_member_key(endpoint_id)) return Status::ok_status();
  return impl_->get(meta, storage::delivery_key(endpoint_id, position), out,
                    [&](std::string_view value, WebhookDelivery& record) {
                      return storage::decode_delivery(endpoint_id, position, value, record);
                    });
}

Status RocksStore::scan_deliveries(std::string_view endpoint_id, MessagePosition from,
                                   const std::function<bool(const WebhookDelivery&)>& visit) {
  std::string end = storage::delivery_prefix(endpoint_id);
  end.back() = static_cast<char>(end.back() + 1);
  return impl_->scan(
      meta, rocksdb::ReadOptions(), storage::delivery_key(endpoint_id, from), end,
      [&](std::string_view key, std::string_view value, bool& more) -> Status {
        const std::optional<MessagePosition> position =
            storage::parse_delivery_key(endpoint_id, key);
        if (!position) return corrupt_key("meta");
        WebhookDelivery delivery;
        if (Status status = storage::decode_delivery(endpoint_id, *position, value, delivery);
            !status.ok()) {
          return status;
        }
        more = visit(delivery);
        return Status::ok_status();
      });
}

Status RocksStore::scan_log(
    uint64_t from, uint64_t before,
    const std::function<bool(const StoredEvent&, const storage::EventHistory&)>& visit) {
  return impl_->scan(
      events, rocksdb::ReadOptions(), storage::event_key(from), storage::event_key(before),
      [&](std::string_view key, std::string_view value, bool& more) -> Status {
        const std::optional<uint64_t> log_seq = storage::parse_event_key(key);
        if (!log_seq) return corrupt_key("events");
        StoredEvent event;
        if (Status status = storage::decode_event(*log_seq, value, event); !status.ok()) {
          return status;
        }
        storage::EventHistory history;
        if (Status status = storage::decode_event_history(value, history); !status.ok()) {
          return status;
        }
        more = visit(event, history);
        return Status::ok_status();
      });
}

Status RocksStore::scan_member_records(std::string_view from,
                                       const std::function<bool(const MemberState&)>& visit) {
  return impl_->scan(members, rocksdb::ReadOptions(), from, {},
                     [&](std::string_view key, std::string_view value, bool& more) -> Status {
                       MemberState member;
                       if (Status status = storage::decode_member(key, value, member);
                           !status.ok()) {
                         return status;
                       }
                       more = visit(member);
                       return Status::ok_status();
                     });
}

Status RocksStore::scan_members(const std::function<bool(const MemberState&)>& visit) {
  rocksdb::ManagedSnapshot snapshot(impl_->db.get());
  rocksdb::ReadOptions read;
  read.snapshot = snapshot.snapshot();
  read.fill_cache = false;  // a full scan would evict the working set
  // Lot keys sort like member keys (a member's prefix ends in 0, below every printable
  // character), so one forward pass over the lots runs alongside the members.
  std::unique_ptr<rocksdb::Iterator> lot_it(impl_->db->NewIterator(read, impl_->family(lots)));
  lot_it->SeekToFirst();
  return impl_->scan(
      members, read, {}, {},
      [&](std::string_view key, std::string_view value, bool& more) -> Status {
        MemberState member;
        if (Status status = storage::decode_member(key, value, member); !status.ok()) {
          return status;
        }
        // A member whose lots live in its record has none apart (layout 7): one there would
        // be read by verify and exports but not by the runtime.
        const bool lots_in_record = impl_->lots_in_record(member);
        for (; lot_it->Valid(); lot_it->Next()) {
          const std::optional<MemberKey> parsed = storage::parse_lot_key(view(lot_it->key()));
          if (!parsed) return corrupt_key("lots");
          if (parsed->member_id > member.member_id) break;
          if (parsed->member_id < member.member_id) continue;  // lots of no member: skipped
          if (lots_in_record) return corrupt_key("lots (of a member whose lots are inline)");
          Lot lot;
          if (Status status = storage::decode_lot(parsed->number, view(lot_it->value()), lot);
              !status.ok()) {
            return status;
          }
          keep_open_lot(std::move(lot), member.lots);
        }
        if (Status status = from_rocks(lot_it->status()); !status.ok()) return status;
        more = visit(member);
        return Status::ok_status();
      });
}

Status RocksStore::read_figures(StorageFigures& out) {
  rocksdb::DB& db = *impl_->db;
  out = {};
  // A property a RocksDB build does not know stays 0 rather than failing the scrape.
  db.GetAggregatedIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &out.memtable_bytes);
  db.GetAggregatedIntProperty(rocksdb::DB::Properties::kEstimatePendingCompactionBytes,
                              &out.pending_compaction_bytes);
  db.GetAggregatedIntProperty(rocksdb::DB::Properties::kTotalSstFilesSize, &out.sst_bytes);
  // Every family shares one block cache: asked of one family, not summed over them.
  db.GetIntProperty(rocksdb::DB::Properties::kBlockCacheUsage, &out.block_cache_bytes);
  uint64_t stopped = 0;
  db.GetIntProperty(rocksdb::DB::Properties::kIsWriteStopped, &stopped);
  out.writes_stopped = stopped != 0;
  impl_->stalls->read(out.write_stalls, out.write_stall_seconds);
  rocksdb::VectorLogPtr wal_files;
  if (Status status = from_rocks(db.GetSortedWalFiles(wal_files)); !status.ok()) return status;
  for (const auto& file : wal_files) {
    if (file->Type() == rocksdb::kAliveLogFile) out.live_wal_bytes += file->SizeFileBytes();
  }
  return Status::ok_status();
}

}  // namespace loyalty
