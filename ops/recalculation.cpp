// Batch reward recalculation: the history of a range's purchases from one snapshot, each
// re-run under the new program (engine/recalc), the differences reported and, when applying,
// written as one recalc_adjustment per changed purchase through the runtime's writers.
#include "ops/recalculation.hpp"

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <set>

#include "engine/lots.hpp"
#include "engine/recalc.hpp"
#include "ops/in_flight.hpp"
#include "ops/recalc_history.hpp"

namespace loyalty::ops {
namespace {

constexpr size_t kInFlightMax = 4096;

// FNV-1a, 64 bit: stable across builds, so a job id never changes between versions.
uint64_t fnv1a(std::string_view text, uint64_t state = 0xcbf29ce484222325ULL) {
  for (const char c : text) {
    state ^= static_cast<uint8_t>(c);
    state *= 0x100000001b3ULL;
  }
  return state;
}

Status invalid(std::string message) {
  return Status::error(Status::Code::invalid_argument, std::move(message));
}

}  // namespace

// Deltas by order of magnitude and sign: [lower, upper).
std::vector<RecalcBucket> empty_recalc_histogram() {
  return {
      {"-1000 or less", std::nullopt, -999, 0},
      {"-999..-100", -999, -99, 0},
      {"-99..-10", -99, -9, 0},
      {"-9..-1", -9, 0, 0},
      {"1..9", 1, 10, 0},
      {"10..99", 10, 100, 0},
      {"100..999", 100, 1000, 0},
      {"1000 or more", 1000, std::nullopt, 0},
  };
}

namespace {

void count_in_histogram(std::vector<RecalcBucket>& histogram, Points delta) {
  for (RecalcBucket& bucket : histogram) {
    if ((!bucket.lower || delta >= *bucket.lower) && (!bucket.upper || delta < *bucket.upper)) {
      ++bucket.count;
      return;
    }
  }
}

// Compares every purchase's figure as recorded with the new rules' and adds it to the report
// (a slice's members at a time: the slices are disjoint, so their counts add up).
Status compare(const Program& program, const HistoryScan& scan, const RecalcRequest& request,
               RecalcReport& out, std::vector<RecalcAdjustmentEvent>& planned) {
  std::set<std::string_view> members;
  for (const PurchaseHistory& p : scan.purchases) {
    ++out.events_examined;
    if (p.purchase.currency != program.currency) {
      return invalid("the program's currency is " + program.currency + ", purchase " +
                     p.purchase.event_id + " was in " + p.purchase.currency);
    }
    const std::optional<RecalcFigures> figures = recalc_purchase(program, p.history);
    if (!figures) {
      return invalid("purchase " + p.purchase.event_id +
                     ": the new program's amounts are too large to compute exactly");
    }
    const Points old_points = effective_points(p.record);
    const Points delta = figures->effective() - old_points;
    if (delta == 0) continue;
    if (std::find(p.adjusted_by_jobs.begin(), p.adjusted_by_jobs.end(), request.job_id) !=
        p.adjusted_by_jobs.end()) {
      ++out.events_already_adjusted;
      continue;
    }
    ++out.events_changed;
    members.insert(p.purchase.member_id);
    out.total_delta += delta;
    (delta > 0 ? out.total_positive : out.total_negative) += delta;
    count_in_histogram(out.histogram, delta);
    out.changes.push_back({p.purchase.member_id, p.purchase.event_id, p.purchase.occurred_at,
                           old_points, figures->effective(), delta});
    RecalcAdjustmentEvent event;
    event.job_id = request.job_id;
    event.event_id = p.purchase.event_id;
    event.member_id = p.purchase.member_id;
    event.points = delta;
    event.points_recalculated = figures->earned;
    // The purchase's lot as it was earned; a purchase that earned nothing had none, so its
    // points expire as the new rules would have had them expire.
    event.expires_at = p.had_lot ? p.lot_expires_at : lot_expiry(program, p.purchase.occurred_at);
    event.program_version = request.program->number;
    planned.push_back(std::move(event));
  }
  out.members_affected += members.size();
  return Status::ok_status();
}

// The slices' changes back in member order (each member is in one slice, in log order), and
// the largest of them.
void finish_report(RecalcReport& out) {
  std::stable_sort(out.changes.begin(), out.changes.end(),
                   [](const RecalcChange& a, const RecalcChange& b) {
                     return a.member_id < b.member_id;
                   });
  out.largest = out.changes;
  std::stable_sort(out.largest.begin(), out.largest.end(),
                   [](const RecalcChange& a, const RecalcChange& b) {
                     const Points abs_a = a.delta < 0 ? -a.delta : a.delta;
                     const Points abs_b = b.delta < 0 ? -b.delta : b.delta;
                     return abs_a > abs_b;
                   });
  if (out.largest.size() > kLargestShown) out.largest.resize(kLargestShown);
}

// Submits the adjustments (at most kInFlightMax at a time) and waits for every answer. A stop
// asked for is honoured between members (`planned` is in member order), after the answers of
// what was submitted: false then. Every adjustment is idempotent and a re-run of the job skips
// the purchases it adjusted already, so the job resumes where this left off.
bool apply_all(Runtime& runtime, std::vector<RecalcAdjustmentEvent>& planned, JobProgress& progress,
               RecalcReport& out) {
  progress.total += planned.size();
  std::mutex result_mutex;
  InFlight in_flight(kInFlightMax);
  bool stopped = false;
  std::string previous_member;  // a copy: the adjustment is moved into its event below
  for (RecalcAdjustmentEvent& adjustment : planned) {
    if (adjustment.member_id != previous_member) {
      if (progress.stop_requested.load()) {
        stopped = true;
        break;
      }
      previous_member = adjustment.member_id;
    }
    in_flight.acquire();
    const std::string id = adjustment.adjustment_id();
    runtime.submit(Event{std::move(adjustment)}, [&, id](EventResult&& r) {
      {
        std::lock_guard lock(result_mutex);
        if (!r.rejection.ok()) {
          ++out.adjustments_failed;
          if (r.rejection.code == ErrorCode::unavailable) ++out.adjustments_unavailable;
          if (out.first_failure.empty()) out.first_failure = id + ": " + r.rejection.message;
        } else if (r.replayed) {
          ++out.adjustments_replayed;
        } else {
          ++out.adjustments_applied;
        }
      }
      ++progress.done;
      in_flight.release();
    });
  }
  in_flight.wait_idle();
  return !stopped;
}

}  // namespace

std::string recalc_job_id(std::string_view program_source, TimeMs from, TimeMs to) {
  uint64_t hash = fnv1a(program_source);
  // Length-prefixed so that no (source, from, to) runs into another.
  hash = fnv1a("\x1f" + std::to_string(program_source.size()) + ":" + std::to_string(from) + ":" +
                   std::to_string(to),
               hash);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return std::string("recalc-") + hex;
}

Status run_recalculation(RocksStore& store, Runtime* runtime, const RecalcRequest& request,
                         JobProgress& progress, RecalcReport& out) {
  if (request.program == nullptr) return invalid("a recalculation needs a program");
  if (request.from >= request.to) return invalid("`from` must be before `to`");
  if (request.job_id.empty()) return invalid("a recalculation needs a job id");
  if (request.apply && runtime == nullptr) return invalid("applying needs a runtime");
  if (request.apply && request.program->number == 0) {
    return invalid("applying needs a stored program version (add_program_version)");
  }
  out = RecalcReport{};
  out.job_id = request.job_id;
  out.program_version = request.program->number;
  out.program_label = request.program->number != 0 ? request.program->label()
                                                   : request.program->program.id + "@unsaved";
  out.from = request.from;
  out.to = request.to;
  out.applied = request.apply;

  // One snapshot for every pass over the log; ingestion goes on meanwhile, and what it
  // commits after this point is not part of the recalculation.
  const std::unique_ptr<ReadSnapshot> snapshot = store.snapshot();
  uint64_t in_range = 0;
  if (Status status = count_purchases_in_range(store, *snapshot, request.from, request.to, progress,
                                               in_range, out.log_seq, request.include);
      !status.ok()) {
    return status;
  }
  progress.total = in_range;
  const uint64_t per_pass = std::max<uint64_t>(request.purchases_per_pass, 1);
  out.passes = static_cast<uint32_t>(std::max<uint64_t>((in_range + per_pass - 1) / per_pass, 1));
  out.histogram = empty_recalc_histogram();
  for (uint32_t index = 0; index < out.passes; ++index) {
    HistoryScan scan;
    if (Status status = scan_history(store, *snapshot, request.from, request.to,
                                     {index, out.passes, request.include}, progress, scan);
        !status.ok()) {
      return status;
    }
    std::vector<RecalcAdjustmentEvent> planned;
    if (Status status = compare(request.program->program, scan, request, out, planned);
        !status.ok()) {
      return status;
    }
    const size_t planned_count = planned.size();
    if (request.apply && !apply_all(*runtime, planned, progress, out)) {
      return Status::error(Status::Code::busy,
                           request.job_id + ": interrupted after " +
                               std::to_string(out.adjustments_applied + out.adjustments_replayed +
                                              out.adjustments_failed) +
                               " adjustments, in pass " + std::to_string(index + 1) + " of " +
                               std::to_string(out.passes) + " (" +
                               std::to_string(planned_count) + " planned in it)");
    }
  }
  finish_report(out);
  return Status::ok_status();
}

}  // namespace loyalty::ops
