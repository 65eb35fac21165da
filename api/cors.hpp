// CORS for browsers and mini-program web views (api.md "Browsers and mini-program web views"):
// only the origins of `[http] cors_origins` may call the API from a page, none by default.
// Credentials are bearer tokens, never cookies, so no Allow-Credentials is ever sent.
// Thread-safety: const after construction; any I/O thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/http_message.hpp"

namespace loyalty::api {

// Whether `text` is an origin as a browser sends it: http or https, a host, an optional port,
// no path ("https://shop.example.com", "http://localhost:5173").
bool valid_cors_origin(std::string_view text);

class CorsPolicy {
 public:
  explicit CorsPolicy(std::vector<std::string> origins) : origins_(std::move(origins)) {}

  // A browser's preflight (OPTIONS with Origin and Access-Control-Request-Method): 204 with
  // what the page may send when its origin is allowed, else 403. nullopt for other requests,
  // which are routed as usual (a preflight carries no credentials, so it is answered first).
  std::optional<HttpResponse> preflight(const HttpRequest& request) const;
  // Lets the page read `response` when `origin` (the request's Origin, "" when none) is allowed.
  void allow_reading(std::string_view origin, HttpResponse& response) const;

 private:
  bool allowed(std::string_view origin) const;

  std::vector<std::string> origins_;
};

}  // namespace loyalty::api
