// Partition writers and group commit. Each batch: take up to batch_events_max requests,
// apply them one by one against an overlay of the members, purchases and holds they touch (so
// later events of the batch see earlier ones), commit all effects in one atomic write, queue
// the follow-ups it produced for their partitions, then answer.
#include "engine/runtime/partition.hpp"

#include <algorithm>
#include <chrono>

#include "engine/check.hpp"
#include "engine/claim_keys.hpp"
#include "engine/personal_data.hpp"
#include "engine/runtime/claim_registry.hpp"
#include "engine/runtime/stock_table.hpp"

namespace loyalty {
namespace {

// The outbox id of a follow-up event; nullptr for every other event.
const std::string* follow_up_id(const Event& event) {
  if (event.type() != EventType::referral_reward && event.type() != EventType::referral_reversal) {
    return nullptr;
  }
  return &std::get<ReferralFollowUp>(event.body).id;
}

// The open lot `lot_id` of the member (its lots are kept in lot_id order); nullptr if none.
const Lot* find_lot(const MemberState& member, uint64_t lot_id) {
  const auto it = std::lower_bound(member.lots.begin(), member.lots.end(), lot_id,
                                   [](const Lot& lot, uint64_t id) { return lot.lot_id < id; });
  return it != member.lots.end() && it->lot_id == lot_id ? &*it : nullptr;
}

// Adds `change` to the batch's changes, where each reward appears once.
void add_stock_change(std::vector<StockChange>& changes, const StockChange& change) {
  auto same = std::find_if(changes.begin(), changes.end(), [&change](const StockChange& other) {
    return other.reward_id == change.reward_id;
  });
  if (same == changes.end()) {
    changes.push_back(change);
  } else {
    same->delta += change.delta;
  }
}

size_t per_partition(size_t total, uint32_t partitions) {
  return partitions == 0 ? total : (total + partitions - 1) / partitions;
}

}  // namespace

Runtime::Partition::Partition(Runtime& runtime, uint32_t index, size_t queue_capacity)
    : runtime_(runtime),
      partition_index_(index),
      queue_(queue_capacity),
      cache_(per_partition(runtime.options_.member_cache_members, runtime.options_.partitions),
             per_partition(runtime.options_.member_cache_bytes, runtime.options_.partitions)),
      overlay_(runtime.store_),
      program_(runtime.options_.partition_program
                   ? runtime.options_.partition_program(index)
                   : PartitionProgram{0, runtime.programs_.active()}),
      thread_([this] { run(); }) {
  LOYALTY_CHECK(program_.version != nullptr);
}

Runtime::Partition::~Partition() { stop(); }

Runtime::Partition::PushResult Runtime::Partition::push(Request&& request, bool internal) {
  return internal ? queue_.push_past_capacity(std::move(request))
                  : queue_.try_push(std::move(request));
}

void Runtime::Partition::resume_log() { log_failed_.store(false); }

void Runtime::Partition::stop() {
  queue_.close();
  if (thread_.joinable()) thread_.join();
}

void Runtime::Partition::run() {
  std::vector<Request> requests;
  while (queue_.pop_batch(requests, runtime_.options_.batch_events_max)) process(requests);
}

Status Runtime::Partition::load(const std::string& member_id, std::optional<MemberState>*& slot) {
  auto it = members_.find(member_id);
  if (it == members_.end()) {
    std::optional<MemberState> loaded = cache_.take(member_id);
    if (!loaded) {
      Status status = runtime_.store_.load_member(member_id, loaded);
      if (!status.ok()) return status;
    }
    it = members_.emplace(member_id, std::move(loaded)).first;
  }
  slot = &it->second;
  return Status::ok_status();
}

bool Runtime::Partition::foreign(const std::string& member_id) const {
  return runtime_.options_.log_driven && runtime_.partition_of(member_id) != partition_index_;
}

bool Runtime::Partition::claim(const std::string& key, const std::string& member_id) {
  // Log-driven mode: what this node has in flight elsewhere must not sway a decision (another
  // node has other things in flight). The claims settled before logging keep a key to one
  // member; within the partition, the batch's own map does.
  if (runtime_.options_.log_driven) {
    const auto [it, inserted] = batch_claims_.try_emplace(key, ClaimState{member_id});
    return inserted || it->second.member_id == member_id;
  }
  if (!runtime_.claims_->claim(key, member_id)) return false;
  claimed_.emplace_back(key, member_id);
  return true;
}

// Whether `value` of `kind` is free for `member_id` (in the store, this batch and in flight).
Status Runtime::Partition::identifier_free(IdentifierKind kind, const std::string& value,
                                           const std::string& member_id, bool& free) {
  // Claim first, then read the store: a writer that held the claim releases it only after its
  // commit, so whoever claims next is sure to see that commit. (Reading first could miss a
  // commit that lands between the read and the claim, and give one phone to two members.)
  free = claim(identifier_claim_key(kind, value), member_id);
  if (!free) return Status::ok_status();
  std::string owner;
  Status status = runtime_.store_.find_identifier(kind, value, owner);
  if (!status.ok()) return status;
  free = owner.empty() || owner == member_id || foreign(owner);
  return Status::ok_status();
}

Status Runtime::Partition::identifier_owner(IdentifierKind kind, const std::string& value,
                                            std::string& member_id) {
  // Log-driven mode: the node that logged the sign-up looked the code up through its claim and
  // put the referrer in the event; none there means no member had the code.
  if (runtime_.options_.log_driven) {
    member_id.clear();
    return Status::ok_status();
  }
  return runtime_.store_.find_identifier(kind, value, member_id);
}

Status Runtime::Partition::previous_use(const std::string& key, const std::string& member_id,
                                        PreviousUse& out) {
  out = PreviousUse{};
  if (auto it = batch_idempotency_.find(key); it != batch_idempotency_.end()) {
    out.record = it->second;
    return Status::ok_status();
  }
  // Claim before reading the store, as identifier_free does: the same id sent for two
  // members lands in two partitions, and the claim is released only after its commit.
  if (!claim("k:" + key, member_id)) {
    out.in_flight = true;
    return Status::ok_status();
  }
  Status status = runtime_.store_.load_idempotency(key, stored_use_);
  if (status.ok() && stored_use_ && !foreign(stored_use_->member_id)) out.record = &*stored_use_;
  return status;
}

Status Runtime::Partition::purchase(const std::string& event_id, const PurchaseRecord*& out) {
  Status status = overlay_.purchase(event_id, out);
  if (out != nullptr && foreign(out->member_id)) out = nullptr;
  return status;
}

Status Runtime::Partition::hold(const std::string& hold_id, const StoredHold*& out) {
  Status status = overlay_.hold(hold_id, out);
  if (out != nullptr && foreign(out->member_id)) out = nullptr;
  return status;
}

Status Runtime::Partition::coupon(const std::string& code, const StoredCoupon*& out) {
  Status status = overlay_.coupon(code, out);
  if (out != nullptr && foreign(out->member_id)) out = nullptr;
  return status;
}

Status Runtime::Partition::take_stock(const Reward& reward, const std::string& /*key*/,
                                      bool& granted) {
  granted = false;
  // Log-driven mode: every applier of the log must decide alike, and a node's count of units
  // reserved depends on which partitions it applies; the node that accepts a redemption settles
  // its unit before logging it (RewardRedeemEvent::stock_granted). One logged without a unit
  // is out of stock.
  if (runtime_.options_.log_driven) return Status::ok_status();
  if (Status status = runtime_.stock_status_; !status.ok()) return status;
  granted = runtime_.stock_->reserve(reward);
  if (granted) stock_reserved_.push_back(reward.id);
  return Status::ok_status();
}

// A claim in its key's home partition: granted when the key is free (in the store and in this
// batch) or already the member's; the answer names whose it is now, and by which grant. A
// release gives the key up only while it is the member's by the grant it names (docs/decisions.md
// "Changed identifiers in cluster mode"): one granted again since is still in use.
Status Runtime::Partition::decide_claim(Work& work) {
  const ClaimAsk& ask = *work.request->claim;
  ClaimState state;
  if (auto it = batch_claims_.find(ask.key); it != batch_claims_.end()) {
    state = it->second;
  } else if (Status status = runtime_.store_.find_claim(ask.key, state); !status.ok()) {
    return status;
  }
  bool changed = false;
  const bool members = !state.member_id.empty() && state.member_id == ask.member_id;
  if (ask.release) {
    if (members && (ask.grant == 0 || ask.grant == state.grants)) {
      state.member_id.clear();  // free again; the count goes on, so an older release stays late
      state.request.clear();
      changed = true;
    }
  } else if (!ask.member_id.empty() && (state.member_id.empty() || members)) {
    // Counted once per request: a copy of the one that was granted last gets the same grant. A
    // key counted before and free now is counted again whoever asks, so no grant number is
    // ever answered twice (a late release naming the old one stays late).
    const bool counted = (!ask.request.empty() && !(members && state.request == ask.request)) ||
                         (state.member_id.empty() && state.grants > 0);
    changed = state.member_id.empty() || counted;
    state.member_id = ask.member_id;
    if (counted) {
      state.grants += 1;
      state.request = ask.request;
    }
  }
  if (changed) {
    batch_claims_.insert_or_assign(ask.key, state);
    work.claim = ClaimWrite{ask.key, state};
  }
  work.result.claim_grant = state.member_id.empty() ? 0 : state.grants;
  work.result.claim_owner = std::move(state.member_id);
  return Status::ok_status();
}

// A stock ask in its reward's home partition (engine/claim_keys.hpp StockAsk), decided under
// the partition's program at this point of its log. A code's unit is taken once: a copy of the
// ask finds it the code's already. A unit given back that is not out (a copy, or a cancelled
// coupon whose reward had no stock when it was issued) changes nothing.
Status Runtime::Partition::decide_stock(Work& work) {
  const StockAsk& ask = *work.request->stock;
  const std::string& reward_id = ask.unit.reward_id;
  LOYALTY_CHECK(runtime_.partition_of(stock_key(reward_id)) == partition_index_);
  if (Status status = runtime_.stock_status_; !status.ok()) return status;
  const Reward* reward = program_.version->program.reward(reward_id);
  const int64_t out = runtime_.stock_->out(reward_id) + batch_units_out_[reward_id];
  if (ask.move == StockMove::count) {
    if (reward != nullptr && reward->stock) work.result.stock_left = *reward->stock - out;
    return Status::ok_status();
  }
  std::string taken_for;  // the reward whose unit the code holds ("" when none)
  if (const auto it = batch_units_.find(ask.unit.code); it != batch_units_.end()) {
    taken_for = it->second;
  } else if (Status status = runtime_.store_.find_stock_unit(ask.unit.code, taken_for);
             !status.ok()) {
    return status;
  }
  if (ask.move == StockMove::give_back) {
    if (taken_for != reward_id) return Status::ok_status();
    batch_units_[ask.unit.code].clear();
    batch_units_out_[reward_id] -= 1;
    work.stock_moved = StockMove::give_back;
    return Status::ok_status();
  }
  if (!taken_for.empty()) {
    work.result.stock_granted = taken_for == reward_id;
    return Status::ok_status();
  }
  if (reward == nullptr || (reward->stock && out >= *reward->stock)) return Status::ok_status();
  batch_units_[ask.unit.code] = reward_id;
  batch_units_out_[reward_id] += 1;
  work.stock_moved = StockMove::take;
  work.result.stock_granted = true;
  return Status::ok_status();
}

std::optional<StockUnit> Runtime::Partition::unit_to_give_back(const Work& work) {
  if (work.request->claim || work.request->stock || work.request->activation) return std::nullopt;
  const Event& event = work.request->event;
  if (const auto* redeem = std::get_if<RewardRedeemEvent>(&event.body)) {
    if (!redeem->stock_granted || work.applied) return std::nullopt;
    // A copy of the very message that issued the coupon answers it again: its unit is used.
    const auto* answer = std::get_if<CouponAnswer>(&work.result.answer);
    if (work.result.replayed && answer != nullptr && answer->coupon.code == redeem->code) {
      return std::nullopt;
    }
    return StockUnit{redeem->reward_id, redeem->code};
  }
  if (const auto* cancel = std::get_if<CouponCancelEvent>(&event.body); cancel && work.applied) {
    for (const Coupon& written : work.effects.coupons_written) {
      if (written.code == cancel->code && written.state == CouponState::cancelled) {
        return StockUnit{written.reward_id, written.code};
      }
    }
  }
  return std::nullopt;
}

// A program activation at this point of the partition's log: the events after it are decided
// under its rules. Activations are numbered cluster-wide in the order they were made, and may
// reach a partition's log out of that order (two made at once) or twice (one published again
// for a partition that seemed to miss it): an earlier or equal number changes nothing.
void Runtime::Partition::decide_activation(const Work& work) {
  const PartitionProgram& next = *work.request->activation;
  if (next.activation > program_.activation) program_ = next;
}

// Decides one request: replay, refusal, or applied effects in the overlay.
Status Runtime::Partition::decide(const ProgramVersion& program, Work& work) {
  Event& event = work.request->event;
  const std::string& member_id = event.member_id();
  work.result.member_id = member_id;
  work.program_number = program.number;
  std::optional<MemberState>* slot = nullptr;
  Status status = load(member_id, slot);
  if (!status.ok()) return status;

  Prepared& prepared = prepared_;
  status = prepare_event(*this, program, *slot, event, work.request->fingerprint, prepared);
  if (!status.ok()) return status;
  if (prepared.decided()) {
    work.result.rejection = prepared.rejection;
    work.result.replayed = prepared.replayed;
    if (prepared.replayed && event.type() == EventType::signup) work.result.member = **slot;
    if (prepared.replayed) work.result.answer = std::move(prepared.answer);
    return Status::ok_status();
  }
  work.identifiers = std::move(prepared.identifiers);
  work.result.rejection = apply_event(prepared.context, *slot, event, work.effects);
  if (!work.result.rejection.ok()) return Status::ok_status();

  const MemberState& member = **slot;
  if (!work.effects.entries.empty()) {
    LOYALTY_CHECK(work.effects.entries.back().balance_after == member.balance.total());
  }
  work.applied = true;
  work.result.answer = work.effects.answer;
  work.result.notifications = work.effects.notifications;
  if (event.type() == EventType::purchase) {
    // The purchase record answers its retries (storage keeps no other idempotency record).
    LOYALTY_CHECK(work.effects.purchase.has_value());
    work.effects.purchase->request_fingerprint = work.request->fingerprint;
  }
  if (work.effects.purchase) overlay_.wrote_purchase(*work.effects.purchase);
  for (const Hold& hold : work.effects.holds_written) overlay_.wrote_hold(member.member_id, hold);
  for (const Coupon& coupon : work.effects.coupons_written) {
    overlay_.wrote_coupon(member.member_id, coupon);
  }
  if (event.type() == EventType::signup) {
    work.result.member = member;
  } else {
    // A change answers with the member as it is now (the API shows its view).
    if (event.type() == EventType::member_update || event.type() == EventType::member_erase) {
      work.result.member = member;
    }
    work.idempotency = IdempotencyRecord{event.idempotency_key(), work.request->fingerprint,
                                         member_id, work.effects.answer};
    batch_idempotency_[work.idempotency->key] = &*work.idempotency;
  }
  return Status::ok_status();
}

// A logged event that wrote in its member's ledger is where the member's history begins now
// (the rule RocksStore::commit chains by): the batch's events took the log positions from
// first_log_seq on, in build_commit's order.
void Runtime::Partition::move_history_heads(uint64_t first_log_seq) {
  uint64_t log_seq = first_log_seq;
  for (Work& work : work_) {
    if (!work.applied) continue;
    if (!work.effects.entries.empty()) {
      members_.at(work.request->event.member_id())->history_head.log_seq = log_seq;
    }
    ++log_seq;
  }
  LOYALTY_CHECK(log_seq - first_log_seq == commit_.events.size());
}

void Runtime::Partition::build_commit(const PartitionProgram& batch_start) {
  commit_.clear();
  commit_.partition = partition_index_;
  if (program_.activation != batch_start.activation) {
    commit_.program_switch =
        CommitBatch::ProgramSwitch{partition_index_, program_.activation, program_.version->number};
  }
  // Gathered in reused vectors, then sorted: no allocation per event once warm.
  std::vector<std::pair<const MemberState*, size_t>>& members = batch_members_;
  std::vector<const PurchaseRecord*>& purchases = batch_purchases_;
  std::vector<HoldWrite>& holds = batch_holds_;
  std::vector<CouponWrite>& coupons = batch_coupons_;
  members.clear();
  purchases.clear();
  holds.clear();
  coupons.clear();
  lots_written_.clear();
  for (Work& work : work_) {
    if (const uint64_t sequence = work.request->log_sequence; sequence > 0) {
      // In the log's order: a sequence at or below the last is a bug of the caller.
      LOYALTY_CHECK(!commit_.log_position || commit_.log_position->sequence < sequence);
      commit_.log_position =
          CommitBatch::LogPosition{partition_index_, sequence, work.request->log_msg_id};
    }
    if (work.request->claim) {
      if (work.claim) commit_.claims.push_back(*work.claim);
      continue;
    }
    if (work.request->stock) {
      if (const std::optional<StockMove> moved = work.stock_moved) {
        const StockUnit& unit = work.request->stock->unit;
        const bool taken = *moved == StockMove::take;
        (taken ? commit_.units_taken : commit_.units_returned).push_back(unit);
        add_stock_change(commit_.stock_changes, StockChange{unit.reward_id, taken ? 1 : -1});
      }
      continue;
    }
    if (work.request->activation) continue;
    if (work.request->log_sequence > 0 && carries_personal_data(work.request->event)) {
      commit_.personal_messages.push_back(CommitBatch::PersonalMessage{
          work.request->event.member_id(), work.request->log_sequence, work.request->log_msg_id});
    }
    if (work.request->log_sequence > 0 && work.request->event.type() == EventType::member_erase &&
        work.result.rejection.ok() && !work.result.replayed) {
      commit_.log_erasures.push_back(
          CommitBatch::LogErasure{work.request->event.member_id(), work.request->log_sequence});
    }
    if (runtime_.options_.log_driven) {
      if (std::optional<StockUnit> unit = unit_to_give_back(work)) {
        commit_.give_backs.push_back(std::move(*unit));
      }
    }
    // A follow-up leaves the outbox with the commit that settles it, applied or not: one the
    // engine refuses would be refused again at every redelivery.
    if (const std::string* id = follow_up_id(work.request->event)) {
      commit_.outbox_deletes.push_back(*id);
    }
    if (!work.applied) continue;
    const std::string& member_id = work.request->event.member_id();
    const MemberState& member = *members_.at(member_id);
    members.emplace_back(&member, members.size());
    for (uint64_t lot_id : work.effects.lots_written) lots_written_.emplace_back(&member, lot_id);
    if (work.idempotency) commit_.idempotency.push_back(&*work.idempotency);
    commit_.events.push_back({&work.request->event, work.program_number, &member,
                              work.effects.entries, work.effects.notifications});
    commit_.events.back().log_sequence = work.request->log_sequence;
    for (IdentifierClaim& claim : work.identifiers) {
      // Taken again after it was released in this batch: it stays.
      std::erase_if(commit_.identifiers_released, [&claim](const IdentifierClaim& released) {
        return released.kind == claim.kind && released.value == claim.value;
      });
      commit_.identifiers.push_back(claim);
    }
    for (const IdentifierClaim& released : work.effects.identifiers_released) {
      // Released after it was taken in this batch (a phone changed twice): the take goes.
      std::erase_if(commit_.identifiers, [&released](const IdentifierClaim& taken) {
        return taken.kind == released.kind && taken.value == released.value;
      });
      commit_.identifiers_released.push_back(released);
      // Log-driven mode: a changed phone or card is given up in its claim's home partition, by
      // the grant the member held it by. With none known (a member older than grants, an
      // erasure's: erasures give theirs up themselves), it stays the member's.
      if (runtime_.options_.log_driven && released.grant != 0) {
        commit_.claim_releases.push_back(
            ClaimRelease{runtime_.options_.protect_claim_key(
                             identifier_claim_key(released.kind, released.value)),
                         released.member_id, released.grant});
        work.result.claim_releases.push_back(commit_.claim_releases.back());
      }
    }
    if (const auto& purchase = work.effects.purchase) purchases.push_back(&*purchase);
    for (const Hold& hold : work.effects.holds_written) holds.push_back({&member.member_id, &hold});
    for (const Coupon& coupon : work.effects.coupons_written) {
      coupons.push_back({&member.member_id, &coupon});
    }
    commit_.coupons_change.add(work.effects.coupons_change.active,
                               work.effects.coupons_change.points);
    commit_.stats.add(work.effects.stats);
    // Log-driven mode counts units in their rewards' home partitions instead (decide_stock).
    if (!runtime_.options_.log_driven) {
      for (const StockChange& change : work.effects.stock_changes) {
        add_stock_change(commit_.stock_changes, change);
      }
    }
    for (const ReferralLink& link : work.effects.referral_links) {
      commit_.referral_links.push_back(&link);
    }
    for (const Event& follow_up : work.effects.follow_ups)
      commit_.outbox_puts.push_back(&follow_up);
  }
  // A member's record is written once per batch, however many of its events it holds, in the
  // order the batch first wrote it: the same inputs give the same write batch.
  std::sort(members.begin(), members.end());  // by member, then first position
  members.erase(std::unique(members.begin(), members.end(),
                            [](const auto& a, const auto& b) { return a.first == b.first; }),
                members.end());
  std::sort(members.begin(), members.end(),
            [](const auto& a, const auto& b) { return a.second < b.second; });
  for (const auto& [member, first_position] : members) {
    // Σ lots − debt == available + pending + held, for every member a batch writes. (Once
    // per batch, not per event: the sum runs over all the member's open lots.)
    LOYALTY_CHECK(lots_match_balance(*member));
    commit_.members.push_back(member);
  }
  // A purchase or hold written more than once in the batch: only its latest version (stable
  // sorts keep the batch's order among equal ids).
  std::stable_sort(
      purchases.begin(), purchases.end(),
      [](const PurchaseRecord* a, const PurchaseRecord* b) { return a->event_id < b->event_id; });
  for (size_t i = 0; i < purchases.size(); ++i) {
    if (i + 1 == purchases.size() || purchases[i + 1]->event_id != purchases[i]->event_id) {
      commit_.purchases.push_back(purchases[i]);
    }
  }
  std::stable_sort(holds.begin(), holds.end(), [](const HoldWrite& a, const HoldWrite& b) {
    return a.hold->hold_id < b.hold->hold_id;
  });
  for (size_t i = 0; i < holds.size(); ++i) {
    if (i + 1 == holds.size() || holds[i + 1].hold->hold_id != holds[i].hold->hold_id) {
      commit_.holds.push_back(holds[i]);
    }
  }
  std::stable_sort(coupons.begin(), coupons.end(), [](const CouponWrite& a, const CouponWrite& b) {
    return a.coupon->code < b.coupon->code;
  });
  for (size_t i = 0; i < coupons.size(); ++i) {
    if (i + 1 == coupons.size() || coupons[i + 1].coupon->code != coupons[i].coupon->code) {
      commit_.coupons.push_back(coupons[i]);
    }
  }
  // Found by id (a member's lots are in lot_id order), not by a pass over all of them: a busy
  // member holds thousands of open lots and is in nearly every batch.
  std::sort(lots_written_.begin(), lots_written_.end());
  lots_written_.erase(std::unique(lots_written_.begin(), lots_written_.end()), lots_written_.end());
  for (const MemberState* member : commit_.members) {  // in the batch's order
    const auto first = std::lower_bound(lots_written_.begin(), lots_written_.end(),
                                        std::pair<const MemberState*, uint64_t>{member, 0});
    for (auto it = first; it != lots_written_.end() && it->first == member; ++it) {
      const Lot* lot = find_lot(*member, it->second);
      LOYALTY_CHECK(lot != nullptr);
      commit_.lots.push_back({&member->member_id, lot});
    }
  }
}

// Every request of a batch that did not commit is answered `unavailable`, refusals and replays
// included: they may have been decided against the batch's own uncommitted effects (a retry
// answered as a replay of an event earlier in the batch, a hold found captured by it), and
// would then tell the client of something that never happened. Retrying is always safe.
void Runtime::Partition::fail_batch(const Status& status) {
  for (Work& work : work_) work.result = storage_failure(status);
}

void Runtime::Partition::process(std::vector<Request>& requests) {
  if (log_failed_.load()) {
    // Behind a batch that failed: the log is read again from the committed position.
    const Status skipped = Status::error(
        Status::Code::io_error, "an earlier batch of this partition's log failed to commit");
    for (Request& request : requests) request.done(storage_failure(skipped));
    runtime_.finished(requests.size());
    return;
  }
  // Single mode: the registry's active version for the whole batch. Log-driven: the
  // partition's, which an activation in the batch changes for the requests after it.
  const PartitionProgram batch_start = program_;
  std::shared_ptr<const ProgramVersion> program =
      runtime_.options_.log_driven ? program_.version : runtime_.programs_.active();
  work_.clear();
  work_.resize(requests.size());
  members_.clear();
  batch_idempotency_.clear();
  batch_claims_.clear();
  overlay_.clear();
  claimed_.clear();
  stock_reserved_.clear();
  batch_units_.clear();
  batch_units_out_.clear();
  lots_written_.clear();

  Status status;
  for (size_t i = 0; i < requests.size() && status.ok(); ++i) {
    work_[i].request = &requests[i];
    if (requests[i].activation) {
      decide_activation(work_[i]);
      program = program_.version;
    } else {
      status = requests[i].claim   ? decide_claim(work_[i])
               : requests[i].stock ? decide_stock(work_[i])
                                   : decide(*program, work_[i]);
    }
  }
  if (status.ok()) {
    build_commit(batch_start);
    if (!commit_.empty()) {
      const auto commit_start = std::chrono::steady_clock::now();
      uint64_t first_log_seq = 0;
      status = runtime_.store_.commit(commit_, first_log_seq);
      runtime_.metrics_.commit_seconds.record(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - commit_start).count());
      if (status.ok()) move_history_heads(first_log_seq);
    }
  }
  runtime_.metrics_.batch_events.record(static_cast<double>(requests.size()));
  if (!status.ok()) fail_batch(status);
  if (!status.ok() && runtime_.options_.log_driven) {
    log_failed_.store(true);
    program_ = batch_start;  // the log is read again from before the batch
  }
  for (const auto& [key, owner] : claimed_) runtime_.claims_->release(key, owner);
  // Units this batch took are out once committed; its reservations are given back either way.
  runtime_.stock_->settle(status.ok() ? commit_.stock_changes : std::vector<StockChange>{},
                          stock_reserved_);
  if (status.ok()) runtime_.metrics_.add_coupons(commit_.coupons_change);
  stock_reserved_.clear();

