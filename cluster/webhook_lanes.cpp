#include "cluster/webhook_lanes.hpp"

#include <optional>
#include <sstream>
#include <vector>

#include "cluster/etcd_endpoint_store.hpp"
#include "cluster/job_messages.hpp"
#include "engine/runtime/runtime.hpp"
#include "webhooks/messages.hpp"

namespace loyalty::cluster {
namespace {

// A step reads at most this many of the folder's log records looking for a lane's next message
// (the log holds every partition this node applies).
constexpr size_t kScanRecordsMax = 10'000;
// The lane of job messages in the folder's cursors (no partition has this number).
constexpr uint32_t kJobsLane = 0xffffffff;

}  // namespace

std::string encode_lane(const LaneState& lane) {
  return std::to_string(lane.generation) + " " + std::to_string(lane.next.log_seq) + " " +
         std::to_string(lane.next.index) + " " + std::to_string(lane.skip_before);
}

std::optional<LaneState> decode_lane(std::string_view text) {
  std::istringstream in{std::string(text)};
  LaneState lane;
  if (!(in >> lane.generation >> lane.next.log_seq >> lane.next.index >> lane.skip_before)) {
    return std::nullopt;
  }
  std::string rest;
  if (in >> rest) return std::nullopt;
  return lane;
}

WebhookLanes::WebhookLanes(ClusterNode& node, EtcdClient& etcd, RocksStore& store,
                           webhooks::Endpoints& endpoints, Clock clock,
                           webhooks::DispatcherOptions options,
                           std::function<void(std::string_view)> log)
    : node_(node),
      etcd_(etcd),
      store_(store),
      endpoints_(endpoints),
      clock_(std::move(clock)),
      options_(std::move(options)),
      log_(std::move(log)) {}

void WebhookLanes::say(std::string_view line) const {
  if (log_) log_(line);
}

WebhookLanes::Lane& WebhookLanes::lane(const std::string& endpoint_id, uint32_t partition) {
  const std::lock_guard lock(lanes_mutex_);
  return lanes_[{endpoint_id, partition}];
}

void WebhookLanes::forget(const std::string& endpoint_id) {
  const std::lock_guard lock(lanes_mutex_);
  std::erase_if(lanes_,
                [&endpoint_id](const auto& entry) { return entry.first.first == endpoint_id; });
  jobs_checked_.erase(endpoint_id);
}

Status WebhookLanes::load(const WebhookEndpoint& endpoint, uint32_t partition, Lane& lane) {
  std::optional<EtcdKeyValue> found;
  const std::string key =
      webhook_lanes_prefix(node_.config().name, endpoint.id) + std::to_string(partition);
  if (Status s = etcd_.get(key, found); !s.ok()) return s;
  lane = Lane{};
  if (found) {
    const std::optional<LaneState> state = decode_lane(found->value);
    if (!state) return Status::error(Status::Code::corruption, "etcd's " + key + " is not a lane");
    lane.state = *state;
    lane.mod_revision = found->mod_revision;
  } else {
    // Never written: where the endpoint started.
    lane.state.next = endpoint.next;
  }
  std::optional<storage::LaneCursor> cursor;
  if (Status s = store_.load_lane_cursor(endpoint.id, partition, cursor); !s.ok()) return s;
  // The folder's cursor counts while it is not past the lane (a replay moved the lane back, or
  // another owner moved it on: then the folder is read from where the cursor was).
  if (cursor && cursor->next <= lane.state.next) lane.cursor = *cursor;
  lane.loaded = true;
  return Status::ok_status();
}

bool WebhookLanes::save(const WebhookEndpoint& endpoint, uint32_t partition, Lane& lane,
                        const LaneState& to) {
  const std::string key =
      webhook_lanes_prefix(node_.config().name, endpoint.id) + std::to_string(partition);
  bool put = false;
  int64_t revision = 0;
  if (Status s = etcd_.put_if(key, encode_lane(to), lane.mod_revision, put, &revision); !s.ok()) {
    say("webhooks: " + endpoint.id + ": cannot record where partition " +
        std::to_string(partition) + " stands: " + s.message());
    lane.loaded = false;  // it may have been written: read again
    return false;
  }
  if (!put) {
    lane.loaded = false;  // another node moved it (it owned the partition meanwhile)
    return false;
  }
  lane.state = to;
  lane.mod_revision = revision;
  lane.unsaved = false;
  return true;
}

bool WebhookLanes::step(const WebhookEndpoint& endpoint, webhooks::Sender& sender,
                        webhooks::FigureBook& figures) {
  bool moved = false;
  uint64_t pending = 0;
  bool disabled = false;
  for (uint32_t p = 0; p < node_.config().partitions && !disabled; ++p) {
    if (!node_.serves_reads(p)) {
      // Another node delivers it now; when it comes back here, etcd says where it stands.
      lane(endpoint.id, p).loaded = false;
      continue;
    }
    moved |= step_lane(endpoint, p, sender, figures, pending, disabled);
  }
  figures.set_pending(endpoint.id, pending);
  if (disabled) return true;
  bool look_at_jobs = false;
  {
    const std::lock_guard lock(lanes_mutex_);
    TimeMs& checked = jobs_checked_[endpoint.id];
    const TimeMs now = clock_();
    if (now - checked >= 1000) {
      checked = now;
      look_at_jobs = true;
    }
  }
  if (look_at_jobs && node_.serves_reads(0)) {
    std::optional<WebhookEndpoint> current;
    if (Status s = endpoints_.find(endpoint.id, current); s.ok() && current && !current->disabled) {
      moved |= step_jobs(*current, sender, figures);
    }
  }
  return moved;
}

bool WebhookLanes::step_lane(const WebhookEndpoint& endpoint, uint32_t partition,
                             webhooks::Sender& sender, webhooks::FigureBook& figures,
                             uint64_t& pending, bool& disabled) {
  Lane& lane = this->lane(endpoint.id, partition);
  if (!lane.loaded) {
    if (Status s = load(endpoint, partition, lane); !s.ok()) {
      say("webhooks: " + endpoint.id + ": cannot read where partition " +
          std::to_string(partition) + " stands: " + s.message());
      return false;
    }
  }
  if (lane.state.generation < endpoint.replay_generation) {
    // Replayed: from the partition's first message at or after `since`.
    lane.state = LaneState{endpoint.replay_generation, {0, 0}, endpoint.replay_since};
    lane.cursor = storage::LaneCursor{};
    lane.unsaved = true;
  }
  const uint32_t partitions = node_.config().partitions;
  const uint64_t horizon = store_.log_horizon();
  if (horizon > lane.cursor.log_seq) pending += horizon - lane.cursor.log_seq;

  std::optional<webhooks::WebhookMessage> next;
  uint64_t scanned_to = horizon;  // no record before it holds what the lane still needs
  bool since_found = false;       // a replay's first message at or after `since` was passed
  size_t records = 0;
  std::vector<webhooks::WebhookMessage> messages;
  const LaneState& state = lane.state;
  Status status =
      store_.scan_log(lane.cursor.log_seq, horizon,
                      [&](const StoredEvent& event, const storage::EventHistory& history) {
                        if (++records > kScanRecordsMax) {
                          scanned_to = event.log_seq;
                          return false;
                        }
                        // Records written before events kept their input log's place have no
                        // message id that every node would give them alike: they are not delivered.
                        if (event.log_sequence == 0 || event.log_sequence < state.next.log_seq)
                          return true;
                        if (member_partition(event.event.member_id(), partitions) != partition)
                          return true;
                        webhooks::messages_of(event, history, messages);
                        for (webhooks::WebhookMessage& m : messages) {
                          if (m.position < state.next) continue;
                          if (state.skip_before != 0 && !since_found) {
                            if (m.created_at < state.skip_before) continue;
                            since_found = true;
                          }
                          if (!endpoint.wants(m.type)) continue;
                          scanned_to = event.log_seq;
                          next = std::move(m);
                          return false;
                        }
                        return true;
                      });
  if (!status.ok()) {
    say("webhooks: " + endpoint.id + ": cannot read the log: " + status.message());
    return false;
  }
  LaneState to = state;
  if (since_found) to.skip_before = 0;

  if (!next) {
    if ((lane.unsaved || to != state) && !save(endpoint, partition, lane, to)) return true;
    const storage::LaneCursor cursor{scanned_to, lane.state.next};
    if (cursor != lane.cursor) {
      if (Status s = store_.save_lane_delivery(nullptr, endpoint.id, partition, cursor); !s.ok()) {
        say("webhooks: " + endpoint.id + ": cannot record a cursor: " + s.message());
        return false;
      }
      lane.cursor = cursor;
    }
    return scanned_to < horizon;  // more to read now
  }

  WebhookDelivery delivery;
  const std::optional<webhooks::AttemptOutcome> outcome = post(endpoint, *next, sender, delivery);
  if (!outcome) return false;
  if (outcome->settled) to.next = {next->position.log_seq, next->position.index + 1};
  // The attempt is recorded here before the lane moves in etcd: a node stopped between the two
  // has the attempt in its log, and the lane's next owner sends the message again.
  const storage::LaneCursor cursor{next->log_seq, to.next};
  if (Status s = store_.save_lane_delivery(&delivery, endpoint.id, partition, cursor); !s.ok()) {
    say("webhooks: " + endpoint.id + ": cannot record a delivery: " + s.message());
    return false;
  }
  // Not moved when another node moved it meanwhile (it owned the partition): read again then.
  if (!(lane.unsaved || to != state) || save(endpoint, partition, lane, to)) lane.cursor = cursor;
  record_outcome(endpoint, *outcome);
  disabled = !outcome->disabled_reason.empty();
  figures.count(endpoint.id, delivery, *outcome);
  return true;
}

std::optional<webhooks::AttemptOutcome> WebhookLanes::post(const WebhookEndpoint& endpoint,
                                                           const webhooks::WebhookMessage& message,
                                                           webhooks::Sender& sender,
                                                           WebhookDelivery& delivery) {
  std::string error;
  std::optional<webhooks::AttemptOutcome> outcome = webhooks::attempt_stored(
      store_, endpoint, message, sender, clock_, options_, delivery, error);
  if (!error.empty()) say("webhooks: " + endpoint.id + ": " + error);
  return outcome;
}

bool WebhookLanes::step_jobs(const WebhookEndpoint& endpoint, webhooks::Sender& sender,
                             webhooks::FigureBook& figures) {
  std::vector<ClusterJobMessage> messages;
  if (Status s = list_job_messages(etcd_, node_.config().name, messages); !s.ok()) {
    say("webhooks: " + endpoint.id + ": cannot read the job messages: " + s.message());
    return false;
  }
  std::optional<webhooks::WebhookMessage> next;
  uint64_t passed = endpoint.next_job_message;
  for (const ClusterJobMessage& m : messages) {
    if (m.number < endpoint.next_job_message) continue;
    webhooks::WebhookMessage message = webhooks::job_message(m.number, m.job);
    passed = m.number + 1;
    if (!endpoint.wants(message.type)) continue;
    next = std::move(message);
    break;
  }
  const auto advance = [&](uint64_t to, const webhooks::AttemptOutcome* outcome) {
    return endpoints_.with_endpoint(endpoint.id, [&](WebhookEndpoint& current) {
      // Moved meanwhile (a replay, or another node): this step's move is not made.
      if (current.next_job_message != endpoint.next_job_message) return false;
      current.next_job_message = to;
      if (outcome != nullptr) {
        current.failing_since = outcome->failing_since;
        if (!outcome->disabled_reason.empty()) {
          current.disabled = true;
          current.disabled_reason = outcome->disabled_reason;
        }
      }
      return true;
    });
  };
  if (!next) {
    if (passed == endpoint.next_job_message) return false;
    return advance(passed, nullptr).ok();
  }
  WebhookDelivery delivery;
  const std::optional<webhooks::AttemptOutcome> outcome = post(endpoint, *next, sender, delivery);
  if (!outcome) return false;
  if (Status s = store_.save_lane_delivery(&delivery, endpoint.id, kJobsLane,
                                           storage::LaneCursor{0, next->position});
      !s.ok()) {
    say("webhooks: " + endpoint.id + ": cannot record a delivery: " + s.message());
    return false;
  }
  if (Status s = advance(outcome->settled ? passed : endpoint.next_job_message, &*outcome);
      !s.ok()) {
    say("webhooks: " + endpoint.id + ": cannot record a delivery: " + s.message());
  }
  if (!outcome->disabled_reason.empty()) {
    say("webhooks: " + endpoint.id + " disabled: " + outcome->disabled_reason);
  }
  figures.count(endpoint.id, delivery, *outcome);
  return true;
}

void WebhookLanes::record_outcome(const WebhookEndpoint& endpoint,
                                  const webhooks::AttemptOutcome& outcome) {
  if (outcome.failing_since == endpoint.failing_since && outcome.disabled_reason.empty()) return;
  const Status s = endpoints_.with_endpoint(endpoint.id, [&](WebhookEndpoint& current) {
    // Another partition's lane may have failed first: the earliest failure counts.
    if (outcome.failing_since == 0 || current.failing_since == 0 ||
        outcome.failing_since < current.failing_since) {
      current.failing_since = outcome.failing_since;
    }
    if (!outcome.disabled_reason.empty()) {
      current.disabled = true;
      current.disabled_reason = outcome.disabled_reason;
    }
    return true;
  });
  if (!s.ok()) say("webhooks: " + endpoint.id + ": cannot record its state: " + s.message());
  if (!outcome.disabled_reason.empty()) {
    say("webhooks: " + endpoint.id + " disabled: " + outcome.disabled_reason);
  }
}

}  // namespace loyalty::cluster
