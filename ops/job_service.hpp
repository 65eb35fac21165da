// What the API and the scheduler ask of jobs, whoever runs them: the job runner of one process
// (ops/job_runner.hpp), or in cluster mode the jobs every node runs over the partitions it owns
// (cluster/cluster_jobs.hpp).
// Thread-safety: implementations take calls from any thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/program.hpp"
#include "engine/status.hpp"
#include "storage/job_record.hpp"

namespace loyalty::ops {

// A job as the API or the scheduler asks for it.
struct JobSpec {
  JobType type = JobType::expire;
  TimeMs as_of = 0;  // expire, evaluate_tiers
  // recalculate: re-run purchases with occurred_at in [from, to) under `program`: a stored
  // version, or (number 0) validated rules from the request, which an apply stores first as
  // a version that is not made active.
  std::shared_ptr<const ProgramVersion> program;
  TimeMs from = 0;
  TimeMs to = 0;
  bool dry_run = true;
  std::string requested_by;  // for the record: an API key's name, "schedule"
};

// expire / evaluate_tiers: member_job_id(kind, as_of). recalculate: recalc_job_id(source,
// from, to) for an apply (its adjustments are named after it), with "-dry-run" appended for a
// dry run, so that a dry run never stands in for the apply of the same rules.
std::string job_id_of(const JobSpec& spec);

// The job's parameters into its record, as both services keep them: as_of, or for a
// recalculation `program` (the version it runs; number 0: rules sent with the request, kept as
// their TOML), from, to and dry_run.
void put_job_parameters(const JobSpec& spec, const ProgramVersion* program, JobRecord& job);

class JobService {
 public:
  virtual ~JobService() = default;
  // Queues the job, or answers the existing job of the same id (`queued` false) unless it
  // failed, in which case it is queued again. `out` is its record as of now. A job this
  // service cannot run is refused with `busy` and a message for the caller.
  virtual Status submit(const JobSpec& spec, JobRecord& out, bool& queued) = 0;
  // The record with its progress as of now; nullopt when there is no such job.
  virtual Status find(std::string_view job_id, std::optional<JobRecord>& out) = 0;
  // Every job as find() answers it, newest first (created_at, then id); with `unfinished_only`
  // only the queued and running ones (cheaper in cluster mode, where a finished job's outcome
  // is read from its parts).
  virtual Status list(bool unfinished_only, std::vector<JobRecord>& out) = 0;
};

// Newest first: created_at descending, then id descending.
void sort_newest_first(std::vector<JobRecord>& jobs);

}  // namespace loyalty::ops
