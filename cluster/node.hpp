// One node of a cluster (cluster.md): its place in etcd (Ownership), the partition logs
// (JetStreamLog), an applier for each partition it owns or stands by for, the publisher of its
// follow-ups, and the submit path of the log-driven runtime:
// - an event of a partition this node owns is appended to that partition's log (by its writer:
//   only the owner writes a log, as a chain, cluster/log_writers.hpp) under an id made of its
//   client id and fingerprint (a retry is dropped as a copy by JetStream, a
//   conflicting reuse is logged and refused by the engine), and answered when this node's
//   applier has committed it; before that, what it takes cluster-wide (its client id, a
//   sign-up's phone, card and referral code) is claimed in the keys' home partitions the same
//   way (cluster/event_claims.hpp);
// - an event of another owner's partition is sent to that owner (plain NATS, subject
//   "<name>.submit.<partition>"), which does the same and sends the result back;
// - follow-ups and program activations go the same way (append_and_wait);
// - no owner, or none answering in time: 503 unavailable, and the client retries (the same
//   id gives the one result).
// Thread-safety: submit() and the accessors from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cluster/cluster_config.hpp"
#include "cluster/etcd_client.hpp"
#include "cluster/follow_up_publisher.hpp"
#include "cluster/identifier_keys.hpp"
#include "cluster/jetstream_log.hpp"
#include "cluster/log_codec.hpp"
#include "cluster/log_erasures.hpp"
#include "cluster/log_writers.hpp"
#include "cluster/ownership.hpp"
#include "cluster/partition_applier.hpp"
#include "cluster/program_activations.hpp"
#include "engine/runtime/runtime.hpp"
#include "engine/runtime/runtime_metrics.hpp"
#include "storage/rocks_store.hpp"

namespace loyalty::cluster {

struct NodeMetrics {
  // From a publish to its acknowledgement by the stream's servers (replicated), in seconds.
  FixedHistogram<kCommitSecondsBounds.size()> publish_seconds{kCommitSecondsBounds};
  std::atomic<uint64_t> published{0};        // events this node put in a log
  std::atomic<uint64_t> forwarded{0};        // events and claims sent to another owner
  std::atomic<uint64_t> claims{0};           // claims asked (cluster/event_claims.hpp)
  std::atomic<uint64_t> reads_forwarded{0};  // reads sent to the owner of their partition
  std::atomic<uint64_t> timed_out{0};        // answered 503 for want of an owner's answer
};

class ClusterNode {
 public:
  // Connects to NATS (making the stream if it is the first node) and etcd. The runtime is
  // made after this (its follow-up sink and publish go to this node), then start() joins.
  static Status open(const ClusterConfig& config, std::string url, RocksStore& store,
                     std::unique_ptr<ClusterNode>& out);
  ~ClusterNode();  // leaves the cluster (its partitions move at once), stops the appliers
  ClusterNode(const ClusterNode&) = delete;
  ClusterNode& operator=(const ClusterNode&) = delete;

  // Reads (cluster.md: a read sees every write acknowledged before it began) are served by
  // the owner of the member's partition once its applier has applied all the log held when it
  // became the owner (the log's end asked of the servers then). A node that does not serve them
  // sends the request (in the API's own encoding) to the owner; `done` gets the owner's answer, or
  // nullopt when no owner serves it now or none answered in time (503: the client retries).
  using ReadDone = std::function<void(std::optional<std::string> response)>;
  using ReadServer = std::function<void(std::string_view request, ReadDone reply)>;
  bool serves_reads(uint32_t partition) const;
  // `longer`: added to the wait for an answer (an erasure's runs longer than a read).
  void forward_read(uint32_t partition, std::string request, ReadDone done,
                    std::chrono::seconds longer = std::chrono::seconds(0));
  // Whose `key` is (a claim asked in its home partition's log, answered after that partition's
  // commit): `done` gets EventResult::claim_owner, "" when no member holds it.
  void look_up(const std::string& key, Completion done);
  // The units of `reward_id`'s stock left (a StockAsk `count` in its home partition's log):
  // `done` gets EventResult::stock_left.
  void count_stock(const std::string& reward_id, Completion done);
  // A request for what `node_id` itself holds (what its folder recorded, whatever partitions it
  // owns: webhook deliveries), run by that node's read server; nullopt when it did not answer in
  // time.
  void ask_node(const std::string& node_id, std::string request, ReadDone done);
  // What runs a forwarded read here (the API's router); set before start().
  void set_read_server(ReadServer server) { read_server_ = std::move(server); }

