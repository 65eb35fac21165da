#include "cluster/node.hpp"

#include <cstdio>
#include <future>

#include "cluster/event_claims.hpp"
#include "cluster/feed_codec.hpp"
#include "cluster/identifier_keys.hpp"
#include "cluster/log_codec.hpp"
#include "cluster/log_erasures.hpp"
#include "cluster/result_codec.hpp"

namespace loyalty::cluster {
namespace {

using SteadyClock = std::chrono::steady_clock;

EventResult unavailable(std::string message) {
  EventResult result;
  result.rejection = {ErrorCode::unavailable, "", std::move(message)};
  return result;
}

std::string hex(uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

// The client's fingerprint of an accepted event (Runtime::accept put a sign-up's on it).
uint64_t request_fingerprint_of(const Event& event) {
  if (const auto* signup = std::get_if<SignupEvent>(&event.body)) {
    return signup->request_fingerprint;
  }
  return fingerprint(event);
}

}  // namespace

ClusterNode::ClusterNode(ClusterConfig config, std::string url, RocksStore& store)
    : config_(std::move(config)),
      url_(std::move(url)),
      store_(store),
      // An etcd call may take a fifth of the lease at most: the lease must outlive slow calls.
      etcd_(config_.etcd_endpoints, std::chrono::seconds(config_.lease_seconds) / 5),
      run_id_(
          config_.node_id + "-" +
          hex(static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()))) {
}

Status ClusterNode::open(const ClusterConfig& config, std::string url, RocksStore& store,
                         std::unique_ptr<ClusterNode>& out) {
  std::unique_ptr<ClusterNode> node(new ClusterNode(config, std::move(url), store));
  LogOptions options;
  options.urls = config.nats_urls;
  options.stream = config.name;
  options.subjects = config.name + ".p.>";
  options.replicas = config.stream_replicas;
  options.client_name = config.node_id;
  // The first nodes may come up while JetStream's servers still find each other.
  Status opened;
  for (int attempt = 0; attempt < 60; ++attempt) {
    opened = JetStreamLog::open(options, node->log_);
    if (opened.ok() || opened.code() == Status::Code::invalid_argument) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  if (!opened.ok()) return opened;
  // Before anything is claimed: phones and cards are claimed under the cluster's keyed digest.
  Status keys;
  for (int attempt = 0; attempt < 60; ++attempt) {
    keys =
        IdentifierKeys::load(node->etcd_, "/" + config.name + "/", store, node->identifier_keys_);
    if (keys.ok() || keys.code() == Status::Code::corruption) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  if (!keys.ok()) return keys;
  ClusterNode* self = node.get();
  node->writers_ = std::make_unique<LogWriters>(
      *node->log_,
      [name = config.name](uint32_t partition) { return partition_subject(name, partition); },
      [self](uint32_t partition) -> std::optional<std::string> {
        const std::lock_guard lock(self->appliers_mutex_);
        const auto applier = self->appliers_.find(partition);
        if (applier == self->appliers_.end()) return std::nullopt;
        return applier->second->last_applied_id();
      });
  // Every other message goes to its partition's owner, which appends it to the chain.
  const LogAppend append = [self](uint32_t partition, LogPayload payload) {
    return self->append_and_wait(partition, std::move(payload));
  };
  node->publisher_ = std::make_unique<FollowUpPublisher>(config.partitions, append, store);
  node->programs_ = std::make_unique<ProgramActivations>(node->config_, node->etcd_, append, store);
  out = std::move(node);
  return Status::ok_status();
}

ClusterNode::~ClusterNode() {
  stop();
  publisher_.reset();  // what is still queued stays in the outbox: published at the next start
  programs_.reset();
  writers_.reset();
  // Before the other members go: an acknowledgement handler may still run while it closes.
  log_.reset();
}

Status ClusterNode::start(Runtime& runtime, ProgramRegistry& programs) {
  runtime_ = &runtime;
  registry_ = &programs;
  // Owners and standbys decide alike only with the same program: a node seeded with another
  // one is refused; later versions reach every node through the logs.
  if (Status s = programs_->join(programs); !s.ok()) return s;
  inbox_prefix_ = config_.name + ".inbox." + config_.node_id + ".";
  if (Status s = log_->subscribe(
          inbox_prefix_ + "*",
          [this](const std::string& subject, std::string_view data, const std::string&) {
            std::vector<Waiter> waiting = take_waiters(subject);
            if (waiting.empty()) return;  // answered 503 already: its deadline passed
            for (Waiter& waiter : waiting) {
              if (waiter.read_done) {
                // Empty: NATS's "no responders", or an owner that no longer serves the reads.
                waiter.read_done(data.empty() ? std::nullopt
                                              : std::optional<std::string>(std::string(data)));
                continue;
              }
              EventResult result;
              if (data.empty()) {
                // NATS's "no responders": nobody serves the partition this moment (it moves).
                result = unavailable("the partition has no owner this moment; retry shortly");
              } else if (!decode_result(data, result).ok()) {
                result = unavailable("the partition's owner sent an answer this node cannot read");
              }
              waiter.done(std::move(result));
            }
          },
          inbox_);
      !s.ok()) {
    return s;
  }
  if (Status s = log_->subscribe(
          config_.name + ".node." + config_.node_id + ".read",
          [this](const std::string&, std::string_view data, const std::string& reply_to) {
            if (reply_to.empty()) return;
            ReadDone reply = [this, reply_to](std::optional<std::string> response) {
              if (Status sent = log_->send(reply_to, "", response.value_or("")); !sent.ok()) {
                std::fprintf(stderr, "cluster: answer to %s: %s\n", reply_to.c_str(),
                             sent.message().c_str());
              }
            };
            if (!read_server_) {
              reply(std::nullopt);
              return;
            }
            read_server_(data, std::move(reply));
          },
          node_reads_);
      !s.ok()) {
    return s;
  }
  if (feed_) {
    if (Status s = log_->subscribe(
            config_.name + ".feed.>",
            [this](const std::string&, std::string_view data, const std::string&) {
              std::string member_id;
              Notification notification;
              if (decode_feed(data, member_id, notification).ok()) feed_(member_id, notification);
            },
            feed_subscription_);
        !s.ok()) {
      return s;
    }
  }
  Ownership::Options options;
  options.cluster = config_;
  options.url = url_;
  if (Status s = Ownership::start(
          etcd_, options,
          [this](uint32_t partition, Role role, int64_t) { on_role(partition, role); }, ownership_);
      !s.ok()) {
    return s;
  }
  // After ownership_ is set: its thread asks which partitions this node owns.
  LogErasures::Options erasure_options;
  erasure_options.cluster_name = config_.name;
  erasure_options.partitions = config_.partitions;
  auto erasures = std::make_unique<LogErasures>(
      erasure_options, *log_, store_, *identifier_keys_,
      [this](uint32_t partition, LogPayload payload) {
        return append_and_wait(partition, std::move(payload));
      },
      [this](uint32_t partition) {
        return ownership_ && ownership_->role(partition) == Role::owner;
      });
  {
    const std::lock_guard lock(erasures_mutex_);
    log_erasures_ = std::move(erasures);
  }
  housekeeper_ = std::thread([this] { housekeeping(); });
  return Status::ok_status();
}

void ClusterNode::stop() {
  {
    const std::lock_guard lock(stop_mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  stop_wake_.notify_all();
  std::unique_ptr<LogErasures> erasures;
  {
    const std::lock_guard lock(erasures_mutex_);
    erasures.swap(log_erasures_);
  }
  erasures.reset();  // a running one finishes (it needs the node); the rest stay marked
  if (housekeeper_.joinable()) housekeeper_.join();
  // No more forwarded events or answers (their callbacks read ownership_), then the lease
  // goes (the partitions move at once; on_role does nothing any more), then the appliers.
  std::map<uint32_t, std::vector<std::unique_ptr<JetStreamLog::Subscription>>> serving;
  {
    const std::lock_guard lock(appliers_mutex_);
    serving.swap(serving_);
  }
  serving.clear();
  inbox_.reset();
  node_reads_.reset();
  feed_subscription_.reset();
  if (ownership_) ownership_->leave();  // the object stays: submit() may still ask it (none)
  std::map<uint32_t, std::unique_ptr<PartitionApplier>> appliers;
  {
    const std::lock_guard lock(appliers_mutex_);
    serving.swap(serving_);
    appliers.swap(appliers_);
  }
  serving.clear();
  appliers.clear();
  {
    const std::lock_guard lock(appliers_mutex_);
    gone_appliers_.clear();
    gone_serving_.clear();
  }
  std::multimap<std::string, Waiter> waiting;
  {
    const std::lock_guard lock(waiters_mutex_);
    waiting.swap(waiters_);
    closed_ = true;
  }
  for (auto& [id, waiter] : waiting) give_up(waiter, "this node is leaving the cluster");
}

void ClusterNode::on_role(uint32_t partition, Role role) {
  {
    const std::lock_guard lock(stop_mutex_);
    if (stopping_) return;
  }
  const std::lock_guard reaping(reaping_mutex_);
  // Only the owner writes a partition's log; a new owner learns its end first (LogWriters).
  if (role != Role::owner) writers_->forget(partition);
  std::unique_ptr<PartitionApplier> gone_applier;
  std::vector<std::unique_ptr<JetStreamLog::Subscription>> gone_serving;
  std::unique_ptr<JetStreamLog::Subscription> serving;
  std::unique_ptr<JetStreamLog::Subscription> reading;
  if (role == Role::owner) {
    Status s = log_->subscribe(
        config_.name + ".submit." + std::to_string(partition),
        [this, partition](const std::string&, std::string_view data, const std::string& reply) {
          serve_forwarded(partition, data, reply);
        },
        serving);
    if (s.ok()) {
      s = log_->subscribe(
          config_.name + ".read." + std::to_string(partition),
          [this, partition](const std::string&, std::string_view data, const std::string& reply) {
            serve_read(partition, data, reply);
          },
          reading);
    }
    if (!s.ok()) std::fprintf(stderr, "cluster: %s\n", s.message().c_str());
  }
  {
    const std::lock_guard lock(appliers_mutex_);
    if (role == Role::none) {
      if (auto it = appliers_.find(partition); it != appliers_.end()) {
        gone_applier = std::move(it->second);
        appliers_.erase(it);
      }
    } else if (appliers_.count(partition) == 0) {
      // One applier per partition, ever: one let go a moment ago must be gone before another
      // starts (two would feed the runtime the same messages).
      for (auto it = gone_appliers_.begin(); it != gone_appliers_.end();) {
        if ((*it)->partition() == partition) {
          it->reset();
          it = gone_appliers_.erase(it);
        } else {
          ++it;
        }
      }
      appliers_[partition] = std::make_unique<PartitionApplier>(
          PartitionApplier::Options{.cluster_name = config_.name, .partition = partition}, *log_,
          *runtime_, store_,
          [this](const LogMessage& message, EventResult&& result) {
            on_applied(message, std::move(result));
          },
          [this, partition](const ProgramActivation& activation, PartitionProgram& out) {
            return programs_->prepare(partition, activation, out);
          });
    }
    if (auto it = serving_.find(partition); it != serving_.end()) {
      gone_serving = std::move(it->second);
      serving_.erase(it);
    }
    if (serving) serving_[partition].push_back(std::move(serving));
    if (reading) serving_[partition].push_back(std::move(reading));
    // Reads are served once the applier has applied all the log holds now.
    if (role == Role::owner) appliers_.at(partition)->find_log_end();
  }
  // The housekeeper destroys them: they wait for their threads and callbacks.
  const std::lock_guard lock(appliers_mutex_);
  for (auto& subscription : gone_serving) gone_serving_.push_back(std::move(subscription));
  if (gone_applier) gone_appliers_.push_back(std::move(gone_applier));
}

void ClusterNode::erase_from_log(std::string member_id, LogErasures::Done done) {
  {
    const std::lock_guard lock(erasures_mutex_);
    if (log_erasures_) {
      log_erasures_->submit(std::move(member_id), std::move(done));
      return;
    }
  }
  done(Status::error(Status::Code::busy, "the node is not running; ended later"), 0);
}

void ClusterNode::on_applied(const LogMessage& message, EventResult&& result) {
  // An erasure, applied here the first time: this node's folder is purged of the member too.
  if (erased_ && result.storage.ok() && result.rejection.ok() && !result.replayed &&
      message.msg_id.starts_with("me:")) {
    LogPayload payload;
    if (decode_log_payload(message.data, payload).ok()) {
      if (const Event* event = std::get_if<Event>(&payload);
          event != nullptr && event->type() == EventType::member_erase) {
        erased_(event->member_id());
      }
    }
  }
  std::vector<Waiter> waiting = take_waiters(message.msg_id);
  for (size_t i = 0; i < waiting.size(); ++i) {
    waiting[i].done(i + 1 == waiting.size() ? std::move(result) : EventResult(result));
  }
}

void ClusterNode::submit(Event&& event, uint64_t request_fingerprint, Completion&& done) {
  // What the event takes cluster-wide is settled in the keys' home partitions first.
  settle_claims(
      std::move(event), request_fingerprint,
      [this](LogPayload ask, Completion claimed) {
        if (auto* claim = std::get_if<ClaimAsk>(&ask)) {
          claim->key = identifier_keys_->protect(claim->key);
        }
        const uint32_t home = *payload_partition(ask, config_.partitions);
        metrics_.claims.fetch_add(1);
        route(home, std::move(ask), std::move(claimed));
      },
      [this](const std::string& reward_id) {
        const Reward* reward = registry_->active()->program.reward(reward_id);
        return reward != nullptr && reward->stock.has_value();
      },
      [this](Event&& settled, uint64_t, Completion&& answered) {
        const uint32_t partition = member_partition(settled.member_id(), config_.partitions);
        route(partition, std::move(settled),
              [this, answered = std::move(answered)](EventResult&& result) mutable {
                give_up_then_answer(std::move(result), std::move(answered));
              });
      },
      std::move(done));
}

// A change's old phone and card are free once it is durable (api.md): the change's appliers
// send their releases from the outbox, and this node sends the same ones (the same message ids:
// JetStream keeps one, or the copy is applied as a no-op) and answers once each was applied in
// its home partition. A release that cannot be sent now does not hold the answer: the change is
// committed, and the outbox sends it.
void ClusterNode::give_up_then_answer(EventResult&& result, Completion&& answered) {
  if (result.claim_releases.empty()) {
    answered(std::move(result));
    return;
  }
  struct Waiting {
    std::mutex mutex;
    size_t left = 0;
    EventResult result;
    Completion answered;
  };
  auto waiting = std::make_shared<Waiting>();
  std::vector<ClaimRelease> releases = std::move(result.claim_releases);
  result.claim_releases.clear();
  waiting->left = releases.size();
  waiting->result = std::move(result);
  waiting->answered = std::move(answered);
  for (ClaimRelease& release : releases) {
    LogPayload ask = ClaimAsk{std::move(release.key), std::move(release.member_id),
                              /*release=*/true, release.grant, ""};
    const uint32_t home = *payload_partition(ask, config_.partitions);
    route(home, std::move(ask), [waiting](EventResult&&) {
      Completion answer;
      EventResult change;
      {
        const std::lock_guard lock(waiting->mutex);
        if (--waiting->left != 0) return;
        answer = std::move(waiting->answered);
        change = std::move(waiting->result);
      }
      answer(std::move(change));
    });
  }
}

std::string ClusterNode::message_id(const LogPayload& payload, uint32_t partition) {
  if (const auto* activation = std::get_if<ProgramActivation>(&payload)) {
    // Per partition: JetStream's window of ids is the stream's, not a subject's.
    return "program-" + std::to_string(activation->activation) + "-" + std::to_string(partition);
  }
  if (const auto* event = std::get_if<Event>(&payload)) {
    // A retry of the same request has the same id (a copy JetStream drops); the same client
    // id with another payload has another, is logged, and is refused by the engine.
    return event->idempotency_key() + "#" +
           hex(identifier_keys_->protect(request_fingerprint_of(*event)));
  }
  if (const auto* stock = std::get_if<StockAsk>(&payload)) {
    // A code's unit is taken and given back once each: a copy of either changes nothing.
    if (stock->move == StockMove::take) return "st:" + stock->unit.code;
    if (stock->move == StockMove::give_back) return "sg:" + stock->unit.code;
    return "s?" + run_id_ + "-" + std::to_string(next_request_.fetch_add(1));
  }
  const ClaimAsk& claim = std::get<ClaimAsk>(payload);
  // A counted grant's id names its request and a release its grant: two changes' claims of one
  // key (two releases of it) are two grants (releases), never a copy JetStream drops, or one
  // answer shared by both (ClaimAsk::request).
  if (claim.release) {
    // The grant before the key: a member id may hold '#', an id's first part cannot.
    if (claim.grant != 0) {
      return "cr" + std::to_string(claim.grant) + ":" + claim.key + "#" + claim.member_id;
    }
    return "cr:" + claim.key + "#" + claim.member_id;
  }
  if (!claim.member_id.empty()) {
    std::string id = "c:" + claim.key + "#" + claim.member_id;
    if (!claim.request.empty()) id += "#" + claim.request;
    return id;
  }
  // Only asking whose the key is: read at this point of the log, never a copy of another.
  return "c?" + run_id_ + "-" + std::to_string(next_request_.fetch_add(1));
}

void ClusterNode::look_up(const std::string& key, Completion done) {
  metrics_.claims.fetch_add(1);
  std::string protected_key = identifier_keys_->protect(key);
  const uint32_t home = member_partition(protected_key, config_.partitions);
  route(home, ClaimAsk{std::move(protected_key), ""}, std::move(done));
}

void ClusterNode::count_stock(const std::string& reward_id, Completion done) {
  metrics_.claims.fetch_add(1);
  LogPayload ask = StockAsk{StockMove::count, StockUnit{reward_id, ""}};
  const uint32_t home = *payload_partition(ask, config_.partitions);
  route(home, std::move(ask), std::move(done));
}

void ClusterNode::route(uint32_t partition, LogPayload&& payload, Completion&& done) {
  if (ownership_ && ownership_->role(partition) == Role::owner) {
    publish_owned(partition, message_id(payload, partition), encode_log_payload(payload),
                  std::move(done));
  } else {
    forward(partition, encode_log_payload(payload), std::move(done));
  }
}

void ClusterNode::publish_owned(uint32_t partition, std::string id, const std::string& payload,
                                Completion&& done) {
  const uint64_t token = add_waiter(id, std::move(done));
  if (token == 0) return;
  publish_attempt(partition, std::move(id), token, std::make_shared<const std::string>(payload), 0);
}

// Publishes without holding the caller's thread (an HTTP I/O thread, a NATS callback): the
// request is answered by its application (on_applied), or here when the log refused it.
void ClusterNode::publish_attempt(uint32_t partition, std::string id, uint64_t token,
                                  std::shared_ptr<const std::string> payload, int copies) {
  const auto started = SteadyClock::now();
  writers_->append(
      partition, id, payload,
      [this, partition, id, token, payload, copies, started](Status status, uint64_t sequence,
                                                             bool duplicate) {
        metrics_.publish_seconds.record(
            std::chrono::duration<double>(SteadyClock::now() - started).count());
        if (!status.ok()) {
          std::fprintf(stderr, "cluster: %s\n", status.message().c_str());
          if (std::optional<Completion> mine = take_waiter(id, token)) {
            (*mine)(unavailable("the partition's log is unavailable; retry shortly"));
          }
          return;
        }
        metrics_.published.fetch_add(1);
        // Its first copy was applied before this request waited for it: put in a copy of its
        // own, which the engine answers as a replay (a claim: as its owner again). A copy's
        // id is unique to this run, so JetStream keeps it; were it dropped as well, again.
        if (!duplicate || applied_through(partition) < sequence) return;
        std::optional<Completion> mine = take_waiter(id, token);
        if (!mine) return;  // answered meanwhile by the first copy's application
        if (copies == 3) {
          (*mine)(unavailable("the partition's log keeps dropping this request; retry shortly"));
          return;
        }
        std::string copy_id = id.substr(0, id.find("#copy-")) + "#copy-" + run_id_ + "-" +
                              std::to_string(next_request_.fetch_add(1));
        const uint64_t copy_token = add_waiter(copy_id, std::move(*mine));
        if (copy_token == 0) return;
        publish_attempt(partition, std::move(copy_id), copy_token, payload, copies + 1);
      });
}

Status ClusterNode::append_and_wait(uint32_t partition, LogPayload payload) {
  // The answer comes from the owner's application, or 503 from the housekeeper at the
  // waiter's deadline; this wait is bounded anyway, as the housekeeper itself may be the caller.
  auto answered = std::make_shared<std::promise<EventResult>>();
  std::future<EventResult> answer = answered->get_future();
  route(partition, std::move(payload),
        [answered](EventResult&& result) { answered->set_value(std::move(result)); });
  if (answer.wait_for(std::chrono::seconds(config_.lease_seconds + 5)) !=
      std::future_status::ready) {
    return Status::error(Status::Code::busy, "partition " + std::to_string(partition) +
                                                 ": no answer from its owner in time");
  }
  const EventResult result = answer.get();
  if (!result.storage.ok()) return result.storage;
  if (result.rejection.code == ErrorCode::unavailable) {
    return Status::error(Status::Code::busy, "partition " + std::to_string(partition) + ": " +
                                                 result.rejection.message);
  }
  return Status::ok_status();
}

void ClusterNode::forward(uint32_t partition, const std::string& payload, Completion&& done) {
  const ClusterView view = ownership_ ? ownership_->view() : ClusterView{};
  const std::string owner =
      partition < view.partitions.size() ? view.partitions[partition].owner : std::string();
  if (owner.empty()) {
    done(unavailable("the partition has no owner this moment (it moves); retry shortly"));
    return;
  }
  const std::string inbox = inbox_prefix_ + std::to_string(next_request_.fetch_add(1));
  if (add_waiter(inbox, std::move(done), partition, owner) == 0) return;
  const Status status =
      log_->send(config_.name + ".submit." + std::to_string(partition), inbox, payload);
  if (!status.ok()) {
    for (Waiter& waiter : take_waiters(inbox)) {
      give_up(waiter, "the cluster's messaging is unavailable; retry shortly");
    }
    return;
  }
  metrics_.forwarded.fetch_add(1);
}

void ClusterNode::serve_forwarded(uint32_t partition, std::string_view data,
                                  const std::string& reply_to) {
  if (reply_to.empty()) return;
  const auto answer = [this, reply_to](EventResult&& result) {
    if (Status s = log_->send(reply_to, "", encode_result(result)); !s.ok()) {
      std::fprintf(stderr, "cluster: answer to %s: %s\n", reply_to.c_str(), s.message().c_str());
    }
  };
  LogPayload payload;
  if (!decode_log_payload(data, payload).ok()) {
    answer(unavailable("a forwarded request could not be read"));
    return;
  }
  // The partition it belongs to: its member's, a claim key's or a reward's home, or (an
  // activation) each.
  const std::optional<uint32_t> home = payload_partition(payload, config_.partitions);
  const bool belongs = !home || *home == partition;
  if (!ownership_ || ownership_->role(partition) != Role::owner || !belongs) {
    answer(unavailable("this node does not own the partition now; retry shortly"));
    return;
  }
  publish_owned(partition, message_id(payload, partition), std::string(data), answer);
}

bool ClusterNode::serves_reads(uint32_t partition) const {
  if (!ownership_ || ownership_->role(partition) != Role::owner) return false;
  const std::lock_guard lock(appliers_mutex_);
  const auto applier = appliers_.find(partition);
  return applier != appliers_.end() && applier->second->applied_log_end();
}

void ClusterNode::forward_read(uint32_t partition, std::string request, ReadDone done,
                               std::chrono::seconds longer) {
  const ClusterView view = ownership_ ? ownership_->view() : ClusterView{};
  const std::string owner =
      partition < view.partitions.size() ? view.partitions[partition].owner : std::string();
  if (owner.empty()) {
    done(std::nullopt);
    return;
  }
  const std::string inbox = inbox_prefix_ + std::to_string(next_request_.fetch_add(1));
  Waiter waiter;
  waiter.read_done = std::move(done);
  waiter.partition = partition;
  waiter.owner = owner;
  if (add_waiter(inbox, std::move(waiter), longer) == 0) return;
  const Status status =
      log_->send(config_.name + ".read." + std::to_string(partition), inbox, request);
  if (!status.ok()) {
    for (Waiter& failed : take_waiters(inbox)) give_up(failed, status.message());
    return;
  }
  metrics_.reads_forwarded.fetch_add(1);
}

void ClusterNode::ask_node(const std::string& node_id, std::string request, ReadDone done) {
  const std::string inbox = inbox_prefix_ + std::to_string(next_request_.fetch_add(1));
  Waiter waiter;
  waiter.read_done = std::move(done);
  if (add_waiter(inbox, std::move(waiter)) == 0) return;
  const Status status = log_->send(config_.name + ".node." + node_id + ".read", inbox, request);
  if (!status.ok()) {
    for (Waiter& failed : take_waiters(inbox)) give_up(failed, status.message());
    return;
  }
  metrics_.reads_forwarded.fetch_add(1);
}

void ClusterNode::serve_read(uint32_t partition, std::string_view request,
                             const std::string& reply_to) {
  if (reply_to.empty()) return;
  ReadDone reply = [this, reply_to](std::optional<std::string> response) {
    // An empty answer is the asking node's 503, as NATS's "no responders" is.
    if (Status s = log_->send(reply_to, "", response.value_or("")); !s.ok()) {
      std::fprintf(stderr, "cluster: answer to %s: %s\n", reply_to.c_str(), s.message().c_str());
    }
  };
  // Not (yet) the owner that has applied everything acknowledged: the asking node answers 503.
  if (!read_server_ || !serves_reads(partition)) {
    reply(std::nullopt);
    return;
  }
  read_server_(request, std::move(reply));
}

void ClusterNode::publish_notification(const std::string& member_id,
                                       const Notification& notification) {
  const uint32_t partition = member_partition(member_id, config_.partitions);
  if (!ownership_ || ownership_->role(partition) != Role::owner) return;  // the owner tells
  if (Status s = log_->send(config_.name + ".feed." + std::to_string(partition), "",
                            encode_feed(member_id, notification));
      !s.ok()) {
    std::fprintf(stderr, "cluster: feed: %s\n", s.message().c_str());
  }
}

void ClusterNode::publish_follow_up(const Event& follow_up) { publisher_->publish(follow_up); }

void ClusterNode::give_back(const StockUnit& unit) { publisher_->publish(unit); }

void ClusterNode::release_claim(const ClaimRelease& release) { publisher_->publish(release); }

std::string ClusterNode::protect_claim_key(const std::string& claim_key) const {
  return identifier_keys_->protect(claim_key);
}

uint64_t ClusterNode::add_waiter(const std::string& id, Completion&& done,
                                 std::optional<uint32_t> partition, std::string owner) {
  Waiter waiter;
  waiter.done = std::move(done);
  waiter.partition = partition;
  waiter.owner = std::move(owner);
  return add_waiter(id, std::move(waiter));
}

uint64_t ClusterNode::add_waiter(const std::string& id, Waiter&& waiter,
                                 std::chrono::seconds longer) {
  // Long enough for a failover (the lease) and the new owner's catch-up.
  waiter.deadline = SteadyClock::now() + std::chrono::seconds(config_.lease_seconds + 5) + longer;
  {
    const std::lock_guard lock(waiters_mutex_);
    if (!closed_) {
      waiter.token = next_request_.fetch_add(1);
      const uint64_t token = waiter.token;
      waiters_.emplace(id, std::move(waiter));
      return token;
    }
  }
  give_up(waiter, "this node is leaving the cluster; retry on another");
  return 0;
}

std::optional<Completion> ClusterNode::take_waiter(const std::string& id, uint64_t token) {
  const std::lock_guard lock(waiters_mutex_);
  auto [first, last] = waiters_.equal_range(id);
  for (auto it = first; it != last; ++it) {
    if (it->second.token != token) continue;
    Completion done = std::move(it->second.done);
    waiters_.erase(it);
    return done;
  }
  return std::nullopt;
}

std::vector<ClusterNode::Waiter> ClusterNode::take_waiters(const std::string& id) {
  std::vector<Waiter> out;
  const std::lock_guard lock(waiters_mutex_);
  auto [first, last] = waiters_.equal_range(id);
  for (auto it = first; it != last; ++it) out.push_back(std::move(it->second));
  waiters_.erase(first, last);
  return out;
}

void ClusterNode::give_up(Waiter& waiter, std::string why) {
  if (waiter.read_done) {
    waiter.read_done(std::nullopt);
  } else {
    waiter.done(unavailable(std::move(why)));
  }
}

void ClusterNode::housekeeping() {
  std::unique_lock lock(stop_mutex_);
  while (!stopping_) {
    stop_wake_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stopping_; });
    lock.unlock();
    std::vector<Waiter> late;
    const ClusterView view = ownership_->view();
    {
      const std::lock_guard waiters_lock(waiters_mutex_);
      const auto now = SteadyClock::now();
      for (auto it = waiters_.begin(); it != waiters_.end();) {
        const Waiter& waiter = it->second;
        const bool owner_gone = waiter.partition && view.etcd_ok &&
                                *waiter.partition < view.partitions.size() &&
                                view.partitions[*waiter.partition].owner != waiter.owner;
        if (waiter.deadline <= now || owner_gone) {
          late.push_back(std::move(it->second));
          it = waiters_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (Waiter& waiter : late) {
      metrics_.timed_out.fetch_add(1);
      give_up(waiter, "no answer from the partition's owner in time; retry shortly");
    }
    std::vector<std::unique_ptr<PartitionApplier>> gone_appliers;
    std::vector<std::unique_ptr<JetStreamLog::Subscription>> gone_serving;
    std::vector<uint32_t> owned_applied;  // owned here, their logs applied to their ends
    const std::lock_guard reaping(reaping_mutex_);
    {
      const std::lock_guard appliers_lock(appliers_mutex_);
      for (const auto& [partition, applier] : appliers_) {
        ownership_->set_caught_up(partition, applier->caught_up());
        if (ownership_->role(partition) == Role::owner && applier->applied_log_end()) {
          owned_applied.push_back(partition);
        }
      }
      gone_appliers.swap(gone_appliers_);
      gone_serving.swap(gone_serving_);
    }
    gone_serving.clear();  // outside the lock: they wait for callbacks and threads
    gone_appliers.clear();
    programs_->reconcile(owned_applied);
    lock.lock();
  }
}

Status ClusterNode::log_end(uint64_t& sequence) {
  sequence = 0;
  for (uint32_t p = 0; p < config_.partitions; ++p) {
    uint64_t last = 0;
    if (Status s = log_->last_sequence(partition_subject(config_.name, p), last); !s.ok()) return s;
    sequence = std::max(sequence, last);
  }
  return Status::ok_status();
}

ClusterView ClusterNode::view() const { return ownership_ ? ownership_->view() : ClusterView{}; }

Role ClusterNode::role(uint32_t partition) const {
  return ownership_ ? ownership_->role(partition) : Role::none;
}

uint64_t ClusterNode::applied_through(uint32_t partition) const {
  {
    const std::lock_guard lock(appliers_mutex_);
    const auto it = appliers_.find(partition);
    if (it != appliers_.end()) return it->second->applied_through();
  }
  uint64_t committed = 0;  // not applying it now: what this node's store committed of it
  return store_.applied_sequence(partition, committed).ok() ? committed : 0;
}

std::string ClusterNode::problem(uint32_t partition) const {
  {
    const std::lock_guard lock(appliers_mutex_);
    const auto applier = appliers_.find(partition);
    if (applier != appliers_.end()) {
      if (std::string error = applier->second->last_error(); !error.empty()) return error;
    }
  }
  return writers_ ? writers_->waiting(partition) : std::string();
}

std::vector<ClusterNode::Applying> ClusterNode::applying() const {
  std::vector<Applying> out;
  const std::lock_guard lock(appliers_mutex_);
  for (const auto& [partition, applier] : appliers_) {
    out.push_back({partition, role(partition), applier->lag()});
  }
  return out;
}

uint64_t ClusterNode::failovers() const { return ownership_ ? ownership_->failovers() : 0; }

}  // namespace loyalty::cluster
