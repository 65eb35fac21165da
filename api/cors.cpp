// CORS (see cors.hpp).
#include "api/cors.hpp"

#include <algorithm>
#include <cctype>

#include "api/problem.hpp"

namespace loyalty::api {
namespace {

// What a page may send: the methods the API has, and the headers it reads (the rest are
// safelisted by browsers). Ten minutes of caching spares a preflight per request.
constexpr std::string_view kAllowMethods = "GET, POST, PUT, PATCH, DELETE";
constexpr std::string_view kAllowHeaders = "Authorization, Content-Type, X-Request-Id";
constexpr std::string_view kMaxAgeSeconds = "600";
// What a page may read beside the safelisted headers.
constexpr std::string_view kExposeHeaders = "X-Request-Id, Retry-After, Location, WWW-Authenticate";

bool host_character(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.';
}

}  // namespace

bool valid_cors_origin(std::string_view text) {
  std::string_view rest;
  if (text.starts_with("https://")) {
    rest = text.substr(8);
  } else if (text.starts_with("http://")) {
    rest = text.substr(7);
  } else {
    return false;
  }
  const size_t colon = rest.find(':');
  const std::string_view host = rest.substr(0, colon);
  if (host.empty() || !std::all_of(host.begin(), host.end(), host_character) ||
      host.front() == '.' || host.back() == '.') {
    return false;
  }
  // Browsers send the host in lower case; an upper-case entry would never match.
  if (std::any_of(host.begin(), host.end(),
                  [](char c) { return std::isupper(static_cast<unsigned char>(c)) != 0; })) {
    return false;
  }
  if (colon == std::string_view::npos) return true;
  const std::string_view port = rest.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.front() == '0' ||
      !std::all_of(port.begin(), port.end(),
                   [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; })) {
    return false;
  }
  return std::stoul(std::string(port)) <= 65535;
}

bool CorsPolicy::allowed(std::string_view origin) const {
  return !origin.empty() && std::find(origins_.begin(), origins_.end(), origin) != origins_.end();
}

std::optional<HttpResponse> CorsPolicy::preflight(const HttpRequest& request) const {
  if (request.method() != http::verb::options) return std::nullopt;
  const auto origin = request.find(http::field::origin);
  if (origin == request.end() ||
      request.find(http::field::access_control_request_method) == request.end()) {
    return std::nullopt;
  }
  if (!allowed(origin->value())) {
    return problem_response(ErrorCode::forbidden,
                            "this origin may not call the API from a browser ([http] "
                            "cors_origins)");
  }
  HttpResponse response{http::status::no_content, request.version()};
  response.set(http::field::access_control_allow_origin, origin->value());
  response.set(http::field::access_control_allow_methods, kAllowMethods);
  response.set(http::field::access_control_allow_headers, kAllowHeaders);
  response.set(http::field::access_control_max_age, kMaxAgeSeconds);
  response.set(http::field::vary,
               "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
  return response;
}

void CorsPolicy::allow_reading(std::string_view origin, HttpResponse& response) const {
  // Vary even for an origin that is not allowed: a cache must not hand one page's answer to
  // another origin's.
  if (!origins_.empty()) response.set(http::field::vary, "Origin");
  if (!allowed(origin)) return;
  response.set(http::field::access_control_allow_origin, origin);
  response.set(http::field::access_control_expose_headers, kExposeHeaders);
}

}  // namespace loyalty::api
