// Reading job requests and writing job documents.
#include "api/jobs_json.hpp"

#include <boost/json/parse.hpp>
#include <cmath>
#include <limits>

#include "api/json_fields.hpp"
#include "ops/job_runner.hpp"

namespace loyalty::api {
namespace {

namespace json = boost::json;
using json_fields::Fields;
using json_fields::malformed;
using json_fields::out_of_range;

json::value time_or_null(TimeMs time) {
  if (time == 0) return nullptr;
  return json::value(format_rfc3339(time));
}

// Whole numbers are all a progress display needs (and read better than 1.2345E3).
int64_t whole(double value) { return static_cast<int64_t>(std::llround(value)); }

json::object parameters_json(const JobRecord& job) {
  if (job.type == JobType::backup) return {{"to", job.backup_dir}};
  if (job.type != JobType::recalculate) return {{"as_of", format_rfc3339(job.as_of)}};
  json::object parameters;
  if (job.program_version != 0) {
    parameters["program_version"] = job.program_version;
  } else {
    parameters["program_version"] = nullptr;  // rules sent with the request, not stored
  }
  parameters["from"] = format_rfc3339(job.from);
  parameters["to"] = format_rfc3339(job.to);
  parameters["dry_run"] = job.dry_run;
  return parameters;
}

json::value result_json(const JobRecord& job) {
  if (job.result_json.empty()) return nullptr;
  boost::system::error_code error;
  json::value parsed = json::parse(job.result_json, error);
  if (error) return nullptr;  // written by ops as JSON; never expected
  return parsed;
}

}  // namespace

Parsed<std::string> parse_backup_request(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return std::string();
  return json_fields::guarded<std::string>([&] {
    json::value storage;
    const Fields f(json_fields::parse_object(body, storage), "");
    f.refuse_unknown({"to"});
    const json::value* to = f.optional("to");
    if (to == nullptr) return std::string();
    const std::string folder = f.string("to", *to);
    if (folder.empty() || folder.size() > 4096 || folder.find('\0') != std::string::npos) {
      malformed("to", "to must be a folder path of 1 to 4096 characters");
    }
    return folder;
  });
}

Parsed<JobRequest> parse_job_request(std::string_view body) {
  return json_fields::guarded<JobRequest>([&] {
    json::value storage;
    const Fields f(json_fields::parse_object(body, storage), "");
    JobRequest request;
    const std::string type = f.string("type", f.required("type"));
    const std::optional<JobType> parsed_type = parse_job_type(type);
    if (!parsed_type)
      malformed("type", "type must be \"expire\", \"evaluate_tiers\" or \"recalculate\"");
    request.type = *parsed_type;
    if (request.type != JobType::recalculate) {
      f.refuse_unknown({"type", "as_of"});
      request.as_of = f.time("as_of", f.required("as_of"));
      return request;
    }
    f.refuse_unknown({"type", "program_toml", "program_version", "from", "to", "dry_run"});
    const json::value* toml = f.optional("program_toml");
    const json::value* version = f.optional("program_version");
    if ((toml == nullptr) == (version == nullptr)) {
      malformed("program_toml",
                "give exactly one of program_toml (the rules as TOML text) and program_version "
                "(a stored version number)");
    }
    if (toml != nullptr) {
      if (!toml->is_string()) malformed("program_toml", "program_toml must be a string");
      request.program_toml = std::string(toml->as_string());
    } else {
      request.program_version = static_cast<uint32_t>(
          f.integer("program_version", *version, 1, std::numeric_limits<uint32_t>::max()));
    }
    request.from = f.time("from", f.required("from"));
    request.to = f.time("to", f.required("to"));
    if (request.from >= request.to) out_of_range("to", "to must be after from");
    if (const json::value* dry_run = f.optional("dry_run")) {
      if (!dry_run->is_bool()) malformed("dry_run", "dry_run must be true or false");
      request.dry_run = dry_run->as_bool();
    }
    return request;
  });
}

json::object job_json(const JobRecord& job, TimeMs now) {
  const ops::JobRate rate = ops::job_rate(job, now);
  json::object progress{
      {"done", job.done}, {"total", job.total}, {"rate_per_second", whole(rate.per_second)}};
  if (rate.eta_seconds) {
    progress["eta_seconds"] = whole(std::ceil(*rate.eta_seconds));
  } else {
    progress["eta_seconds"] = nullptr;
  }
  json::object out;
  out["job_id"] = job.id;
  out["type"] = job_type_name(job.type);
  out["state"] = job_state_name(job.state);
  out["parameters"] = parameters_json(job);
  out["progress"] = std::move(progress);
  out["created_at"] = format_rfc3339(job.created_at);
  out["started_at"] = time_or_null(job.started_at);
  out["finished_at"] = time_or_null(job.finished_at);
  out["runs"] = job.runs;
  out["resumed"] = job.resumed;
  out["requested_by"] = job.requested_by;
  out["result"] = result_json(job);
  if (job.error.empty()) {
    out["error"] = nullptr;
  } else {
    out["error"] = job.error;
  }
  out["csv_available"] = !job.result_csv.empty();
  return out;
}

}  // namespace loyalty::api
