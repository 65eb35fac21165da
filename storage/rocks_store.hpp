// RocksDB storage: column families for members, lots, ledger, idempotency records, the
// input event log, the per-member notification feed, identifiers, metadata (program
// versions), purchases (for refunds), holds, referral links and the follow-up outbox.
// Records are FlatBuffers, verified on every read. One WriteBatch per commit.
// Thread-safety: every method may be called concurrently from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/member_view.hpp"
#include "engine/program.hpp"
#include "engine/store.hpp"
#include "storage/backup.hpp"
#include "storage/erasure.hpp"
#include "storage/job_record.hpp"
#include "storage/webhook_record.hpp"

namespace rocksdb {
class DB;
class Env;
class Snapshot;
}  // namespace rocksdb

namespace loyalty {
namespace storage {
struct EventHistory;
}

// A consistent view of a RocksStore at one moment, for readers that make several passes over
// it (recalculation) while writers carry on: reads through it see exactly the commits made
// before it was taken. Destroy it before the store. Thread-safety: immutable, any thread.
class ReadSnapshot {
 public:
  ~ReadSnapshot();
  ReadSnapshot(const ReadSnapshot&) = delete;
  ReadSnapshot& operator=(const ReadSnapshot&) = delete;

 private:
  friend class RocksStore;
  ReadSnapshot(rocksdb::DB* db, const rocksdb::Snapshot* snapshot) : db_(db), snapshot_(snapshot) {}
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snapshot_;
};

enum class Durability : uint8_t {
  fsync = 0,  // the WAL is synced once per committed batch: survives power loss
  wal = 1,    // the WAL is written, not synced: survives a process crash
};

struct RocksStoreOptions {
  std::string path;
  Durability durability = Durability::fsync;
  size_t block_cache_bytes = size_t{256} << 20;  // shared by all column families
  // All memtables together (RocksDB's db_write_buffer_size): past it the largest is flushed.
  // Without it twelve column families could hold 12 × 2 × 64 MiB in memory.
  size_t memtable_budget_bytes = size_t{256} << 20;
  // A clean close flushes every memtable, so the next open has no WAL to replay (start-up
  // time). Off only where the WAL itself is read after the close (bench/storage_limit).
  bool flush_at_close = true;
  // How far back the WebSocket catch-up reaches per member: read_notifications answers only the
  // newest this many notifications (they live in the ledger, which keeps everything). 0: all.
  // Default 0 here; loyaltyd passes [limits] feed_retention_per_member.
  uint64_t feed_retention_per_member = 0;
  // Open a folder written with an older record layout (storage/keys.hpp kLayoutCurrent), to
  // read it only: loyaltyctl migrate rebuilds it from its event log. Otherwise opening one
  // fails with a message that says to migrate.
  bool open_older_layout = false;
  // The RocksDB Env (file system, clock, threads) to run on; nullptr: the default one. Tests pass
  // one that injects write errors and power cuts (tests/storage/fault_fs.hpp). Not owned: it
  // must outlive the store.
  rocksdb::Env* env = nullptr;
};

// Where a page of a member's ledger begins: the entries below before_seq, found from the event
// at log_seq down (the history is a chain of the member's events, layout 6), or from the newest
// event when log_seq is 0 (a walk past every newer event).
struct LedgerCursor {
  uint64_t before_seq = 0;
  uint64_t log_seq = 0;
  LedgerCursor(uint64_t before, uint64_t at = 0) : before_seq(before), log_seq(at) {}  // NOLINT
  friend bool operator==(const LedgerCursor&, const LedgerCursor&) = default;
};

struct LedgerPage {
  std::vector<LedgerEntry> entries;         // newest first
  std::optional<LedgerCursor> next_cursor;  // pass back for the next page
};

// Where a page of a member's coupons ended: the last coupon's issue time and code.
struct CouponCursor {
  TimeMs issued_at = 0;
  std::string code;
};

struct CouponPage {
  std::vector<Coupon> coupons;              // newest first
  std::optional<CouponCursor> next_cursor;  // pass back for the next page
};

struct StoredProgramVersion {
  uint32_t number = 0;
  std::string source_toml;
  TimeMs activated_at = 0;
};

struct StoredEvent {
  uint64_t log_seq = 0;  // position in the event log, 1, 2, … in commit order
  uint32_t program_version = 0;
  Event event;
  uint64_t log_sequence = 0;  // cluster mode: LoggedEvent::log_sequence
};

// RocksDB's own figures, for monitoring (GET /metrics); each summed over the column families.
struct StorageFigures {
  uint64_t memtable_bytes = 0;            // rocksdb.cur-size-all-mem-tables
  uint64_t pending_compaction_bytes = 0;  // rocksdb.estimate-pending-compaction-bytes
  uint64_t sst_bytes = 0;                 // rocksdb.total-sst-files-size
  uint64_t live_wal_bytes = 0;            // the live WAL files (DB::GetSortedWalFiles)
  uint64_t block_cache_bytes = 0;         // rocksdb.block-cache-usage (one cache for all)
  // Write stalls: RocksDB slowing (delayed) or stopping writes while flushes and compactions
  // catch up. Episodes counted per column family since the store opened, and the seconds spent
  // in them (summed over families, the ongoing ones included).
  uint64_t write_stalls = 0;
  double write_stall_seconds = 0;
  bool writes_stopped = false;  // rocksdb.is-write-stopped, now
};

class RocksStore final : public MemberStore {
 public:
  // Opens (creating if missing) the database at options.path.
  static Status open(const RocksStoreOptions& options, std::unique_ptr<RocksStore>& out);
  ~RocksStore() override;  // flushes and closes cleanly
  // The record layout the folder holds (below storage::kLayoutCurrent only with
  // open_older_layout).
  uint32_t layout() const;

