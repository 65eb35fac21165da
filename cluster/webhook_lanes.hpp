// Cluster mode's deliveries (api.md "Webhooks"; docs/decisions.md "Webhooks in cluster mode").
// An endpoint's messages are delivered per partition (a *lane*): by the partition's owner, once
// it serves the partition's reads (it has applied its log as it stood when it became the owner),
// from its own folder's event log, in the partition's log order, so a member's messages keep
// their `seq` order. Messages are numbered by the input log (msg_<stream sequence>_<index>), the
// same on every node: a new owner sends the message in flight again under the same id.
// - Where a lane stands (every message before `next` settled) is in etcd
//   ("/<name>/webhooks/lanes/<endpoint>/<partition>"), written with a compare-and-set after each
//   settled message: an owner that lost the partition cannot move it back. A lane that was never
//   written starts where its endpoint did (the log's end at its creation).
// - Where this folder's log stands for a lane (storage::LaneCursor) is kept in the folder, with
//   each delivery's record, so that a node does not read its whole log for every lane again.
// - A replay (a new replay_generation on the endpoint) starts every lane again from its first
//   message at or after `replay_since` in its partition's log.
// - Job messages (cluster/job_messages.hpp) are delivered by the owner of partition 0; where the
//   endpoint stands in them is its next_job_message in etcd.
// - Attempts (the delivery log) are recorded in the folder of the node that made them.
// Thread-safety: step() from the Dispatcher's threads, one endpoint on one thread at a time.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "cluster/etcd_client.hpp"
#include "cluster/node.hpp"
#include "storage/rocks_store.hpp"
#include "webhooks/attempts.hpp"
#include "webhooks/endpoints.hpp"

namespace loyalty::cluster {

// A lane as etcd holds it.
struct LaneState {
  uint64_t generation = 0;  // the endpoint's replay_generation it follows
  MessagePosition next;     // every message of the lane before it is settled
  TimeMs skip_before = 0;   // a replay's `since`, until its first message is found
  friend bool operator==(const LaneState&, const LaneState&) = default;
};
std::string encode_lane(const LaneState& lane);
std::optional<LaneState> decode_lane(std::string_view text);

class WebhookLanes final : public webhooks::DeliverySteps {
 public:
  // Everything given outlives this. `etcd`: a client of its own (a delivery's writes never
  // queue behind the node's lease keep-alives).
  WebhookLanes(ClusterNode& node, EtcdClient& etcd, RocksStore& store,
               webhooks::Endpoints& endpoints, Clock clock, webhooks::DispatcherOptions options,
               std::function<void(std::string_view)> log = {});
  bool step(const WebhookEndpoint& endpoint, webhooks::Sender& sender,
            webhooks::FigureBook& figures) override;
  void forget(const std::string& endpoint_id) override;

 private:
  struct Lane {
    bool loaded = false;
    LaneState state;
    int64_t mod_revision = 0;  // etcd's, of `state` (0: not in etcd)
    bool unsaved = false;      // `state` differs from etcd's (a replay began)
    storage::LaneCursor cursor;
  };
  Lane& lane(const std::string& endpoint_id, uint32_t partition);
  Status load(const WebhookEndpoint& endpoint, uint32_t partition, Lane& lane);
  // Compare-and-set of the lane in etcd; false when another node moved it (it is read again).
  bool save(const WebhookEndpoint& endpoint, uint32_t partition, Lane& lane, const LaneState& to);
  // `disabled`: the attempt made disabled the endpoint (its other lanes wait).
  bool step_lane(const WebhookEndpoint& endpoint, uint32_t partition, webhooks::Sender& sender,
                 webhooks::FigureBook& figures, uint64_t& pending, bool& disabled);
  bool step_jobs(const WebhookEndpoint& endpoint, webhooks::Sender& sender,
                 webhooks::FigureBook& figures);
  // The attempt at `message` (webhooks::attempt_stored); nullopt when its next attempt is later
  // or its record does not read (said in the log).
  std::optional<webhooks::AttemptOutcome> post(const WebhookEndpoint& endpoint,
                                               const webhooks::WebhookMessage& message,
                                               webhooks::Sender& sender, WebhookDelivery& delivery);
  // The endpoint's failing_since and disabled after an attempt, in etcd.
  void record_outcome(const WebhookEndpoint& endpoint, const webhooks::AttemptOutcome& outcome);
  void say(std::string_view line) const;

  ClusterNode& node_;
  EtcdClient& etcd_;
  RocksStore& store_;
  webhooks::Endpoints& endpoints_;
  Clock clock_;
  const webhooks::DispatcherOptions options_;
  std::function<void(std::string_view)> log_;
  std::mutex lanes_mutex_;  // the map; a lane itself is its endpoint's thread's
  std::map<std::pair<std::string, uint32_t>, Lane> lanes_;
  // When each endpoint's job messages were last looked at (they are rare: once a second).
  std::map<std::string, TimeMs> jobs_checked_;
};

}  // namespace loyalty::cluster
