// The wire shapes of the jobs API (POST /v1/jobs, GET /v1/jobs/{job_id}): the request, read
// strictly like every other body, and the job document.
// Thread-safety: free functions over caller-owned data.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "api/request_parsing.hpp"
#include "storage/job_record.hpp"

namespace loyalty::api {

// expire / evaluate_tiers: {type, as_of}. recalculate: {type, program_toml | program_version,
// from, to, dry_run? (default true)}.
struct JobRequest {
  JobType type = JobType::expire;
  TimeMs as_of = 0;
  std::optional<std::string> program_toml;  // exactly one of these two
  std::optional<uint32_t> program_version;
  TimeMs from = 0;
  TimeMs to = 0;
  bool dry_run = true;
};

// Malformed bodies are 400 naming the field; `from` not before `to` is 422 naming `to`.
Parsed<JobRequest> parse_job_request(std::string_view body);

// POST /v1/backups: {to?} (an empty body too): the BackupEngine folder, "" for the default.
Parsed<std::string> parse_backup_request(std::string_view body);

// {job_id, type, state, parameters, progress: {done, total, rate_per_second, eta_seconds},
//  created_at, started_at, finished_at, runs, resumed, requested_by, result, error,
//  csv_available}. `now` dates the rate of a running job.
boost::json::object job_json(const JobRecord& job, TimeMs now);

}  // namespace loyalty::api