  // MemberStore
  Status load_member(std::string_view member_id, std::optional<MemberState>& out) override;
  Status load_idempotency(std::string_view key, std::optional<IdempotencyRecord>& out) override;
  Status find_identifier(IdentifierKind kind, std::string_view value,
                         std::string& member_id) override;
  Status load_purchase(std::string_view event_id, std::optional<PurchaseRecord>& out) override;
  Status find_claim(std::string_view key, ClaimState& out) override;
  Status load_hold(std::string_view hold_id, std::optional<StoredHold>& out) override;
  Status load_coupon(std::string_view code, std::optional<StoredCoupon>& out) override;
  Status load_stock_counts(std::map<std::string, int64_t, std::less<>>& out) override;
  Status load_coupons_total(CouponsChange& out) override;
  Status load_outbox(std::vector<Event>& out) override;  // in follow-up id order
  // The program's figures (engine/stats.hpp): every counter's total over the partitions
  // counted here, or over `partition` alone. Counters at zero may be absent.
  Status load_stats(std::optional<uint32_t> partition, std::map<StatKey, int64_t>& out);
  Status find_stock_unit(std::string_view code, std::string& reward_id) override;
  Status load_give_backs(std::vector<StockUnit>& out) override;  // in code order
  Status load_claim_releases(std::vector<ClaimRelease>& out) override;
  using MemberStore::commit;
  Status commit(const CommitBatch& batch, uint64_t& first_log_seq) override;

  // Reads for the API and tools; none takes a writer's lock.
  // The member for a view (engine/member_view.hpp): its lots when they live in its record,
  // otherwise its expiry schedule and no lots when the record has one (a busy member's
  // thousands of lots are not read), otherwise every lot (`schedule` nullopt).
  Status load_member_for_view(std::string_view member_id, std::optional<MemberState>& out,
                              std::optional<ExpirySchedule>& schedule);
  // Entries with seq < cursor's before_seq (all when nullopt), newest first, at most `limit`.
  // invalid_argument when the cursor names an event that is not the member's.
  Status read_ledger(std::string_view member_id, std::optional<LedgerCursor> cursor, size_t limit,
                     LedgerPage& out);
  // Notifications with seq > after_seq, oldest first, at most `limit`.
  Status read_notifications(std::string_view member_id, uint64_t after_seq, size_t limit,
                            std::vector<Notification>& out);
  // A member's coupons, newest issue first, after `cursor` (exclusive), at most `limit`; only
  // those in `state` when given (GET /v1/members/{id}/coupons).
  Status read_member_coupons(std::string_view member_id, std::optional<CouponState> state,
                             const std::optional<CouponCursor>& cursor, size_t limit,
                             CouponPage& out);
  // Every link of one referrer, in referee id order (GET /v1/members/{id}/referrals).
  Status read_referrals(std::string_view referrer_id, std::vector<ReferralLink>& out);

  // Program versions (meta column family).
  Status save_program_version(const StoredProgramVersion& version, bool make_active);
  Status load_program_versions(std::vector<StoredProgramVersion>& out);  // ascending number
  Status active_program_version(std::optional<uint32_t>& out);
  // Cluster mode: the last stream sequence of the partition's log this folder applied
  // (CommitBatch::log_position); 0 when none.
  Status applied_sequence(uint32_t partition, uint64_t& sequence);
  // And the Nats-Msg-Id of the message at that sequence ("" when none was recorded).
  Status applied_position(uint32_t partition, uint64_t& sequence, std::string& msg_id);
  // Cluster mode: the last program activation the partition's log applied here
  // (CommitBatch::program_switch); activation 0 and version 0 when none.
  Status partition_program(uint32_t partition, uint64_t& activation, uint32_t& version);

