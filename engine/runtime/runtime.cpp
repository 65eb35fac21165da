// Partition writers and group commit. Each batch: take up to batch_events_max requests,
// apply them one by one against an overlay of the members they touch (so later events of
// the batch see earlier ones), commit all effects in one atomic write, then answer.
#include "engine/runtime/runtime.hpp"

#include <cassert>
#include <deque>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "engine/check.hpp"
#include "engine/referral_code.hpp"
#include "engine/runtime/bounded_queue.hpp"
#include "engine/runtime/claim_registry.hpp"

namespace loyalty {
namespace {

constexpr uint32_t kReferralCodeAttemptsMax = 16;

struct Request {
  Event event;
  uint64_t fingerprint = 0;
  Completion done;
};

uint64_t stable_hash(std::string_view text) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : text) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

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

}  // namespace

class Runtime::Partition {
 public:
  Partition(Runtime& runtime, size_t queue_capacity)
      : runtime_(runtime), queue_(queue_capacity), thread_([this] { run(); }) {}

  ~Partition() { stop(); }

  BoundedQueue<Request>::PushResult push(Request&& request) {
    return queue_.try_push(std::move(request));
  }

  void stop() {
    queue_.close();
    if (thread_.joinable()) thread_.join();
  }

 private:
  // Everything one batch accumulates; cleared between batches, capacity kept.
  struct Work {
    Request* request = nullptr;
    EventResult result;
    Effects effects;
    bool applied = false;  // has effects to commit
    std::optional<IdempotencyRecord> idempotency;
    std::vector<IdentifierClaim> identifiers;
  };

  void run() {
    std::vector<Request> requests;
    while (queue_.pop_batch(requests, runtime_.options_.batch_events_max)) {
      process(requests);
    }
  }

  Status load(const std::string& member_id, std::optional<MemberState>*& slot) {
    auto it = members_.find(member_id);
    if (it == members_.end()) {
      std::optional<MemberState> loaded;
      Status status = runtime_.store_.load_member(member_id, loaded);
      if (!status.ok()) return status;
      it = members_.emplace(member_id, std::move(loaded)).first;
    }
    slot = &it->second;
    return Status::ok_status();
  }

  bool claim(const std::string& key, const std::string& member_id) {
    if (!runtime_.claims_->claim(key, member_id)) return false;
    claimed_.emplace_back(key, member_id);
    return true;
  }

  // Whether `value` of `kind` is free for `member_id` (in the store, this batch and in flight).
  Status identifier_free(IdentifierKind kind, const std::string& value,
                         const std::string& member_id, bool& free) {
    std::string owner;
    Status status = runtime_.store_.find_identifier(kind, value, owner);
    if (!status.ok()) return status;
    free = (owner.empty() || owner == member_id) &&
           claim(identifier_claim_key(kind, value), member_id);
    return Status::ok_status();
  }

