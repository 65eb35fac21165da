// Path matching, method checks and authorization, then dispatch to the handlers.
#include "api/router.hpp"

#include <boost/url/parse.hpp>
#include <string>
#include <vector>

#include "api/handlers.hpp"
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
  if (n < 2 || path[0] != "v1") return not_found();

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
  if ((n == 3 || (n == 4 && path[3] == "ledger")) && path[1] == "members") {
    if (method != http::verb::get) return method_not_allowed("GET");
    if (Rejection r = authorize(principal, {Role::pos, Role::app, Role::admin}); !r.ok()) {
      return problem_response(r);
    }
    if (n == 3) return handle_get_member(context, path[2]);
    return handle_ledger(context, path[2], target->params());
  }
  if (n == 3 && path[1] == "events" && path[2] == "purchase") {
    if (method != http::verb::post) return method_not_allowed("POST");
    if (Rejection r = authorize(principal, {Role::pos, Role::admin}); !r.ok()) {
      return problem_response(r);
    }
    return handle_purchase(context, request, *principal);
  }
  return not_found();
}

}  // namespace loyalty::api
