// Path matching, method checks and authorization, then dispatch to the handlers.
#include "api/router.hpp"

#include <boost/url/parse.hpp>
#include <string>
#include <vector>

#include "api/handlers.hpp"
#include "api/metrics.hpp"
#include "api/openapi.hpp"
#include "api/problem.hpp"

namespace loyalty::api {
namespace {

HttpResponse method_not_allowed(std::string_view allow) {
  HttpResponse response = problem_response_with_status(
      http::status::method_not_allowed, ErrorCode::invalid_request,
      "this method is not allowed here; allowed: " + std::string(allow));
  response.set(http::field::allow, allow);
  return response;
}

HttpResponse not_found() { return problem_response(ErrorCode::not_found, "no such endpoint"); }

}  // namespace

RouteResult route(const ApiContext& context, const HttpRequest& request,
                  const std::optional<Principal>& principal) {
  const auto target = boost::urls::parse_origin_form(request.target());
  if (!target) {
    return problem_response(ErrorCode::invalid_request, "the request target is not a valid path");
  }
  // Segments come percent-decoded, so "/v1/members/m%2F1" names member "m/1".
  std::vector<std::string> path;
  for (const std::string segment : target->segments()) path.push_back(segment);
  const http::verb method = request.method();
  const size_t n = path.size();

  if (n == 1 && (path[0] == "healthz" || path[0] == "readyz")) {
    if (method != http::verb::get) return method_not_allowed("GET");
    return path[0] == "healthz" ? handle_healthz() : handle_readyz(context);
  }
  if (n == 1 && path[0] == "metrics") {  // Prometheus scrapes without credentials
    if (method != http::verb::get) return method_not_allowed("GET");
    return handle_metrics(context);
  }
  if (n < 2 || path[0] != "v1") return not_found();
  if (n == 2 && path[1] == "openapi.json") {
    if (method != http::verb::get) return method_not_allowed("GET");
    return handle_openapi();
  }

  if (n == 2 && path[1] == "members") {
    if (method != http::verb::post) return method_not_allowed("POST");
    if (Rejection r = authorize(principal, {Role::app, Role::admin}); !r.ok()) {
      return problem_response(r);
    }
    return handle_signup(context, request);
  }
  if (n == 2 && path[1] == "members:lookup") {
    if (method != http::verb::get) return method_not_allowed("GET");
    if (Rejection r = authorize(principal, {Role::pos, Role::app, Role::admin}); !r.ok()) {
      return problem_response(r);
    }
    return handle_lookup(context, target->params());
  }
  if (n == 3 && path[1] == "members") {
    if (method != http::verb::get) return method_not_allowed("GET");
    if (Rejection r =
            authorize_member_read(principal, path[2], {Role::pos, Role::app, Role::admin});
        !r.ok()) {
      return problem_response(r);
    }
    return handle_get_member(context, path[2]);
  }
  if (n == 4 && path[1] == "members") {
    const std::string& member_id = path[2];
    if (path[3] == "ledger") {
      if (method != http::verb::get) return method_not_allowed("GET");
      if (Rejection r =
              authorize_member_read(principal, member_id, {Role::pos, Role::app, Role::admin});
          !r.ok()) {
        return problem_response(r);
      }
      return handle_ledger(context, member_id, target->params());
    }
    if (path[3] == "referrals") {
      if (method != http::verb::get) return method_not_allowed("GET");
      if (Rejection r = authorize_member_read(principal, member_id, {Role::app, Role::admin});
          !r.ok()) {
        return problem_response(r);
      }
      return handle_referrals(context, member_id);
    }
    if (path[3] == "redemptions") {
      if (method != http::verb::post) return method_not_allowed("POST");
      if (Rejection r = authorize(principal, {Role::pos, Role::app, Role::admin}); !r.ok()) {
        return problem_response(r);
      }
      return handle_redemption(context, request, member_id);
    }
    if (path[3] == "adjustments") {
      if (method != http::verb::post) return method_not_allowed("POST");
      if (Rejection r = authorize(principal, {Role::admin}); !r.ok()) return problem_response(r);
      return handle_adjustment(context, request, member_id);
    }
    return not_found();
  }
  if (n == 3 && path[1] == "events" && (path[2] == "purchase" || path[2] == "refund")) {
    if (method != http::verb::post) return method_not_allowed("POST");
    if (Rejection r = authorize(principal, {Role::pos, Role::admin}); !r.ok()) {
      return problem_response(r);
    }
    if (path[2] == "purchase") return handle_purchase(context, request, *principal);
    return handle_refund(context, request, *principal);
  }
  if (n == 2 && path[1] == "events:batch") {
    if (method != http::verb::post) return method_not_allowed("POST");
    if (Rejection r = authorize(principal, {Role::pos, Role::admin}); !r.ok()) {
      return problem_response(r);
    }
    return handle_batch(context, request, *principal);
  }
  if (n == 2 && path[1] == "quotes") {
    if (method != http::verb::post) return method_not_allowed("POST");
    if (Rejection r = authorize(principal, {Role::pos, Role::app, Role::admin}); !r.ok()) {
      return problem_response(r);
    }
    return handle_quote(context, request, *principal);
  }
  // The program: any key may read it; changing it is the admin's (api.md).
  if (n == 2 && path[1] == "program") {
    if (method == http::verb::get) {
      if (Rejection r = authorize(principal, {Role::pos, Role::app, Role::admin}); !r.ok()) {
        return problem_response(r);
      }
      return handle_get_program(context);
    }
    if (method != http::verb::put) return method_not_allowed("GET, PUT");
    if (Rejection r = authorize(principal, {Role::admin}); !r.ok()) return problem_response(r);
    return handle_put_program(context, request);
  }
  if (n == 2 && path[1] == "program:validate") {
    if (method != http::verb::post) return method_not_allowed("POST");
    if (Rejection r = authorize(principal, {Role::admin}); !r.ok()) return problem_response(r);
    return handle_validate_program(request);
  }
  if (n == 2 && path[1] == "jobs") {
    if (method != http::verb::post) return method_not_allowed("POST");
    if (Rejection r = authorize(principal, {Role::admin}); !r.ok()) return problem_response(r);
    return handle_post_job(context, request, *principal);
  }
  if (n == 3 && path[1] == "jobs") {
    if (method != http::verb::get) return method_not_allowed("GET");
    if (Rejection r = authorize(principal, {Role::admin}); !r.ok()) return problem_response(r);
    return handle_get_job(context, request, path[2]);
  }
  // Holds are the POS's; admin may do everything (api.md "Auth").
  if (n == 2 && path[1] == "holds") {
    if (method != http::verb::post) return method_not_allowed("POST");
    if (Rejection r = authorize(principal, {Role::pos, Role::admin}); !r.ok()) {
      return problem_response(r);
    }
    return handle_create_hold(context, request);
  }
  if (n == 3 && path[1] == "holds") {
    // GET names the hold by the whole segment; POST by what precedes ":capture" / ":void"
    // (hold ids may themselves contain ':').
    const std::string& segment = path[2];
    std::optional<EventType> action;
    std::string_view hold_id = segment;
    if (const size_t colon = segment.rfind(':'); colon != std::string::npos) {
      const std::string_view verb = std::string_view(segment).substr(colon + 1);
      if (verb == "capture") action = EventType::hold_capture;
      if (verb == "void") action = EventType::hold_void;
      if (action) hold_id = std::string_view(segment).substr(0, colon);
    }
    if (method == http::verb::get) {
      if (Rejection r = authorize(principal, {Role::pos, Role::admin}); !r.ok()) {
        return problem_response(r);
      }
      return handle_get_hold(context, segment);
    }
    if (method != http::verb::post || !action) {
      return method_not_allowed(action ? "POST" : "GET");
    }
    if (Rejection r = authorize(principal, {Role::pos, Role::admin}); !r.ok()) {
      return problem_response(r);
    }
    return handle_hold_action(context, request, hold_id, *action);
  }
  return not_found();
}

}  // namespace loyalty::api