  Status prepare_signup(SignupEvent& signup, Work& work) {
    if (!signup.referral_code.empty()) {
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

  // Decides one request: replay, refusal, or applied effects in the overlay.
  Status decide(const ProgramVersion& program, Work& work) {
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
      const std::string key = event.idempotency_key();
      const IdempotencyRecord* previous = nullptr;
      std::optional<IdempotencyRecord> stored;
      if (auto it = batch_idempotency_.find(key); it != batch_idempotency_.end()) {
        previous = it->second;
      } else {
        status = runtime_.store_.load_idempotency(key, stored);
        if (!status.ok()) return status;
        if (stored) previous = &*stored;
      }
      if (previous != nullptr) {
        if (previous->fingerprint == work.request->fingerprint &&
            previous->member_id == member_id) {
          work.result.replayed = true;
          work.result.answer = previous->answer;
        } else {
          work.result.rejection = {ErrorCode::idempotency_conflict, "event_id",
                                   "this event_id was used with a different payload"};
        }
        return Status::ok_status();
      }
      if (!claim("k:" + key, member_id)) {
        work.result.rejection = {ErrorCode::idempotency_conflict, "event_id",
                                 "this event_id is in use by another request"};
        return Status::ok_status();
      }
    }

    const ApplyContext context{&program};
    work.result.rejection = apply_event(context, *slot, event, work.effects);
    if (!work.result.rejection.ok()) return Status::ok_status();

    const MemberState& member = **slot;
    if (!work.effects.entries.empty()) {
      LOYALTY_CHECK(work.effects.entries.back().balance_after == member.balance.total());
    }
    LOYALTY_CHECK(lots_match_balance(member));
    work.applied = true;
    work.result.answer = work.effects.answer;
    work.result.notifications = work.effects.notifications;
    if (event.type() == EventType::signup) {
      work.result.member = member;
    } else {
      work.idempotency = IdempotencyRecord{event.idempotency_key(), work.request->fingerprint,
                                           member_id, work.effects.answer};
      batch_idempotency_[work.idempotency->key] = &*work.idempotency;
    }
    return Status::ok_status();
  }

  void build_commit(const ProgramVersion& program) {
    commit_.clear();
    std::unordered_set<std::string_view> members_written;
    std::unordered_map<const MemberState*, std::unordered_set<uint64_t>> lots_written;
    for (Work& work : work_) {
      if (!work.applied) continue;
      const std::string& member_id = work.request->event.member_id();
      const MemberState& member = *members_.at(member_id);
      if (members_written.insert(member.member_id).second) commit_.members.push_back(&member);
      for (uint64_t lot_id : work.effects.lots_written) lots_written[&member].insert(lot_id);
      for (const LedgerEntry& entry : work.effects.entries) {
        commit_.entries.push_back({&member.member_id, &entry});
      }
      for (const Notification& notification : work.effects.notifications) {
        commit_.notifications.push_back({&member.member_id, &notification});
      }
      if (work.idempotency) commit_.idempotency.push_back(&*work.idempotency);
      commit_.events.push_back({&work.request->event, program.number});
      for (IdentifierClaim& claim : work.identifiers) commit_.identifiers.push_back(claim);
    }
    for (const auto& [member, lot_ids] : lots_written) {
      for (const Lot& lot : member->lots) {
        if (lot_ids.contains(lot.lot_id)) commit_.lots.push_back({&member->member_id, &lot});
      }
    }
  }

  void fail_batch(const Status& status) {
    for (Work& work : work_) {
      if (work.result.rejection.ok() && !work.result.replayed) {
        work.result = EventResult{};
        work.result.rejection = unavailable("storage is unavailable: " + status.message());
      }
    }
  }

  void process(std::vector<Request>& requests) {
    const std::shared_ptr<const ProgramVersion> program = runtime_.programs_.active();
    work_.clear();
    work_.resize(requests.size());
    members_.clear();
    batch_idempotency_.clear();
    claimed_.clear();

    Status status;
    for (size_t i = 0; i < requests.size() && status.ok(); ++i) {
      work_[i].request = &requests[i];
      status = decide(*program, work_[i]);
    }
    if (status.ok()) {
      build_commit(*program);
      if (!commit_.empty()) status = runtime_.store_.commit(commit_);
    }
    if (!status.ok()) fail_batch(status);
    for (const auto& [key, owner] : claimed_) runtime_.claims_->release(key, owner);

    for (size_t i = 0; i < requests.size(); ++i) {
      if (work_[i].request == nullptr) {  // not reached because storage failed earlier
        work_[i].result.rejection = unavailable("storage is unavailable: " + status.message());
      }
      requests[i].done(std::move(work_[i].result));
    }
  }

  Runtime& runtime_;
  BoundedQueue<Request> queue_;
  // Per-batch scratch, reused.
  std::deque<Work> work_;
  std::unordered_map<std::string, std::optional<MemberState>> members_;
  std::unordered_map<std::string, const IdempotencyRecord*> batch_idempotency_;
  std::vector<std::pair<std::string, std::string>> claimed_;
  CommitBatch commit_;
  std::thread thread_;  // last: starts after everything it uses exists
};

Runtime::Runtime(RuntimeOptions options, MemberStore& store, ProgramRegistry& programs, Clock clock)
    : options_(options),
      store_(store),
      programs_(programs),
      clock_(std::move(clock)),
      claims_(std::make_unique<ClaimTable>()) {
  assert(options_.partitions > 0 && options_.batch_events_max > 0);
  partitions_.reserve(options_.partitions);
  for (uint32_t i = 0; i < options_.partitions; ++i) {
    partitions_.push_back(std::make_unique<Partition>(*this, options_.queue_capacity));
  }
}

Runtime::~Runtime() { stop(); }

void Runtime::stop() {
  for (auto& partition : partitions_) partition->stop();
}

uint32_t Runtime::partition_count() const { return static_cast<uint32_t>(partitions_.size()); }

uint32_t Runtime::partition_of(std::string_view member_id) const {
  return static_cast<uint32_t>(stable_hash(member_id) % partitions_.size());
}

void Runtime::submit(Event event, Completion done) {
  const TimeMs now = clock_();
  EventResult refused;
  refused.rejection = validate_input(event, now);
  if (!refused.rejection.ok()) {
    done(std::move(refused));
    return;
  }
  const uint64_t request_fingerprint = fingerprint(event);
  if (auto* signup = std::get_if<SignupEvent>(&event.body)) {
    signup->request_fingerprint = request_fingerprint;
    if (!signup->joined_at) signup->joined_at = now;
  }
  Partition& partition = *partitions_[partition_of(event.member_id())];
  Request request{std::move(event), request_fingerprint, std::move(done)};
  const auto pushed = partition.push(std::move(request));
  if (pushed != BoundedQueue<Request>::PushResult::pushed) {
    refused.rejection = unavailable(pushed == BoundedQueue<Request>::PushResult::full
                                        ? "the server is busy; retry shortly"
                                        : "the server is shutting down");
    request.done(std::move(refused));
  }
}

}  // namespace loyalty
