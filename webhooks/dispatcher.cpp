#include "webhooks/dispatcher.hpp"

#include <algorithm>
#include <functional>
#include <random>

#include "webhooks/signature.hpp"

namespace loyalty::webhooks {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// A step reads at most this many log records looking for the endpoint's next message, so that
// an endpoint that wants few types does not hold its thread for a long scan.
constexpr size_t kScanRecordsMax = 10'000;
// Messages one endpoint is sent in a row before its thread turns to the next endpoint.
constexpr int kStepsPerTurn = 100;
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

Dispatcher::Dispatcher(RocksStore& store, Endpoints& endpoints, Clock clock,
                       DispatcherOptions options, std::function<void(std::string_view)> log)
    : store_(store),
      endpoints_(endpoints),
      clock_(std::move(clock)),
      options_(std::move(options)),
      log_(std::move(log)) {}

Dispatcher::~Dispatcher() { stop(); }

void Dispatcher::say(std::string_view line) const {
  if (log_) log_(line);
}

void Dispatcher::start() {
  const std::lock_guard lock(mutex_);
  stopping_ = false;
  for (unsigned worker = 0; worker < std::max(1u, options_.threads); ++worker) {
    threads_.emplace_back([this, worker] { loop(worker); });
  }
  threads_.emplace_back([this] { test_loop(); });
}

void Dispatcher::stop() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
}

void Dispatcher::wake() {
  {
    const std::lock_guard lock(mutex_);
    ++wakes_;
  }
  changed_.notify_all();
}

void Dispatcher::send_test(const WebhookEndpoint& endpoint,
                           std::function<void(const TestOutcome&)> done) {
  {
    const std::lock_guard lock(mutex_);
    tests_.emplace_back(endpoint, std::move(done));
  }
  changed_.notify_all();
}

DeliveryFigures Dispatcher::figures() const {
  const std::lock_guard lock(figures_mutex_);
  return figures_;
}

std::vector<std::pair<std::string, std::string>> Dispatcher::headers(
    const WebhookEndpoint& endpoint, const WebhookMessage& message) const {
  const int64_t timestamp = clock_() / 1000;
  std::string signature = sign(endpoint.secret, message.id, timestamp, message.body);
  // A rotation's old secret signs too for its 24 h: receivers not yet given the new one go on.
  if (!endpoint.previous_secret.empty() && clock_() < endpoint.previous_until) {
    signature += " " + sign(endpoint.previous_secret, message.id, timestamp, message.body);
  }
  return {{"webhook-id", message.id},
          {"webhook-timestamp", std::to_string(timestamp)},
          {"webhook-signature", std::move(signature)}};
}

void Dispatcher::loop(unsigned worker) {
  Sender sender(options_.timeout, options_.allow_private);
  const unsigned threads = std::max(1u, options_.threads);
  uint64_t wakes_seen = 0;
  while (true) {
    {
      const std::lock_guard lock(mutex_);
      if (stopping_) return;
      wakes_seen = wakes_;
    }
    std::vector<WebhookEndpoint> endpoints;
    if (Status status = endpoints_.list(endpoints); !status.ok()) {
      say("webhooks: cannot read the endpoints: " + status.message());
    }
    bool moved = false;
    for (const WebhookEndpoint& listed : endpoints) {
      if (std::hash<std::string>{}(listed.id) % threads != worker) continue;
      std::optional<WebhookEndpoint> endpoint = listed;
      for (int i = 0; i < kStepsPerTurn && endpoint && !endpoint->disabled; ++i) {
        {
          const std::lock_guard lock(mutex_);
          if (stopping_) return;
        }
        if (!step(*endpoint, sender)) break;
        moved = true;
        if (Status status = endpoints_.find(listed.id, endpoint); !status.ok()) break;
      }
    }
    if (moved) continue;
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, options_.poll,
                      [this, wakes_seen] { return stopping_ || wakes_ != wakes_seen; });
  }
}

