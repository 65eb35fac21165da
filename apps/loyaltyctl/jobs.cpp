// expire and tiers evaluate: one job step per member with an explicit as_of, through the
// runtime's writers. The job id is derived from the kind and as_of, so running the same job
// again answers every step from its idempotency record and changes nothing more.
#include <atomic>
#include <future>
#include <iostream>

#include "apps/loyaltyctl/commands.hpp"
#include "engine/runtime/runtime.hpp"

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
  std::vector<std::string> members;
  if (Status s = store->scan_members([&](const MemberState& m) {
        members.push_back(m.member_id);
        return true;
      });
      !s.ok()) {
    std::cerr << "loyaltyctl: read failed: " << s.message() << "\n";
    return kExitProblemFound;
  }
  const bool expiring = kind == EventType::expire_points;
  const std::string job_id =
      std::string(expiring ? "expire:" : "evaluate-tiers:") + format_rfc3339(*as_of);
  ProgramRegistry registry(programs.versions.at(*programs.active));
  std::atomic<int64_t> points_expired{0}, tier_changes{0}, already_done{0}, failed{0};
  std::mutex mutex;
  std::condition_variable all_done;
  size_t finished = 0;
  {
    Runtime runtime({.partitions = 2}, *store, registry, [as_of] { return *as_of; });
    Progress progress(expiring ? "expire" : "tiers evaluate", members.size());
    for (const std::string& member_id : members) {
      runtime.submit(Event{kind, JobStepEvent{job_id, member_id, *as_of}}, [&](EventResult&& r) {
        if (!r.rejection.ok()) {
          ++failed;
        } else if (r.replayed) {
          ++already_done;
        } else if (const auto* answer = std::get_if<JobStepAnswer>(&r.answer)) {
          points_expired += answer->points_expired;
          if (answer->tier_changed) ++tier_changes;
        }
        std::lock_guard lock(mutex);
        ++finished;
        all_done.notify_all();
      });
      progress.advance();
    }
    std::unique_lock lock(mutex);
    all_done.wait(lock, [&] { return finished == members.size(); });
    progress.finish();
  }
  if (target.json) {
    std::cout << "{\"job_id\":\"" << json_escape(job_id) << "\",\"members\":" << members.size()
              << ",\"points_expired\":" << points_expired << ",\"tier_changes\":" << tier_changes
              << ",\"already_done\":" << already_done << ",\"failed\":" << failed << "}\n";
  } else {
    std::cout << job_id << ": " << members.size() << " members, "
              << (expiring ? std::to_string(points_expired.load()) + " points expired"
                           : std::to_string(tier_changes.load()) + " tier changes")
              << (already_done ? ", " + std::to_string(already_done.load()) + " already done" : "")
              << (failed ? ", " + std::to_string(failed.load()) + " failed" : "") << "\n";
  }
  return failed == 0 ? kExitOk : kExitProblemFound;
}

}  // namespace loyalty::ctl
