// The storage interface the engine's runtime needs: load what one event touches, and commit
// a batch of effects atomically. storage/ implements it with RocksDB; tests may use memory.
// Thread-safety: implementations must allow concurrent calls from all partition writers
// (each writer touches a disjoint set of members) and from readers.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/apply.hpp"
#include "engine/events.hpp"
#include "engine/ledger.hpp"
#include "engine/member_state.hpp"
#include "engine/purchase_record.hpp"
#include "engine/status.hpp"

namespace loyalty {

// What makes a retry with the same client id answer the same again, after a restart too.
struct IdempotencyRecord {
  // The fingerprint of a member's change after the member's erasure: it was a digest of the
  // erased values, and a retry can no longer be compared with them (a retry with its id is
  // answered as a replay).
  static constexpr uint64_t kErasedFingerprint = 0;

  std::string key;  // Event::idempotency_key()
  uint64_t fingerprint = 0;
  std::string member_id;
  Answer answer;
};

// An accepted input event as the event log keeps it: enough to replay it exactly, with what it
// wrote in its member's history (the ledger entries and feed notifications its apply made).
struct LoggedEvent {
  LoggedEvent(const Event* logged, uint32_t version, const MemberState* of = nullptr,
              std::span<const LedgerEntry> wrote = {}, std::span<const Notification> told = {})
      : event(logged), program_version(version), member(of), entries(wrote), notifications(told) {}

  const Event* event = nullptr;
  uint32_t program_version = 0;
  // The event's member, as the batch leaves it (also in CommitBatch::members). Its history_head
  // is where its history stood before the batch.
  const MemberState* member = nullptr;
  std::span<const LedgerEntry> entries;         // consecutive seqs, in apply order
  std::span<const Notification> notifications;  // each follows one of `entries`
  // Cluster mode: the event's place in its partition's input log (the stream's sequence, the
  // same on every node); 0 in single mode. Webhook messages are numbered by it.
  uint64_t log_sequence = 0;
};

struct LotWrite {
  const std::string* member_id = nullptr;
  const Lot* lot = nullptr;
};

struct HoldWrite {
  const std::string* member_id = nullptr;
  const Hold* hold = nullptr;
};

// A hold as stored by hold_id, whatever its state, with the member it belongs to.
struct StoredHold {
  std::string member_id;
  Hold hold;
};

struct CouponWrite {
  const std::string* member_id = nullptr;
  const Coupon* coupon = nullptr;
};

// A coupon as stored by its code, whatever its state, with the member it was issued to.
struct StoredCoupon {
  std::string member_id;
  Coupon coupon;
};

// Cluster mode: a key that must belong to one member cluster-wide (a client id, a phone, a
// card, a referral code), granted in the log of its home partition (docs/decisions.md
// "Claims"). A granted key is never given to another member, unless its member gave it up (an
// erasure, a changed phone or card): then `member_id` is empty and the key is free again.
struct ClaimState {
  std::string member_id;  // empty: free
  // How many times the key was granted (to anyone, counted only for ClaimAsk::request): a
  // member holds it by one grant, and a release naming another is too late.
  uint64_t grants = 0;
  std::string request{};  // the ClaimAsk::request of the last grant ("" once free)
  friend bool operator==(const ClaimState&, const ClaimState&) = default;
};
struct ClaimWrite {
  std::string key;
  ClaimState state;
};

// Cluster mode: a changed phone or card to give up in its claim's home partition, by the grant
// the member held it by (engine/claim_keys.hpp ClaimAsk with `release`). `key` is the claim key
// as the log carries it (RuntimeOptions::protect_claim_key).
struct ClaimRelease {
  std::string key;
  std::string member_id;
  uint64_t grant = 0;
  friend bool operator==(const ClaimRelease&, const ClaimRelease&) = default;
};

// Cluster mode: one unit of a reward's stock, named by the coupon code it was taken for
// (engine/claim_keys.hpp StockAsk).
struct StockUnit {
  std::string reward_id;
  std::string code;
};

// One group commit. Pointers refer to data owned by the caller until commit() returns.
struct CommitBatch {
  std::vector<const MemberState*> members;  // final state of every touched member
  std::vector<LotWrite> lots;
  std::vector<const IdempotencyRecord*> idempotency;
  std::vector<LoggedEvent> events;  // in apply order
  std::vector<IdentifierClaim> identifiers;
  // Identifiers their member no longer holds: removed unless another member holds them now.
  std::vector<IdentifierClaim> identifiers_released;
  std::vector<const PurchaseRecord*> purchases;  // by event id
  std::vector<HoldWrite> holds;                  // by hold id
  std::vector<CouponWrite> coupons;              // by code, and in the member's list
  // How many units of each reward are out (issued, not cancelled) changes by these, summed over
  // the batch; a reward appears once.
  std::vector<StockChange> stock_changes;
  CouponsChange coupons_change;  // summed over the batch
  // The program's figures this batch moved (engine/stats.hpp), summed, and the partition they
  // are counted under: a cluster node answers for the partitions it applies.
  StatsChange stats{};
  uint32_t partition = 0;
  std::vector<const ReferralLink*> referral_links;  // by (referrer, referee)
  // The outbox: follow-ups written with their trigger, removed in the commit that applies them.
  std::vector<const Event*> outbox_puts;
  std::vector<std::string> outbox_deletes;  // follow-up ids
  // Cluster mode: the partition log this batch applied, through which stream sequence. It is
  // committed with the state it produced, so an applier restarts exactly after it; a batch of
  // nothing but copies still moves it. Single mode leaves it empty.
  struct LogPosition {
    uint32_t partition = 0;
    uint64_t sequence = 0;
    std::string msg_id;  // the Nats-Msg-Id of the message at `sequence` (checked on resume)
  };
  std::optional<LogPosition> log_position;
  // Cluster mode: keys granted by this batch in their home partition (ClaimWrite).
  std::vector<ClaimWrite> claims;
  // Cluster mode: the program activation this batch applied in its partition's log (the
  // activation's cluster-wide number, and the version it made the partition's), committed with
  // the log position so a restart decides the rest of the log under the same rules.
  struct ProgramSwitch {
    uint32_t partition = 0;
    uint64_t activation = 0;
    uint32_t version = 0;
  };
  std::optional<ProgramSwitch> program_switch;
  // Cluster mode, in a reward's home partition: units taken for a code, and given back (their
  // counts are in stock_changes too).
  std::vector<StockUnit> units_taken;
  std::vector<StockUnit> units_returned;
  // Cluster mode, in a member's partition: units to give back to their home partitions, kept
  // until the node has put them in those logs (an outbox of its own); and those it has.
  std::vector<StockUnit> give_backs;
  std::vector<std::string> give_backs_sent;  // codes
  // Cluster mode, in a member's partition: changed phones and cards to give up in their home
  // partitions, kept until the node has put them in those logs; and those it has.
  std::vector<ClaimRelease> claim_releases;
  std::vector<ClaimRelease> claim_releases_sent;
  // Cluster mode: the messages of the partition's log that carry a member's phone, card or
  // profile (its sign-ups and changes, applied or refused, copies too), so that its erasure
  // can find them in the log (docs/decisions.md "Erasure in cluster mode").
  struct PersonalMessage {
    std::string member_id;
    uint64_t sequence = 0;
    std::string msg_id;
  };
  std::vector<PersonalMessage> personal_messages;
  // Cluster mode: erasures applied, with their place in the partition's log: the messages to
  // replace are the member's personal messages before it.
  struct LogErasure {
    std::string member_id;
    uint64_t sequence = 0;
  };
  std::vector<LogErasure> log_erasures;

