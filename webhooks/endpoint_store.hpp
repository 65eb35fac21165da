// Where webhook endpoints are kept: this folder in single mode (LocalEndpointStore), etcd in
// cluster mode (cluster/etcd_endpoint_store.hpp), so that every node of a cluster serves and
// delivers the same endpoints. Endpoints (webhooks/endpoints.hpp) checks and changes them through
// this; a change is atomic against every other change of the same endpoint.
// Thread-safety: every method from any thread.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/rocks_store.hpp"

namespace loyalty::webhooks {

// Where a new endpoint's deliveries, or a replay's, start.
struct DeliveryStart {
  MessagePosition next;
  uint64_t next_job_message = 0;
};

class EndpointStore {
 public:
  virtual ~EndpointStore() = default;
  virtual Status load(const std::string& id, std::optional<WebhookEndpoint>& out) = 0;
  virtual Status list(std::vector<WebhookEndpoint>& out) = 0;  // in id order
  virtual Status insert(const WebhookEndpoint& endpoint) = 0;  // a new id
  virtual Status remove(const std::string& id, bool& found) = 0;
  // `change` gets the endpoint as stored (nothing happens when there is none) and returns whether
  // to store it; with `delivery` (single mode only) both are written in one write.
  virtual Status change(const std::string& id, const std::function<bool(WebhookEndpoint&)>& change,
                        const WebhookDelivery* delivery = nullptr) = 0;
  // A new endpoint is sent the changes from now on: the logs as they stand are history for it.
  virtual Status start_now(DeliveryStart& out) = 0;
  // A replay sends again every message from the first change at or after `since`.
  virtual Status start_at(TimeMs since, DeliveryStart& out) = 0;
};

// Single mode: in this folder's "meta", changes serialised by a lock.
class LocalEndpointStore final : public EndpointStore {
 public:
  explicit LocalEndpointStore(RocksStore& store) : store_(store) {}
  Status load(const std::string& id, std::optional<WebhookEndpoint>& out) override;
  Status list(std::vector<WebhookEndpoint>& out) override;
  Status insert(const WebhookEndpoint& endpoint) override;
  Status remove(const std::string& id, bool& found) override;
  Status change(const std::string& id, const std::function<bool(WebhookEndpoint&)>& change,
                const WebhookDelivery* delivery = nullptr) override;
  Status start_now(DeliveryStart& out) override;
  Status start_at(TimeMs since, DeliveryStart& out) override;

 private:
  RocksStore& store_;
  std::mutex mutex_;
};

}  // namespace loyalty::webhooks
