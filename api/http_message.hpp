// The HTTP message types the API passes around, and building a JSON response. Kept apart from
// the Beast I/O headers so that routing and handlers compile without them.
// Thread-safety: plain values and free functions.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/value.hpp>

namespace loyalty::api {

namespace http = boost::beast::http;

using HttpRequest = http::request<http::string_body>;
using HttpResponse = http::response<http::string_body>;

// `Content-Type: application/json` and the serialized body. The session fills in the HTTP
// version, keep-alive, X-Request-Id and Content-Length.
HttpResponse json_response(http::status status, const boost::json::value& body);

}  // namespace loyalty::api
