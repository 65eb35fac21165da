// The expiry and tier-evaluation jobs: one job step per member, with an explicit as_of,
// through the runtime's writers (so live traffic keeps flowing and every step is one atomic
// commit with its idempotency record). A step's id is derived from the job id and the member,
// so running a job again answers every finished step from its record and changes nothing more.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "engine/runtime/runtime.hpp"
#include "ops/job_progress.hpp"
#include "storage/rocks_store.hpp"

namespace loyalty::ops {

enum class MemberJobKind : uint8_t { expire, evaluate_tiers };

struct MemberJobResult {
  uint64_t members = 0;
  int64_t points_expired = 0;
  uint64_t tier_changes = 0;
  uint64_t already_done = 0;  // steps answered from their idempotency record
  uint64_t failed = 0;
  uint64_t unavailable = 0;   // of the failed: answered 503 (the server busy, a partition moving)
  std::string first_failure;  // the first refusal's message, empty when none failed
};

// "expire:<as_of>" or "evaluate-tiers:<as_of>": the same job at the same instant is the same
// job, whoever starts it (loyaltyctl, the API, the scheduler).
std::string member_job_id(MemberJobKind kind, TimeMs as_of);

// The job's report (JobRecord::result_json): members, points expired, tier changes, steps
// already done and failed.
std::string member_job_result_json(const std::string& job_id, const MemberJobResult& result);

// Submits one step per member (at most `in_flight_max` at a time, so a large store never
// overflows the runtime's queues), waits until every step is answered. `progress.total` is
// set once the members are counted; `progress.done` grows as steps are answered. Once
// `progress.stop_requested` is set it submits no more steps and, when some were left, answers
// `busy` after the submitted ones are answered. `include` (optional) picks the members (a
// cluster node runs a job over the members of one partition at a time).
Status run_member_job(RocksStore& store, Runtime& runtime, MemberJobKind kind,
                      const std::string& job_id, TimeMs as_of, JobProgress& progress,
                      MemberJobResult& out, size_t in_flight_max = 4096,
                      const std::function<bool(const std::string& member_id)>& include = {});

}  // namespace loyalty::ops
