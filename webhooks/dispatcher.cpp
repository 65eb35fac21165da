#include "webhooks/dispatcher.hpp"

#include <algorithm>
#include <functional>
#include <set>

#include "webhooks/destination.hpp"

namespace loyalty::webhooks {
namespace {

// Messages one endpoint is sent in a row before its thread turns to the next endpoint.
constexpr int kStepsPerTurn = 100;

}  // namespace

Dispatcher::Dispatcher(Endpoints& endpoints, DeliverySteps& steps, Clock clock,
                       DispatcherOptions options, std::function<void(std::string_view)> log)
    : endpoints_(endpoints),
      steps_(steps),
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

DeliveryFigures Dispatcher::figures() const { return figures_.figures(); }

void Dispatcher::loop(unsigned worker) {
  Sender sender(options_.timeout, options_.allow_private);
  const unsigned threads = std::max(1u, options_.threads);
  uint64_t wakes_seen = 0;
  std::set<std::string> stepped;  // this worker's endpoints at its last turn
  while (true) {
    {
      const std::lock_guard lock(mutex_);
      if (stopping_) return;
      wakes_seen = wakes_;
    }
    std::vector<WebhookEndpoint> endpoints;
    const Status listed_all = endpoints_.list(endpoints);
    if (!listed_all.ok()) say("webhooks: cannot read the endpoints: " + listed_all.message());
    bool moved = false;
    std::set<std::string> mine;
    for (const WebhookEndpoint& listed : endpoints) {
      if (std::hash<std::string>{}(listed.id) % threads == worker) mine.insert(listed.id);
    }
    if (listed_all.ok()) {  // what the steps keep for a deleted endpoint goes
      for (const std::string& id : stepped) {
        if (!mine.contains(id)) steps_.forget(id);
      }
      stepped = std::move(mine);
    }
    for (const WebhookEndpoint& listed : endpoints) {
      if (std::hash<std::string>{}(listed.id) % threads != worker) continue;
      std::optional<WebhookEndpoint> endpoint = listed;
      for (int i = 0; i < kStepsPerTurn && endpoint && !endpoint->disabled; ++i) {
        {
          const std::lock_guard lock(mutex_);
          if (stopping_) return;
        }
        if (!steps_.step(*endpoint, sender, figures_)) break;
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
      outcome.result = sender.post(*d, signed_headers(test.first, outcome.message, clock_()),
                                   outcome.message.body);
    } else {
      outcome.result.error = std::get<std::string>(destination);
    }
    test.second(outcome);
  }
}

}  // namespace loyalty::webhooks
