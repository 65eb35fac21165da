// Runs the store-wide jobs (expire, evaluate_tiers, recalculate) one at a time on a thread of
// its own, through the live Runtime: ingestion keeps flowing, and the jobs' notifications
// (points.expired, tier.changed) reach subscribers through the runtime's normal sink.
//
// Every job has a durable record (storage/job_record.hpp) written before it is queued, when it
// starts, about once per `progress_interval` while it runs, and when it ends. A job is named by
// what it does (job_id_of), so asking again for a job that exists answers that job rather than
// running it twice, unless it failed: then it is queued once more. On start, jobs a previous
// process left queued or running are queued again and run from the beginning: every step is
// idempotent (member steps by ids derived from the job id, recalculation adjustments by
// recalc:<job>:<event_id>), so nothing is applied twice. A job whose parameters can no longer
// run (its stored program version is gone) is marked failed with the reason instead.
// Thread-safety: every public method may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "engine/program.hpp"
#include "engine/runtime/runtime.hpp"
#include "ops/job_progress.hpp"
#include "ops/job_service.hpp"
#include "storage/job_record.hpp"
#include "storage/rocks_store.hpp"

namespace loyalty::ops {

struct JobRunnerOptions {
  // How often a running job's progress is written to its record.
  std::chrono::milliseconds progress_interval{1000};
  // Member steps a job keeps submitted to the runtime at once (leaves room in its queues).
  size_t in_flight_max = 4096;
  // Operational messages (a job started, finished, failed; storage errors with detail that is
  // not shown to API clients). Called from the runner's threads.
  std::function<void(std::string_view)> log;
};

// Steps per second of a job's current (or, once it ended, last) run, and the time it still
// needs while it runs, from its record (or live progress).
struct JobRate {
  double per_second = 0;
  std::optional<double> eta_seconds;  // running only, once counted and under way
};
JobRate job_rate(const JobRecord& job, TimeMs now);

class JobRunner : public JobService {
 public:
  JobRunner(RocksStore& store, Runtime& runtime, Clock clock, JobRunnerOptions options = {});
  ~JobRunner() override;  // stop()
  JobRunner(const JobRunner&) = delete;
  JobRunner& operator=(const JobRunner&) = delete;

  // Queues again the jobs found queued or running (counting the running ones as resumed),
  // fails those that can no longer run, then starts the runner's thread.
  Status start();
  // Interrupts the running job between steps (it stays `running` in the store, and the next
  // start resumes it), leaves queued jobs queued, joins the thread. Idempotent. Call it while
  // the runtime still runs.
  void stop();

  // Queues the job, or answers the existing job of the same id (`queued` false) unless it
  // failed, in which case it is queued again. `out` is its record as of now.
  Status submit(const JobSpec& spec, JobRecord& out, bool& queued) override;
  // The record, with the live progress when the job is the one running.
  Status find(std::string_view job_id, std::optional<JobRecord>& out) override;
  Status list(bool unfinished_only, std::vector<JobRecord>& out) override;
  // Blocks until no job is queued or running (tests, loyaltyctl-like callers).
  void wait_idle();

 private:
  struct Current {
    std::string id;
    std::shared_ptr<JobProgress> progress;
  };
  enum class Outcome : uint8_t { succeeded, failed, interrupted };

  void loop();
  void run(const std::string& job_id);
  // Runs the job to its end; fills the record's result or error.
  Outcome execute(JobRecord& job, JobProgress& progress);
  Outcome execute_member_job(JobRecord& job, JobProgress& progress);
  Outcome execute_recalculation(JobRecord& job, JobProgress& progress);
  // The rules a recalculation record runs under, or why they are gone.
  std::shared_ptr<const ProgramVersion> recalc_program(const JobRecord& job, std::string& error);
  Status save(const JobRecord& job);
  void say(std::string_view line) const;

  RocksStore& store_;
  Runtime& runtime_;
  Clock clock_;
  JobRunnerOptions options_;
  std::mutex mutex_;  // guards the members below and serialises record writes
  std::condition_variable changed_;
  std::deque<std::string> queue_;
  std::optional<Current> current_;
  bool busy_ = false;  // a job taken from the queue has not finished yet
  bool started_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace loyalty::ops
