// Endpoint handlers, called by the router once the path matched and the caller is authorized.
// Grouped by resource: handlers_members.cpp, handlers_events.cpp, handlers_health.cpp.
// Thread-safety: as route().
#pragma once

#include <boost/url/params_view.hpp>
#include <string_view>

#include "api/router.hpp"

namespace loyalty::api {

// POST /v1/members → 201 member view; 200 + replayed on an identical repeat.
RouteResult handle_signup(const ApiContext& context, const HttpRequest& request);
// GET /v1/members/{member_id}
HttpResponse handle_get_member(const ApiContext& context, std::string_view member_id);
// GET /v1/members:lookup?phone=… | ?card_no=…
HttpResponse handle_lookup(const ApiContext& context, boost::urls::params_view params);
// GET /v1/members/{member_id}/ledger?limit=&cursor=
HttpResponse handle_ledger(const ApiContext& context, std::string_view member_id,
                           boost::urls::params_view params);

// POST /v1/events/purchase (pos keys only for their stores).
RouteResult handle_purchase(const ApiContext& context, const HttpRequest& request,
                            const Principal& principal);

// GET /healthz, GET /readyz (no auth).
HttpResponse handle_healthz();
HttpResponse handle_readyz(const ApiContext& context);

// The problem for a refusal that came back from the runtime: invalid_request there is about
// meaning (422); storage failure details are logged, not sent.
HttpResponse runtime_problem(const Rejection& rejection);

// 503 unavailable for a failed store operation; the status message (which may name files) is
// logged with `what`, never sent.
HttpResponse storage_problem(const Status& status, std::string_view what);

}  // namespace loyalty::api
