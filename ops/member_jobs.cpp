#include "ops/member_jobs.hpp"

#include <mutex>
#include <vector>

#include "ops/in_flight.hpp"
#include "ops/text_escape.hpp"

namespace loyalty::ops {

std::string member_job_id(MemberJobKind kind, TimeMs as_of) {
  return std::string(kind == MemberJobKind::expire ? "expire:" : "evaluate-tiers:") +
         format_rfc3339(as_of);
}

std::string member_job_result_json(const std::string& job_id, const MemberJobResult& result) {
  return "{\"job_id\":\"" + json_escape(job_id) +
         "\",\"members\":" + std::to_string(result.members) +
         ",\"points_expired\":" + std::to_string(result.points_expired) +
         ",\"tier_changes\":" + std::to_string(result.tier_changes) +
         ",\"already_done\":" + std::to_string(result.already_done) +
         ",\"failed\":" + std::to_string(result.failed) + "}";
}

Status run_member_job(RocksStore& store, Runtime& runtime, MemberJobKind kind,
                      const std::string& job_id, TimeMs as_of, JobProgress& progress,
                      MemberJobResult& out, size_t in_flight_max,
                      const std::function<bool(const std::string& member_id)>& include) {
  std::vector<std::string> members;
  if (Status status = store.scan_members([&](const MemberState& member) {
        if (!include || include(member.member_id)) members.push_back(member.member_id);
        return true;
      });
      !status.ok()) {
    return status;
  }
  out = MemberJobResult{};
  out.members = members.size();
  progress.total = members.size();
  const EventType step =
      kind == MemberJobKind::expire ? EventType::expire_points : EventType::evaluate_tier;
  std::mutex result_mutex;
  InFlight in_flight(in_flight_max);
  bool interrupted = false;
  for (const std::string& member_id : members) {
    if (progress.stop_requested.load()) {
      interrupted = true;
      break;
    }
    in_flight.acquire();
    runtime.submit(Event{step, JobStepEvent{job_id, member_id, as_of}}, [&](EventResult&& r) {
      {
        std::lock_guard lock(result_mutex);
        if (!r.rejection.ok()) {
          ++out.failed;
          if (r.rejection.code == ErrorCode::unavailable) ++out.unavailable;
          if (out.first_failure.empty()) out.first_failure = member_id + ": " + r.rejection.message;
        } else if (r.replayed) {
          ++out.already_done;
        } else if (const auto* answer = std::get_if<JobStepAnswer>(&r.answer)) {
          out.points_expired += answer->points_expired;
          if (answer->tier_changed) ++out.tier_changes;
        }
      }
      ++progress.done;
      in_flight.release();
    });
  }
  in_flight.wait_idle();
  if (interrupted) {
    return Status::error(Status::Code::busy, job_id + ": interrupted after " +
                                                 std::to_string(progress.done.load()) + " of " +
                                                 std::to_string(members.size()) + " members");
  }
  return Status::ok_status();
}

}  // namespace loyalty::ops
