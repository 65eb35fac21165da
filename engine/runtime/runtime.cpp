// The runtime: routing of events to partitions, delivery of follow-ups (also those left in the
// outbox by a previous run) and an orderly stop. The writers are in partition.cpp.
#include "engine/runtime/runtime.hpp"

#include <algorithm>
#include <cstdio>

#include "engine/check.hpp"
#include "engine/runtime/claim_registry.hpp"
#include "engine/runtime/intake.hpp"
#include "engine/runtime/partition.hpp"
#include "engine/runtime/stock_table.hpp"

namespace loyalty {
namespace {

uint64_t stable_hash(std::string_view text) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : text) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

Rejection unavailable(std::string message) {
  return {ErrorCode::unavailable, "", std::move(message)};
}

}  // namespace

EventResult storage_failure(const Status& status) {
  EventResult result;
  result.rejection = unavailable("storage is unavailable: " + status.message());
  result.storage = status;
  return result;
}

namespace {

// Follow-ups have no client waiting: what happened to one goes to the log, one line each.
Completion log_follow_up(std::string id) {
  return [id = std::move(id)](EventResult&& result) {
    if (result.rejection.code == ErrorCode::unavailable) {
      std::fprintf(stderr,
                   "runtime: follow-up %s not applied (%s); it stays in the outbox and is queued "
                   "again after the next commit that succeeds\n",
                   id.c_str(), result.rejection.message.c_str());
    } else if (!result.rejection.ok()) {
      std::fprintf(stderr, "runtime: follow-up %s refused (%s %s: %s); removed from the outbox\n",
                   id.c_str(), std::string(error_code_name(result.rejection.code)).c_str(),
                   result.rejection.field.c_str(), result.rejection.message.c_str());
    } else if (result.replayed) {
      std::fprintf(stderr, "runtime: follow-up %s was already applied; removed from the outbox\n",
                   id.c_str());
    }
  };
}

}  // namespace

Runtime::Runtime(RuntimeOptions options, MemberStore& store, ProgramRegistry& programs, Clock clock,
                 NotificationSink sink)
    : options_(options),
      notification_sink_(std::move(sink)),
      store_(store),
      programs_(programs),
      clock_(std::move(clock)),
      claims_(std::make_unique<ClaimTable>()) {
  LOYALTY_CHECK(options_.partitions > 0 && options_.batch_events_max > 0);
  // Before any writer runs: a count read while writers commit could miss or repeat a change.
  std::map<std::string, int64_t, std::less<>> stock_out;
  stock_status_ = store_.load_stock_counts(stock_out);
  if (!stock_status_.ok()) {
    std::fprintf(stderr,
                 "runtime: cannot read the rewards' stock counts (%s); redemptions of "
                 "rewards with stock are refused until a restart reads them\n",
                 stock_status_.message().c_str());
    stock_out.clear();
  }
  stock_ = std::make_unique<StockTable>(std::move(stock_out));
  CouponsChange coupons;
  if (Status status = store_.load_coupons_total(coupons); status.ok()) {
    metrics_.add_coupons(coupons);
  } else {
    std::fprintf(stderr,
                 "runtime: cannot read the coupons' totals (%s); the metrics count "
                 "from 0\n",
                 status.message().c_str());
  }
  partitions_.reserve(options_.partitions);
  for (uint32_t i = 0; i < options_.partitions; ++i) {
    partitions_.push_back(std::make_unique<Partition>(*this, i, options_.queue_capacity));
  }
  LOYALTY_CHECK(!options_.log_driven ||
                (options_.follow_up_sink && options_.publish && options_.give_back_sink &&
                 options_.claim_release_sink && options_.protect_claim_key));
  // Units of stock to give back that were not yet put in their home partitions' logs.
  if (options_.log_driven) {
    std::vector<StockUnit> give_backs;
    if (Status status = store_.load_give_backs(give_backs); !status.ok()) {
      std::fprintf(stderr,
                   "runtime: cannot read the units of stock to give back (%s); they are given "
                   "back after the next start\n",
                   status.message().c_str());
    }
    for (const StockUnit& unit : give_backs) options_.give_back_sink(unit);
    // And changed phones and cards not yet given up.
    std::vector<ClaimRelease> releases;
    if (Status status = store_.load_claim_releases(releases); !status.ok()) {
      std::fprintf(stderr,
                   "runtime: cannot read the claims to give up (%s); they are given up after the "
                   "next start\n",
                   status.message().c_str());
    }
    for (const ClaimRelease& release : releases) options_.claim_release_sink(release);
  }
  // Follow-ups whose trigger committed but which were not applied before the last stop or
  // crash. One already applied is answered from its idempotency record and not applied again.
  if (!options_.deliver_follow_ups) return;
  std::vector<Event> pending;
  if (Status status = store_.load_outbox(pending); !status.ok()) {
    std::fprintf(stderr,
                 "runtime: cannot read the outbox (%s); its follow-ups wait for the next "
                 "start\n",
                 status.message().c_str());
    return;
  }
  // A referral's reward before its reversal (their ids sort the other way round): a reversal
  // applied first finds nothing to take back, and the reward after it would stay.
  std::stable_partition(pending.begin(), pending.end(),
                        [](const Event& e) { return e.type() == EventType::referral_reward; });
  for (Event& follow_up : pending) {
    if (options_.log_driven) {
      options_.follow_up_sink(follow_up);
    } else {
      deliver(std::move(follow_up));
    }
  }
}

