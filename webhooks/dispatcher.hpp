// Deliveries (api.md "Webhooks"): threads of their own follow the event log for each enabled
// endpoint and post the messages it wants, in log order, one at a time: a message waits until
// the one before it is delivered or has failed, so a member's messages arrive in `seq` order
// (all of an endpoint's messages keep their order, not only a member's). Every message is
// posted at least once, and only messages of committed changes are (the log is read below its
// horizon). A 2xx delivers it; 410 disables the endpoint; anything else is tried again on the
// retry schedule (Retry-After honoured), then the message is failed and the next one goes;
// an endpoint failing for 3 days without a delivery is disabled. Where each endpoint stands is
// stored with it, so a restart goes on where it stopped (the message in flight is sent again).
// Ingestion never waits for deliveries: they only read the log.
// Thread-safety: every public method from any thread.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "webhooks/endpoints.hpp"
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

// What POST /v1/webhooks/{id}:test answers.
struct TestOutcome {
  WebhookMessage message;
  SendResult result;
};

class Dispatcher {
 public:
  Dispatcher(RocksStore& store, Endpoints& endpoints, Clock clock, DispatcherOptions options,
             std::function<void(std::string_view)> log = {});
  ~Dispatcher();  // stop()
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  void start();
  void stop();  // lets each thread finish its post; idempotent
  void wake();  // an endpoint changed: look now

  // Posts a `webhook.test` to the endpoint on a thread of its own and calls `done` there.
  void send_test(const WebhookEndpoint& endpoint, std::function<void(const TestOutcome&)> done);

  DeliveryFigures figures() const;

 private:
  void loop(unsigned worker);
  void test_loop();
  // One delivery step of `endpoint`: whether it moved (a post, or past messages it ignores).
  // Member messages follow the log; job messages their own numbering, on their own.
  bool step(const WebhookEndpoint& endpoint, Sender& sender);
  bool step_log(const WebhookEndpoint& endpoint, Sender& sender);
  bool step_jobs(const WebhookEndpoint& endpoint, Sender& sender);
  // Posts `message` unless its next attempt is later, records the attempt, and moves the
  // endpoint past it when it is settled, through `advance` (false: the endpoint was moved
  // meanwhile, by a replay: nothing is recorded). Whether it posted.
  bool attempt(const WebhookEndpoint& endpoint, const WebhookMessage& message, Sender& sender,
               const std::function<bool(WebhookEndpoint&, bool settled)>& advance);
  std::vector<std::pair<std::string, std::string>> headers(const WebhookEndpoint& endpoint,
                                                           const WebhookMessage& message) const;
  void say(std::string_view line) const;

  RocksStore& store_;
  Endpoints& endpoints_;
  Clock clock_;
  const DispatcherOptions options_;
  std::function<void(std::string_view)> log_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool stopping_ = false;
  uint64_t wakes_ = 0;
  std::deque<std::pair<WebhookEndpoint, std::function<void(const TestOutcome&)>>> tests_;
  uint64_t tests_sent_ = 0;
  std::vector<std::thread> threads_;
  mutable std::mutex figures_mutex_;
  DeliveryFigures figures_;
};

}  // namespace loyalty::webhooks
