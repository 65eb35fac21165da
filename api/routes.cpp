// The route table: what route() serves, as data for the OpenAPI check and metric labels.
#include <array>
#include <vector>

#include "api/router.hpp"

namespace loyalty::api {
namespace {

using http::verb;

constexpr std::array kRoutes{
    RouteSpec{verb::post, "/v1/members"},
    RouteSpec{verb::get, "/v1/members:lookup"},
    RouteSpec{verb::get, "/v1/members/{member_id}"},
    RouteSpec{verb::get, "/v1/members/{member_id}/ledger"},
    RouteSpec{verb::get, "/v1/members/{member_id}/referrals"},
    RouteSpec{verb::post, "/v1/members/{member_id}/redemptions"},
    RouteSpec{verb::post, "/v1/members/{member_id}/adjustments"},
    RouteSpec{verb::post, "/v1/quotes"},
    RouteSpec{verb::post, "/v1/events/purchase"},
    RouteSpec{verb::post, "/v1/events/refund"},
    RouteSpec{verb::post, "/v1/events:batch"},
    RouteSpec{verb::post, "/v1/holds"},
    RouteSpec{verb::get, "/v1/holds/{hold_id}"},
    RouteSpec{verb::post, "/v1/holds/{hold_id}:capture"},
    RouteSpec{verb::post, "/v1/holds/{hold_id}:void"},
    RouteSpec{verb::get, "/v1/program"},
    RouteSpec{verb::put, "/v1/program"},
    RouteSpec{verb::post, "/v1/program:validate"},
    RouteSpec{verb::post, "/v1/jobs"},
    RouteSpec{verb::get, "/v1/jobs/{job_id}"},
    RouteSpec{verb::get, "/v1/stream", /*websocket=*/true},
    RouteSpec{verb::get, "/v1/openapi.json"},
    RouteSpec{verb::get, "/healthz"},
    RouteSpec{verb::get, "/readyz"},
    RouteSpec{verb::get, "/metrics"},
};

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

// "{name}" matches any non-empty segment, "{name}:verb" one that ends in ":verb" after at
// least one character; anything else matches itself.
bool segment_matches(std::string_view pattern, std::string_view segment) {
  if (!pattern.starts_with('{')) return pattern == segment;
  const std::string_view suffix = pattern.substr(pattern.find('}') + 1);
  return segment.size() > suffix.size() && segment.ends_with(suffix);
}

bool path_matches(std::string_view pattern, const std::vector<std::string_view>& segments) {
  const std::vector<std::string_view> parts = split_path(pattern);
  if (parts.size() != segments.size()) return false;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (!segment_matches(parts[i], segments[i])) return false;
  }
  return true;
}

}  // namespace

std::span<const RouteSpec> routes() { return kRoutes; }

std::optional<std::string_view> route_template(std::string_view target) {
  const std::string_view path = target.substr(0, target.find('?'));
  const std::vector<std::string_view> segments = split_path(path);
  // Literal suffixes first: "/v1/holds/h1:capture" is the capture route, not the hold's GET.
  std::optional<std::string_view> generic;
  for (const RouteSpec& spec : kRoutes) {
    if (!path_matches(spec.path, segments)) continue;
    if (!spec.path.ends_with('}')) return spec.path;
    if (!generic) generic = spec.path;
  }
  return generic;
}

}  // namespace loyalty::api
