// Queues the periodic jobs of server.toml [[schedules]] when they fall due, on the local calendar
// of the active program's zone (read at every decision, so a new program version's zone counts
// from its activation on). At each due instant
// it queues the job with as_of = that instant; the job id is derived from the kind and as_of
// (ops::member_job_id), so the same due instant is one job however often it is asked for. At
// start it catches up: for each schedule, the latest due instant that has no succeeded job is
// queued (a server that was down at 03:00 still runs the 03:00 job, once; an older missed
// instant needs no run of its own, since expiry and evaluation as of a later time cover it).
// Thread-safety: start() and stop() from one thread; the callbacks run on the scheduler's.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/runtime/runtime.hpp"
#include "ops/schedule.hpp"

namespace loyalty::ops {

class JobScheduler {
 public:
  // Queues the job of `schedule` as of `as_of`; a failure is the callee's to log.
  using Submit = std::function<void(const Schedule& schedule, TimeMs as_of)>;
  // Whether the job of `schedule` as of `as_of` has already succeeded.
  using Succeeded = std::function<bool(const Schedule& schedule, TimeMs as_of)>;
  // The zone whose local times the schedules name: the active program's.
  using ZoneSource = std::function<TimeZonePtr()>;

  // `clock` is read for every decision (injected, so tests can move time); the thread waits
  // in real time for at most `recheck` between readings, so a clock that jumps is seen soon.
  JobScheduler(std::vector<Schedule> schedules, Clock clock, ZoneSource zone, Submit submit,
               Succeeded succeeded, std::chrono::milliseconds recheck = std::chrono::seconds(30));
  ~JobScheduler();  // stop()
  JobScheduler(const JobScheduler&) = delete;
  JobScheduler& operator=(const JobScheduler&) = delete;

  // catch_up(), then a thread that calls run_due() whenever a due instant has passed.
  void start();
  void stop();  // idempotent

  // The steps the thread takes, public so that tests can drive them with their own clock.
  // catch_up: the latest due instant at or before now of every schedule, unless succeeded.
  void catch_up();
  // Queues every schedule whose latest due instant is later than the one it last queued (or
  // caught up with): when several passed unseen, one run as of the latest covers them.
  void run_due();
  // The earliest due instant after now of all schedules (kTimeNever without schedules).
  TimeMs next_instant() const;

 private:
  void loop();

  const std::vector<Schedule> schedules_;
  Clock clock_;
  ZoneSource zone_;
  Submit submit_;
  Succeeded succeeded_;
  const std::chrono::milliseconds recheck_;
  std::vector<TimeMs> last_due_;  // per schedule; written by catch_up/run_due on one thread
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace loyalty::ops
