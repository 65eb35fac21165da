#include "webhooks/endpoint_store.hpp"

#include "webhooks/messages.hpp"

namespace loyalty::webhooks {

Status LocalEndpointStore::load(const std::string& id, std::optional<WebhookEndpoint>& out) {
  return store_.load_webhook(id, out);
}

Status LocalEndpointStore::list(std::vector<WebhookEndpoint>& out) {
  out.clear();
  return store_.scan_webhooks([&out](const WebhookEndpoint& endpoint) {
    out.push_back(endpoint);
    return true;
  });
}

Status LocalEndpointStore::insert(const WebhookEndpoint& endpoint) {
  const std::lock_guard lock(mutex_);
  return store_.save_webhook(endpoint);
}

Status LocalEndpointStore::remove(const std::string& id, bool& found) {
  const std::lock_guard lock(mutex_);
  std::optional<WebhookEndpoint> endpoint;
  if (Status status = store_.load_webhook(id, endpoint); !status.ok()) return status;
  found = endpoint.has_value();
  return found ? store_.delete_webhook(id) : Status::ok_status();
}

Status LocalEndpointStore::change(const std::string& id,
                                  const std::function<bool(WebhookEndpoint&)>& change,
                                  const WebhookDelivery* delivery) {
  const std::lock_guard lock(mutex_);
  std::optional<WebhookEndpoint> endpoint;
  if (Status status = store_.load_webhook(id, endpoint); !status.ok()) return status;
  if (!endpoint || !change(*endpoint)) return Status::ok_status();
  return delivery != nullptr ? store_.save_delivery(*endpoint, *delivery)
                             : store_.save_webhook(*endpoint);
}

Status LocalEndpointStore::start_now(DeliveryStart& out) {
  out.next = {store_.log_horizon(), 0};
  out.next_job_message = store_.job_messages_end();
  return Status::ok_status();
}

Status LocalEndpointStore::start_at(TimeMs since, DeliveryStart& out) {
  // The first change at or after `since`: the log is in commit order, which follows time
  // closely but not exactly, so it is read from the start (a replay is rare).
  const uint64_t horizon = store_.log_horizon();
  out.next = {horizon, 0};
  std::vector<WebhookMessage> messages;
  Status status = store_.scan_log(
      1, horizon, [&](const StoredEvent& event, const storage::EventHistory& history) {
        messages_of(event, history, messages);
        for (const WebhookMessage& m : messages) {
          if (m.created_at >= since) {
            out.next = m.position;
            return false;
          }
        }
        return true;
      });
  if (!status.ok()) return status;
  out.next_job_message = store_.job_messages_end();
  return store_.scan_job_messages(1, [&](uint64_t number, const JobRecord& job) {
    if (job.finished_at < since) return true;
    out.next_job_message = number;
    return false;
  });
}

}  // namespace loyalty::webhooks