  // WebSocket feeds on every node: the runtime's notification sink calls publish_notification
  // on every applier; the owner of the member's partition sends it to all nodes (core NATS,
  // at most once: a subscriber that misses one catches up by after_seq), and each node hands
  // what it receives to `feed` (its subscribers). Set before start().
  using Feed = std::function<void(const std::string& member_id, const Notification&)>;
  void set_feed(Feed feed) { feed_ = std::move(feed); }
  void publish_notification(const std::string& member_id, const Notification& notification);

  // Erasures (docs/decisions.md "Erasure in cluster mode"): `erased` is told, on a runtime
  // writer thread, of each erasure this node applies (its folder's purge; set before start());
  // erase_from_log ends one in the partition's input log (cluster/log_erasures.hpp), on the
  // partition's owner.
  void set_erased(std::function<void(const std::string& member_id)> erased) {
    erased_ = std::move(erased);
  }
  void erase_from_log(std::string member_id, LogErasures::Done done);

  // RuntimeOptions::follow_up_sink and ::publish of the log-driven runtime.
  void publish_follow_up(const Event& follow_up);
  // RuntimeOptions::give_back_sink: to the reward's home partition, as follow-ups go.
  void give_back(const StockUnit& unit);
  // RuntimeOptions::claim_release_sink and ::protect_claim_key: a changed phone or card given up
  // in its claim's home partition, as follow-ups go; its key as the log carries it.
  void release_claim(const ClaimRelease& release);
  std::string protect_claim_key(const std::string& claim_key) const;
  void submit(Event&& event, uint64_t request_fingerprint, Completion&& done);

  // Joins the cluster (partition count checked, lease, registration) and starts applying.
  // Every node of a cluster begins with the same program (the first records it in etcd;
  // another is refused); `programs` then follows the cluster's activations.
  Status start(Runtime& runtime, ProgramRegistry& programs);
  // Program versions and activations through the logs (PUT /v1/program; the runtime's
  // partition_program). Exists from open() on.
  ProgramActivations& programs() const { return *programs_; }  // thread-safe itself
  // Stops applying and answering; idempotent. Before the runtime stops.
  void stop();

  const ClusterConfig& config() const { return config_; }
  EtcdClient& etcd() {
    return etcd_;
  }  // thread-safe itself (cluster jobs keep their records there)
  ClusterView view() const;
  Role role(uint32_t partition) const;
  uint64_t applied_through(uint32_t partition) const;
  // What keeps this node from applying or writing the partition now ("" when nothing): the
  // applier's last error, else what its writer waits for (GET /v1/cluster's last_error).
  std::string problem(uint32_t partition) const;
  uint64_t failovers() const;
  // The partitions this node applies, with its role and how far behind their logs it is.
  struct Applying {
    uint32_t partition = 0;
    Role role = Role::none;
    uint64_t lag = 0;  // PartitionApplier::lag
  };
  std::vector<Applying> applying() const;
  bool log_connected() const { return log_->connected(); }
  // The input log's last stream sequence now, over every partition (0: none).
  Status log_end(uint64_t& sequence);
  const NodeMetrics& metrics() const { return metrics_; }

 private:
  struct Waiter {
    uint64_t token = 0;
    Completion done;     // an event's or a claim's; or
    ReadDone read_done;  // a forwarded read's
    std::chrono::steady_clock::time_point deadline;
    // A forwarded event's: the partition and the owner it was sent to. When etcd names
    // another owner (or none) the answer will not come: 503 at once, and the client retries.
    std::optional<uint32_t> partition;
    std::string owner;
  };

