// The webhooks API (admin; api.md "Webhooks"): endpoints created, listed, changed and deleted,
// their secret rotated, a test message sent, their deliveries listed, and their deliveries
// started again from a time. Deliveries themselves run in webhooks/dispatcher.
#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <map>

#include "api/handlers.hpp"
#include "api/json_fields.hpp"
#include "webhooks/dispatcher.hpp"
#include "webhooks/endpoints.hpp"

namespace loyalty::api {
namespace {

namespace json = boost::json;
using json_fields::Fields;

constexpr size_t kDeliveriesLimitDefault = 50;
constexpr size_t kDeliveriesLimitMax = 500;

HttpResponse webhooks_unavailable() {
  return problem_response(ErrorCode::unavailable,
                          "webhooks are not available on this server (cluster mode)");
}

HttpResponse endpoint_not_found() {
  return problem_response(ErrorCode::not_found, "no webhook endpoint with this id", "webhook_id");
}

// The endpoint as the API shows it; its secret only where api.md says (creation, rotation).
json::object endpoint_json(const WebhookEndpoint& e, TimeMs now, bool with_secret) {
  json::array types;
  for (const std::string& type : e.event_types) types.emplace_back(type);
  json::object body{{"id", e.id},
                    {"url", e.url},
                    {"event_types", std::move(types)},
                    {"description", e.description},
                    {"disabled", e.disabled},
                    {"created_at", format_rfc3339(e.created_at)},
                    {"updated_at", format_rfc3339(e.updated_at)}};
  if (!e.disabled_reason.empty()) body["disabled_reason"] = e.disabled_reason;
  if (!e.previous_secret.empty() && now < e.previous_until) {
    body["previous_secret_until"] = format_rfc3339(e.previous_until);
  }
  if (with_secret) body["secret"] = e.secret;
  return body;
}

json::object delivery_json(const WebhookDelivery& d) {
  json::array attempts;
  for (const DeliveryAttempt& a : d.attempts) {
    json::object attempt{{"at", format_rfc3339(a.at)}, {"duration_ms", a.duration_ms}};
    attempt["status"] = a.status == 0 ? json::value(nullptr) : json::value(a.status);
    if (!a.error.empty()) attempt["error"] = a.error;
    attempts.emplace_back(std::move(attempt));
  }
  json::object body{{"message_id", d.message_id},
                    {"type", d.type},
                    {"member_id", d.member_id},
                    {"created_at", format_rfc3339(d.created_at)},
                    {"state", delivery_state_name(d.state)},
                    {"attempts", std::move(attempts)}};
  if (d.state == DeliveryState::pending && d.next_attempt_at != 0) {
    body["next_attempt_at"] = format_rfc3339(d.next_attempt_at);
  }
  return body;
}

Parsed<webhooks::EndpointChange> parse_endpoint_change(std::string_view body) {
  return json_fields::guarded<webhooks::EndpointChange>([&] {
    json::value storage;
    const json::object& object = json_fields::parse_object(body, storage);
    const Fields f(object, "");
    f.refuse_unknown({"url", "event_types", "description", "disabled"});
    webhooks::EndpointChange change;
    if (const json::value* v = f.optional("url")) change.url = f.string("url", *v);
    if (const json::value* v = f.optional("event_types")) {
      if (!v->is_array()) json_fields::malformed("event_types", "event_types must be an array");
      std::vector<std::string> types;
      for (size_t i = 0; i < v->as_array().size(); ++i) {
        types.push_back(f.string("event_types[" + std::to_string(i) + "]", v->as_array()[i]));
      }
      change.event_types = std::move(types);
    }
    if (const json::value* v = f.optional("description")) {
      change.description = f.string("description", *v);
    }
    if (const json::value* v = f.optional("disabled")) {
      if (!v->is_bool()) json_fields::malformed("disabled", "disabled must be true or false");
      change.disabled = v->as_bool();
    }
    return change;
  });
}

HttpResponse refusal_response(const webhooks::EndpointRefusal& refusal) {
  if (refusal.not_found) return endpoint_not_found();
  return problem_response(ErrorCode::invalid_request, refusal.message, refusal.field);
}

// A deliveries cursor: "<log_seq>.<index>" of the first delivery of the page.
std::optional<MessagePosition> parse_cursor(std::string_view text) {
  const size_t dot = text.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  MessagePosition position;
  const char* end = text.data() + dot;
  if (std::from_chars(text.data(), end, position.log_seq).ptr != end) return std::nullopt;
  const char* last = text.data() + text.size();
  if (std::from_chars(end + 1, last, position.index).ptr != last) return std::nullopt;
  return position;
}

// A message id's place: "msg_<log position>_<index>", or job messages' "msg_job_<number>"
// (position {0, number}).
std::optional<MessagePosition> message_position(std::string_view id) {
  if (id.starts_with("msg_job_")) {
    const std::string_view number = id.substr(8);
    MessagePosition at;
    const char* last = number.data() + number.size();
    if (std::from_chars(number.data(), last, at.index).ptr != last) return std::nullopt;
    return at;
  }
  if (!id.starts_with("msg_")) return std::nullopt;
  std::string text(id.substr(4));
  const size_t underscore = text.find('_');
  if (underscore == std::string::npos) return std::nullopt;
  text[underscore] = '.';
  return parse_cursor(text);
}

// Actions without parameters take no body, or an empty JSON object.
std::optional<HttpResponse> refuse_body(const HttpRequest& request) {
  if (request.body().empty()) return std::nullopt;
  Parsed<bool> parsed = json_fields::guarded<bool>([&] {
    json::value storage;
    const Fields f(json_fields::parse_object(request.body(), storage), "");
    f.refuse_unknown({});
    return true;
  });
  if (const ParseError* error = std::get_if<ParseError>(&parsed)) return error->to_response();
  return std::nullopt;
}

}  // namespace

HttpResponse handle_create_webhook(const ApiContext& context, const HttpRequest& request) {
  if (context.webhook_endpoints == nullptr) return webhooks_unavailable();
  Parsed<webhooks::EndpointChange> parsed = parse_endpoint_change(request.body());
  if (const ParseError* error = std::get_if<ParseError>(&parsed)) return error->to_response();
  WebhookEndpoint endpoint;
  std::optional<webhooks::EndpointRefusal> refusal;
  if (Status status = context.webhook_endpoints->create(std::get<webhooks::EndpointChange>(parsed),
                                                        endpoint, refusal);
      !status.ok()) {
    return problem_response(storage_problem(status, "create webhook"));
  }
  if (refusal) return refusal_response(*refusal);
  if (context.webhooks != nullptr) context.webhooks->wake();
  return json_response(http::status::created, endpoint_json(endpoint, context.clock(), true));
}

HttpResponse handle_list_webhooks(const ApiContext& context) {
  if (context.webhook_endpoints == nullptr) return webhooks_unavailable();
  std::vector<WebhookEndpoint> endpoints;
  if (Status status = context.webhook_endpoints->list(endpoints); !status.ok()) {
    return problem_response(storage_problem(status, "list webhooks"));
  }
  json::array items;
  for (const WebhookEndpoint& e : endpoints) {
    items.emplace_back(endpoint_json(e, context.clock(), false));
  }
  return json_response(http::status::ok, json::object{{"webhooks", std::move(items)}});
}

HttpResponse handle_get_webhook(const ApiContext& context, std::string_view id) {
  if (context.webhook_endpoints == nullptr) return webhooks_unavailable();
  std::optional<WebhookEndpoint> endpoint;
  if (Status status = context.webhook_endpoints->find(std::string(id), endpoint); !status.ok()) {
    return problem_response(storage_problem(status, "find webhook"));
  }
  if (!endpoint) return endpoint_not_found();
  return json_response(http::status::ok, endpoint_json(*endpoint, context.clock(), false));
}

HttpResponse handle_update_webhook(const ApiContext& context, const HttpRequest& request,
                                   std::string_view id) {
  if (context.webhook_endpoints == nullptr) return webhooks_unavailable();
  Parsed<webhooks::EndpointChange> parsed = parse_endpoint_change(request.body());
  if (const ParseError* error = std::get_if<ParseError>(&parsed)) return error->to_response();
  WebhookEndpoint endpoint;
  std::optional<webhooks::EndpointRefusal> refusal;
  if (Status status = context.webhook_endpoints->update(
          std::string(id), std::get<webhooks::EndpointChange>(parsed), endpoint, refusal);
      !status.ok()) {
    return problem_response(storage_problem(status, "update webhook"));
  }
  if (refusal) return refusal_response(*refusal);
  if (context.webhooks != nullptr) context.webhooks->wake();
  return json_response(http::status::ok, endpoint_json(endpoint, context.clock(), false));
}

HttpResponse handle_delete_webhook(const ApiContext& context, std::string_view id) {
  if (context.webhook_endpoints == nullptr) return webhooks_unavailable();
  bool found = false;
  if (Status status = context.webhook_endpoints->remove(std::string(id), found); !status.ok()) {
    return problem_response(storage_problem(status, "delete webhook"));
  }
  if (!found) return endpoint_not_found();
  return HttpResponse{http::status::no_content, 11};
}

HttpResponse handle_rotate_webhook_secret(const ApiContext& context, const HttpRequest& request,
                                          std::string_view id) {
  if (context.webhook_endpoints == nullptr) return webhooks_unavailable();
  if (std::optional<HttpResponse> refused = refuse_body(request)) return std::move(*refused);
  std::optional<WebhookEndpoint> endpoint;
  if (Status status = context.webhook_endpoints->rotate(std::string(id), endpoint); !status.ok()) {
    return problem_response(storage_problem(status, "rotate webhook secret"));
  }
  if (!endpoint) return endpoint_not_found();
  return json_response(http::status::ok, endpoint_json(*endpoint, context.clock(), true));
}

RouteResult handle_test_webhook(const ApiContext& context, const HttpRequest& request,
                                std::string_view id) {
  if (context.webhook_endpoints == nullptr || context.webhooks == nullptr) {
    return webhooks_unavailable();
  }
  if (std::optional<HttpResponse> refused = refuse_body(request)) return std::move(*refused);
  std::optional<WebhookEndpoint> endpoint;
  if (Status status = context.webhook_endpoints->find(std::string(id), endpoint); !status.ok()) {
    return problem_response(storage_problem(status, "find webhook"));
  }
  if (!endpoint) return endpoint_not_found();
  return Deferred{[context, endpoint = std::move(*endpoint)](Respond respond) mutable {
    context.webhooks->send_test(
        endpoint, [respond = std::move(respond)](const webhooks::TestOutcome& outcome) {
          const webhooks::SendResult& r = outcome.result;
          json::object body{{"message_id", outcome.message.id},
                            {"delivered", r.status >= 200 && r.status < 300},
                            {"duration_ms", r.duration_ms}};
          body["status"] = r.status == 0 ? json::value(nullptr) : json::value(r.status);
          if (!r.error.empty()) body["error"] = r.error;
          respond(json_response(http::status::ok, body));
        });
  }};
}

HttpResponse handle_webhook_deliveries(const ApiContext& context, std::string_view id,
                                       boost::urls::params_view query, bool forwarded) {
  if (context.webhook_endpoints == nullptr) return webhooks_unavailable();
  std::optional<DeliveryState> state;
  MessagePosition from{0, 0};
  size_t limit = kDeliveriesLimitDefault;
  for (const boost::urls::param param : query) {
    if (param.key == "state") {
      state = parse_delivery_state(param.value);
      if (!state) {
        return problem_response(ErrorCode::invalid_request,
                                "state must be pending, delivered or failed", "state");
      }
    } else if (param.key == "cursor") {
      const std::optional<MessagePosition> cursor = parse_cursor(param.value);
      if (!cursor) {
        return problem_response(ErrorCode::invalid_request, "cursor is not one this API gave",
                                "cursor");
      }
      from = *cursor;
    } else if (param.key == "limit") {
      size_t value = 0;
      const std::string& text = param.value;
      const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (error != std::errc() || end != text.data() + text.size() || value < 1 ||
          value > kDeliveriesLimitMax) {
        return problem_response(ErrorCode::invalid_request, "limit must be 1 to 500", "limit");
      }
      limit = value;
    } else {
      return problem_response(ErrorCode::invalid_request,
                              "unknown query parameter; use state, cursor or limit", param.key);
    }
  }
  std::optional<WebhookEndpoint> endpoint;
  if (Status status = context.webhook_endpoints->find(std::string(id), endpoint); !status.ok()) {
    return problem_response(storage_problem(status, "find webhook"));
  }
  if (!endpoint) return endpoint_not_found();
  json::array items;
  std::optional<MessagePosition> next;
  Status status =
      context.store->scan_deliveries(endpoint->id, from, [&](const WebhookDelivery& delivery) {
        // Forwarded: every state (the asking node merges the nodes' attempts, then filters).
        if (state && !forwarded && delivery.state != *state) return true;
        if (items.size() == limit) {
          next = delivery.position;
          return false;
        }
        items.emplace_back(delivery_json(delivery));
        return true;
      });
  if (!status.ok()) return problem_response(storage_problem(status, "scan deliveries"));
  json::object body{{"deliveries", std::move(items)}};
  body["next_cursor"] =
      next ? json::value(std::to_string(next->log_seq) + "." + std::to_string(next->index))
           : json::value(nullptr);
  return json_response(http::status::ok, body);
}

HttpResponse merge_delivery_pages(std::vector<HttpResponse> pages, boost::urls::params_view query) {
  size_t limit = kDeliveriesLimitDefault;
  std::optional<DeliveryState> state;
  for (const boost::urls::param param : query) {
    // Checked by each node already.
    if (param.key == "limit") {
      std::from_chars(param.value.data(), param.value.data() + param.value.size(), limit);
    }
    if (param.key == "state") state = parse_delivery_state(param.value);
  }
  // Every node's page, a message's records merged into one (each node that owned its partition
  // made some of its attempts), in message order; nothing at or past the first place a node
  // with more stopped at (what lies beyond it there was not read yet).
  std::map<MessagePosition, json::object> deliveries;
  std::optional<MessagePosition> stop;
  const auto last_attempt = [](const json::object& d) -> std::string {
    const json::array& attempts = d.at("attempts").as_array();
    return attempts.empty() ? std::string() : std::string(attempts.back().at("at").as_string());
  };
  for (HttpResponse& page : pages) {
    if (page.result() != http::status::ok) return std::move(page);
    boost::system::error_code error;
    json::value body = json::parse(page.body(), error);
    json::object* object = error ? nullptr : body.if_object();
    json::value* items = object ? object->if_contains("deliveries") : nullptr;
    const json::value* next = object ? object->if_contains("next_cursor") : nullptr;
    if (items == nullptr || !items->is_array() || next == nullptr) {
      return problem_response(ErrorCode::unavailable,
                              "a node sent an answer this node cannot read; retry shortly");
    }
    if (next->is_string()) {
      const std::optional<MessagePosition> at = parse_cursor(next->as_string());
      if (at && (!stop || *at < *stop)) stop = at;
    }
    for (json::value& item : items->as_array()) {
      json::object* d = item.if_object();
      const json::value* id = d ? d->if_contains("message_id") : nullptr;
      const json::value* attempts = d ? d->if_contains("attempts") : nullptr;
      const std::optional<MessagePosition> at =
          id && id->is_string() ? message_position(id->as_string()) : std::nullopt;
      if (!at || attempts == nullptr || !attempts->is_array()) {
        return problem_response(ErrorCode::unavailable,
                                "a node sent a delivery this node cannot place; retry shortly");
      }
      auto [it, added] = deliveries.try_emplace(*at, std::move(*d));
      if (added) continue;
      // The newer record says where the message stands; the attempts are both's, by time.
      json::object incoming = std::move(*d);
      json::object& kept = it->second;
      const bool incoming_newer = last_attempt(incoming) > last_attempt(kept);
      json::array merged = kept.at("attempts").as_array();
      for (json::value& a : incoming.at("attempts").as_array()) merged.push_back(std::move(a));
      std::stable_sort(merged.begin(), merged.end(),
                       [](const json::value& a, const json::value& b) {
                         return a.at("at").as_string() < b.at("at").as_string();
                       });
      if (incoming_newer) kept = std::move(incoming);
      kept["attempts"] = std::move(merged);
    }
  }
  json::array items;
  std::optional<MessagePosition> next = stop;
  for (auto& [at, item] : deliveries) {
    if (stop && !(at < *stop)) break;
    if (state && item.at("state").as_string() != delivery_state_name(*state)) continue;
    if (items.size() == limit) {
      next = at;
      break;
    }
    items.emplace_back(std::move(item));
  }
  json::object body{{"deliveries", std::move(items)}};
  body["next_cursor"] =
      next ? json::value(std::to_string(next->log_seq) + "." + std::to_string(next->index))
           : json::value(nullptr);
  return json_response(http::status::ok, body);
}

HttpResponse handle_replay_webhook(const ApiContext& context, const HttpRequest& request,
                                   std::string_view id) {
  if (context.webhook_endpoints == nullptr) return webhooks_unavailable();
  Parsed<TimeMs> parsed = json_fields::guarded<TimeMs>([&] {
    json::value storage;
    const Fields f(json_fields::parse_object(request.body(), storage), "");
    f.refuse_unknown({"since"});
    return f.time("since", f.required("since"));
  });
  if (const ParseError* error = std::get_if<ParseError>(&parsed)) return error->to_response();
  std::optional<WebhookEndpoint> endpoint;
  if (Status status =
          context.webhook_endpoints->replay(std::string(id), std::get<TimeMs>(parsed), endpoint);
      !status.ok()) {
    return problem_response(storage_problem(status, "replay webhook"));
  }
  if (!endpoint) return endpoint_not_found();
  if (context.webhooks != nullptr) context.webhooks->wake();
  return json_response(http::status::ok, endpoint_json(*endpoint, context.clock(), false));
}

}  // namespace loyalty::api
