// A job's durable record (ops/job_runner, GET /v1/jobs/{job_id}): what was asked, how far it
// came and how it ended. Stored by RocksStore::save_job as FlatBuffers (schema/jobs.fbs) under
// "job/" + id in "meta", so a job outlives the process that started it.
// Thread-safety: plain values and free functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/status.hpp"
#include "engine/time.hpp"

namespace loyalty {

// Stable numbers: they are stored.
// backup: an online backup of the data folder (ops/backup_jobs.hpp), not run by the job runner.
enum class JobType : uint8_t { expire = 1, evaluate_tiers = 2, recalculate = 3, backup = 4 };
enum class JobState : uint8_t { queued = 0, running = 1, succeeded = 2, failed = 3 };

std::string_view job_type_name(JobType type);  // "expire", "evaluate_tiers", "recalculate", …
// The types POST /v1/jobs takes (a backup is asked with POST /v1/backups).
std::optional<JobType> parse_job_type(std::string_view name);
std::string_view job_state_name(JobState state);  // "queued", "running", …

struct JobRecord {
  std::string id;
  JobType type = JobType::expire;
  JobState state = JobState::queued;
  // Parameters. expire / evaluate_tiers: as_of. recalculate: the purchases with occurred_at in
  // [from, to) under `program_version` (a stored version) or, for a dry run of rules that were
  // not stored, the TOML in `program_toml` (then program_version is 0).
  TimeMs as_of = 0;
  TimeMs from = 0;
  TimeMs to = 0;
  uint32_t program_version = 0;
  std::string program_toml;
  bool dry_run = false;
  std::string backup_dir;  // backup: the BackupEngine folder it adds a backup to
  // Progress of the current (or last) run: steps answered of `total` (0 until counted).
  uint64_t done = 0;
  uint64_t total = 0;
  TimeMs created_at = 0;
  TimeMs started_at = 0;     // 0 until the first run starts; the latest run's start after
  TimeMs finished_at = 0;    // 0 unless succeeded or failed
  uint32_t runs = 0;         // runs started (a failed job asked for again runs once more)
  uint32_t resumed = 0;      // runs started by a restart that found the job unfinished
  std::string result_json;   // succeeded: one JSON object (the job's report)
  std::string result_csv;    // recalculate: the report as CSV (header + a row per change)
  std::string error;         // failed: why, a sentence for operators
  std::string requested_by;  // the API key's name, "schedule", for the audit trail

  bool finished() const { return state == JobState::succeeded || state == JobState::failed; }
};

namespace storage {

std::string job_key(std::string_view job_id);  // "job/" + job id
// The job id of a key under the "job/" prefix; nullopt when `key` is not one.
std::optional<std::string_view> parse_job_key(std::string_view key);

std::string encode_job(const JobRecord& job);  // without the id (the key holds it)
// Verifies the bytes (FlatBuffers Verifier, enum ranges) before reading them.
Status decode_job(std::string_view job_id, std::string_view bytes, JobRecord& out);

}  // namespace storage
}  // namespace loyalty
