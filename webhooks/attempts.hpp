// One attempt at one message (api.md "Webhooks"), what single mode's Dispatcher and cluster
// mode's deliveries share: the signed headers, the post, and what its answer decides (delivered,
// retried on the schedule with Retry-After honoured, failed after the whole schedule, the endpoint
// disabled on 410 or after 3 days of failures). Where the delivery and the endpoint's progress
// are recorded is the caller's.
// Thread-safety: free functions; DeliveryFigures is the caller's to lock.
#pragma once

#include <array>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/runtime/runtime.hpp"
#include "storage/rocks_store.hpp"
#include "storage/webhook_record.hpp"
#include "webhooks/messages.hpp"
#include "webhooks/sender.hpp"

namespace loyalty::webhooks {

// api.md: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h after each failed attempt.
std::vector<std::chrono::milliseconds> default_retry_schedule();

struct DispatcherOptions {
  unsigned threads = 1;
  std::chrono::milliseconds timeout{10'000};
  bool allow_private = false;
  std::vector<std::chrono::milliseconds> retry_schedule = default_retry_schedule();
  TimeMs disable_after_ms = 3 * 24 * 3600 * 1000;
  std::chrono::milliseconds poll{100};  // how often an idle thread looks at the log again
};

inline constexpr std::array<double, 10> kDeliveryLatencyBounds{0.01, 0.05, 0.1, 0.5,  1,
                                                               5,    30,   300, 3600, 86400};

struct EndpointFigures {
  uint64_t delivered = 0;
  uint64_t failed = 0;          // messages given up after the whole schedule
  uint64_t attempts = 0;        // every post, answered or not
  uint64_t retries = 0;         // attempts that will be tried again
  uint64_t pending_events = 0;  // log records after where the endpoint stands
};

struct DeliveryFigures {
  std::map<std::string, EndpointFigures> endpoints;
  // Seconds from the change to its delivery.
  std::array<uint64_t, kDeliveryLatencyBounds.size() + 1> latency_buckets{};
  double latency_sum = 0;
  uint64_t latency_count = 0;
};

// webhook-id, webhook-timestamp and webhook-signature (both secrets' during a rotation's 24 h).
std::vector<std::pair<std::string, std::string>> signed_headers(const WebhookEndpoint& endpoint,
                                                                const WebhookMessage& message,
                                                                TimeMs now);

// What an attempt came to.
struct AttemptOutcome {
  bool settled = false;         // delivered, or failed for good: the endpoint goes past the message
  bool retried = false;         // it will be tried again
  TimeMs failing_since = 0;     // the endpoint's, after this attempt
  std::string disabled_reason;  // not empty: the endpoint is to be disabled
  TimeMs finished = 0;
};

// The delivery record of `message` as the attempt starts: `stored` (the record of earlier
// attempts, if any) brought to the message, pending again if the endpoint stands at a message
// it settled before (a replay).
WebhookDelivery delivery_to_attempt(const WebhookEndpoint& endpoint, const WebhookMessage& message,
                                    std::optional<WebhookDelivery> stored);

// Posts `message` unless `delivery`'s next attempt is later (nullopt), and adds the attempt to
// `delivery`.
std::optional<AttemptOutcome> attempt_delivery(const WebhookEndpoint& endpoint,
                                               const WebhookMessage& message,
                                               WebhookDelivery& delivery, Sender& sender,
                                               const Clock& clock,
                                               const DispatcherOptions& options);

// The attempt at `message` with its earlier attempts read from `store` (load_delivery,
// delivery_to_attempt, attempt_delivery); `delivery` is then the record to write. nullopt when
// its next attempt is later, or when the record cannot be read (`error` says why).
std::optional<AttemptOutcome> attempt_stored(RocksStore& store, const WebhookEndpoint& endpoint,
                                             const WebhookMessage& message, Sender& sender,
                                             const Clock& clock, const DispatcherOptions& options,
                                             WebhookDelivery& delivery, std::string& error);

// The figures of a node's deliveries, counted by the threads that make them.
class FigureBook {
 public:
  // An attempt recorded (its delivery as recorded).
  void count(const std::string& endpoint_id, const WebhookDelivery& delivery,
             const AttemptOutcome& outcome);
  void set_pending(const std::string& endpoint_id, uint64_t pending_events);
  DeliveryFigures figures() const;

 private:
  mutable std::mutex mutex_;
  DeliveryFigures figures_;
};

// What a delivery thread does for one endpoint: single mode follows this folder's event log
// (webhooks/log_steps.hpp), cluster mode each partition this node owns
// (cluster/webhook_lanes.hpp).
class DeliverySteps {
 public:
  virtual ~DeliverySteps() = default;
  // One delivery step of `endpoint`: whether it moved (a post, or past messages it ignores).
  virtual bool step(const WebhookEndpoint& endpoint, Sender& sender, FigureBook& figures) = 0;
  // The endpoint is gone: what the steps kept for it may go too. Called by the thread that
  // stepped it, between its steps.
  virtual void forget(const std::string& endpoint_id) { (void)endpoint_id; }
};

}  // namespace loyalty::webhooks
