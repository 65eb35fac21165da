#include "cluster/etcd_endpoint_store.hpp"

#include "cluster/job_messages.hpp"
#include "engine/check.hpp"
#include "storage/keys.hpp"
#include "storage/webhook_record.hpp"

namespace loyalty::cluster {
namespace {

// Compare-and-sets tried before a change gives up (another node changing the same endpoint
// every time is an operator's loop, not contention).
constexpr int kChangeAttempts = 20;

}  // namespace

std::string webhook_endpoints_prefix(const std::string& cluster_name) {
  return "/" + cluster_name + "/webhooks/endpoints/";
}

std::string webhook_lanes_prefix(const std::string& cluster_name, const std::string& endpoint_id) {
  return "/" + cluster_name + "/webhooks/lanes/" + endpoint_id + "/";
}

EtcdEndpointStore::EtcdEndpointStore(EtcdClient& etcd, std::string cluster_name,
                                     std::function<Status(uint64_t&)> log_end)
    : etcd_(etcd), name_(std::move(cluster_name)), log_end_(std::move(log_end)) {}

std::string EtcdEndpointStore::key(const std::string& id) const {
  return webhook_endpoints_prefix(name_) + id;
}

Status EtcdEndpointStore::load(const std::string& id, std::optional<WebhookEndpoint>& out) {
  out.reset();
  if (!storage::valid_member_key(id)) return Status::ok_status();
  std::optional<EtcdKeyValue> found;
  if (Status s = etcd_.get(key(id), found); !s.ok() || !found) return s;
  WebhookEndpoint endpoint;
  if (Status s = storage::decode_webhook(id, found->value, endpoint); !s.ok()) return s;
  out = std::move(endpoint);
  return Status::ok_status();
}

Status EtcdEndpointStore::list(std::vector<WebhookEndpoint>& out) {
  out.clear();
  std::vector<EtcdKeyValue> found;
  const std::string prefix = webhook_endpoints_prefix(name_);
  if (Status s = etcd_.get_prefix(prefix, found); !s.ok()) return s;
  for (const EtcdKeyValue& kv : found) {
    WebhookEndpoint endpoint;
    if (Status s = storage::decode_webhook(kv.key.substr(prefix.size()), kv.value, endpoint);
        !s.ok()) {
      return s;
    }
    out.push_back(std::move(endpoint));
  }
  return Status::ok_status();
}

Status EtcdEndpointStore::insert(const WebhookEndpoint& endpoint) {
  bool created = false;
  if (Status s = etcd_.create(key(endpoint.id), storage::encode_webhook(endpoint), 0, created);
      !s.ok()) {
    return s;
  }
  // 64 random bits: a clash is a broken random source.
  LOYALTY_CHECK(created);
  return Status::ok_status();
}

Status EtcdEndpointStore::remove(const std::string& id, bool& found) {
  found = false;
  if (!storage::valid_member_key(id)) return Status::ok_status();
  std::optional<EtcdKeyValue> existing;
  if (Status s = etcd_.get(key(id), existing); !s.ok() || !existing) return s;
  found = true;
  if (Status s = etcd_.remove(key(id)); !s.ok()) return s;
  return etcd_.remove_prefix(webhook_lanes_prefix(name_, id));
}

Status EtcdEndpointStore::change(const std::string& id,
                                 const std::function<bool(WebhookEndpoint&)>& change,
                                 const WebhookDelivery* delivery) {
  LOYALTY_CHECK(delivery == nullptr);  // deliveries are each node's (cluster/webhook_lanes.hpp)
  if (!storage::valid_member_key(id)) return Status::ok_status();
  for (int attempt = 0; attempt < kChangeAttempts; ++attempt) {
    std::optional<EtcdKeyValue> found;
    if (Status s = etcd_.get(key(id), found); !s.ok() || !found) return s;
    WebhookEndpoint endpoint;
    if (Status s = storage::decode_webhook(id, found->value, endpoint); !s.ok()) return s;
    if (!change(endpoint)) return Status::ok_status();
    bool put = false;
    if (Status s =
            etcd_.put_if(key(id), storage::encode_webhook(endpoint), found->mod_revision, put);
        !s.ok()) {
      return s;
    }
    if (put) return Status::ok_status();
  }
  return Status::error(Status::Code::io_error,
                       "webhook " + id + ": changed by other nodes at every attempt; try again");
}

Status EtcdEndpointStore::start_now(webhooks::DeliveryStart& out) {
  uint64_t last = 0;
  if (Status s = log_end_(last); !s.ok()) return s;
  out.next = {last + 1, 0};
  return next_job_message_number(etcd_, name_, out.next_job_message);
}

Status EtcdEndpointStore::start_at(TimeMs since, webhooks::DeliveryStart& out) {
  // Each partition's deliveries find their own start from the endpoint's replay_since.
  out.next = {0, 0};
  std::vector<ClusterJobMessage> messages;
  if (Status s = list_job_messages(etcd_, name_, messages); !s.ok()) return s;
  if (Status s = next_job_message_number(etcd_, name_, out.next_job_message); !s.ok()) return s;
  for (const ClusterJobMessage& m : messages) {
    if (m.job.finished_at >= since) {
      out.next_job_message = m.number;
      break;
    }
  }
  return Status::ok_status();
}

}  // namespace loyalty::cluster