  bool empty() const {
    return members.empty() && events.empty() && outbox_deletes.empty() && !log_position &&
           claims.empty() && !program_switch && units_taken.empty() && units_returned.empty() &&
           give_backs.empty() && give_backs_sent.empty() && claim_releases.empty() &&
           claim_releases_sent.empty() && personal_messages.empty() && log_erasures.empty();
  }
  void clear() {
    members.clear();
    lots.clear();
    idempotency.clear();
    events.clear();
    identifiers.clear();
    identifiers_released.clear();
    purchases.clear();
    holds.clear();
    coupons.clear();
    stock_changes.clear();
    coupons_change = {};
    stats.clear();
    partition = 0;
    referral_links.clear();
    outbox_puts.clear();
    outbox_deletes.clear();
    log_position.reset();
    claims.clear();
    program_switch.reset();
    units_taken.clear();
    units_returned.clear();
    give_backs.clear();
    give_backs_sent.clear();
    claim_releases.clear();
    claim_releases_sent.clear();
    personal_messages.clear();
    log_erasures.clear();
  }
};

class MemberStore {
 public:
  virtual ~MemberStore() = default;
  // The member with its open lots; `out` is nullopt when there is no such member.
  virtual Status load_member(std::string_view member_id, std::optional<MemberState>& out) = 0;
  virtual Status load_idempotency(std::string_view key, std::optional<IdempotencyRecord>& out) = 0;
  // The member holding the identifier; `member_id` is empty when none does.
  virtual Status find_identifier(IdentifierKind kind, std::string_view value,
                                 std::string& member_id) = 0;
  virtual Status load_purchase(std::string_view event_id, std::optional<PurchaseRecord>& out) = 0;
  // Cluster mode: whose a claim key is (ClaimState; a key never granted is free, no grants).
  virtual Status find_claim(std::string_view key, ClaimState& out) = 0;
  virtual Status load_hold(std::string_view hold_id, std::optional<StoredHold>& out) = 0;
  // `code` as stored (normalised); `out` is nullopt when no coupon has it.
  virtual Status load_coupon(std::string_view code, std::optional<StoredCoupon>& out) = 0;
  // How many units of each reward are out (issued, not cancelled): Σ of the committed
  // stock_changes, by reward id (rewards never redeemed are absent).
  virtual Status load_stock_counts(std::map<std::string, int64_t, std::less<>>& out) = 0;
  // The active coupons and their points: Σ of the committed coupons_change.
  virtual Status load_coupons_total(CouponsChange& out) = 0;
  // Every follow-up written but not yet applied (for redelivery after a restart).
  virtual Status load_outbox(std::vector<Event>& out) = 0;
  // Cluster mode: the reward whose unit was taken for `code` and not given back ("" when none).
  virtual Status find_stock_unit(std::string_view code, std::string& reward_id) = 0;
  // Cluster mode: the units written to give back and not yet sent (CommitBatch::give_backs).
  virtual Status load_give_backs(std::vector<StockUnit>& out) = 0;
  // Cluster mode: the claims written to give up and not yet sent (CommitBatch::claim_releases).
  virtual Status load_claim_releases(std::vector<ClaimRelease>& out) = 0;
  // Everything in one atomic write, durable per the configured durability when it returns.
  // `first_log_seq` is where the batch's first event landed in the event log (the others follow
  // it); the caller moves each member's history_head there (MemberState::history_head).
  virtual Status commit(const CommitBatch& batch, uint64_t& first_log_seq) = 0;
  Status commit(const CommitBatch& batch) {
    uint64_t first_log_seq = 0;
    return commit(batch, first_log_seq);
  }
};

}  // namespace loyalty
