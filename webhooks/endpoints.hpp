// Webhook endpoints as operators manage them (POST/GET/PATCH/DELETE /v1/webhooks…): checked,
// and kept in an EndpointStore (this folder, or etcd in cluster mode) whose changes are atomic,
// so that an operator's change and a delivery thread's never overwrite each other.
// Thread-safety: every public method from any thread.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/runtime/runtime.hpp"
#include "webhooks/endpoint_store.hpp"

namespace loyalty::webhooks {

// What POST and PATCH give; absent fields of a PATCH stay as they are.
struct EndpointChange {
  std::optional<std::string> url;
  std::optional<std::vector<std::string>> event_types;
  std::optional<std::string> description;
  std::optional<bool> disabled;
};

// A refusal of a change: the field and why (400), or not_found.
struct EndpointRefusal {
  bool not_found = false;
  std::string field;
  std::string message;
};

class Endpoints {
 public:
  // A rotation's old secret keeps signing this long (api.md).
  static constexpr TimeMs kRotationOverlapMs = 24 * 60 * 60 * 1000;

  Endpoints(EndpointStore& store, Clock clock, bool allow_private);

  // Creates one (a new id and secret); `refusal` set when the change is refused.
  Status create(const EndpointChange& change, WebhookEndpoint& out,
                std::optional<EndpointRefusal>& refusal);
  Status update(const std::string& id, const EndpointChange& change, WebhookEndpoint& out,
                std::optional<EndpointRefusal>& refusal);
  Status remove(const std::string& id, bool& found);
  Status rotate(const std::string& id, std::optional<WebhookEndpoint>& out);
  // Deliveries start again at the first change at or after `since` (sent again: at least once).
  Status replay(const std::string& id, TimeMs since, std::optional<WebhookEndpoint>& out);
  Status find(const std::string& id, std::optional<WebhookEndpoint>& out);
  Status list(std::vector<WebhookEndpoint>& out);

  // Under the lock: the endpoint as stored (nullopt when deleted), changed by `change`, which
  // returns whether to store it (and `delivery` with it, when given).
  Status with_endpoint(const std::string& id, const std::function<bool(WebhookEndpoint&)>& change,
                       const WebhookDelivery* delivery = nullptr);

 private:
  std::optional<EndpointRefusal> apply(const EndpointChange& change, WebhookEndpoint& endpoint);

  EndpointStore& store_;
  Clock clock_;
  const bool allow_private_;
};

}  // namespace loyalty::webhooks
