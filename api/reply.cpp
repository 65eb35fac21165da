// Turning a Reply into a response or a batch result.
#include "api/reply.hpp"

namespace loyalty::api {

HttpResponse to_response(const Reply& reply) {
  if (const Problem* problem = std::get_if<Problem>(&reply)) return problem_response(*problem);
  const Success& success = std::get<Success>(reply);
  return json_response(success.status, success.body);
}

boost::json::object batch_result_json(size_t index, const std::string* event_id,
                                      const Reply& reply) {
  boost::json::object result;
  result["index"] = index;
  const Problem* problem = std::get_if<Problem>(&reply);
  result["status"] =
      static_cast<unsigned>(problem != nullptr ? problem->status : std::get<Success>(reply).status);
  if (event_id != nullptr)
    result["event_id"] = *event_id;
  else
    result["event_id"] = nullptr;
  const boost::json::object body =
      problem != nullptr ? problem_json(*problem) : std::get<Success>(reply).body;
  // The body's own event_id (and the problem's status) agree with the ones set above.
  for (const auto& field : body) {
    if (!result.contains(field.key())) result[field.key()] = field.value();
  }
  return result;
}

}  // namespace loyalty::api
