// Liveness and readiness probes: no auth, no storage access.
#include <boost/json/object.hpp>

#include "api/handlers.hpp"
#include "api/problem.hpp"

namespace loyalty::api {

HttpResponse handle_healthz() {
  return json_response(http::status::ok, boost::json::object{{"status", "ok"}});
}

HttpResponse handle_readyz(const ApiContext& context) {
  if (context.ready == nullptr || !context.ready->load(std::memory_order_acquire)) {
    return problem_response(ErrorCode::unavailable, "the server is not accepting events");
  }
  return json_response(http::status::ok, boost::json::object{{"status", "ready"}});
}

}  // namespace loyalty::api