Runtime::~Runtime() { stop(); }

void Runtime::stop() {
  accepting_.store(false);
  {
    std::unique_lock lock(idle_mutex_);
    idle_.wait(lock, [this] { return in_flight_.load() == 0; });
  }
  for (auto& partition : partitions_) partition->stop();
}

std::optional<int64_t> Runtime::stock_left(const Reward& reward) const {
  if (options_.log_driven || !stock_status_.ok()) return std::nullopt;
  return stock_->left(reward);
}

uint32_t Runtime::partition_count() const { return static_cast<uint32_t>(partitions_.size()); }

size_t Runtime::queue_depth(uint32_t partition) const {
  return partition < partitions_.size() ? partitions_[partition]->queue_depth() : 0;
}

uint32_t member_partition(std::string_view member_id, uint32_t partitions) {
  uint32_t hash = 2166136261u;  // FNV-1a-32's offset basis; its prime below
  for (const char c : member_id) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 16777619u;
  }
  return hash % partitions;
}

uint32_t Runtime::partition_of(std::string_view member_id) const {
  if (options_.log_driven) {
    return member_partition(member_id, static_cast<uint32_t>(partitions_.size()));
  }
  return static_cast<uint32_t>(stable_hash(member_id) % partitions_.size());
}

// A message of `partition`'s log (`request` has all but its place there), queued past the
// capacity: the applier bounds what it has outstanding. When the runtime is stopping it is
// answered as not applied at once.
void Runtime::queue_logged(uint32_t partition, uint64_t sequence, std::string msg_id,
                           Completion done, PartitionRequest&& request) {
  LOYALTY_CHECK(options_.log_driven && partition < partitions_.size() && sequence > 0);
  in_flight_.fetch_add(1);
  request.done = std::move(done);
  request.log_sequence = sequence;
  request.log_msg_id = std::move(msg_id);
  if (partitions_[partition]->push(std::move(request), /*internal=*/true) !=
      Partition::PushResult::pushed) {
    // Not applied: a storage-kind failure, so the applier does not count it as committed.
    request.done(storage_failure(Status::error(Status::Code::io_error, "the runtime is stopping")));
    finished(1);
  }
}

void Runtime::apply_logged(uint32_t partition, Event event, uint64_t sequence, Completion done,
                           std::string msg_id) {
  // The log's publisher put it in the member's partition; anything else is a bug there.
  LOYALTY_CHECK(partition_of(event.member_id()) == partition);
  PartitionRequest request;
  // The client's fingerprint: the stamped server time is left out of it, except a sign-up's
  // joined_at, which is why accept() put the fingerprint on the sign-up itself.
  const auto* signup = std::get_if<SignupEvent>(&event.body);
  request.fingerprint = signup != nullptr ? signup->request_fingerprint : fingerprint(event);
  request.event = std::move(event);
  queue_logged(partition, sequence, std::move(msg_id), std::move(done), std::move(request));
}