  ClusterNode(ClusterConfig config, std::string url, RocksStore& store);
  void on_role(uint32_t partition, Role role);
  void on_applied(const LogMessage& message, EventResult&& result);
  // A message for `partition`'s log (an event, or a claim in its key's home partition):
  // published here when this node owns the partition, else sent to its owner.
  void route(uint32_t partition, LogPayload&& payload, Completion&& done);
  // An applied event's answer, once the phones and cards it gives up are free
  // (EventResult::claim_releases).
  void give_up_then_answer(EventResult&& result, Completion&& answered);
  std::string message_id(const LogPayload& payload, uint32_t partition);  // its Nats-Msg-Id
  // route(), waiting for the owner's application (LogAppend: follow-ups, activations).
  Status append_and_wait(uint32_t partition, LogPayload payload);
  void publish_owned(uint32_t partition, std::string id, const std::string& payload,
                     Completion&& done);
  void publish_attempt(uint32_t partition, std::string id, uint64_t token,
                       std::shared_ptr<const std::string> payload, int copies);
  void forward(uint32_t partition, const std::string& payload, Completion&& done);
  void serve_forwarded(uint32_t partition, std::string_view data, const std::string& reply_to);
  // Returns the waiter's token (0: not added, `done` was answered 503: the node is closing).
  uint64_t add_waiter(const std::string& id, Completion&& done,
                      std::optional<uint32_t> partition = std::nullopt, std::string owner = {});
  uint64_t add_waiter(const std::string& id, Waiter&& waiter,
                      std::chrono::seconds longer = std::chrono::seconds(0));
  std::vector<Waiter> take_waiters(const std::string& id);  // all waiting for `id`
  static void give_up(Waiter& waiter, std::string why);     // 503 (a read: nullopt)
  void serve_read(uint32_t partition, std::string_view request, const std::string& reply_to);
  std::optional<Completion> take_waiter(const std::string& id, uint64_t token);  // that one
  void housekeeping();  // answers waiters past their deadline, reports caught-up partitions

  const ClusterConfig config_;
  const std::string url_;
  RocksStore& store_;
  EtcdClient etcd_;
  std::unique_ptr<IdentifierKeys> identifier_keys_;  // from open() on
  std::mutex erasures_mutex_;
  std::unique_ptr<LogErasures> log_erasures_;  // from start() to stop(), under erasures_mutex_
  std::function<void(const std::string& member_id)> erased_;
  std::unique_ptr<JetStreamLog> log_;
  std::unique_ptr<LogWriters> writers_;  // what this node appends to the logs it owns
  std::unique_ptr<FollowUpPublisher> publisher_;
  std::unique_ptr<ProgramActivations> programs_;
  Runtime* runtime_ = nullptr;
  ProgramRegistry* registry_ = nullptr;  // the program this node answers with (start())
  std::unique_ptr<Ownership> ownership_;
  NodeMetrics metrics_;
  ReadServer read_server_;
  Feed feed_;
  std::unique_ptr<JetStreamLog::Subscription> feed_subscription_;

  mutable std::mutex appliers_mutex_;
  std::map<uint32_t, std::unique_ptr<PartitionApplier>> appliers_;
  // An owned partition's subscriptions: its forwarded events and claims, and its reads.
  std::map<uint32_t, std::vector<std::unique_ptr<JetStreamLog::Subscription>>> serving_;
  // What a role change let go of, destroyed by the housekeeper: joining an applier or draining
  // a subscription takes time the ownership thread (and its keep-alives) must not spend.
  std::vector<std::unique_ptr<PartitionApplier>> gone_appliers_;
  std::vector<std::unique_ptr<JetStreamLog::Subscription>> gone_serving_;  // (any partition's)
  // Held while the housekeeper destroys what was let go, and by on_role: a partition's new
  // applier never starts while its old one is still being destroyed. Before appliers_mutex_.
  std::mutex reaping_mutex_;

  std::mutex waiters_mutex_;
  std::multimap<std::string, Waiter> waiters_;  // by message id (or reply inbox id)
  bool closed_ = false;                         // stop() answered them all: no new ones
  // Unique among this node's runs, so a copy's fresh id is never one JetStream still holds.
  const std::string run_id_;
  std::atomic<uint64_t> next_request_{1};
  std::unique_ptr<JetStreamLog::Subscription> inbox_;       // answers of forwarded events
  std::unique_ptr<JetStreamLog::Subscription> node_reads_;  // ask_node()'s, to this node
  std::string inbox_prefix_;

  std::mutex stop_mutex_;
  std::condition_variable stop_wake_;
  bool stopping_ = false;
  std::thread housekeeper_;
};

}  // namespace loyalty::cluster
