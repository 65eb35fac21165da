// The jobs API (admin): POST /v1/jobs queues expire, evaluate_tiers or recalculate on the
// server's job runner (ops/job_runner.hpp; in cluster mode cluster/cluster_jobs.hpp) and
// answers 202 with the job; GET /v1/jobs/{job_id}
// reads its progress and result, or a recalculation's report as CSV (Accept: text/csv).
// POST /v1/backups queues an online backup of this server's folder (ops/backup_jobs.hpp), a job
// GET /v1/jobs/{job_id} shows as well.
#include <algorithm>
#include <boost/beast/http/field.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/pchars.hpp>

#include "api/handlers.hpp"
#include "api/jobs_json.hpp"
#include "cluster/node.hpp"
#include "engine/apply.hpp"
#include "engine/program_toml.hpp"
#include "engine/tzdb/os_time_zones.hpp"
#include "ops/backup_jobs.hpp"
#include "ops/job_service.hpp"
#include "storage/program_versions.hpp"

namespace loyalty::api {
namespace {

HttpResponse jobs_unavailable() {
  return problem_response(ErrorCode::unavailable, "the job runner is not running");
}

// The rules a recalculation request names, or the problem with them.
std::variant<std::shared_ptr<const ProgramVersion>, Problem> recalc_program(
    const ApiContext& context, const JobRequest& request) {
  StoredPrograms programs;
  if (Status status = load_stored_programs(*context.store, programs); !status.ok()) {
    return storage_problem(status, "load_stored_programs");
  }
  if (request.program_toml) {
    // Rules already stored are that version (as loyaltyctl recalc does), so the report names it.
    for (const auto& [number, version] : programs.versions) {
      if (version->source_toml == *request.program_toml) return version;
    }
    std::variant<Program, ProgramLoadError> parsed =
        parse_program_toml(*request.program_toml, "program_toml", os_time_zones());
    if (const auto* error = std::get_if<ProgramLoadError>(&parsed)) {
      // A syntax error: the text is not TOML (400); otherwise the rules are refused (422).
      if (error->key.empty()) {
        return make_problem(ErrorCode::invalid_request, error->message, "program_toml");
      }
      return make_problem(ErrorCode::invalid_request, error->key + ": " + error->message,
                          "program_toml", InvalidKind::semantic);
    }
    return std::make_shared<const ProgramVersion>(
        ProgramVersion{0, std::move(std::get<Program>(parsed)), *request.program_toml});
  }
  if (context.cluster != nullptr) {
    // The cluster's numbering (etcd), whether or not this node has seen the version yet.
    std::shared_ptr<const ProgramVersion> version;
    const Status status = context.cluster->programs().version(*request.program_version, version);
    if (status.code() == Status::Code::not_found) {
      return make_problem(ErrorCode::invalid_request,
                          "no program version with this number is stored", "program_version",
                          InvalidKind::semantic);
    }
    if (!status.ok()) return storage_problem(status, "program version");
    return version;
  }
  const auto found = programs.versions.find(*request.program_version);
  if (found == programs.versions.end()) {
    return make_problem(ErrorCode::invalid_request, "no program version with this number is stored",
                        "program_version", InvalidKind::semantic);
  }
  return found->second;
}

bool accepts_csv(const HttpRequest& request) {
  return request[http::field::accept].find("text/csv") != std::string_view::npos;
}

}  // namespace

HttpResponse handle_post_job(const ApiContext& context, const HttpRequest& request,
                             const Principal& principal) {
  Parsed<JobRequest> parsed = parse_job_request(request.body());
  if (const ParseError* error = std::get_if<ParseError>(&parsed)) return error->to_response();
  const JobRequest& job_request = std::get<JobRequest>(parsed);
  if (context.jobs == nullptr || context.store == nullptr) return jobs_unavailable();
  const TimeMs now = context.clock();

  ops::JobSpec spec;
  spec.type = job_request.type;
  spec.requested_by = principal.name;
  if (spec.type == JobType::recalculate) {
    auto program = recalc_program(context, job_request);
    if (const Problem* problem = std::get_if<Problem>(&program)) return problem_response(*problem);
    spec.program = std::move(std::get<std::shared_ptr<const ProgramVersion>>(program));
    spec.from = job_request.from;
    spec.to = job_request.to;
    spec.dry_run = job_request.dry_run;
  } else {
    // Expiring or evaluating as of a time still to come would take members' points and tiers
    // before their time; the same tolerance as events.
    if (job_request.as_of > now + kFutureToleranceMs) {
      return problem_response(ErrorCode::invalid_request,
                              "as_of is more than 5 minutes in the future", "as_of",
                              InvalidKind::semantic);
    }
    spec.as_of = job_request.as_of;
  }

  JobRecord job;
  bool queued = false;
  if (Status status = context.jobs->submit(spec, job, queued); !status.ok()) {
    // busy: a job this server cannot run (its message says why), not a storage failure.
    if (status.code() == Status::Code::busy) {
      return problem_response(ErrorCode::unavailable, status.message());
    }
    return problem_response(storage_problem(status, "submit job"));
  }
  HttpResponse response = json_response(http::status::accepted, job_json(job, now));
  response.set(http::field::location,
               "/v1/jobs/" + boost::urls::encode(job.id, boost::urls::pchars));
  return response;
}

HttpResponse handle_post_backup(const ApiContext& context, const HttpRequest& request,
                                const Principal& principal) {
  Parsed<std::string> parsed = parse_backup_request(request.body());
  if (const ParseError* error = std::get_if<ParseError>(&parsed)) return error->to_response();
  if (context.backups == nullptr) {
    return problem_response(ErrorCode::unavailable, "backups are not running on this server");
  }
  JobRecord job;
  if (Status status =
          context.backups->submit(std::move(std::get<std::string>(parsed)), principal.name, job);
      !status.ok()) {
    return problem_response(storage_problem(status, "submit backup"));
  }
  HttpResponse response = json_response(http::status::accepted, job_json(job, context.clock()));
  response.set(http::field::location,
               "/v1/jobs/" + boost::urls::encode(job.id, boost::urls::pchars));
  return response;
}

HttpResponse handle_get_job(const ApiContext& context, const HttpRequest& request,
                            std::string_view job_id) {
  std::optional<JobRecord> job;
  if (context.backups != nullptr && ops::BackupJobs::is_backup_id(job_id)) {
    // A backup is this node's (in cluster mode too: the node that took the request has it).
    if (Status status = context.backups->find(job_id, job); !status.ok()) {
      return problem_response(storage_problem(status, "find backup"));
    }
  } else if (context.jobs == nullptr) {
    return jobs_unavailable();
  } else if (Status status = context.jobs->find(job_id, job); !status.ok()) {
    return problem_response(storage_problem(status, "find job"));
  }
  if (!job) return problem_response(ErrorCode::not_found, "no job with this id", "job_id");
  if (!accepts_csv(request))
    return json_response(http::status::ok, job_json(*job, context.clock()));
  if (job->result_csv.empty()) {
    return problem_response_with_status(
        http::status::not_acceptable, ErrorCode::invalid_request,
        "only a finished recalculation has a CSV report; ask for application/json", "Accept");
  }
  HttpResponse response{http::status::ok, 11};
  response.set(http::field::content_type, "text/csv; charset=utf-8");
  response.body() = job->result_csv;
  return response;
}

// GET /v1/jobs: newest first, optionally of one state or type, a page at a time (the cursor is
// the last job id of the page before).
HttpResponse handle_list_jobs(const ApiContext& context, boost::urls::params_view params) {
  std::optional<JobState> state;
  std::optional<JobType> type;
  size_t limit = 50;
  std::string after;
  for (const boost::urls::param param : params) {
    if (param.key == "state") {
      for (JobState s :
           {JobState::queued, JobState::running, JobState::succeeded, JobState::failed}) {
        if (job_state_name(s) == param.value) state = s;
      }
      if (!state) {
        return problem_response(ErrorCode::invalid_request,
                                "state must be queued, running, succeeded or failed", "state");
      }
    } else if (param.key == "type") {
      type = parse_job_type(param.value);
      if (!type) {
        return problem_response(ErrorCode::invalid_request,
                                "type must be expire, evaluate_tiers or recalculate", "type");
      }
    } else if (param.key == "limit") {
      uint64_t number = 0;
      if (!parse_decimal(param.value, number) || number < 1 || number > 100) {
        return problem_response(ErrorCode::invalid_request,
                                "limit must be an integer from 1 to 100", "limit");
      }
      limit = static_cast<size_t>(number);
    } else if (param.key == "cursor") {
      after = param.value;
    } else {
      return problem_response(ErrorCode::invalid_request,
                              "unknown query parameter; use state, type, limit or cursor",
                              param.key);
    }
  }
  if (context.jobs == nullptr) return jobs_unavailable();
  std::vector<JobRecord> jobs;
  const bool unfinished_only = state == JobState::queued || state == JobState::running;
  if (Status status = context.jobs->list(unfinished_only, jobs); !status.ok()) {
    return problem_response(storage_problem(status, "list jobs"));
  }
  auto it = jobs.begin();
  if (!after.empty()) {
    it = std::find_if(jobs.begin(), jobs.end(), [&](const JobRecord& j) { return j.id == after; });
    if (it == jobs.end()) {
      return problem_response(ErrorCode::invalid_request,
                              "cursor must be a next_cursor of a page before", "cursor");
    }
    ++it;
  }
  const TimeMs now = context.clock();
  boost::json::array page;
  std::optional<std::string> next;
  std::string last_shown;
  for (; it != jobs.end(); ++it) {
    if ((state && it->state != *state) || (type && it->type != *type)) continue;
    if (page.size() == limit) {
      next = last_shown;
      break;
    }
    page.push_back(job_json(*it, now));
    last_shown = it->id;
  }
  boost::json::object body{{"jobs", std::move(page)}};
  body["next_cursor"] = next ? boost::json::value(*next) : nullptr;
  return json_response(http::status::ok, body);
}

}  // namespace loyalty::api
