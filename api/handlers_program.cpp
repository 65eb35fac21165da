// The program API: GET /v1/program (the active version), PUT /v1/program (admin: store the TOML
// in the body as a version and activate it at once, no restart; in cluster mode through every
// partition's log, cluster/program_activations.hpp), POST /v1/program:validate (admin: the
// same checks, nothing stored), GET /v1/program/versions[/{version}] (admin: the history, for
// the console's differences between versions). Bodies are the program.toml text itself.
#include <boost/beast/core/string.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <charconv>
#include <mutex>

#include "api/handlers.hpp"
#include "api/log.hpp"
#include "cluster/node.hpp"
#include "engine/program_toml.hpp"
#include "engine/tzdb/os_time_zones.hpp"
#include "storage/program_versions.hpp"

namespace loyalty::api {
namespace {

namespace json = boost::json;

// application/toml is the registered type; text/plain is what curl --data-binary and most
// tools send for a text file.
bool is_toml_body(const HttpRequest& request) {
  std::string_view type = request[http::field::content_type];
  type = type.substr(0, type.find(';'));
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  return boost::beast::iequals(type, "application/toml") ||
         boost::beast::iequals(type, "text/plain");
}

HttpResponse unsupported_type() {
  return problem_response_with_status(
      http::status::unsupported_media_type, ErrorCode::invalid_request,
      "send the program as its TOML text with Content-Type application/toml (or text/plain)",
      "Content-Type");
}

// The program in the body, or the response refusing it: 400 when the text is not TOML (the
// message names the line), 422 naming the TOML key when the rules are refused.
std::variant<Program, HttpResponse> read_program(const HttpRequest& request) {
  if (!is_toml_body(request)) return unsupported_type();
  std::variant<Program, ProgramLoadError> parsed =
      parse_program_toml(request.body(), "body", os_time_zones());
  if (const auto* error = std::get_if<ProgramLoadError>(&parsed)) {
    if (error->key.empty()) return problem_response(ErrorCode::invalid_request, error->message);
    return problem_response(ErrorCode::invalid_request, error->key + ": " + error->message,
                            error->key, InvalidKind::semantic);
  }
  return std::move(std::get<Program>(parsed));
}

json::object program_json(const ProgramVersion& version, TimeMs activated_at) {
  return json::object{{"version", version.number},
                      {"label", version.label()},
                      {"program_id", version.program.id},
                      {"currency", version.program.currency},
                      {"time_zone", version.program.time_zone->name()},
                      {"activated_at", format_rfc3339(activated_at)},
                      {"source_toml", version.source_toml}};
}

// Storing a version and activating it are one step: two PUTs at once must leave the store's
// active version and the registry's the same.
std::mutex& activation_mutex() {
  static std::mutex mutex;
  return mutex;
}

}  // namespace

HttpResponse handle_get_program(const ApiContext& context) {
  const std::shared_ptr<const ProgramVersion> active = context.programs->active();
  std::vector<StoredProgramVersion> stored;
  if (Status status = context.store->load_program_versions(stored); !status.ok()) {
    return problem_response(storage_problem(status, "load_program_versions"));
  }
  TimeMs activated_at = 0;
  for (const StoredProgramVersion& version : stored) {
    if (version.number == active->number) activated_at = version.activated_at;
  }
  return json_response(http::status::ok, program_json(*active, activated_at));
}

namespace {

// Every stored version as GET /v1/program/versions/{version} shows it (with its text and whether
// it is active), in number order; or the storage failure's response.
std::variant<std::vector<json::object>, HttpResponse> program_history(const ApiContext& context) {
  StoredPrograms stored;
  if (Status status = load_stored_programs(*context.store, stored); !status.ok()) {
    return problem_response(storage_problem(status, "load_stored_programs"));
  }
  std::vector<StoredProgramVersion> dates;
  if (Status status = context.store->load_program_versions(dates); !status.ok()) {
    return problem_response(storage_problem(status, "load_program_versions"));
  }
  const uint32_t active = context.programs->active()->number;
  std::vector<json::object> versions;
  for (const StoredProgramVersion& dated : dates) {  // in number order
    const auto found = stored.versions.find(dated.number);
    if (found == stored.versions.end()) continue;
    json::object version = program_json(*found->second, dated.activated_at);
    version["active"] = dated.number == active;
    versions.push_back(std::move(version));
  }
  return versions;
}

}  // namespace

HttpResponse handle_list_program_versions(const ApiContext& context) {
  auto history = program_history(context);
  if (auto* failed = std::get_if<HttpResponse>(&history)) return std::move(*failed);
  json::array versions;
  for (json::object& version : std::get<std::vector<json::object>>(history)) {
    version.erase("source_toml");  // GET /v1/program/versions/{version} has it
    versions.push_back(std::move(version));
  }
  return json_response(http::status::ok, json::object{{"versions", std::move(versions)}});
}

HttpResponse handle_get_program_version(const ApiContext& context, std::string_view number) {
  uint32_t wanted = 0;
  const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), wanted);
  if (error != std::errc() || end != number.data() + number.size() || wanted == 0) {
    return problem_response(ErrorCode::invalid_request, "version: a version number (1, 2, …)",
                            "version");
  }
  auto history = program_history(context);
  if (auto* failed = std::get_if<HttpResponse>(&history)) return std::move(*failed);
  for (json::object& version : std::get<std::vector<json::object>>(history)) {
    if (version.at("version").to_number<uint32_t>() == wanted) {
      return json_response(http::status::ok, std::move(version));
    }
  }
  return problem_response(ErrorCode::not_found, "no program version " + std::string(number));
}