void Runtime::apply_logged_claim(uint32_t partition, ClaimAsk claim, uint64_t sequence,
                                 Completion done, std::string msg_id) {
  LOYALTY_CHECK(!claim.key.empty());
  PartitionRequest request;
  request.claim = std::move(claim);
  queue_logged(partition, sequence, std::move(msg_id), std::move(done), std::move(request));
}

void Runtime::apply_logged_stock(uint32_t partition, StockAsk ask, uint64_t sequence,
                                 Completion done, std::string msg_id) {
  LOYALTY_CHECK(!ask.unit.reward_id.empty());
  PartitionRequest request;
  request.stock = std::move(ask);
  queue_logged(partition, sequence, std::move(msg_id), std::move(done), std::move(request));
}

void Runtime::apply_logged_program(uint32_t partition, PartitionProgram program, uint64_t sequence,
                                   Completion done, std::string msg_id) {
  LOYALTY_CHECK(program.activation > 0 && program.version != nullptr);
  PartitionRequest request;
  request.activation = std::move(program);
  queue_logged(partition, sequence, std::move(msg_id), std::move(done), std::move(request));
}

void Runtime::resume_log(uint32_t partition) {
  LOYALTY_CHECK(options_.log_driven && partition < partitions_.size());
  partitions_[partition]->resume_log();
}

void Runtime::finished(size_t requests) {
  if (in_flight_.fetch_sub(requests) == requests) {
    std::lock_guard lock(idle_mutex_);
    idle_.notify_all();
  }
}

void Runtime::deliver(Event follow_up) {
  const uint64_t request_fingerprint = fingerprint(follow_up);
  // The engine's only follow-ups are referral rewards and reversals.
  Completion done = log_follow_up(std::get<ReferralFollowUp>(follow_up.body).id);
  Partition& partition = *partitions_[partition_of(follow_up.member_id())];
  in_flight_.fetch_add(1);
  Partition::Request request;
  request.event = std::move(follow_up);
  request.fingerprint = request_fingerprint;
  request.done = std::move(done);
  if (partition.push(std::move(request), /*internal=*/true) != Partition::PushResult::pushed) {
    EventResult refused;
    refused.rejection = unavailable("the runtime is stopping");
    request.done(std::move(refused));
    finished(1);
  }
}

EventResult Runtime::accept(Event& event, uint64_t& request_fingerprint) {
  EventResult refused;
  const TimeMs now = clock_();
  refused.rejection = validate_input(event, now);
  if (!refused.rejection.ok()) return refused;
  request_fingerprint = fingerprint(event);
  if (auto* signup = std::get_if<SignupEvent>(&event.body)) {
    signup->request_fingerprint = request_fingerprint;
    if (!signup->joined_at) signup->joined_at = now;
  }
  stamp_server_time(event, now);
  draw_server_ids(event);
  // In cluster mode this store may not hold the purchase or hold: the node finds the member
  // through the key's claim instead (cluster/node.cpp).
  if (options_.log_driven) return refused;
  Status status;
  refused.rejection = resolve_member(store_, event, status);
  if (!status.ok()) refused = storage_failure(status);
  return refused;
}

void Runtime::submit(Event event, Completion done) {
  EventResult refused;
  if (!accepting_.load()) {
    refused.rejection = unavailable("the server is shutting down");
    done(std::move(refused));
    return;
  }
  uint64_t request_fingerprint = 0;
  refused = accept(event, request_fingerprint);
  if (!refused.rejection.ok()) {
    done(std::move(refused));
    return;
  }
  if (options_.log_driven) {
    options_.publish(std::move(event), request_fingerprint, std::move(done));
    return;
  }

  Partition& partition = *partitions_[partition_of(event.member_id())];
  in_flight_.fetch_add(1);
  Partition::Request request;
  request.event = std::move(event);
  request.fingerprint = request_fingerprint;
  request.done = std::move(done);
  const auto pushed = partition.push(std::move(request), /*internal=*/false);
  if (pushed != Partition::PushResult::pushed) {
    refused.rejection =
        unavailable(pushed == Partition::PushResult::full ? "the server is busy; retry shortly"
                                                          : "the server is shutting down");
    request.done(std::move(refused));
    finished(1);
  }
}

}  // namespace loyalty
