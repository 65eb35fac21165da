// Webhook endpoint and delivery records ⇄ FlatBuffers bytes (schema/webhooks.fbs).
#include "storage/webhook_record.hpp"

#include <flatbuffers/flatbuffers.h>

#include <algorithm>
#include <cstring>

#include "storage/flatbuffer_support.hpp"
#include "storage/keys.hpp"
#include "storage/webhooks_generated.h"

namespace loyalty {

#if defined(__x86_64__) && defined(__GLIBCXX__)
// Every field is stored: a size that changed means a field was added; store it in
// webhooks.fbs and below, then update the number.
static_assert(sizeof(WebhookEndpoint) == 296, "a field of WebhookEndpoint is not stored");
static_assert(sizeof(WebhookDelivery) == 192, "a field of WebhookDelivery is not stored");
#endif

bool WebhookEndpoint::wants(std::string_view type) const {
  return event_types.empty() ||
         std::find(event_types.begin(), event_types.end(), type) != event_types.end();
}

std::string_view delivery_state_name(DeliveryState state) {
  switch (state) {
    case DeliveryState::pending:
      return "pending";
    case DeliveryState::delivered:
      return "delivered";
    case DeliveryState::failed:
      return "failed";
  }
  return "pending";
}

std::optional<DeliveryState> parse_delivery_state(std::string_view name) {
  for (DeliveryState state :
       {DeliveryState::pending, DeliveryState::delivered, DeliveryState::failed}) {
    if (delivery_state_name(state) == name) return state;
  }
  return std::nullopt;
}

namespace storage {
namespace {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

Status corruption(std::string_view what) {
  return Status::error(Status::Code::corruption, "corrupt " + std::string(what) + " record");
}

std::string finished(FlatBufferBuilder& builder) {
  return std::string(reinterpret_cast<const char*>(builder.GetBufferPointer()), builder.GetSize());
}

}  // namespace

std::string webhook_key(std::string_view endpoint_id) {
  return std::string(kWebhookKeyPrefix) + std::string(endpoint_id);
}

std::optional<std::string_view> parse_webhook_key(std::string_view key) {
  if (!key.starts_with(kWebhookKeyPrefix) || key.size() == kWebhookKeyPrefix.size()) {
    return std::nullopt;
  }
  return key.substr(kWebhookKeyPrefix.size());
}

std::string lane_cursor_prefix(std::string_view endpoint_id) {
  return std::string(kLaneCursorKeyPrefix) + std::string(endpoint_id) + "/";
}

std::string lane_cursor_key(std::string_view endpoint_id, uint32_t partition) {
  std::string key = lane_cursor_prefix(endpoint_id);
  append_u32_be(key, partition);
  return key;
}

std::string encode_lane_cursor(const LaneCursor& cursor) {
  std::string bytes;
  append_u64_be(bytes, cursor.log_seq);
  append_u64_be(bytes, cursor.next.log_seq);
  append_u32_be(bytes, cursor.next.index);
  return bytes;
}

std::optional<LaneCursor> decode_lane_cursor(std::string_view bytes) {
  if (bytes.size() != 20) return std::nullopt;
  const std::optional<uint64_t> log_seq = read_u64_be(bytes.substr(0, 8));
  const std::optional<uint64_t> next = read_u64_be(bytes.substr(8, 8));
  const std::optional<uint32_t> index = read_u32_be(bytes.substr(16, 4));
  if (!log_seq || !next || !index) return std::nullopt;
  return LaneCursor{*log_seq, {*next, *index}};
}

std::string delivery_prefix(std::string_view endpoint_id) {
  return std::string(kDeliveryKeyPrefix) + std::string(endpoint_id) + "/";
}

std::string delivery_key(std::string_view endpoint_id, MessagePosition position) {
  std::string key = delivery_prefix(endpoint_id);
  append_u64_be(key, position.log_seq);
  append_u32_be(key, position.index);
  return key;
}

std::optional<MessagePosition> parse_delivery_key(std::string_view endpoint_id,
                                                  std::string_view key) {
  const std::string prefix = delivery_prefix(endpoint_id);
  if (!key.starts_with(prefix) || key.size() != prefix.size() + 12) return std::nullopt;
  const std::optional<uint64_t> log_seq = read_u64_be(key.substr(prefix.size(), 8));
  const std::optional<uint32_t> index = read_u32_be(key.substr(prefix.size() + 8, 4));
  if (!log_seq || !index) return std::nullopt;
  return MessagePosition{*log_seq, *index};
}

std::string job_message_key(uint64_t number, std::string_view job_id) {
  std::string key(kJobMessageKeyPrefix);
  append_u64_be(key, number);
  key += '/';
  key.append(job_id);
  return key;
}

std::optional<JobMessageKey> parse_job_message_key(std::string_view key) {
  const size_t at = kJobMessageKeyPrefix.size();
  if (!key.starts_with(kJobMessageKeyPrefix) || key.size() < at + 10 || key[at + 8] != '/') {
    return std::nullopt;
  }
  const std::optional<uint64_t> number = read_u64_be(key.substr(at, 8));
  if (!number) return std::nullopt;
  return JobMessageKey{*number, key.substr(at + 9)};
}

std::string encode_webhook(const WebhookEndpoint& e) {
  FlatBufferBuilder builder(512);
  const auto url = optional_string(builder, e.url);
  std::vector<Offset<flatbuffers::String>> types;
  for (const std::string& type : e.event_types) types.push_back(builder.CreateString(type));
  const auto event_types = types.empty() ? 0 : builder.CreateVector(types);
  const auto description = optional_string(builder, e.description);
  const auto disabled_reason = optional_string(builder, e.disabled_reason);
  const auto secret = optional_string(builder, e.secret);
  const auto previous_secret = optional_string(builder, e.previous_secret);
  fb::WebhookEndpointRecordBuilder record(builder);
  record.add_url(url);
  record.add_event_types(event_types);
  record.add_description(description);
  record.add_disabled(e.disabled);
  record.add_disabled_reason(disabled_reason);
  record.add_secret(secret);
  record.add_previous_secret(previous_secret);
  record.add_previous_until(e.previous_until);
  record.add_created_at(e.created_at);
  record.add_updated_at(e.updated_at);
  record.add_next_log_seq(e.next.log_seq);
  record.add_next_index(e.next.index);
  record.add_failing_since(e.failing_since);
  record.add_next_job_message(e.next_job_message);
  record.add_replay_since(e.replay_since);
  record.add_replay_generation(e.replay_generation);
  builder.Finish(record.Finish());
  return finished(builder);
}

Status decode_webhook(std::string_view endpoint_id, std::string_view bytes, WebhookEndpoint& out) {
  const AlignedBytes aligned(bytes);
  const auto* record = verified_root<fb::WebhookEndpointRecord>(aligned);
  if (endpoint_id.empty() || record == nullptr || record->url() == nullptr) {
    return corruption("webhook endpoint");
  }
  out = WebhookEndpoint{};
  out.id = std::string(endpoint_id);
  out.url = to_string(record->url());
  if (const auto* types = record->event_types()) {
    for (const flatbuffers::String* type : *types) out.event_types.push_back(type->str());
  }
  out.description = to_string(record->description());
  out.disabled = record->disabled();
  out.disabled_reason = to_string(record->disabled_reason());
  out.secret = to_string(record->secret());
  out.previous_secret = to_string(record->previous_secret());
  out.previous_until = record->previous_until();
  out.created_at = record->created_at();
  out.updated_at = record->updated_at();
  out.next = {record->next_log_seq(), record->next_index()};
  out.failing_since = record->failing_since();
  out.next_job_message = record->next_job_message();
  out.replay_since = record->replay_since();
  out.replay_generation = record->replay_generation();
  return Status::ok_status();
}

std::string encode_delivery(const WebhookDelivery& d) {
  FlatBufferBuilder builder(256);
  const auto message_id = optional_string(builder, d.message_id);
  const auto type = optional_string(builder, d.type);
  const auto member_id = optional_string(builder, d.member_id);
  std::vector<Offset<fb::DeliveryAttemptRecord>> attempts;
  for (const DeliveryAttempt& a : d.attempts) {
    const auto error = optional_string(builder, a.error);
    fb::DeliveryAttemptRecordBuilder attempt(builder);
    attempt.add_at(a.at);
    attempt.add_status(a.status);
    attempt.add_error(error);
    attempt.add_duration_ms(a.duration_ms);
    attempts.push_back(attempt.Finish());
  }
  const auto attempt_vector = attempts.empty() ? 0 : builder.CreateVector(attempts);
  fb::WebhookDeliveryRecordBuilder record(builder);
  record.add_message_id(message_id);
  record.add_type(type);
  record.add_member_id(member_id);
  record.add_created_at(d.created_at);
  record.add_state(static_cast<uint8_t>(d.state));
  record.add_attempts(attempt_vector);
  record.add_next_attempt_at(d.next_attempt_at);
  builder.Finish(record.Finish());
  return finished(builder);
}

Status decode_delivery(std::string_view endpoint_id, MessagePosition position,
                       std::string_view bytes, WebhookDelivery& out) {
  const AlignedBytes aligned(bytes);
  const auto* record = verified_root<fb::WebhookDeliveryRecord>(aligned);
  if (record == nullptr || record->message_id() == nullptr ||
      record->state() > static_cast<uint8_t>(DeliveryState::failed)) {
    return corruption("webhook delivery");
  }
  out = WebhookDelivery{};
  out.endpoint_id = std::string(endpoint_id);
  out.position = position;
  out.message_id = to_string(record->message_id());
  out.type = to_string(record->type());
  out.member_id = to_string(record->member_id());
  out.created_at = record->created_at();
  out.state = static_cast<DeliveryState>(record->state());
  if (const auto* attempts = record->attempts()) {
    for (const fb::DeliveryAttemptRecord* a : *attempts) {
      out.attempts.push_back({a->at(), a->status(), to_string(a->error()), a->duration_ms()});
    }
  }
  out.next_attempt_at = record->next_attempt_at();
  return Status::ok_status();
}

}  // namespace storage
}  // namespace loyalty