  // Job records (meta column family, storage/job_record.hpp). A save replaces the record and
  // is written with the store's durability; reads take no lock, so polling never slows jobs.
  // A job that ends here (its stored record was unfinished) also gets its job message
  // (storage/webhook_record.hpp kJobMessageKeyPrefix), in the same write.
  Status save_job(const JobRecord& job);
  Status load_job(std::string_view job_id, std::optional<JobRecord>& out);
  Status scan_jobs(const std::function<bool(const JobRecord&)>& visit);  // in id order

  // The event log in commit order, from log_seq `from` (inclusive); stop by returning false.
  // With a snapshot: the log as it was when the snapshot was taken.
  Status scan_events(uint64_t from, const std::function<bool(const StoredEvent&)>& visit,
                     const ReadSnapshot* snapshot = nullptr);
  std::unique_ptr<ReadSnapshot> snapshot();
  // Members' records in id order from `from` (inclusive; "" from the first), as stored,
  // without reading their lots apart (a search filters on tier and join date); stop by
  // returning false.
  Status scan_member_records(std::string_view from,
                             const std::function<bool(const MemberState&)>& visit);
  // Every member, in key order; stop by returning false. Used by verify and exports.
  Status scan_members(const std::function<bool(const MemberState&)>& visit);

  // Adds a consistent backup of the folder to `backup_dir` while writes go on (storage/backup.hpp
  // backup_database): everything committed before the call is in it.
  Status backup(const std::string& backup_dir, BackupInfo& out);

  // Readers that follow the log (webhook deliveries): every log_seq below the horizon is written
  // or never will be (a commit reserves its seqs before its write lands); scan_log visits the
  // records in [from, before) with what each wrote in its member's history.
  uint64_t log_horizon();
  Status scan_log(
      uint64_t from, uint64_t before,
      const std::function<bool(const StoredEvent&, const storage::EventHistory&)>& visit);

  // Webhook endpoints and their deliveries (storage/webhook_record.hpp), in "meta".
  Status save_webhook(const WebhookEndpoint& endpoint);
  Status load_webhook(std::string_view endpoint_id, std::optional<WebhookEndpoint>& out);
  Status scan_webhooks(const std::function<bool(const WebhookEndpoint&)>& visit);  // id order
  Status delete_webhook(std::string_view endpoint_id);  // with its deliveries and lane cursors
  // The endpoint with a delivery, in one write: a delivery's progress moves the endpoint's.
  Status save_delivery(const WebhookEndpoint& endpoint, const WebhookDelivery& delivery);
  Status load_delivery(std::string_view endpoint_id, MessagePosition position,
                       std::optional<WebhookDelivery>& out);
  // Cluster mode (cluster/webhook_lanes.hpp): a delivery alone (the endpoint is kept in etcd),
  // with where the partition's deliveries stand here, in one write; and that cursor.
  Status save_lane_delivery(const WebhookDelivery* delivery, std::string_view endpoint_id,
                            uint32_t partition, const storage::LaneCursor& cursor);
  Status load_lane_cursor(std::string_view endpoint_id, uint32_t partition,
                          std::optional<storage::LaneCursor>& out);
  // The endpoint's deliveries from `from` on, in position order.
  Status scan_deliveries(std::string_view endpoint_id, MessagePosition from,
                         const std::function<bool(const WebhookDelivery&)>& visit);

  // Job messages from number `from` on, in order (`job` as the job ended); the next number.
  Status scan_job_messages(uint64_t from,
                           const std::function<bool(uint64_t number, const JobRecord& job)>& visit);
  uint64_t job_messages_end();

  // Erasures (storage/erasure.hpp): the members whose erasure is committed and not yet purged
  // from the folder, and the purge of one (slow: it reads the log and compacts; never on a
  // partition writer). Backups and purges run one at a time.
  Status pending_erasures(std::vector<std::string>& member_ids);
  Status purge_erasure(std::string_view member_id, storage::ErasureReport& out);
  // Cluster mode: the members whose erasure is committed and whose personal data the input log
  // may still hold, and where the erasure is in the partition's log; the messages that hold it
  // (stream sequence, Nats-Msg-Id), in log order; and, once none before the erasure does, the
  // end of the mark and of those listed.
  Status pending_log_erasures(std::vector<std::string>& member_ids);
  Status log_erasure_at(std::string_view member_id, std::optional<uint64_t>& sequence);
  // Cluster mode: this node's copy of the secret its claims of phones and cards are keyed with
  // (cluster/identifier_keys.hpp); "" when none.
  Status cluster_secret(std::string& out);
  Status save_cluster_secret(std::string_view secret);
  Status personal_messages(std::string_view member_id,
                           std::vector<std::pair<uint64_t, std::string>>& out);
  Status finish_log_erasure(std::string_view member_id, const std::vector<uint64_t>& sequences);

  // RocksDB's figures now (lists the WAL folder: for scrapes, not hot paths).
  Status read_figures(StorageFigures& out);

 private:
  struct Impl;
  explicit RocksStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace loyalty
