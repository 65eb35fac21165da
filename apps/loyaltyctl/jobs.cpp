// expire and tiers evaluate on a data folder: the ops member job through a runtime of our own.
#include <atomic>
#include <chrono>
#include <iostream>
#include <thread>

#include "apps/loyaltyctl/commands.hpp"
#include "engine/runtime/runtime.hpp"
#include "ops/member_jobs.hpp"

namespace loyalty::ctl {

int run_job(const Target& target, EventType kind, const std::string& as_of_text) {
  const std::optional<TimeMs> as_of = parse_rfc3339(as_of_text);
  if (!as_of) {
    std::cerr << "loyaltyctl: --as-of must be an RFC 3339 time, e.g. 2026-12-01T00:00:00Z\n";
    return kExitUsage;
  }
  std::unique_ptr<RocksStore> store;
  if (int code = open_store(target.data_dir, store); code != kExitOk) return code;
  StoredPrograms programs;
  if (int code = load_programs(*store, target.data_dir, programs); code != kExitOk) return code;
  const bool expiring = kind == EventType::expire_points;
  const ops::MemberJobKind job_kind =
      expiring ? ops::MemberJobKind::expire : ops::MemberJobKind::evaluate_tiers;
  const std::string job_id = ops::member_job_id(job_kind, *as_of);
  ProgramRegistry registry(programs.versions.at(*programs.active));
  ops::JobProgress progress;
  ops::MemberJobResult result;
  Status status;
  {
    Runtime runtime({.partitions = 2}, *store, registry, [as_of] { return *as_of; });
    std::atomic<bool> finished{false};
    std::thread worker([&] {
      status = ops::run_member_job(*store, runtime, job_kind, job_id, *as_of, progress, result);
      finished = true;
    });
    Progress bar(expiring ? "expire" : "tiers evaluate", 0);
    uint64_t shown = 0;
    while (true) {
      const bool last = finished.load();  // read before the counters: the final draw is whole
      bar.set_total(progress.total.load());
      const uint64_t done = progress.done.load();
      bar.advance(done - shown);
      shown = done;
      if (last) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    worker.join();
    bar.finish();
  }
  if (!status.ok()) {
    std::cerr << "loyaltyctl: read failed: " << status.message() << "\n";
    return kExitProblemFound;
  }
  if (target.json) {
    std::cout << "{\"job_id\":\"" << json_escape(job_id) << "\",\"members\":" << result.members
              << ",\"points_expired\":" << result.points_expired
              << ",\"tier_changes\":" << result.tier_changes
              << ",\"already_done\":" << result.already_done << ",\"failed\":" << result.failed
              << "}\n";
  } else {
    std::cout << job_id << ": " << result.members << " members, "
              << (expiring ? std::to_string(result.points_expired) + " points expired"
                           : std::to_string(result.tier_changes) + " tier changes")
              << (result.already_done ? ", " + std::to_string(result.already_done) + " already done"
                                      : "")
              << (result.failed ? ", " + std::to_string(result.failed) + " failed" : "") << "\n";
    if (result.failed) std::cerr << "first failure: " << result.first_failure << "\n";
  }
  return result.failed == 0 ? kExitOk : kExitProblemFound;
}

}  // namespace loyalty::ctl
