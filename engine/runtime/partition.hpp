// One partition's writer (internal to the runtime): drains its queue in batches, decides each
// event against an overlay of what the batch touched, commits the batch in one atomic write,
// then hands the batch's follow-ups to their partitions and answers.
#pragma once

#include <atomic>
#include <deque>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/prepare.hpp"
#include "engine/runtime/batch_overlay.hpp"
#include "engine/runtime/bounded_queue.hpp"
#include "engine/runtime/member_cache.hpp"
#include "engine/runtime/runtime.hpp"

namespace loyalty {

// Its PrepareView (engine/prepare.hpp): the batch's overlay, then the store, with ids claimed
// against the other partitions' requests in flight.
// What a partition's writer is asked to decide: an event, or in log-driven mode a claim, a
// stock ask or a program activation (then `event` is unused).
struct PartitionRequest {
  Event event;
  uint64_t fingerprint = 0;  // of the request as the client sent it
  Completion done;
  uint64_t log_sequence = 0;  // log-driven mode: its place in the partition's log
  std::string log_msg_id;     // and the Nats-Msg-Id there (committed with the position)
  std::optional<ClaimAsk> claim;
  std::optional<StockAsk> stock;
  std::optional<PartitionProgram> activation;
};

class Runtime::Partition : private PrepareView {
 public:
  using Request = PartitionRequest;
  using PushResult = BoundedQueue<Request>::PushResult;

  Partition(Runtime& runtime, uint32_t index, size_t queue_capacity);
  ~Partition() override;

  // Client events respect the queue capacity; follow-ups (`internal`) go past it.
  PushResult push(Request&& request, bool internal);
  void stop();        // closes the queue, finishes what is queued, joins the writer
  void resume_log();  // Runtime::resume_log
  size_t queue_depth() const { return queue_.size(); }

 private:
  // Everything one request accumulates in a batch; cleared between batches.
  struct Work {
    Request* request = nullptr;
    EventResult result;
    Effects effects;
    bool applied = false;  // has effects to commit
    std::optional<IdempotencyRecord> idempotency;
    std::vector<IdentifierClaim> identifiers;
    std::optional<ClaimWrite> claim;       // a claim this request was granted, to commit
    std::optional<StockMove> stock_moved;  // a unit this stock ask took or gave back
    uint32_t program_number = 0;           // the version an event was decided under
  };

  void run();
  void process(std::vector<Request>& requests);
  Status load(const std::string& member_id, std::optional<MemberState>*& slot);
  bool claim(const std::string& key, const std::string& member_id);
  // PrepareView
  Status previous_use(const std::string& key, const std::string& member_id,
                      PreviousUse& out) override;
  Status identifier_free(IdentifierKind kind, const std::string& value,
                         const std::string& member_id, bool& free) override;
  Status identifier_owner(IdentifierKind kind, const std::string& value,
                          std::string& member_id) override;
  Status purchase(const std::string& event_id, const PurchaseRecord*& out) override;
  Status hold(const std::string& hold_id, const StoredHold*& out) override;
  Status coupon(const std::string& code, const StoredCoupon*& out) override;
  Status take_stock(const Reward& reward, const std::string& key, bool& granted) override;
  Status decide(const ProgramVersion& program, Work& work);
  Status decide_claim(Work& work);
  Status decide_stock(Work& work);
  // Log-driven mode: the unit of stock a decided event gives back to its reward's home
  // partition: a redemption's that did not issue its code's coupon, a cancelled coupon's.
  static std::optional<StockUnit> unit_to_give_back(const Work& work);
  void decide_activation(const Work& work);
  // Log-driven mode: a stored record of a member of another partition. Whether this node holds
  // one depends on which partitions it applies, so a decision never reads one: claims settled
  // before the event was logged stand for what it would say.
  bool foreign(const std::string& member_id) const;
  // `batch_start`: the partition's program when the batch began (a switch is committed when
  // the batch ends under another).
  void build_commit(const PartitionProgram& batch_start);
  void move_history_heads(uint64_t first_log_seq);
  void fail_batch(const Status& status);

  Runtime& runtime_;
  const uint32_t partition_index_;
  BoundedQueue<Request> queue_;
  // Per-batch scratch, reused.
  std::deque<Work> work_;
  std::unordered_map<std::string, std::optional<MemberState>> members_;
  MemberCache cache_;  // members of committed batches; see member_cache.hpp on coherence
  std::unordered_map<std::string, const IdempotencyRecord*> batch_idempotency_;
  std::unordered_map<std::string, ClaimState> batch_claims_;  // keys decided in this batch
  std::optional<IdempotencyRecord> stored_use_;  // previous_use's last read from the store
  Prepared prepared_;                            // the event being decided
  BatchOverlay overlay_;
  std::vector<std::pair<std::string, std::string>> claimed_;
  // build_commit's scratch: the lots the batch's applied events wrote (member, lot id),
  // sorted; the members, purchases and holds it wrote, before duplicates are dropped.
  std::vector<std::pair<const MemberState*, uint64_t>> lots_written_;
  std::vector<std::pair<const MemberState*, size_t>> batch_members_;  // with first position
  std::vector<const PurchaseRecord*> batch_purchases_;
  std::vector<HoldWrite> batch_holds_;
  std::vector<CouponWrite> batch_coupons_;
  std::vector<std::string> stock_reserved_;  // reward ids, one per unit this batch reserved
  // Log-driven mode, in a reward's home partition: the units this batch took (code → reward
  // id) or gave back (code → ""), and the change of each reward's units out.
  std::unordered_map<std::string, std::string> batch_units_;
  std::unordered_map<std::string, int64_t> batch_units_out_;
  CommitBatch commit_;
  std::vector<Event> parked_follow_ups_;  // their batch failed; queued again after a success
  // Log-driven mode: a batch failed to commit, so what is queued behind it must not be applied
  // (it would skip the failed messages); set on the writer thread, cleared by resume_log().
  std::atomic<bool> log_failed_{false};
  // Log-driven mode: the rules of the partition's log at this point of it (writer thread only).
  PartitionProgram program_;
  std::thread thread_;  // last: starts after everything it uses exists
};

}  // namespace loyalty
