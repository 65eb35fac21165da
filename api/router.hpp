// The router: a plain function of (request, principal) that either answers at once or starts
// an asynchronous step (an event handed to the runtime) that answers later. It knows nothing of
// sockets or sessions.
// Thread-safety: route() and the handlers may run on any I/O thread concurrently; they only
// read the ApiContext and call thread-safe services.
#pragma once

#include <atomic>
#include <boost/url/params_view.hpp>
#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <variant>

#include "api/auth.hpp"
#include "api/http_message.hpp"
#include "engine/runtime/program_registry.hpp"
#include "engine/runtime/runtime.hpp"
#include "storage/rocks_store.hpp"

namespace loyalty::cluster {
class ClusterNode;
}  // namespace loyalty::cluster

namespace loyalty::ops {
class JobService;
class BackupJobs;
class ErasurePurges;
}  // namespace loyalty::ops

namespace loyalty::webhooks {
class Endpoints;
class Dispatcher;
}  // namespace loyalty::webhooks

namespace loyalty::api {

class NotificationHub;
class ClusterReads;
class FeedReads;

// The services the handlers use. Copied into asynchronous completions, so it holds pointers.
struct ApiContext {
  Runtime* runtime = nullptr;
  RocksStore* store = nullptr;
  ProgramRegistry* programs = nullptr;
  Clock clock;                               // the server's clock (system_clock_ms)
  const std::atomic<bool>* ready = nullptr;  // set by HttpServer: false while starting/draining
  NotificationHub* hub = nullptr;  // WebSocket fan-out (ws_session.hpp); none: no subscriptions
  // POST/GET /v1/jobs: the job runner, or in cluster mode the cluster's jobs; none: 503.
  ops::JobService* jobs = nullptr;
  // POST /v1/backups, and GET /v1/jobs/{job_id} of a backup: this node's; none: 503.
  ops::BackupJobs* backups = nullptr;
  // POST /v1/members/{member_id}:erase: the purges of erasures from this node's folder; none:
  // erasures are refused (503).
  ops::ErasurePurges* erasures = nullptr;
  // Cluster mode: an erasure's end in the member's partition's input log (its owner runs the
  // request), cluster/log_erasures.hpp; `done` gets how many messages it replaced.
  std::function<void(const std::string& member_id,
                     std::function<void(const Status& status, uint64_t erased)> done)>
      erase_from_log = nullptr;
  // /v1/webhooks…: the endpoints and their deliveries (in etcd and per partition in cluster
  // mode); none: 503.
  webhooks::Endpoints* webhook_endpoints = nullptr;
  webhooks::Dispatcher* webhooks = nullptr;
  // Cluster mode: this node (GET /v1/cluster), and where member reads are answered; none in
  // single mode.
  const cluster::ClusterNode* cluster = nullptr;
  ClusterReads* cluster_reads = nullptr;
  // Where WebSocket subscriptions read a member's feed; none: the store (single mode).
  FeedReads* feed = nullptr;
  // Whether /console/ serves the operator console ([http] console; api/console.hpp).
  bool console = false;
};

// Delivers the response of an asynchronous step. Called exactly once, from any thread (a
// runtime writer thread, typically); the session moves the response onto its own executor.
using Respond = std::function<void(HttpResponse&&)>;

// An asynchronous step: `start` is called once with the session's Respond.
struct Deferred {
  std::function<void(Respond)> start;
};

using RouteResult = std::variant<HttpResponse, Deferred>;

// Where a route is answered in cluster mode (api/cluster_reads.hpp).
enum class Placement : uint8_t {
  any_node,          // here, whatever the node
  member_partition,  // by the owner of the partition of the member the path's first parameter
                     // names (a read that must see every acknowledged write)
};

// Who may call a route (api.md "Auth").
enum class Access : uint8_t {
  open,         // anyone, with or without credentials (probes, metrics, the API description)
  keys,         // API keys of the route's roles
  member_read,  // those, and a member token of the member the path's first parameter names
  member_self,  // as member_read, for what a member may do for itself (redeem a reward)
  member_any,   // those, and any member token (the handler limits it to the member's own)
};

// What a handler gets: the request, its caller (authorized as the route says) and the path's
// {parameters}, percent-decoded, in the template's order.
struct RouteCall {
  const ApiContext& context;
  const HttpRequest& request;
  const std::optional<Principal>& principal;
  std::span<const std::string_view> params;
  boost::urls::params_view query;
  // Cluster mode: sent here by another node for a partition this one serves (never onward).
  bool forwarded = false;
};
using RouteHandler = RouteResult (*)(const RouteCall& call);

// One route the server serves: the method, the path as an OpenAPI path template
// ("/v1/members/{member_id}", "/v1/holds/{hold_id}:capture"), who may call it and what answers
// it. docs/openapi.json describes exactly these (tests/api/openapi_routes_test.cpp), the role
// test reads them (tests/e2e/test_roles.py), and route() dispatches through them.
struct RouteSpec {
  http::verb method;
  std::string_view path;
  Access access = Access::open;
  RoleSet roles;                   // with Access::keys and Access::member_read
  RouteHandler handler = nullptr;  // nullptr: the WebSocket upgrade, taken over by the session
                                   // before route() is called
  Placement placement = Placement::any_node;

  bool websocket() const { return handler == nullptr; }
};

// Every route, defined in routes.cpp. Add a route there and to docs/openapi.json.
std::span<const RouteSpec> routes();

// The path template of the route whose path `target` (origin form, query ignored) matches,
// whatever the method; nullopt when none does. For metric labels of bounded cardinality.
std::optional<std::string_view> route_template(std::string_view target);

// The session sets the HTTP version, keep-alive, X-Request-Id and Content-Length afterwards.
// `forwarded`: another node of the cluster sent it here to be answered (never sent on again).
RouteResult route(const ApiContext& context, const HttpRequest& request,
                  const std::optional<Principal>& principal, bool forwarded = false);

}  // namespace loyalty::api
