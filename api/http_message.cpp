// Building JSON responses.
#include "api/http_message.hpp"

#include <boost/json/serialize.hpp>

namespace loyalty::api {

HttpResponse json_response(http::status status, const boost::json::value& body) {
  HttpResponse response{status, 11};
  response.set(http::field::content_type, "application/json");
  response.body() = boost::json::serialize(body);
  return response;
}

}  // namespace loyalty::api