HttpResponse handle_put_program(const ApiContext& context, const HttpRequest& request) {
  std::variant<Program, HttpResponse> program = read_program(request);
  if (auto* refusal = std::get_if<HttpResponse>(&program)) return std::move(*refusal);
  const TimeMs now = context.clock();
  if (context.cluster != nullptr) {
    // Numbered in etcd and activated through every partition's log, at one point of each.
    std::shared_ptr<const ProgramVersion> version;
    TimeMs activated_at = 0;
    const Status status = context.cluster->programs().activate(
        std::move(std::get<Program>(program)), request.body(), now, version, activated_at);
    if (status.code() == Status::Code::busy) {
      return problem_response(ErrorCode::unavailable, status.message());
    }
    if (!status.ok()) {
      log_line("program activation: " + status.message());
      return problem_response(ErrorCode::unavailable,
                              "the cluster's etcd or NATS did not answer; retry shortly");
    }
    log_line("program " + version->label() + " activated on every partition", LogLevel::info);
    return json_response(http::status::ok, program_json(*version, activated_at));
  }
  std::lock_guard lock(activation_mutex());
  std::shared_ptr<const ProgramVersion> version;
  if (Status status = add_program_version(*context.store, std::move(std::get<Program>(program)),
                                          request.body(), now, /*make_active=*/true, version);
      !status.ok()) {
    return problem_response(storage_problem(status, "add_program_version"));
  }
  // From here on every batch a writer starts applies the new rules; entries name its number.
  context.programs->activate(version);
  log_line("program " + version->label() + " activated", LogLevel::info);
  return json_response(http::status::ok, program_json(*version, now));
}

HttpResponse handle_validate_program(const HttpRequest& request) {
  std::variant<Program, HttpResponse> program = read_program(request);
  if (auto* refusal = std::get_if<HttpResponse>(&program)) return std::move(*refusal);
  const Program& valid = std::get<Program>(program);
  return json_response(http::status::ok, json::object{{"valid", true},
                                                      {"program_id", valid.id},
                                                      {"currency", valid.currency},
                                                      {"time_zone", valid.time_zone->name()}});
}

}  // namespace loyalty::api
