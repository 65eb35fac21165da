// Cluster mode's webhook endpoints (api.md "Webhooks"; cluster.md: every node serves the whole
// API): kept in etcd ("/<name>/webhooks/endpoints/<id>", the record as storage encodes it), so
// that every node serves and delivers the same ones; a change is a compare-and-set on the key's
// revision, tried again when another node changed it meanwhile. A new endpoint starts after the
// input log's last message (the stream's sequence is one numbering over every partition) and the
// job messages there are; a replay records its time with a new generation, which each
// partition's deliveries start again from (cluster/webhook_lanes.hpp).
// Thread-safety: every method from any thread.
#pragma once

#include <functional>
#include <string>

#include "cluster/etcd_client.hpp"
#include "webhooks/endpoint_store.hpp"

namespace loyalty::cluster {

std::string webhook_endpoints_prefix(const std::string& cluster_name);
// Where each partition's deliveries of the endpoint stand (cluster/webhook_lanes.hpp).
std::string webhook_lanes_prefix(const std::string& cluster_name, const std::string& endpoint_id);

class EtcdEndpointStore final : public webhooks::EndpointStore {
 public:
  // `log_end`: the input log's last stream sequence now. `etcd` outlives this.
  EtcdEndpointStore(EtcdClient& etcd, std::string cluster_name,
                    std::function<Status(uint64_t& sequence)> log_end);
  Status load(const std::string& id, std::optional<WebhookEndpoint>& out) override;
  Status list(std::vector<WebhookEndpoint>& out) override;
  Status insert(const WebhookEndpoint& endpoint) override;
  Status remove(const std::string& id, bool& found) override;
  Status change(const std::string& id, const std::function<bool(WebhookEndpoint&)>& change,
                const WebhookDelivery* delivery = nullptr) override;
  Status start_now(webhooks::DeliveryStart& out) override;
  Status start_at(TimeMs since, webhooks::DeliveryStart& out) override;

 private:
  std::string key(const std::string& id) const;

  EtcdClient& etcd_;
  const std::string name_;
  std::function<Status(uint64_t&)> log_end_;
};

}  // namespace loyalty::cluster
