// The runtime that drives the engine: members are hashed to partitions, each partition has
// one writer thread that drains its bounded queue in batches, applies the events through the
// pure engine and commits each batch as one atomic write (group commit). A client's
// completion runs only after its batch is durable.
// Follow-up events (a referrer's reward) are written to the store's outbox in the commit of
// the event that triggered them, then delivered to the target member's partition; the commit
// that applies one removes it from the outbox. At construction every follow-up still in the
// outbox is delivered again, so a crash between trigger and delivery loses nothing, and the
// follow-up's idempotency record keeps a second delivery from applying twice.
// Thread-safety: submit() may be called from any thread; completions run on writer threads
// and must not block.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "engine/apply.hpp"
#include "engine/claim_keys.hpp"
#include "engine/events.hpp"
#include "engine/runtime/program_registry.hpp"
#include "engine/runtime/runtime_metrics.hpp"
#include "engine/status.hpp"
#include "engine/store.hpp"

namespace loyalty {

class ClaimTable;
class StockTable;
struct PartitionRequest;

// Told, on the writer thread right after each commit, the notifications that became durable
// (follow-ups' included) in apply order. Must not block: the WebSocket hub posts them on.
using NotificationSink =
    std::function<void(const std::string& member_id, const Notification& notification)>;

struct EventResult {
  Rejection rejection;  // code ok: applied (or replayed)
  // Not ok: the store could not read or commit what the event needed; nothing was applied. An
  // operational error, not a refusal: `rejection` is `unavailable` too, so a caller that only
  // asks "applied?" stays right, and the API answers 503 from this status, not from a message.
  Status storage;
  bool replayed = false;
  Answer answer;
  std::optional<MemberState> member;        // the member after the event (sign-ups answer with it)
  std::vector<Notification> notifications;  // durable changes to push to subscribers
  // The member the event was decided for: the runtime (or the cluster) finds a refund's or a
  // hold action's member, so the client may not know it ("" when the event never got there).
  std::string member_id;
  // A cluster claim's (ClaimAsk): the member the key belongs to after it ("" when none), and
  // the grant it is theirs by (ClaimState::grants; 0 when grants of the key are not counted).
  std::string claim_owner;
  uint64_t claim_grant = 0;
  // Log-driven mode, a change applied: the phones and cards it gives up (also in the outbox),
  // so that the node that accepted it can see them given up before it answers (api.md: the
  // old identifier is free once the change is durable).
  std::vector<ClaimRelease> claim_releases;
  // A cluster stock ask's (StockAsk): whether the unit is the code's (take), and the units the
  // reward has left (count; nullopt when it has no stock limit or is not in the program).
  bool stock_granted = false;
  std::optional<int64_t> stock_left;
};

// The result of an event that storage failed.
EventResult storage_failure(const Status& status);

using Completion = std::function<void(EventResult&&)>;
using Clock = std::function<TimeMs()>;

// Log-driven mode: the rules a partition's log decides with, from the last program activation
// it applied (activations are numbered cluster-wide; a later number wins, an earlier or equal
// one arriving late changes nothing).
struct PartitionProgram {
  uint64_t activation = 0;  // 0: none applied yet, the cluster's first version
  std::shared_ptr<const ProgramVersion> version;
};

struct RuntimeOptions {
  uint32_t partitions = 2;        // writer threads; loyaltyd uses one per core by default
  size_t queue_capacity = 16384;  // per partition; a full queue refuses with `unavailable`
                                  // (client events only: follow-ups are never refused)
  size_t batch_events_max = 512;  // events per group commit
  // Members kept in memory across batches, over all partitions (least recently used leave
  // first): a busy member is then read from storage once, not per event. 0 turns it off.
  size_t member_cache_members = 100'000;
  // And the bytes those members take (MemberCache's approximate_bytes), over all partitions: a
  // busy member holds one lot per unspent purchase, so a count alone does not bound memory.
  size_t member_cache_bytes = size_t{256} << 20;
  // False when replaying an event log: the log holds each follow-up as an event of its own,
  // at the place it was applied, so the follow-ups triggers make now are not delivered.
  bool deliver_follow_ups = true;
  // Run on the writer thread just before and just after the completions of each batch, so a
  // front end can send a commit's answers to its I/O threads together
  // (api/response_courier.hpp). Optional; must not block.
  void (*completions_begin)() = nullptr;
  void (*completions_end)() = nullptr;
  // Cluster mode (cluster/, docs/decisions.md "Cluster mode"): `partitions` is the cluster's,
  // a member's partition is member_partition(member_id, partitions), events come in through
  // apply_logged() in their partition log's order, and each batch commits how far it applied
  // that log (CommitBatch::log_position). Follow-ups go to `follow_up_sink` after their
  // trigger's commit (to be published to their own partition's log), never to a queue here;
  // the outbox's at start go there too.
  bool log_driven = false;
  std::function<void(const Event& follow_up)> follow_up_sink = nullptr;
  // And the units of stock this node's appliers give back to their rewards' home partitions
  // (engine/claim_keys.hpp StockAsk), after the commit that wrote them in the store's outbox
  // of give-backs; the outbox's at start go there too.
  std::function<void(const StockUnit& unit)> give_back_sink = nullptr;
  // And the changed phones and cards to give up in their claims' home partitions, after the
  // commit that wrote them in the store's outbox of releases (engine/store.hpp ClaimRelease);
  // the outbox's at start go there too. `protect_claim_key` turns an identifier's claim key
  // into the log's (a keyed digest: no phone number is written in the outbox).
  std::function<void(const ClaimRelease& release)> claim_release_sink = nullptr;
  std::function<std::string(const std::string& claim_key)> protect_claim_key = nullptr;
  // And where submit() sends an accepted event (with the client's fingerprint) instead of a
  // queue here: the cluster publishes it to its partition's log, and calls `done` with the
  // result its owner's commit gives.
  std::function<void(Event&& event, uint64_t request_fingerprint, Completion&& done)> publish =
      nullptr;
  // And the program each partition's log had reached when this process last committed it
  // (asked once per partition at construction). Unset: the registry's active version.
  std::function<PartitionProgram(uint32_t partition)> partition_program = nullptr;
};

// FNV-1a-32 of the member id modulo `partitions`: the cluster's partition of a member
// (cluster.md), and the runtime's in log-driven mode.
uint32_t member_partition(std::string_view member_id, uint32_t partitions);

class Runtime {
 public:
  // Starts the writers and delivers the follow-ups left in the store's outbox.
  // `sink` is given here, not later, because the writers start in the constructor and may
  // already apply follow-ups from the outbox.
  Runtime(RuntimeOptions options, MemberStore& store, ProgramRegistry& programs, Clock clock,
          NotificationSink sink = {});
  ~Runtime();  // stops and drains
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Validates the event, stamps the server time where the client sent none, finds the member
  // of a refund or hold action, then queues it for its member's partition. `done` runs
  // exactly once: at once on a refusal before queueing or a full queue, else after the batch
  // commits.
  void submit(Event event, Completion done);

