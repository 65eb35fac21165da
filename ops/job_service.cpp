#include "ops/job_service.hpp"

#include <algorithm>

#include "engine/check.hpp"

namespace loyalty::ops {

void put_job_parameters(const JobSpec& spec, const ProgramVersion* program, JobRecord& job) {
  if (spec.type != JobType::recalculate) {
    job.as_of = spec.as_of;
    return;
  }
  LOYALTY_CHECK(program != nullptr);
  job.program_version = program->number;
  job.program_toml = program->number == 0 ? program->source_toml : std::string();
  job.from = spec.from;
  job.to = spec.to;
  job.dry_run = spec.dry_run;
}

void sort_newest_first(std::vector<JobRecord>& jobs) {
  std::sort(jobs.begin(), jobs.end(), [](const JobRecord& a, const JobRecord& b) {
    return a.created_at != b.created_at ? a.created_at > b.created_at : a.id > b.id;
  });
}

}  // namespace loyalty::ops
