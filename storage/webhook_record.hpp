// Webhook endpoints and deliveries as stored (webhooks/, api.md "Webhooks"): the endpoint with
// its secrets and where its deliveries stand, and one record per message sent to it with its
// attempts. FlatBuffers (schema/webhooks.fbs) in "meta", verified on every read.
// Thread-safety: plain values and free functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.hpp"
#include "engine/time.hpp"

namespace loyalty {

// A message's place in the order deliveries follow: the event log's position of the change,
// then its rank among that change's messages.
struct MessagePosition {
  uint64_t log_seq = 0;
  uint32_t index = 0;
  friend auto operator<=>(const MessagePosition&, const MessagePosition&) = default;
};

struct WebhookEndpoint {
  std::string id;
  std::string url;
  std::vector<std::string> event_types;  // empty: every type
  std::string description;
  bool disabled = false;
  std::string disabled_reason;  // why the server disabled it; empty when the operator did
  std::string secret;           // whsec_…
  std::string previous_secret;  // a rotation's old secret: it signs too until previous_until
  TimeMs previous_until = 0;
  TimeMs created_at = 0;
  TimeMs updated_at = 0;
  MessagePosition next{1, 0};     // every message before it is settled (delivered or failed)
  uint64_t next_job_message = 0;  // the same for job messages (their own numbering)
  TimeMs failing_since = 0;       // the first failed attempt since the last delivery; 0: none
  // Cluster mode (cluster/webhook_lanes.hpp): the last :replay's `since`, and how many there were.
  TimeMs replay_since = 0;
  uint64_t replay_generation = 0;

  bool wants(std::string_view type) const;
};

enum class DeliveryState : uint8_t { pending = 0, delivered = 1, failed = 2 };
std::string_view delivery_state_name(DeliveryState state);  // "pending", "delivered", "failed"
std::optional<DeliveryState> parse_delivery_state(std::string_view name);

struct DeliveryAttempt {
  TimeMs at = 0;
  uint32_t status = 0;  // the HTTP status; 0: none, `error` says why
  std::string error;
  uint32_t duration_ms = 0;
};

struct WebhookDelivery {
  std::string endpoint_id;
  MessagePosition position;
  std::string message_id;  // webhook-id, the same at every attempt
  std::string type;
  std::string member_id;
  TimeMs created_at = 0;  // when the change happened
  DeliveryState state = DeliveryState::pending;
  std::vector<DeliveryAttempt> attempts;
  TimeMs next_attempt_at = 0;  // pending: not before
};

namespace storage {

inline constexpr std::string_view kWebhookKeyPrefix = "webhook/";
inline constexpr std::string_view kDeliveryKeyPrefix = "delivery/";
// "job_message/" + big-endian number + "/" + job id → the job's record as it ended (encode_job):
// written with that record, so job.succeeded and job.failed exist exactly when a job ended.
inline constexpr std::string_view kJobMessageKeyPrefix = "job_message/";
std::string job_message_key(uint64_t number, std::string_view job_id);
struct JobMessageKey {
  uint64_t number = 0;
  std::string_view job_id;
};
std::optional<JobMessageKey> parse_job_message_key(std::string_view key);

// Cluster mode: where this folder's event log stands for an endpoint's deliveries of one
// partition (cluster/webhook_lanes.hpp): no record before `log_seq` holds a message of the
// partition at or after `next`.
struct LaneCursor {
  uint64_t log_seq = 1;
  MessagePosition next;
  friend bool operator==(const LaneCursor&, const LaneCursor&) = default;
};
// "webhook_lane/" + endpoint id + "/" + big-endian partition → log_seq and next, big-endian.
inline constexpr std::string_view kLaneCursorKeyPrefix = "webhook_lane/";
std::string lane_cursor_prefix(std::string_view endpoint_id);
std::string lane_cursor_key(std::string_view endpoint_id, uint32_t partition);
std::string encode_lane_cursor(const LaneCursor& cursor);
std::optional<LaneCursor> decode_lane_cursor(std::string_view bytes);

std::string webhook_key(std::string_view endpoint_id);
std::optional<std::string_view> parse_webhook_key(std::string_view key);
// "delivery/" + endpoint id + "/": every delivery of the endpoint is under it, in position order.
std::string delivery_prefix(std::string_view endpoint_id);
std::string delivery_key(std::string_view endpoint_id, MessagePosition position);
std::optional<MessagePosition> parse_delivery_key(std::string_view endpoint_id,
                                                  std::string_view key);

std::string encode_webhook(const WebhookEndpoint& endpoint);  // without the id
Status decode_webhook(std::string_view endpoint_id, std::string_view bytes, WebhookEndpoint& out);
std::string encode_delivery(const WebhookDelivery& delivery);  // without endpoint and position
Status decode_delivery(std::string_view endpoint_id, MessagePosition position,
                       std::string_view bytes, WebhookDelivery& out);

}  // namespace storage
}  // namespace loyalty
