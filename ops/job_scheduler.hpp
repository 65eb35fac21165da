// Queues the periodic jobs of server.toml [[schedules]] when they fall due. At each due instant
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

  // `clock` is read for every decision (injected, so tests can move time); the thread waits
  // in real time for at most `recheck` between readings, so a clock that jumps is seen soon.
  JobScheduler(std::vector<Schedule> schedules, Clock clock, Submit submit, Succeeded succeeded,
               std::chrono::milliseconds recheck = std::chrono::seconds(30));
  ~JobScheduler();  // stop()
  JobScheduler(const JobScheduler&) = delete;
  JobScheduler& operator=(const JobScheduler&) = delete;

  // catch_up(), then a thread that calls run_due() whenever a due instant has passed.
  void start();
  void stop();  // idempotent

  // The steps the thread takes, public so that tests can drive them with their own clock.
  // catch_up: the latest due instant at or before now of every schedule, unless succeeded;
  // sets each schedule's next instant after now.
  void catch_up();
  // Queues every schedule whose next instant is at or before now (as of the latest such
  // instant: when several passed unseen, one run as of the latest covers them) and moves it on.
  void run_due();
  // The earliest next instant of all schedules (kTimeNever without schedules).
  TimeMs next_instant() const;

 private:
  void loop();

  const std::vector<Schedule> schedules_;
  Clock clock_;
  Submit submit_;
  Succeeded succeeded_;
  const std::chrono::milliseconds recheck_;
  std::vector<TimeMs> next_;  // per schedule; written by catch_up/run_due on one thread
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace loyalty::ops
