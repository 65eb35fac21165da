// Partition writers and group commit. Each batch: take up to batch_events_max requests,
// apply them one by one against an overlay of the members, purchases and holds they touch (so
// later events of the batch see earlier ones), commit all effects in one atomic write, queue
// the follow-ups it produced for their partitions, then answer.
#include "engine/runtime/partition.hpp"

#include <algorithm>
#include <chrono>
#include <unordered_set>

#include "engine/check.hpp"
#include "engine/referral_code.hpp"
#include "engine/runtime/claim_registry.hpp"

namespace loyalty {
namespace {

constexpr uint32_t kReferralCodeAttemptsMax = 16;

std::string identifier_claim_key(IdentifierKind kind, std::string_view value) {
  std::string key = "i:";
  key += static_cast<char>('0' + static_cast<int>(kind));
  key += ':';
  key += value;
  return key;
}

Rejection unavailable(std::string message) {
  return {ErrorCode::unavailable, "", std::move(message)};
}

Rejection not_found(std::string field, std::string message) {
  return {ErrorCode::not_found, std::move(field), std::move(message)};
}

// The request field that carries the client id behind Event::idempotency_key().
const char* client_id_field(EventType kind) {
  switch (kind) {
    case EventType::signup:
      return "member_id";
    case EventType::purchase:
    case EventType::refund:
      return "event_id";
    case EventType::redemption:
      return "redemption_id";
    case EventType::hold:
    case EventType::hold_capture:
    case EventType::hold_void:
      return "hold_id";
    case EventType::adjustment:
      return "adjustment_id";
    case EventType::recalc_adjustment:
      return "job_id";
    case EventType::referral_reward:
    case EventType::referral_reversal:
      return "id";
    case EventType::expire_points:
    case EventType::evaluate_tier:
      return "job_id";
  }
  return "event_id";
}

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

size_t per_partition(size_t total, uint32_t partitions) {
  return partitions == 0 ? total : (total + partitions - 1) / partitions;
}

}  // namespace

Runtime::Partition::Partition(Runtime& runtime, size_t queue_capacity)
    : runtime_(runtime),
      queue_(queue_capacity),
      cache_(per_partition(runtime.options_.member_cache_members, runtime.options_.partitions),
             per_partition(runtime.options_.member_cache_bytes, runtime.options_.partitions)),
      overlay_(runtime.store_),
      thread_([this] { run(); }) {}

Runtime::Partition::~Partition() { stop(); }

Runtime::Partition::PushResult Runtime::Partition::push(Request&& request, bool internal) {
  return internal ? queue_.push_past_capacity(std::move(request))
                  : queue_.try_push(std::move(request));
}

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

bool Runtime::Partition::claim(const std::string& key, const std::string& member_id) {
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
  free = owner.empty() || owner == member_id;
  return Status::ok_status();
}

Status Runtime::Partition::prepare_signup(SignupEvent& signup, Work& work) {
  // A replayed sign-up from the event log already carries what was resolved the first time.
  if (!signup.referral_code.empty() && signup.referrer_member_id.empty()) {
    const std::string code = normalise_referral_code(signup.referral_code);
    if (!code.empty()) {
      Status status = runtime_.store_.find_identifier(IdentifierKind::referral_code, code,
                                                      signup.referrer_member_id);
      if (!status.ok()) return status;
    }
  }
  const std::pair<IdentifierKind, const std::string*> wanted[] = {
      {IdentifierKind::phone, &signup.phone}, {IdentifierKind::card, &signup.card_no}};
  for (const auto& [kind, value] : wanted) {
    if (value->empty()) continue;
    bool free = false;
    Status status = identifier_free(kind, *value, signup.member_id, free);
    if (!status.ok()) return status;
    if (!free) {
      const char* field = kind == IdentifierKind::phone ? "phone" : "card_no";
      work.result.rejection = {ErrorCode::member_exists, field,
                               std::string("another member has this ") + field};
      return Status::ok_status();
    }
    work.identifiers.push_back({kind, *value, signup.member_id});
  }
  if (!signup.assigned_referral_code.empty()) {
    work.identifiers.push_back(
        {IdentifierKind::referral_code, signup.assigned_referral_code, signup.member_id});
    return Status::ok_status();
  }
  for (uint32_t attempt = 0; attempt < kReferralCodeAttemptsMax; ++attempt) {
    std::string code = referral_code_for(signup.member_id, attempt);
    bool free = false;
    Status status = identifier_free(IdentifierKind::referral_code, code, signup.member_id, free);
    if (!status.ok()) return status;
    if (free) {
      signup.assigned_referral_code = code;
      work.identifiers.push_back({IdentifierKind::referral_code, code, signup.member_id});
      return Status::ok_status();
    }
  }
  work.result.rejection = unavailable("could not assign a unique referral code");
  return Status::ok_status();
}

Status Runtime::Partition::check_idempotency(Work& work, const std::string& member_id,
                                             bool& decided) {
  const Event& event = work.request->event;
  const std::string key = event.idempotency_key();
  const char* field = client_id_field(event.type());
  const IdempotencyRecord* previous = nullptr;
  std::optional<IdempotencyRecord> stored;
  if (auto it = batch_idempotency_.find(key); it != batch_idempotency_.end()) {
    previous = it->second;
  } else {
    // Claim before reading the store, as identifier_free does: the same id sent for two
    // members lands in two partitions, and the claim is released only after its commit.
    if (!claim("k:" + key, member_id)) {
      work.result.rejection = {ErrorCode::idempotency_conflict, field,
                               std::string("this ") + field + " is in use by another request"};
      decided = true;
      return Status::ok_status();
    }
    Status status = runtime_.store_.load_idempotency(key, stored);
    if (!status.ok()) return status;
    if (stored) previous = &*stored;
  }
  decided = true;
  if (previous != nullptr) {
    // A repeated hold capture or void lands here too: same hold_id, same answer.
    if (previous->fingerprint == work.request->fingerprint && previous->member_id == member_id) {
      work.result.replayed = true;
      work.result.answer = previous->answer;
    } else {
      work.result.rejection = {ErrorCode::idempotency_conflict, field,
                               std::string("this ") + field + " was used with a different payload"};
    }
    return Status::ok_status();
  }
  decided = false;
  return Status::ok_status();
}

Status Runtime::Partition::prepare_context(Work& work, const std::string& member_id,
                                           ApplyContext& context) {
  const Event& event = work.request->event;
  if (const auto* refund = std::get_if<RefundEvent>(&event.body)) {
    const PurchaseRecord* purchase = nullptr;
    if (Status status = overlay_.purchase(refund->original_event_id, purchase); !status.ok()) {
      return status;
    }
    // A purchase of another member is as unknown to this member as a missing one.
    if (purchase == nullptr || purchase->member_id != member_id) {
      work.result.rejection = not_found("original_event_id", "no purchase with this event id");
      return Status::ok_status();
    }
    context.original_purchase = purchase;
  } else if (const auto* recalc = std::get_if<RecalcAdjustmentEvent>(&event.body)) {
    const PurchaseRecord* purchase = nullptr;
    if (Status status = overlay_.purchase(recalc->event_id, purchase); !status.ok()) {
      return status;
    }
    if (purchase == nullptr || purchase->member_id != member_id) {
      work.result.rejection = not_found("event_id", "no purchase with this event id");
      return Status::ok_status();
    }
    context.original_purchase = purchase;
  }
  const std::string* hold_id = nullptr;
  bool hold_required = false;
  if (const auto* action = std::get_if<HoldActionEvent>(&event.body)) {
    hold_id = &action->hold_id;
    hold_required = true;
  } else if (const auto* purchase = std::get_if<PurchaseEvent>(&event.body)) {
    if (!purchase->hold_id.empty()) hold_id = &purchase->hold_id;
  }
  if (hold_id != nullptr) {
    const StoredHold* hold = nullptr;
    if (Status status = overlay_.hold(*hold_id, hold); !status.ok()) return status;
    if ((hold == nullptr && hold_required) || (hold != nullptr && hold->member_id != member_id)) {
      work.result.rejection = not_found("hold_id", "no hold with this id");
      return Status::ok_status();
    }
    if (hold != nullptr) context.stored_hold = &hold->hold;
  }
  return Status::ok_status();
}

// Decides one request: replay, refusal, or applied effects in the overlay.
Status Runtime::Partition::decide(const ProgramVersion& program, Work& work) {
  Event& event = work.request->event;
  const std::string& member_id = event.member_id();
  std::optional<MemberState>* slot = nullptr;
  Status status = load(member_id, slot);
  if (!status.ok()) return status;

  if (auto* signup = std::get_if<SignupEvent>(&event.body)) {
    if (slot->has_value()) {
      if ((*slot)->signup_fingerprint == work.request->fingerprint) {
        work.result.replayed = true;
        work.result.member = **slot;
      } else {
        work.result.rejection = {ErrorCode::member_exists, "member_id",
                                 "a member with this id exists"};
      }
      return Status::ok_status();
    }
    status = prepare_signup(*signup, work);
    if (!status.ok() || !work.result.rejection.ok()) return status;
  } else {
    bool decided = false;
    status = check_idempotency(work, member_id, decided);
    if (!status.ok() || decided) return status;
  }

  ApplyContext context{&program};
  status = prepare_context(work, member_id, context);
  if (!status.ok() || !work.result.rejection.ok()) return status;
  work.result.rejection = apply_event(context, *slot, event, work.effects);
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
  if (event.type() == EventType::signup) {
    work.result.member = member;
  } else {
    work.idempotency = IdempotencyRecord{event.idempotency_key(), work.request->fingerprint,
                                         member_id, work.effects.answer};
    batch_idempotency_[work.idempotency->key] = &*work.idempotency;
  }
  return Status::ok_status();
}

void Runtime::Partition::build_commit(const ProgramVersion& program) {
  commit_.clear();
  std::unordered_set<std::string_view> members_written;
  lots_written_.clear();
  // Purchases and holds written more than once in the batch: only the latest version.
  std::unordered_map<std::string_view, size_t> purchase_index;
  std::unordered_map<std::string_view, size_t> hold_index;
  for (Work& work : work_) {
    // A follow-up leaves the outbox with the commit that settles it, applied or not: one the
    // engine refuses would be refused again at every redelivery.
    if (const std::string* id = follow_up_id(work.request->event)) {
      commit_.outbox_deletes.push_back(*id);
    }
    if (!work.applied) continue;
    const std::string& member_id = work.request->event.member_id();
    const MemberState& member = *members_.at(member_id);
    if (members_written.insert(member.member_id).second) {
      // Σ lots − debt == available + pending + held, for every member a batch writes. (Once
      // per batch, not per event: the sum runs over all the member's open lots.)
      LOYALTY_CHECK(lots_match_balance(member));
      commit_.members.push_back(&member);
    }
    if (!work.effects.lots_written.empty()) {
      std::vector<uint64_t>& ids = lots_written_[&member];
      ids.insert(ids.end(), work.effects.lots_written.begin(), work.effects.lots_written.end());
    }
    for (const LedgerEntry& entry : work.effects.entries) {
      commit_.entries.push_back({&member.member_id, &entry});
    }
    for (const Notification& notification : work.effects.notifications) {
      commit_.notifications.push_back({&member.member_id, &notification});
    }
    if (work.idempotency) commit_.idempotency.push_back(&*work.idempotency);
    commit_.events.push_back({&work.request->event, program.number});
    for (IdentifierClaim& claim : work.identifiers) commit_.identifiers.push_back(claim);
    if (const auto& purchase = work.effects.purchase) {
      auto [it, inserted] =
          purchase_index.try_emplace(purchase->event_id, commit_.purchases.size());
      if (inserted) {
        commit_.purchases.push_back(&*purchase);
      } else {
        commit_.purchases[it->second] = &*purchase;
      }
    }
    for (const Hold& hold : work.effects.holds_written) {
      auto [it, inserted] = hold_index.try_emplace(hold.hold_id, commit_.holds.size());
      if (inserted) {
        commit_.holds.push_back({&member.member_id, &hold});
      } else {
        commit_.holds[it->second] = {&member.member_id, &hold};
      }
    }
    for (const ReferralLink& link : work.effects.referral_links) {
      commit_.referral_links.push_back(&link);
    }
    for (const Event& follow_up : work.effects.follow_ups)
      commit_.outbox_puts.push_back(&follow_up);
  }
  // Found by id (a member's lots are in lot_id order), not by a pass over all of them: a busy
  // member holds thousands of open lots and is in nearly every batch.
  for (auto& [member, lot_ids] : lots_written_) {
    std::sort(lot_ids.begin(), lot_ids.end());
    lot_ids.erase(std::unique(lot_ids.begin(), lot_ids.end()), lot_ids.end());
    for (uint64_t lot_id : lot_ids) {
      const Lot* lot = find_lot(*member, lot_id);
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
  const std::shared_ptr<const ProgramVersion> program = runtime_.programs_.active();
  work_.clear();
  work_.resize(requests.size());
  members_.clear();
  batch_idempotency_.clear();
  overlay_.clear();
  claimed_.clear();
  lots_written_.clear();

  Status status;
  for (size_t i = 0; i < requests.size() && status.ok(); ++i) {
    work_[i].request = &requests[i];
    status = decide(*program, work_[i]);
  }
  if (status.ok()) {
    build_commit(*program);
    if (!commit_.empty()) {
      const auto commit_start = std::chrono::steady_clock::now();
      status = runtime_.store_.commit(commit_);
      runtime_.metrics_.commit_seconds.record(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - commit_start).count());
    }
  }
  runtime_.metrics_.batch_events.record(static_cast<double>(requests.size()));
  if (!status.ok()) fail_batch(status);
  for (const auto& [key, owner] : claimed_) runtime_.claims_->release(key, owner);

  // Follow-ups are queued before anyone is answered: once a trigger is acknowledged, its
  // follow-ups are in their partitions' queues (and in the outbox until applied).
  if (status.ok()) {
    for (Work& work : work_) {
      if (!work.applied) continue;
      runtime_.metrics_.count_applied(work.request->event.type());
      if (runtime_.notification_sink_) {
        for (const Notification& notification : work.effects.notifications) {
          runtime_.notification_sink_(work.request->event.member_id(), notification);
        }
      }
      if (!runtime_.options_.deliver_follow_ups) continue;
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
  if (runtime_.options_.deliver_follow_ups) {
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
      if (const auto written = lots_written_.find(&*member); written != lots_written_.end()) {
        const bool emptied =
            std::any_of(written->second.begin(), written->second.end(), [&](uint64_t lot_id) {
              const Lot* lot = find_lot(*member, lot_id);
              return lot != nullptr && lot->points_remaining == 0;
            });
        if (emptied) {
          std::erase_if(member->lots, [](const Lot& lot) { return lot.points_remaining == 0; });
        }
      }
      cache_.put(std::move(*member));
    }
  }
  members_.clear();
  runtime_.finished(requests.size());
}

}  // namespace loyalty