  // What submit() does before queueing, alone: validate, stamp the server's time (and a
  // sign-up's fingerprint and joined_at), find the member of a refund or hold action (single
  // mode: in log-driven mode the cluster finds it through the key's claim). A
  // refusal (or a storage failure) comes back; ok means `event` is ready to be queued, or, in
  // cluster mode, published to its partition's log. `request_fingerprint` is the client's.
  EventResult accept(Event& event, uint64_t& request_fingerprint);

  // Log-driven mode: the next message of `partition`'s log, at stream `sequence`, already
  // stamped and resolved by the node that accepted it (every applier decides it alike). Never
  // refused for a full queue: the caller bounds what it has outstanding (queue_depth). `done`
  // runs after its batch commits. After a batch of the partition fails to commit, everything
  // of its log already queued fails too (`storage` not ok) until resume_log(): the caller then
  // reads the log again from the store's applied sequence, so nothing is skipped.
  // `msg_id` (the message's Nats-Msg-Id) is committed with the position it moves to.
  void apply_logged(uint32_t partition, Event event, uint64_t sequence, Completion done,
                    std::string msg_id = {});
  // A claim logged in `partition` (its key's home), applied in the same order; `done` gets
  // EventResult::claim_owner after its batch commits.
  void apply_logged_claim(uint32_t partition, ClaimAsk claim, uint64_t sequence, Completion done,
                          std::string msg_id = {});
  // A stock ask logged in `partition` (its reward's home), applied in the same order; `done`
  // gets EventResult::stock_granted or ::stock_left after its batch commits.
  void apply_logged_stock(uint32_t partition, StockAsk ask, uint64_t sequence, Completion done,
                          std::string msg_id = {});
  // A program activation logged in `partition`: the events after it in the log are decided
  // under `program` (when its activation number is above the partition's), and the switch
  // commits with the batch. The registry's active version is not touched: that is the caller's.
  void apply_logged_program(uint32_t partition, PartitionProgram program, uint64_t sequence,
                            Completion done, std::string msg_id = {});
  void resume_log(uint32_t partition);

  // Stops accepting client events, waits until everything queued and every follow-up it
  // triggered is applied, joins the writers. Idempotent.
  void stop();

  uint32_t partition_count() const;
  uint32_t partition_of(std::string_view member_id) const;

  // For monitoring (any thread): the runtime's counters, and the requests waiting in one
  // partition's queue (takes that queue's lock briefly: for scrapes, not hot paths).
  const RuntimeMetrics& metrics() const { return metrics_; }
  size_t queue_depth(uint32_t partition) const;
  // Units of `reward` the program may still issue now (single mode; nullopt without a stock
  // limit, or in log-driven mode, where the count is the reward's home partition's: ask it
  // with a StockAsk `count`).
  std::optional<int64_t> stock_left(const Reward& reward) const;

 private:
  class Partition;

  // Queues an engine-made follow-up for its member's partition, past the queue capacity.
  void deliver(Event follow_up);
  // Log-driven mode: queues a message of a partition's log.
  void queue_logged(uint32_t partition, uint64_t sequence, std::string msg_id, Completion done,
                    PartitionRequest&& request);
  void finished(size_t requests);  // requests whose completions have run

  RuntimeOptions options_;
  NotificationSink notification_sink_;
  MemberStore& store_;
  ProgramRegistry& programs_;
  Clock clock_;
  std::unique_ptr<ClaimTable> claims_;
  // Units of rewards out and reserved (single mode), from the store's counts at start; when
  // those could not be read, stock_status_ says why and no unit is handed out.
  std::unique_ptr<StockTable> stock_;
  Status stock_status_;
  RuntimeMetrics metrics_;
  std::atomic<bool> accepting_{true};
  // Requests queued or being processed, follow-ups included; stop() waits for 0.
  std::atomic<uint64_t> in_flight_{0};
  std::mutex idle_mutex_;
  std::condition_variable idle_;
  std::vector<std::unique_ptr<Partition>> partitions_;
};

}  // namespace loyalty
