// expire, tiers evaluate and recalc against a running server (--server URL --key KEY): the job
// is queued with POST /v1/jobs and followed with GET /v1/jobs/{job_id} until it ends, drawing
// the progress bar meanwhile. The server runs it through its live runtime, so ingestion goes on.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/pchars.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "apps/loyaltyctl/commands.hpp"
#include "apps/loyaltyctl/remote.hpp"

namespace loyalty::ctl {
namespace {

namespace json = boost::json;

constexpr std::chrono::milliseconds kPollInterval{200};

// One line for a problem+json answer: "403 forbidden: this endpoint is not open to pos keys".
std::string problem_line(const RemoteResponse& response) {
  std::string line = std::to_string(response.status);
  boost::system::error_code error;
  const json::value parsed = json::parse(response.body, error);
  if (error || !parsed.is_object()) return line;
  const json::object& problem = parsed.as_object();
  if (const json::value* code = problem.if_contains("code"); code && code->is_string()) {
    line += " " + std::string(code->as_string());
  }
  if (const json::value* detail = problem.if_contains("detail"); detail && detail->is_string()) {
    line += ": " + std::string(detail->as_string());
  }
  return line;
}

// The exit code for an answer that is not the expected success: the request was refused
// (4xx: bad usage or input) or the server could not do it (anything else).
int refused(const RemoteResponse& response) {
  std::cerr << "loyaltyctl: the server answered " << problem_line(response) << "\n";
  return response.status >= 400 && response.status < 500 ? kExitUsage : kExitProblemFound;
}

std::optional<json::object> json_object(const RemoteResponse& response) {
  boost::system::error_code error;
  json::value parsed = json::parse(response.body, error);
  if (error || !parsed.is_object()) {
    std::cerr << "loyaltyctl: the server's answer is not a JSON object\n";
    return std::nullopt;
  }
  return std::move(parsed.as_object());
}

uint64_t number_at(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr) return 0;
  if (value->is_uint64()) return value->as_uint64();
  if (value->is_int64() && value->as_int64() > 0) return static_cast<uint64_t>(value->as_int64());
  return 0;
}

std::string string_at(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : std::string();
}

struct FollowedJob {
  json::object document;  // the job as last read
  std::string job_id;
  std::string state;
};

// POSTs the job (to /v1/jobs, or `path`) and polls it until it succeeded or failed. Returns an
// exit code when it could not be followed to its end, nullopt when `out` holds the finished job.
std::optional<int> follow_job(const Remote& remote, const json::object& body,
                              const std::string& label, FollowedJob& out,
                              std::string_view path = "/v1/jobs") {
  RemoteResponse response;
  std::string error;
  if (!remote.request("POST", path, json::serialize(body), "application/json", {}, response,
                      error)) {
    std::cerr << "loyaltyctl: " << error << "\n";
    return kExitProblemFound;
  }
  if (response.status != 202) return refused(response);
  std::optional<json::object> job = json_object(response);
  if (!job) return kExitProblemFound;
  out.job_id = string_at(*job, "job_id");
  const std::string target = "/v1/jobs/" + boost::urls::encode(out.job_id, boost::urls::pchars);
  Progress bar(label, 0);
  uint64_t shown = 0;
  while (true) {
    out.state = string_at(*job, "state");
    if (const json::value* progress = job->if_contains("progress");
        progress != nullptr && progress->is_object()) {
      const uint64_t done = number_at(progress->as_object(), "done");
      bar.set_total(number_at(progress->as_object(), "total"));
      if (done > shown) bar.advance(done - shown);
      shown = std::max(shown, done);
    }
    if (out.state == "succeeded" || out.state == "failed") break;
    std::this_thread::sleep_for(kPollInterval);
    if (!remote.request("GET", target, {}, {}, "application/json", response, error)) {
      std::cerr << "\nloyaltyctl: " << error << "; job " << out.job_id
                << " goes on on the server (a stopped server resumes it when it starts again)\n";
      return kExitProblemFound;
    }
    if (response.status != 200) return refused(response);
    job = json_object(response);
    if (!job) return kExitProblemFound;
  }
  bar.finish();
  out.document = std::move(*job);
  return std::nullopt;
}

int job_exit_code(const FollowedJob& job) {
  if (job.state == "succeeded") return kExitOk;
  std::cerr << "loyaltyctl: job " << job.job_id << " failed: " << string_at(job.document, "error")
            << "\n";
  return kExitProblemFound;
}

bool read_text(const std::string& path, std::string& out) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return false;
  std::stringstream text;
  text << file.rdbuf();
  out = text.str();
  return !file.bad();
}

bool write_text(const std::string& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << text;
  file.close();
  if (!file) std::cerr << "loyaltyctl recalc: cannot write " << path << "\n";
  return static_cast<bool>(file);
}

// As the data-folder recalc: PATH.json and PATH.csv, an ending .json or .csv dropped first.
std::string report_stem(std::string path) {
  for (const std::string_view ext : {std::string_view(".json"), std::string_view(".csv")}) {
    if (path.size() > ext.size() && path.ends_with(ext)) {
      path.resize(path.size() - ext.size());
      break;
    }
  }
  return path;
}

}  // namespace

int check_server_target(const Target& target) {
  if (target.server_url.empty()) {
    std::cerr << "loyaltyctl: --key and --cacert go with --server URL\n";
    return kExitUsage;
  }
  if (target.key.empty()) {
    std::cerr << "loyaltyctl: --server needs --key KEY (an admin key)\n";
    return kExitUsage;
  }
  if (!target.data_dir.empty() || !target.config_path.empty()) {
    std::cerr << "loyaltyctl: give --server or --data/--config, not both\n";
    return kExitUsage;
  }
  return kExitOk;
}

