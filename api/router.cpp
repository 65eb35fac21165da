// Dispatch through the route table (routes.cpp): match the path, pick the route of the method,
// authorize the caller as the route says, call its handler.
#include "api/router.hpp"

#include <boost/url/parse.hpp>
#include <string>
#include <vector>

#include "api/cluster_reads.hpp"
#include "api/console.hpp"
#include "api/problem.hpp"

namespace loyalty::api {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> segments;
  if (path.starts_with('/')) path.remove_prefix(1);
  while (true) {
    const size_t slash = path.find('/');
    segments.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return segments;
}

// A route's path template, split once: "/v1/holds/{hold_id}:capture" → v1, holds,
// {hold_id}:capture.
struct CompiledRoute {
  const RouteSpec* spec = nullptr;
  std::vector<std::string_view> parts;
  // Its last segment is not a bare parameter: "/v1/holds/h1:capture" is the capture route, not
  // the hold's GET, whenever both have the method.
  bool literal_end = false;
};

const std::vector<CompiledRoute>& compiled_routes() {
  static const std::vector<CompiledRoute> compiled = [] {
    std::vector<CompiledRoute> out;
    for (const RouteSpec& spec : routes()) {
      out.push_back({&spec, split_path(spec.path), !spec.path.ends_with('}')});
    }
    return out;
  }();
  return compiled;
}

// "{name}" matches any non-empty segment, "{name}:verb" one that ends in ":verb" after at least
// one character (the parameter is what precedes it); anything else matches itself.
std::optional<std::string_view> match_segment(std::string_view part, std::string_view segment) {
  if (!part.starts_with('{')) {
    return part == segment ? std::optional<std::string_view>(std::string_view()) : std::nullopt;
  }
  const std::string_view suffix = part.substr(part.find('}') + 1);
  if (segment.size() <= suffix.size() || !segment.ends_with(suffix)) return std::nullopt;
  return segment.substr(0, segment.size() - suffix.size());
}

// Whether `segments` fit the route; the parameters' values go to `params` when it is given.
bool matches(const CompiledRoute& route, const std::vector<std::string_view>& segments,
             std::vector<std::string_view>* params = nullptr) {
  if (route.parts.size() != segments.size()) return false;
  for (size_t i = 0; i < segments.size(); ++i) {
    const std::optional<std::string_view> value = match_segment(route.parts[i], segments[i]);
    if (!value) return false;
    if (params != nullptr && route.parts[i].starts_with('{')) params->push_back(*value);
  }
  return true;
}

HttpResponse method_not_allowed(std::string_view allow) {
  HttpResponse response = problem_response_with_status(
      http::status::method_not_allowed, ErrorCode::invalid_request,
      "this method is not allowed here; allowed: " + std::string(allow));
  response.set(http::field::allow, allow);
  return response;
}

HttpResponse not_found() { return problem_response(ErrorCode::not_found, "no such endpoint"); }

Rejection authorize_route(const RouteSpec& spec, const std::optional<Principal>& principal,
                          const std::vector<std::string_view>& params) {
  switch (spec.access) {
    case Access::open:
      return Rejection::none();
    case Access::keys:
      return authorize(principal, spec.roles);
    case Access::member_read:
    case Access::member_self:
      return authorize_member_read(principal, params.at(0), spec.roles);
    case Access::member_any:
      if (principal && principal->is_member_token()) return Rejection::none();
      return authorize(principal, spec.roles);
  }
  return authorize(principal, RoleSet{});
}

void append_method(std::string& allow, http::verb method) {
  const std::string_view name = http::to_string(method);
  if (allow.find(name) != std::string::npos) return;
  allow += allow.empty() ? "" : ", ";
  allow += name;
}

}  // namespace

std::optional<std::string_view> route_template(std::string_view target) {
  if (is_console_path(target)) return "/console/";
  const std::vector<std::string_view> segments = split_path(target.substr(0, target.find('?')));
  std::optional<std::string_view> generic;
  for (const CompiledRoute& route : compiled_routes()) {
    if (!matches(route, segments)) continue;
    if (route.literal_end) return route.spec->path;
    if (!generic) generic = route.spec->path;
  }
  return generic;
}

RouteResult route(const ApiContext& context, const HttpRequest& request,
                  const std::optional<Principal>& principal, bool forwarded) {
  // The console's files: the same for everyone, no key (the page asks for one).
  if (is_console_path(request.target())) return serve_console(context.console, request);
  const auto target = boost::urls::parse_origin_form(request.target());
  if (!target) {
    return problem_response(ErrorCode::invalid_request, "the request target is not a valid path");
  }
  // Segments come percent-decoded, so "/v1/members/m%2F1" names member "m/1".
  std::vector<std::string> decoded;
  for (const std::string segment : target->segments()) decoded.push_back(segment);
  const std::vector<std::string_view> segments(decoded.begin(), decoded.end());

  const CompiledRoute* chosen = nullptr;
  bool path_found = false;
  for (const CompiledRoute& route : compiled_routes()) {
    if (route.spec->websocket() || !matches(route, segments)) continue;
    path_found = true;
    if (route.spec->method != request.method()) continue;
    if (chosen == nullptr || (route.literal_end && !chosen->literal_end)) chosen = &route;
  }
  if (chosen == nullptr) {
    if (!path_found) return not_found();
    // The methods of the matching routes, those with a literal suffix when there are any.
    std::string allow_literal, allow_generic;
    for (const CompiledRoute& route : compiled_routes()) {
      if (route.spec->websocket() || !matches(route, segments)) continue;
      append_method(route.literal_end ? allow_literal : allow_generic, route.spec->method);
    }
    return method_not_allowed(allow_literal.empty() ? allow_generic : allow_literal);
  }
  std::vector<std::string_view> params;
  matches(*chosen, segments, &params);
  if (Rejection r = authorize_route(*chosen->spec, principal, params); !r.ok()) {
    return problem_response(r);
  }
  if (chosen->spec->placement == Placement::member_partition && context.cluster_reads != nullptr &&
      !forwarded) {
    if (std::optional<Deferred> owner =
            context.cluster_reads->elsewhere(params[0], request, principal)) {
      return std::move(*owner);
    }
  }
  return chosen->spec->handler(
      RouteCall{context, request, principal, params, target->params(), forwarded});
}

}  // namespace loyalty::api