  // Follow-ups are queued before anyone is answered: once a trigger is acknowledged, its
  // follow-ups are in their partitions' queues (and in the outbox until applied).
  if (status.ok()) {
    for (const StockUnit& unit : commit_.give_backs) runtime_.options_.give_back_sink(unit);
    for (const ClaimRelease& release : commit_.claim_releases) {
      runtime_.options_.claim_release_sink(release);
    }
    for (Work& work : work_) {
      if (!work.applied) continue;
      runtime_.metrics_.count_applied(work.request->event.type());
      if (runtime_.notification_sink_) {
        for (const Notification& notification : work.effects.notifications) {
          runtime_.notification_sink_(work.request->event.member_id(), notification);
        }
      }
      if (!runtime_.options_.deliver_follow_ups) continue;
      if (runtime_.options_.log_driven) {
        for (const Event& follow_up : work.effects.follow_ups) {
          runtime_.options_.follow_up_sink(follow_up);
        }
        continue;
      }
      for (Event& follow_up : work.effects.follow_ups) runtime_.deliver(std::move(follow_up));
    }
  }
  if (runtime_.options_.completions_begin) runtime_.options_.completions_begin();
  for (size_t i = 0; i < requests.size(); ++i) {
    if (work_[i].request == nullptr) {  // not reached because storage failed earlier
      work_[i].result = storage_failure(status);
    }
    requests[i].done(std::move(work_[i].result));
  }
  if (runtime_.options_.completions_end) runtime_.options_.completions_end();
  // A follow-up whose batch failed stays in the outbox; without this it would wait for the next
  // start. It is queued again after this partition's next commit that succeeds (storage is back).
  if (runtime_.options_.deliver_follow_ups && !runtime_.options_.log_driven) {
    if (!status.ok()) {
      for (Request& request : requests) {
        if (follow_up_id(request.event) != nullptr) {
          parked_follow_ups_.push_back(std::move(request.event));
        }
      }
    } else if (!commit_.empty() && !parked_follow_ups_.empty()) {
      for (Event& follow_up : parked_follow_ups_) runtime_.deliver(std::move(follow_up));
      parked_follow_ups_.clear();
    }
  }
  // Only what is committed goes back to the cache; after a failed commit the members the
  // batch took out are read from storage again.
  if (status.ok()) {
    for (auto& [member_id, member] : members_) {
      if (!member) continue;
      // A spent or expired lot is no longer part of the member's state (the commit deleted
      // it). Looked for only when one of the lots this batch wrote ran out: the pass is over
      // every lot.
      const MemberState* key = &*member;
      const auto first = std::lower_bound(lots_written_.begin(), lots_written_.end(), key,
                                          [](const std::pair<const MemberState*, uint64_t>& written,
                                             const MemberState* m) { return written.first < m; });
      bool emptied = false;
      for (auto it = first; it != lots_written_.end() && it->first == key && !emptied; ++it) {
        const Lot* lot = find_lot(*member, it->second);
        emptied = lot != nullptr && lot->points_remaining == 0;
      }
      if (emptied) {
        std::erase_if(member->lots, [](const Lot& lot) { return lot.points_remaining == 0; });
      }
      cache_.put(std::move(*member));
    }
  }
  members_.clear();
  runtime_.finished(requests.size());
}

}  // namespace loyalty
