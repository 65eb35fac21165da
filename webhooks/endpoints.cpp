#include "webhooks/endpoints.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <cstdio>

#include "engine/check.hpp"
#include "webhooks/destination.hpp"
#include "webhooks/messages.hpp"
#include "webhooks/signature.hpp"

namespace loyalty::webhooks {
namespace {

constexpr size_t kDescriptionMax = 500;

std::string new_endpoint_id() {
  unsigned char bytes[8];
  LOYALTY_CHECK(RAND_bytes(bytes, sizeof bytes) == 1);
  std::string id = "ep_";
  for (unsigned char b : bytes) {
    char hex[3];
    std::snprintf(hex, sizeof hex, "%02x", b);
    id += hex;
  }
  return id;
}

}  // namespace

Endpoints::Endpoints(EndpointStore& store, Clock clock, bool allow_private)
    : store_(store), clock_(std::move(clock)), allow_private_(allow_private) {}

std::optional<EndpointRefusal> Endpoints::apply(const EndpointChange& change,
                                                WebhookEndpoint& endpoint) {
  if (change.url) {
    auto parsed = parse_destination(*change.url);
    if (const std::string* error = std::get_if<std::string>(&parsed)) {
      return EndpointRefusal{false, "url", *error};
    }
    if (!allow_private_) {
      const std::string refused = refuse_private_host(std::get<Destination>(parsed));
      if (!refused.empty()) {
        return EndpointRefusal{false, "url",
                               refused + " (allowed only with [webhooks] allow_private_addresses)"};
      }
    }
    endpoint.url = *change.url;
  }
  if (change.event_types) {
    for (size_t i = 0; i < change.event_types->size(); ++i) {
      const std::string& type = (*change.event_types)[i];
      if (!known_message_type(type)) {
        return EndpointRefusal{false, "event_types[" + std::to_string(i) + "]",
                               "unknown message type: " + type};
      }
    }
    endpoint.event_types = *change.event_types;
    std::sort(endpoint.event_types.begin(), endpoint.event_types.end());
    endpoint.event_types.erase(
        std::unique(endpoint.event_types.begin(), endpoint.event_types.end()),
        endpoint.event_types.end());
  }
  if (change.description) {
    if (change.description->size() > kDescriptionMax) {
      return EndpointRefusal{false, "description", "description is longer than 500 bytes"};
    }
    endpoint.description = *change.description;
  }
  if (change.disabled) {
    endpoint.disabled = *change.disabled;
    endpoint.disabled_reason.clear();  // the operator's decision now
    // Enabled again: failures before do not count towards disabling it again.
    if (!endpoint.disabled) endpoint.failing_since = 0;
  }
  return std::nullopt;
}

Status Endpoints::create(const EndpointChange& change, WebhookEndpoint& out,
                         std::optional<EndpointRefusal>& refusal) {
  refusal.reset();
  if (!change.url) {
    refusal = EndpointRefusal{false, "url", "url is required"};
    return Status::ok_status();
  }
  WebhookEndpoint endpoint;
  endpoint.id = new_endpoint_id();
  endpoint.secret = new_secret();
  endpoint.created_at = endpoint.updated_at = clock_();
  refusal = apply(change, endpoint);
  if (refusal) return Status::ok_status();
  DeliveryStart start;
  if (Status status = store_.start_now(start); !status.ok()) return status;
  endpoint.next = start.next;
  endpoint.next_job_message = start.next_job_message;
  if (Status status = store_.insert(endpoint); !status.ok()) return status;
  out = std::move(endpoint);
  return Status::ok_status();
}

Status Endpoints::update(const std::string& id, const EndpointChange& change, WebhookEndpoint& out,
                         std::optional<EndpointRefusal>& refusal) {
  refusal = EndpointRefusal{true, "", "no webhook endpoint with this id"};
  return store_.change(id, [&](WebhookEndpoint& endpoint) {
    refusal = apply(change, endpoint);
    if (refusal) return false;
    endpoint.updated_at = clock_();
    out = endpoint;
    return true;
  });
}

Status Endpoints::remove(const std::string& id, bool& found) { return store_.remove(id, found); }

Status Endpoints::rotate(const std::string& id, std::optional<WebhookEndpoint>& out) {
  return with_endpoint(id, [&](WebhookEndpoint& endpoint) {
    endpoint.previous_secret = endpoint.secret;
    endpoint.previous_until = clock_() + kRotationOverlapMs;
    endpoint.secret = new_secret();
    endpoint.updated_at = clock_();
    out = endpoint;
    return true;
  });
}

Status Endpoints::replay(const std::string& id, TimeMs since, std::optional<WebhookEndpoint>& out) {
  DeliveryStart start;
  if (Status status = store_.start_at(since, start); !status.ok()) return status;
  return with_endpoint(id, [&](WebhookEndpoint& endpoint) {
    endpoint.next = start.next;
    endpoint.next_job_message = start.next_job_message;
    endpoint.replay_since = since;
    ++endpoint.replay_generation;
    endpoint.updated_at = clock_();
    out = endpoint;
    return true;
  });
}

Status Endpoints::find(const std::string& id, std::optional<WebhookEndpoint>& out) {
  return store_.load(id, out);
}

Status Endpoints::list(std::vector<WebhookEndpoint>& out) { return store_.list(out); }

Status Endpoints::with_endpoint(const std::string& id,
                                const std::function<bool(WebhookEndpoint&)>& change,
                                const WebhookDelivery* delivery) {
  return store_.change(id, change, delivery);
}

}  // namespace loyalty::webhooks
