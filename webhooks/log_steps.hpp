// Single mode's deliveries (api.md "Webhooks"): an endpoint follows this folder's event log from
// where it stands (its record's `next`), one message at a time in log order, so a member's
// messages arrive in `seq` order; its job messages follow their own numbering. Each attempt is
// recorded with the endpoint's progress in one write, so a restart goes on where it stopped (the
// message in flight is sent again). Only messages of committed changes are sent (the log is
// read below its horizon).
// Thread-safety: step() from the Dispatcher's threads, one endpoint on one thread at a time.
#pragma once

#include <functional>
#include <string_view>

#include "webhooks/attempts.hpp"
#include "webhooks/endpoints.hpp"

namespace loyalty::webhooks {

class LogSteps final : public DeliverySteps {
 public:
  LogSteps(RocksStore& store, Endpoints& endpoints, Clock clock, DispatcherOptions options,
           std::function<void(std::string_view)> log = {});
  bool step(const WebhookEndpoint& endpoint, Sender& sender, FigureBook& figures) override;

 private:
  bool step_log(const WebhookEndpoint& endpoint, Sender& sender, FigureBook& figures);
  bool step_jobs(const WebhookEndpoint& endpoint, Sender& sender, FigureBook& figures);
  // Posts `message` unless its next attempt is later, records the attempt, and moves the
  // endpoint past it when it is settled, through `advance` (false: the endpoint was moved
  // meanwhile, by a replay: nothing is recorded). Whether it posted.
  bool attempt(const WebhookEndpoint& endpoint, const WebhookMessage& message, Sender& sender,
               FigureBook& figures,
               const std::function<bool(WebhookEndpoint&, bool settled)>& advance);
  void say(std::string_view line) const;

  RocksStore& store_;
  Endpoints& endpoints_;
  Clock clock_;
  const DispatcherOptions options_;
  std::function<void(std::string_view)> log_;
};

}  // namespace loyalty::webhooks
