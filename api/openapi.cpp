// Serving the embedded OpenAPI document; the bytes come from a source generated at build time
// (api/CMakeLists.txt, cmake/embed_text.cmake).
#include "api/openapi.hpp"

#include <cstddef>

namespace loyalty::api {

extern const unsigned char openapi_json[];
extern const std::size_t openapi_json_size;

std::string_view openapi_document() {
  return {reinterpret_cast<const char*>(openapi_json), openapi_json_size};
}

HttpResponse handle_openapi() {
  HttpResponse response{http::status::ok, 11};
  response.set(http::field::content_type, "application/json");
  response.body() = std::string(openapi_document());
  return response;
}

}  // namespace loyalty::api
