// Deliveries (api.md "Webhooks"): threads of their own move each enabled endpoint's deliveries
// (DeliverySteps: this folder's event log in single mode, the owned partitions in cluster mode),
// posting the messages it wants one at a time: a message waits until the one before it is
// delivered or has failed, so a member's messages arrive in `seq` order. A 2xx delivers it; 410
// disables the endpoint; anything else is tried again on the retry schedule (Retry-After
// honoured), then the message is failed and the next one goes; an endpoint failing for 3 days
// without a delivery is disabled (webhooks/attempts.hpp). Ingestion never waits for
// deliveries: they only read the log. Endpoints are spread over the threads by id.
// Thread-safety: every public method from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "webhooks/attempts.hpp"
#include "webhooks/endpoints.hpp"

namespace loyalty::webhooks {

// What POST /v1/webhooks/{id}:test answers.
struct TestOutcome {
  WebhookMessage message;
  SendResult result;
};

class Dispatcher {
 public:
  // `steps` moves one endpoint's deliveries; it and `endpoints` outlive this.
  Dispatcher(Endpoints& endpoints, DeliverySteps& steps, Clock clock, DispatcherOptions options,
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
  void say(std::string_view line) const;

  Endpoints& endpoints_;
  DeliverySteps& steps_;
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
  FigureBook figures_;
};

}  // namespace loyalty::webhooks
