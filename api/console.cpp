#include "api/console.hpp"

#include "api/problem.hpp"

namespace loyalty::api {
namespace {

// Scripts and styles only from the console's own files (nothing inline, nothing evaluated),
// requests only to this server, no frames, forms or base changes: an injected string cannot run
// or send the key anywhere (api.md "Operator console").
constexpr std::string_view kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

void add_console_headers(HttpResponse& response) {
  response.set("Content-Security-Policy", kContentSecurityPolicy);
  response.set("X-Content-Type-Options", "nosniff");
  response.set("Referrer-Policy", "no-referrer");
  response.set("X-Frame-Options", "DENY");
}

HttpResponse with_console_headers(HttpResponse response) {
  add_console_headers(response);
  return response;
}

}  // namespace

bool is_console_path(std::string_view path) {
  path = path.substr(0, path.find('?'));
  return path == "/console" || path.starts_with("/console/");
}

HttpResponse serve_console(bool enabled, const HttpRequest& request) {
  std::string_view path = request.target();
  path = path.substr(0, path.find('?'));
  if (!enabled) {
    return with_console_headers(problem_response(
        ErrorCode::not_found, "the console is turned off on this server ([http] console)"));
  }
  if (request.method() != http::verb::get) {
    HttpResponse refused =
        problem_response_with_status(http::status::method_not_allowed, ErrorCode::invalid_request,
                                     "the console's files are only read (GET)");
    refused.set(http::field::allow, "GET");
    return with_console_headers(std::move(refused));
  }
  if (path == "/console") {
    HttpResponse moved{http::status::permanent_redirect, 11};
    moved.set(http::field::location, "/console/");
    return with_console_headers(std::move(moved));
  }
  for (const ConsoleAsset& asset : console_assets()) {
    if (asset.path != path) continue;
    HttpResponse response{http::status::ok, 11};
    response.set(http::field::etag, asset.etag);
    // The page is asked for again each time (it names the current files); the files it names
    // never change under their names.
    response.set(http::field::cache_control,
                 asset.immutable ? "public, max-age=31536000, immutable" : "no-cache");
    add_console_headers(response);
    if (request[http::field::if_none_match] == asset.etag) {
      response.result(http::status::not_modified);
      return response;
    }
    response.set(http::field::content_type, asset.content_type);
    response.body() = std::string(asset.body);
    return response;
  }
  return with_console_headers(
      problem_response(ErrorCode::not_found, "the console has no such file"));
}

}  // namespace loyalty::api
