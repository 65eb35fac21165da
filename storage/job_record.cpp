// Job records ⇄ FlatBuffers bytes (schema/jobs.fbs), verified on every read.
#include "storage/job_record.hpp"

#include <flatbuffers/flatbuffers.h>

#include <cstring>
#include <vector>

#include "storage/flatbuffer_support.hpp"
#include "storage/jobs_generated.h"
#include "storage/keys.hpp"

namespace loyalty {

#if defined(__x86_64__) && defined(__GLIBCXX__)
// Every field is stored: a size that changed means a field was added; store it in jobs.fbs
// and below, then update the number.
static_assert(sizeof(JobRecord) == 320, "a field of JobRecord is not stored");
#endif

std::string_view job_type_name(JobType type) {
  switch (type) {
    case JobType::expire:
      return "expire";
    case JobType::evaluate_tiers:
      return "evaluate_tiers";
    case JobType::recalculate:
      return "recalculate";
    case JobType::backup:
      return "backup";
  }
  return "expire";
}

std::optional<JobType> parse_job_type(std::string_view name) {
  for (JobType type : {JobType::expire, JobType::evaluate_tiers, JobType::recalculate}) {
    if (job_type_name(type) == name) return type;
  }
  return std::nullopt;
}

std::string_view job_state_name(JobState state) {
  switch (state) {
    case JobState::queued:
      return "queued";
    case JobState::running:
      return "running";
    case JobState::succeeded:
      return "succeeded";
    case JobState::failed:
      return "failed";
  }
  return "queued";
}

namespace storage {
namespace {

Status corruption() { return Status::error(Status::Code::corruption, "corrupt job record"); }

}  // namespace

std::string job_key(std::string_view job_id) {
  std::string key(kJobKeyPrefix);
  key.append(job_id);
  return key;
}

std::optional<std::string_view> parse_job_key(std::string_view key) {
  if (!key.starts_with(kJobKeyPrefix) || key.size() == kJobKeyPrefix.size()) return std::nullopt;
  return key.substr(kJobKeyPrefix.size());
}

std::string encode_job(const JobRecord& job) {
  flatbuffers::FlatBufferBuilder builder(512 + job.result_json.size() + job.result_csv.size() +
                                         job.program_toml.size());
  const auto program_toml = optional_string(builder, job.program_toml);
  const auto result_json = optional_string(builder, job.result_json);
  const auto result_csv = optional_string(builder, job.result_csv);
  const auto error = optional_string(builder, job.error);
  const auto requested_by = optional_string(builder, job.requested_by);
  const auto backup_dir = optional_string(builder, job.backup_dir);
  fb::JobRecordBuilder record(builder);
  record.add_type(static_cast<uint8_t>(job.type));
  record.add_state(static_cast<uint8_t>(job.state));
  record.add_as_of(job.as_of);
  record.add_from(job.from);
  record.add_to(job.to);
  record.add_program_version(job.program_version);
  record.add_program_toml(program_toml);
  record.add_dry_run(job.dry_run);
  record.add_done(job.done);
  record.add_total(job.total);
  record.add_created_at(job.created_at);
  record.add_started_at(job.started_at);
  record.add_finished_at(job.finished_at);
  record.add_runs(job.runs);
  record.add_resumed(job.resumed);
  record.add_result_json(result_json);
  record.add_result_csv(result_csv);
  record.add_error(error);
  record.add_requested_by(requested_by);
  record.add_backup_dir(backup_dir);
  builder.Finish(record.Finish());
  return std::string(reinterpret_cast<const char*>(builder.GetBufferPointer()), builder.GetSize());
}

Status decode_job(std::string_view job_id, std::string_view bytes, JobRecord& out) {
  if (job_id.empty()) return corruption();
  const AlignedBytes aligned(bytes);
  const auto* record = verified_root<fb::JobRecord>(aligned);
  if (record == nullptr) return corruption();
  const uint8_t type = record->type();
  const uint8_t state = record->state();
  if (type < static_cast<uint8_t>(JobType::expire) ||
      type > static_cast<uint8_t>(JobType::backup) ||
      state > static_cast<uint8_t>(JobState::failed)) {
    return corruption();
  }
  out = JobRecord{};
  out.id = std::string(job_id);
  out.type = static_cast<JobType>(type);
  out.state = static_cast<JobState>(state);
  out.as_of = record->as_of();
  out.from = record->from();
  out.to = record->to();
  out.program_version = record->program_version();
  out.program_toml = to_string(record->program_toml());
  out.dry_run = record->dry_run();
  out.done = record->done();
  out.total = record->total();
  out.created_at = record->created_at();
  out.started_at = record->started_at();
  out.finished_at = record->finished_at();
  out.runs = record->runs();
  out.resumed = record->resumed();
  out.result_json = to_string(record->result_json());
  out.result_csv = to_string(record->result_csv());
  out.error = to_string(record->error());
  out.requested_by = to_string(record->requested_by());
  out.backup_dir = to_string(record->backup_dir());
  return Status::ok_status();
}

}  // namespace storage
}  // namespace loyalty
