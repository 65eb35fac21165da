// The messages webhooks send, read from the event log (api.md "Webhooks"): a change's messages
// are in the same record as the change (they are created in its commit), and their order is the
// log's. Every feed notification is one (`points.earned`, `tier.changed`, `member.updated`,
// `member.erased`, …), and a sign-up is `member.created`. A message is made again from its
// record for every attempt, the same bytes each time (an erasure since blanks what it erased).
// Thread-safety: free functions.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "storage/record_codec.hpp"
#include "storage/rocks_store.hpp"
#include "storage/webhook_record.hpp"

namespace loyalty::webhooks {

struct WebhookMessage {
  // The event log's position (single mode), or the input log's (cluster mode: the stream's
  // sequence), and the rank among the change's messages.
  MessagePosition position;
  uint64_t log_seq = 0;  // this folder's event log position of the change (both modes)
  std::string id;        // webhook-id: "msg_<position>_<index>", stable across attempts
  std::string type;
  std::string member_id;
  TimeMs created_at = 0;
  std::string body;  // {"type", "timestamp", "data": {member_id, seq, …}}
};

// Every type a message can have (what an endpoint's event_types may name).
inline constexpr std::array<std::string_view, 18> kMessageTypes = {
    "member.created",  "member.updated", "member.erased",     "points.earned",  "points.redeemed",
    "points.reversed", "points.expired", "referral.rewarded", "tier.changed",   "hold.expired",
    "reward.redeemed", "coupon.used",    "coupon.cancelled",  "coupon.expired", "coupon.restored",
    "job.succeeded",   "job.failed",     "webhook.test"};
bool known_message_type(std::string_view type);

// The messages of one logged event, in order (a sign-up's `member.created` first).
void messages_of(const StoredEvent& event, const storage::EventHistory& history,
                 std::vector<WebhookMessage>& out);

// `job.succeeded` or `job.failed` of a job as it ended (RocksStore::scan_job_messages): the
// `number`-th job message, at position {0, number} of the deliveries log.
WebhookMessage job_message(uint64_t number, const JobRecord& job);

// POST /v1/webhooks/{id}:test: a `webhook.test` message for the endpoint, not in the log.
WebhookMessage test_message(std::string_view endpoint_id, TimeMs now, uint64_t number);

}  // namespace loyalty::webhooks
