// Batch reward recalculation (domain.md "Recalculation"): re-run a changed program over the
// purchases of a time range, report what every member's points would become, and on request
// post one `adjust` entry per changed purchase through the runtime's writers. Works on a
// consistent snapshot of the store, so ingestion keeps running while it does.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/program.hpp"
#include "engine/runtime/runtime.hpp"
#include "ops/job_progress.hpp"
#include "storage/rocks_store.hpp"

namespace loyalty::ops {

struct RecalcRequest {
  std::string job_id;  // names the adjustments recalc:<job_id>:<event_id>
  std::shared_ptr<const ProgramVersion>
      program;              // the rules to re-run history under (stored version when applying)
  TimeMs from = 0, to = 0;  // purchases with occurred_at in [from, to)
  bool apply = false;       // false: dry run, a report only
  // Purchases of the range replayed in one pass (default 200,000; at ~3.5 KiB each, ~700 MiB
  // at peak). A longer range is replayed in slices of its members, one pass each: memory
  // follows the slice, and the log is read twice more per slice.
  uint64_t purchases_per_pass = 200'000;
  // Optional: only these members' purchases (a cluster node runs one partition at a time).
  std::function<bool(std::string_view member_id)> include;
};

// One purchase whose effective points change.
struct RecalcChange {
  std::string member_id;
  std::string event_id;  // the purchase's event id
  TimeMs occurred_at = 0;
  Points old_points = 0;  // earned − reversed by its refunds + recalc adjustments already applied
  Points new_points = 0;  // earned under the new program − what its refunds would reverse
  Points delta = 0;       // new_points − old_points, never 0 in a report
};

// Counts of changed events whose delta falls in [lower, upper) (upper exclusive; the first
// bucket has no lower bound and the last no upper bound, shown as null / empty).
struct RecalcBucket {
  std::string label;  // e.g. "-99..-10", "1000 or more"
  std::optional<Points> lower;
  std::optional<Points> upper;
  uint64_t count = 0;
};

struct RecalcReport {
  std::string job_id;
  std::string program_label;  // "<program id>@<version>", "<program id>@unsaved" for version 0
  uint32_t program_version = 0;
  TimeMs from = 0, to = 0;
  bool applied = false;
  uint64_t log_seq = 0;          // the snapshot: events with log_seq ≤ this were considered
  uint64_t events_examined = 0;  // purchases in range
  uint64_t events_changed = 0;   // of them, with a delta to apply
  // Purchases this job adjusted before (an earlier run of the same job): never adjusted
  // twice by one job, so not counted as changed even if a later refund moved them.
  uint64_t events_already_adjusted = 0;
  uint64_t members_affected = 0;
  uint32_t passes = 0;  // member slices replayed (purchases_per_pass)
  Points total_delta = 0;
  Points total_positive = 0;  // sum of the positive deltas
  Points total_negative = 0;  // sum of the negative deltas (≤ 0)
  std::vector<RecalcBucket> histogram;
  std::vector<RecalcChange> largest;  // the kLargestShown largest |delta|, largest first
  std::vector<RecalcChange> changes;  // every changed event, by member then log order
  // Apply only: adjustments written now, already present from an earlier run of the same
  // job (answered from their idempotency record), and refused.
  uint64_t adjustments_applied = 0;
  uint64_t adjustments_replayed = 0;
  uint64_t adjustments_failed = 0;
  uint64_t adjustments_unavailable = 0;  // of the failed: answered 503 (busy, a partition moving)
  std::string first_failure;
};

inline constexpr size_t kLargestShown = 20;

// The report's histogram buckets, every count 0 (the same in every report, so that reports of
// disjoint sets of members add up bucket by bucket).
std::vector<RecalcBucket> empty_recalc_histogram();

// "recalc-" + 16 hex digits of a hash of (program source, from, to): the same recalculation
// started twice is the same job, so applying it twice applies it once.
std::string recalc_job_id(std::string_view program_source, TimeMs from, TimeMs to);

// `runtime` may be null for a dry run; required for apply. Blocks until done.
// `progress.total` is the number of purchases in range, `progress.done` grows as they are
// examined; when applying, `total` then grows by the adjustments to write and `done` as each
// is answered. A bad request (no program, from >= to, apply without a runtime or with an
// unstored program, a program in another currency than the purchases) is Status
// invalid_argument; an unreadable store is its Status. `progress.stop_requested` stops it
// early with Status busy: while reading the log, between events; while applying, between
// members, once what was submitted is answered. A later run of the same job finishes the
// work, each adjustment once.
Status run_recalculation(RocksStore& store, Runtime* runtime, const RecalcRequest& request,
                         JobProgress& progress, RecalcReport& out);

std::string recalc_report_json(const RecalcReport& report);  // one JSON object
std::string recalc_report_csv(const RecalcReport& report);   // header + one row per changed event

}  // namespace loyalty::ops
