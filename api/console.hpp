// The operator console (api.md "Operator console"): its built files, embedded in the binary
// (console/build.mjs writes them as a C++ source at build time), served under /console/. The
// page needs no key: it is the same for everyone, and it asks the operator for one.
// Thread-safety: free functions over constant data.
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "api/http_message.hpp"

namespace loyalty::api {

struct ConsoleAsset {
  std::string_view path;  // "/console/" for the page, "/console/<name>-<hash>.<ext>" otherwise
  std::string_view content_type;
  std::string_view body;
  std::string_view etag;   // quoted, as the header carries it
  bool immutable = false;  // named by its content's hash: a browser may keep it for a year
};

// Generated (console/build.mjs).
std::span<const ConsoleAsset> console_assets();

// Whether `path` (origin form, query ignored) is the console's: "/console" or under "/console/".
bool is_console_path(std::string_view path);

// The answer to a request for a console path: the asset (200, or 304 when the browser's copy is
// the same), 308 from /console to /console/, 404 for a file the console does not have or when
// `enabled` is false ([http] console), 405 for methods other than GET and HEAD. Every answer
// carries the console's Content-Security-Policy.
HttpResponse serve_console(bool enabled, const HttpRequest& request);

}  // namespace loyalty::api
