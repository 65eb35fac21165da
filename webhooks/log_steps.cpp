#include "webhooks/log_steps.hpp"

#include <optional>
#include <vector>

namespace loyalty::webhooks {
namespace {

// A step reads at most this many log records looking for the endpoint's next message, so that
// an endpoint that wants few types does not hold its thread for a long scan.
constexpr size_t kScanRecordsMax = 10'000;

}  // namespace

LogSteps::LogSteps(RocksStore& store, Endpoints& endpoints, Clock clock, DispatcherOptions options,
                   std::function<void(std::string_view)> log)
    : store_(store),
      endpoints_(endpoints),
      clock_(std::move(clock)),
      options_(std::move(options)),
      log_(std::move(log)) {}

void LogSteps::say(std::string_view line) const {
  if (log_) log_(line);
}

bool LogSteps::step(const WebhookEndpoint& endpoint, Sender& sender, FigureBook& figures) {
  bool moved = step_log(endpoint, sender, figures);
  std::optional<WebhookEndpoint> current;
  if (Status status = endpoints_.find(endpoint.id, current); !status.ok() || !current) {
    return moved;
  }
  if (!current->disabled) moved |= step_jobs(*current, sender, figures);
  return moved;
}

bool LogSteps::step_log(const WebhookEndpoint& endpoint, Sender& sender, FigureBook& figures) {
  const uint64_t horizon = store_.log_horizon();
  figures.set_pending(endpoint.id,
                      horizon > endpoint.next.log_seq ? horizon - endpoint.next.log_seq : 0);
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
  return attempt(endpoint, *next, sender, figures,
                 [&endpoint, after](WebhookEndpoint& current, bool settled) {
                   if (current.next != endpoint.next)
                     return false;  // replayed meanwhile: sent again
                   if (settled) current.next = after;
                   return true;
                 });
}

bool LogSteps::step_jobs(const WebhookEndpoint& endpoint, Sender& sender, FigureBook& figures) {
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
  return attempt(endpoint, *next, sender, figures,
                 [&endpoint, after](WebhookEndpoint& current, bool settled) {
                   if (current.next_job_message != endpoint.next_job_message) return false;
                   if (settled) current.next_job_message = after;
                   return true;
                 });
}

bool LogSteps::attempt(const WebhookEndpoint& endpoint, const WebhookMessage& message,
                       Sender& sender, FigureBook& figures,
                       const std::function<bool(WebhookEndpoint&, bool settled)>& advance) {
  WebhookDelivery delivery;
  std::string error;
  const std::optional<AttemptOutcome> outcome =
      attempt_stored(store_, endpoint, message, sender, clock_, options_, delivery, error);
  if (!outcome) {  // its next attempt is later, or its record does not read
    if (!error.empty()) say("webhooks: " + endpoint.id + ": " + error);
    return false;
  }
  bool recorded = false;
  const Status status = endpoints_.with_endpoint(
      endpoint.id,
      [&](WebhookEndpoint& current) {
        if (!advance(current, outcome->settled)) return false;
        current.failing_since = outcome->failing_since;
        if (!outcome->disabled_reason.empty()) {
          current.disabled = true;
          current.disabled_reason = outcome->disabled_reason;
        }
        recorded = true;
        return true;
      },
      &delivery);
  if (!status.ok()) {
    say("webhooks: " + endpoint.id + ": cannot record a delivery: " + status.message());
    return false;
  }
  if (!outcome->disabled_reason.empty() && recorded) {
    say("webhooks: " + endpoint.id + " disabled: " + outcome->disabled_reason);
  }
  figures.count(endpoint.id, delivery, *outcome);
  return true;
}

}  // namespace loyalty::webhooks
