#include "webhooks/attempts.hpp"

#include <algorithm>
#include <random>

#include "webhooks/destination.hpp"
#include "webhooks/signature.hpp"

namespace loyalty::webhooks {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// A Retry-After longer than a day is taken as a day.
constexpr int64_t kRetryAfterMaxSeconds = 24 * 3600;

TimeMs jittered(milliseconds delay) {
  // ±10%, so that endpoints failing together do not retry together.
  thread_local std::mt19937_64 random{std::random_device{}()};
  const int64_t ms = delay.count();
  const int64_t spread = ms / 10;
  if (spread == 0) return ms;
  return ms - spread + static_cast<int64_t>(random() % static_cast<uint64_t>(2 * spread + 1));
}

bool delivered(uint32_t status) { return status >= 200 && status < 300; }

}  // namespace

std::vector<milliseconds> default_retry_schedule() {
  return {seconds(5), minutes(5), minutes(30), hours(2), hours(5),
          hours(10),  hours(14),  hours(20),   hours(24)};
}

std::vector<std::pair<std::string, std::string>> signed_headers(const WebhookEndpoint& endpoint,
                                                                const WebhookMessage& message,
                                                                TimeMs now) {
  const int64_t timestamp = now / 1000;
  std::string signature = sign(endpoint.secret, message.id, timestamp, message.body);
  // A rotation's old secret signs too for its 24 h: receivers not yet given the new one go on.
  if (!endpoint.previous_secret.empty() && now < endpoint.previous_until) {
    signature += " " + sign(endpoint.previous_secret, message.id, timestamp, message.body);
  }
  return {{"webhook-id", message.id},
          {"webhook-timestamp", std::to_string(timestamp)},
          {"webhook-signature", std::move(signature)}};
}

WebhookDelivery delivery_to_attempt(const WebhookEndpoint& endpoint, const WebhookMessage& message,
                                    std::optional<WebhookDelivery> stored) {
  WebhookDelivery delivery;
  if (stored) {
    delivery = std::move(*stored);
  } else {
    delivery.endpoint_id = endpoint.id;
    delivery.position = message.position;
  }
  delivery.message_id = message.id;
  delivery.type = message.type;
  delivery.member_id = message.member_id;
  delivery.created_at = message.created_at;
  if (delivery.state != DeliveryState::pending) {
    // Settled before, and the endpoint stands at it again: a replay sends it again.
    delivery.state = DeliveryState::pending;
    delivery.next_attempt_at = 0;
  }
  return delivery;
}

std::optional<AttemptOutcome> attempt_delivery(const WebhookEndpoint& endpoint,
                                               const WebhookMessage& message,
                                               WebhookDelivery& delivery, Sender& sender,
                                               const Clock& clock,
                                               const DispatcherOptions& options) {
  const TimeMs now = clock();
  if (delivery.next_attempt_at > now) return std::nullopt;

  SendResult result;
  auto destination = parse_destination(endpoint.url);
  if (const auto* d = std::get_if<Destination>(&destination)) {
    result = sender.post(*d, signed_headers(endpoint, message, now), message.body);
  } else {
    result.error = std::get<std::string>(destination);
  }
  AttemptOutcome outcome;
  outcome.finished = clock();
  outcome.failing_since = endpoint.failing_since;
  delivery.attempts.push_back({now, result.status, result.error, result.duration_ms});

  if (delivered(result.status)) {
    delivery.state = DeliveryState::delivered;
    delivery.next_attempt_at = 0;
    outcome.settled = true;
    outcome.failing_since = 0;
    return outcome;
  }
  if (result.status == 410) {
    outcome.disabled_reason = "the endpoint answered 410 Gone";
    delivery.next_attempt_at = 0;  // sent again first if the endpoint is enabled again
    return outcome;
  }
  // Failed attempts of this message since it was last delivered (a replay sends it again).
  size_t failures = 0;
  for (auto a = delivery.attempts.rbegin(); a != delivery.attempts.rend(); ++a, ++failures) {
    if (delivered(a->status)) break;
  }
  if (failures > options.retry_schedule.size()) {
    delivery.state = DeliveryState::failed;
    delivery.next_attempt_at = 0;
    outcome.settled = true;
  } else {
    TimeMs delay = jittered(options.retry_schedule[failures - 1]);
    if (result.retry_after_seconds) {
      delay = std::min(*result.retry_after_seconds, kRetryAfterMaxSeconds) * 1000;
    }
    delivery.next_attempt_at = outcome.finished + delay;
    outcome.retried = true;
  }
  if (outcome.failing_since == 0) outcome.failing_since = now;
  if (outcome.finished - outcome.failing_since >= options.disable_after_ms) {
    outcome.disabled_reason = "3 days of failed deliveries without one delivered";
  }
  return outcome;
}

std::optional<AttemptOutcome> attempt_stored(RocksStore& store, const WebhookEndpoint& endpoint,
                                             const WebhookMessage& message, Sender& sender,
                                             const Clock& clock, const DispatcherOptions& options,
                                             WebhookDelivery& delivery, std::string& error) {
  error.clear();
  std::optional<WebhookDelivery> stored;
  if (Status status = store.load_delivery(endpoint.id, message.position, stored); !status.ok()) {
    error = "cannot read a delivery: " + status.message();
    return std::nullopt;
  }
  delivery = delivery_to_attempt(endpoint, message, std::move(stored));
  return attempt_delivery(endpoint, message, delivery, sender, clock, options);
}

void FigureBook::set_pending(const std::string& endpoint_id, uint64_t pending_events) {
  const std::lock_guard lock(mutex_);
  figures_.endpoints[endpoint_id].pending_events = pending_events;
}

DeliveryFigures FigureBook::figures() const {
  const std::lock_guard lock(mutex_);
  return figures_;
}

void FigureBook::count(const std::string& endpoint_id, const WebhookDelivery& delivery,
                       const AttemptOutcome& outcome) {
  const std::lock_guard lock(mutex_);
  DeliveryFigures& figures = figures_;
  EndpointFigures& endpoint = figures.endpoints[endpoint_id];
  ++endpoint.attempts;
  if (outcome.retried) ++endpoint.retries;
  if (delivery.state == DeliveryState::failed) ++endpoint.failed;
  if (delivery.state != DeliveryState::delivered) return;
  ++endpoint.delivered;
  const double latency = static_cast<double>(outcome.finished - delivery.created_at) / 1000.0;
  size_t bucket = 0;
  while (bucket < kDeliveryLatencyBounds.size() && latency > kDeliveryLatencyBounds[bucket]) {
    ++bucket;
  }
  ++figures.latency_buckets[bucket];
  figures.latency_sum += latency;
  ++figures.latency_count;
}

}  // namespace loyalty::webhooks
