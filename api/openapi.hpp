// The OpenAPI 3 document of this API (docs/openapi.json), embedded at build time, and its
// endpoint GET /v1/openapi.json (no auth).
// Thread-safety: free functions over constant data.
#pragma once

#include <string_view>

#include "api/http_message.hpp"

namespace loyalty::api {

// docs/openapi.json as it was when the server was built.
std::string_view openapi_document();

// 200 application/json with openapi_document().
HttpResponse handle_openapi();

}  // namespace loyalty::api