void Dispatcher::test_loop() {
  Sender sender(options_.timeout, options_.allow_private);
  while (true) {
    std::pair<WebhookEndpoint, std::function<void(const TestOutcome&)>> test;
    uint64_t number = 0;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [this] { return stopping_ || !tests_.empty(); });
      if (stopping_) return;
      test = std::move(tests_.front());
      tests_.pop_front();
      number = ++tests_sent_;
    }
    TestOutcome outcome;
    outcome.message = test_message(test.first.id, clock_(), number);
    auto destination = parse_destination(test.first.url);
    if (const auto* d = std::get_if<Destination>(&destination)) {
      outcome.result = sender.post(*d, headers(test.first, outcome.message), outcome.message.body);
    } else {
      outcome.result.error = std::get<std::string>(destination);
    }
    test.second(outcome);
  }
}

bool Dispatcher::step(const WebhookEndpoint& endpoint, Sender& sender) {
  bool moved = step_log(endpoint, sender);
  std::optional<WebhookEndpoint> current;
  if (Status status = endpoints_.find(endpoint.id, current); !status.ok() || !current) {
    return moved;
  }
  if (!current->disabled) moved |= step_jobs(*current, sender);
  return moved;
}

bool Dispatcher::step_log(const WebhookEndpoint& endpoint, Sender& sender) {
  const uint64_t horizon = store_.log_horizon();
  {
    const std::lock_guard lock(figures_mutex_);
    figures_.endpoints[endpoint.id].pending_events =
        horizon > endpoint.next.log_seq ? horizon - endpoint.next.log_seq : 0;
  }
  // The endpoint's next message: the first it wants at or after where it stands.
  std::optional<WebhookMessage> next;
  MessagePosition passed{horizon, 0};  // where it stands if nothing before is wanted
  size_t records = 0;
  std::vector<WebhookMessage> messages;
  Status status =
      store_.scan_log(endpoint.next.log_seq, horizon,
                      [&](const StoredEvent& event, const storage::EventHistory& history) {
                        if (++records > kScanRecordsMax) {
                          passed = {event.log_seq, 0};
                          return false;
                        }
                        messages_of(event, history, messages);
                        for (WebhookMessage& m : messages) {
                          if (m.position < endpoint.next || !endpoint.wants(m.type)) continue;
                          next = std::move(m);
                          return false;
                        }
                        return true;
                      });
  if (!status.ok()) {
    say("webhooks: " + endpoint.id + ": cannot read the log: " + status.message());
    return false;
  }
  if (!next) {
    if (passed <= endpoint.next) return false;
    status = endpoints_.with_endpoint(endpoint.id, [&](WebhookEndpoint& stored) {
      if (stored.next != endpoint.next) return false;  // replayed meanwhile
      stored.next = passed;
      return true;
    });
    return status.ok();
  }
  const MessagePosition after{next->position.log_seq, next->position.index + 1};
  return attempt(endpoint, *next, sender,
                 [&endpoint, after](WebhookEndpoint& current, bool settled) {
                   if (current.next != endpoint.next)
                     return false;  // replayed meanwhile: sent again
                   if (settled) current.next = after;
                   return true;
                 });
}

bool Dispatcher::step_jobs(const WebhookEndpoint& endpoint, Sender& sender) {
  std::optional<WebhookMessage> next;
  uint64_t passed = endpoint.next_job_message;
  Status status = store_.scan_job_messages(endpoint.next_job_message,
                                           [&](uint64_t number, const JobRecord& job) {
                                             WebhookMessage m = job_message(number, job);
                                             passed = number + 1;
                                             if (!endpoint.wants(m.type)) return true;
                                             next = std::move(m);
                                             return false;
                                           });
  if (!status.ok()) {
    say("webhooks: " + endpoint.id + ": cannot read the job messages: " + status.message());
    return false;
  }
  if (!next) {
    if (passed == endpoint.next_job_message) return false;
    status = endpoints_.with_endpoint(endpoint.id, [&](WebhookEndpoint& stored) {
      if (stored.next_job_message != endpoint.next_job_message) return false;
      stored.next_job_message = passed;
      return true;
    });
    return status.ok();
  }
  const uint64_t after = passed;
  return attempt(endpoint, *next, sender,
                 [&endpoint, after](WebhookEndpoint& current, bool settled) {
                   if (current.next_job_message != endpoint.next_job_message) return false;
                   if (settled) current.next_job_message = after;
                   return true;
                 });
}