int run_remote_job(const Target& target, EventType kind, const std::string& as_of_text) {
  if (!parse_rfc3339(as_of_text)) {
    std::cerr << "loyaltyctl: --as-of must be an RFC 3339 time, e.g. 2026-12-01T00:00:00Z\n";
    return kExitUsage;
  }
  const std::optional<Remote> remote = remote_of(target);
  if (!remote) return kExitUsage;
  std::string error;
  const bool expiring = kind == EventType::expire_points;
  const json::object body{{"type", expiring ? "expire" : "evaluate_tiers"}, {"as_of", as_of_text}};
  FollowedJob job;
  if (std::optional<int> code =
          follow_job(*remote, body, expiring ? "expire" : "tiers evaluate", job)) {
    return *code;
  }
  if (target.json) {
    std::cout << json::serialize(job.document) << "\n";
  } else if (const json::value* result = job.document.if_contains("result");
             result != nullptr && result->is_object()) {
    const json::object& r = result->as_object();
    const uint64_t already_done = number_at(r, "already_done");
    std::cout << job.job_id << ": " << job.state << ", " << number_at(r, "members") << " members, "
              << (expiring ? std::to_string(number_at(r, "points_expired")) + " points expired"
                           : std::to_string(number_at(r, "tier_changes")) + " tier changes")
              << (already_done > 0 ? ", " + std::to_string(already_done) + " already done" : "")
              << "\n";
  } else {
    std::cout << job.job_id << ": " << job.state << "\n";
  }
  return job_exit_code(job);
}

int run_remote_backup(const Target& target, const std::string& backup_dir) {
  const std::optional<Remote> remote = remote_of(target);
  if (!remote) return kExitUsage;
  json::object body;
  if (!backup_dir.empty()) body["to"] = backup_dir;  // a folder on the server's machine
  FollowedJob job;
  if (std::optional<int> code = follow_job(*remote, body, "backup", job, "/v1/backups")) {
    return *code;
  }
  if (target.json) {
    std::cout << json::serialize(job.document) << "\n";
  } else if (const json::value* result = job.document.if_contains("result");
             result != nullptr && result->is_object()) {
    const json::object& r = result->as_object();
    std::string folder;
    if (const json::value* parameters = job.document.if_contains("parameters");
        parameters != nullptr && parameters->is_object()) {
      folder = string_at(parameters->as_object(), "to");
    }
    std::cout << job.job_id << ": backup " << number_at(r, "backup_id") << " of " << remote->base()
              << " in " << folder << " (on the server): " << number_at(r, "files") << " files, "
              << number_at(r, "size_bytes") << " bytes, verified\n";
  } else {
    std::cout << job.job_id << ": " << job.state << "\n";
  }
  return job_exit_code(job);
}

int run_remote_recalc(const Target& target, const RecalcOptions& options) {
  if (options.dry_run == options.apply) {
    std::cerr << "loyaltyctl recalc: give exactly one of --dry-run and --apply\n";
    return kExitUsage;
  }
  if (!parse_rfc3339(options.from) || !parse_rfc3339(options.to)) {
    std::cerr << "loyaltyctl recalc: --from and --to must be RFC 3339 times, e.g. "
                 "2026-12-01T00:00:00Z\n";
    return kExitUsage;
  }
  std::string program;
  if (!read_text(options.program_path, program)) {
    std::cerr << "loyaltyctl recalc: cannot read " << options.program_path << "\n";
    return kExitUsage;
  }
  const std::optional<Remote> remote = remote_of(target);
  if (!remote) return kExitUsage;
  std::string error;
  // The server validates the rules (a refusal names the TOML key) and, for --apply, stores them
  // as a version that is not made active.
  const json::object body{{"type", "recalculate"},
                          {"program_toml", program},
                          {"from", options.from},
                          {"to", options.to},
                          {"dry_run", options.dry_run}};
  FollowedJob job;
  if (std::optional<int> code = follow_job(*remote, body, "recalc", job)) return *code;
  const json::value* result = job.document.if_contains("result");
  if (!options.report_path.empty() && result != nullptr && result->is_object()) {
    const std::string stem = report_stem(options.report_path);
    RemoteResponse csv;
    const std::string csv_target =
        "/v1/jobs/" + boost::urls::encode(job.job_id, boost::urls::pchars);
    if (!remote->request("GET", csv_target, {}, {}, "text/csv", csv, error)) {
      std::cerr << "loyaltyctl: " << error << "\n";
      return kExitProblemFound;
    }
    if (csv.status != 200) return refused(csv);
    if (!write_text(stem + ".json", json::serialize(*result) + "\n") ||
        !write_text(stem + ".csv", csv.body)) {
      return kExitProblemFound;
    }
  }
  if (target.json) {
    std::cout << json::serialize(job.document) << "\n";
  } else if (result != nullptr && result->is_object()) {
    const json::object& r = result->as_object();
    std::cout << job.job_id << " (" << (options.apply ? "applied" : "dry run") << ") "
              << string_at(r, "program") << ": " << job.state << "\n  "
              << number_at(r, "events_examined") << " purchases examined, "
              << number_at(r, "events_changed") << " changed, " << number_at(r, "members_affected")
              << " members affected\n";
    if (const json::value* delta = r.if_contains("total_delta"); delta && delta->is_number()) {
      std::cout << "  total delta " << json::serialize(*delta) << " points\n";
    }
  } else {
    std::cout << job.job_id << ": " << job.state << "\n";
  }
  return job_exit_code(job);
}

}  // namespace loyalty::ctl