bool Dispatcher::attempt(const WebhookEndpoint& endpoint, const WebhookMessage& message,
                         Sender& sender,
                         const std::function<bool(WebhookEndpoint&, bool settled)>& advance) {
  std::optional<WebhookDelivery> stored;
  if (Status status = store_.load_delivery(endpoint.id, message.position, stored); !status.ok()) {
    say("webhooks: " + endpoint.id + ": cannot read a delivery: " + status.message());
    return false;
  }
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
  const TimeMs now = clock_();
  if (delivery.next_attempt_at > now) return false;

  SendResult result;
  auto destination = parse_destination(endpoint.url);
  if (const auto* d = std::get_if<Destination>(&destination)) {
    result = sender.post(*d, headers(endpoint, message), message.body);
  } else {
    result.error = std::get<std::string>(destination);
  }
  const TimeMs finished = clock_();
  delivery.attempts.push_back({now, result.status, result.error, result.duration_ms});

  bool settled = false;
  TimeMs failing_since = endpoint.failing_since;
  std::string disabled_reason;
  bool retried = false;
  if (delivered(result.status)) {
    delivery.state = DeliveryState::delivered;
    delivery.next_attempt_at = 0;
    settled = true;
    failing_since = 0;
  } else if (result.status == 410) {
    disabled_reason = "the endpoint answered 410 Gone";
    delivery.next_attempt_at = 0;  // sent again first if the endpoint is enabled again
  } else {
    // Failed attempts of this message since it was last delivered (a replay sends it again).
    size_t failures = 0;
    for (auto a = delivery.attempts.rbegin(); a != delivery.attempts.rend(); ++a, ++failures) {
      if (delivered(a->status)) break;
    }
    if (failures > options_.retry_schedule.size()) {
      delivery.state = DeliveryState::failed;
      delivery.next_attempt_at = 0;
      settled = true;
    } else {
      TimeMs delay = jittered(options_.retry_schedule[failures - 1]);
      if (result.retry_after_seconds) {
        delay = std::min(*result.retry_after_seconds, kRetryAfterMaxSeconds) * 1000;
      }
      delivery.next_attempt_at = finished + delay;
      retried = true;
    }
    if (failing_since == 0) failing_since = now;
    if (finished - failing_since >= options_.disable_after_ms) {
      disabled_reason = "3 days of failed deliveries without one delivered";
    }
  }
  bool recorded = false;
  const Status status = endpoints_.with_endpoint(
      endpoint.id,
      [&](WebhookEndpoint& current) {
        if (!advance(current, settled)) return false;
        current.failing_since = failing_since;
        if (!disabled_reason.empty()) {
          current.disabled = true;
          current.disabled_reason = disabled_reason;
        }
        recorded = true;
        return true;
      },
      &delivery);
  if (!status.ok()) {
    say("webhooks: " + endpoint.id + ": cannot record a delivery: " + status.message());
    return false;
  }
  if (!disabled_reason.empty() && recorded) {
    say("webhooks: " + endpoint.id + " disabled: " + disabled_reason);
  }
  const std::lock_guard lock(figures_mutex_);
  EndpointFigures& figures = figures_.endpoints[endpoint.id];
  ++figures.attempts;
  if (retried) ++figures.retries;
  if (delivery.state == DeliveryState::failed) ++figures.failed;
  if (delivery.state == DeliveryState::delivered) {
    ++figures.delivered;
    const double latency = static_cast<double>(finished - delivery.created_at) / 1000.0;
    size_t bucket = 0;
    while (bucket < kDeliveryLatencyBounds.size() && latency > kDeliveryLatencyBounds[bucket]) {
      ++bucket;
    }
    ++figures_.latency_buckets[bucket];
    figures_.latency_sum += latency;
    ++figures_.latency_count;
  }
  return true;
}

}  // namespace loyalty::webhooks
