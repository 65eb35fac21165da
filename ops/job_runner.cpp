// The job runner: durable job records, one job at a time on its own thread, resumption at start.
#include "ops/job_runner.hpp"

#include <algorithm>
#include <variant>
#include <vector>

#include "engine/check.hpp"
#include "engine/program_toml.hpp"
#include "engine/tzdb/os_time_zones.hpp"
#include "ops/member_jobs.hpp"
#include "ops/recalculation.hpp"
#include "ops/text_escape.hpp"
#include "storage/program_versions.hpp"

namespace loyalty::ops {
namespace {

// A recalculation whose CSV (a row per changed purchase) is larger than this keeps only its JSON
// summary in the job record: one RocksDB value of hundreds of megabytes would stall the writers
// that share the store. `loyaltyctl recalc --report` writes a CSV of any size.
constexpr size_t kStoredCsvBytesMax = size_t{32} << 20;

constexpr std::string_view kDryRunSuffix = "-dry-run";

MemberJobKind member_kind(JobType type) {
  return type == JobType::expire ? MemberJobKind::expire : MemberJobKind::evaluate_tiers;
}

}  // namespace

std::string job_id_of(const JobSpec& spec) {
  if (spec.type != JobType::recalculate) return member_job_id(member_kind(spec.type), spec.as_of);
  LOYALTY_CHECK(spec.program != nullptr);
  std::string id = recalc_job_id(spec.program->source_toml, spec.from, spec.to);
  if (spec.dry_run) id += kDryRunSuffix;
  return id;
}

JobRate job_rate(const JobRecord& job, TimeMs now) {
  JobRate rate;
  if (job.started_at == 0) return rate;
  const TimeMs until = job.state == JobState::running ? now : job.finished_at;
  if (until <= job.started_at) return rate;
  rate.per_second =
      static_cast<double>(job.done) * 1000.0 / static_cast<double>(until - job.started_at);
  if (job.state == JobState::running && job.total > 0 && job.done > 0) {
    rate.eta_seconds =
        static_cast<double>(job.total > job.done ? job.total - job.done : 0) / rate.per_second;
  }
  return rate;
}

JobRunner::JobRunner(RocksStore& store, Runtime& runtime, Clock clock, JobRunnerOptions options)
    : store_(store), runtime_(runtime), clock_(std::move(clock)), options_(std::move(options)) {}

JobRunner::~JobRunner() { stop(); }

void JobRunner::say(std::string_view line) const {
  if (options_.log) options_.log(line);
}

Status JobRunner::save(const JobRecord& job) { return store_.save_job(job); }

Status JobRunner::start() {
  std::vector<JobRecord> unfinished;
  if (Status status = store_.scan_jobs([&](const JobRecord& job) {
        // Backups are the backup jobs' (ops/backup_jobs.hpp).
        if (!job.finished() && job.type != JobType::backup) unfinished.push_back(job);
        return true;
      });
      !status.ok()) {
    return status;
  }
  std::sort(unfinished.begin(), unfinished.end(), [](const JobRecord& a, const JobRecord& b) {
    return a.created_at != b.created_at ? a.created_at < b.created_at : a.id < b.id;
  });
  std::lock_guard lock(mutex_);
  LOYALTY_CHECK(!started_);
  for (JobRecord& job : unfinished) {
    if (job.state == JobState::running) {
      // Interrupted (a shutdown or a crash) mid-run: it runs again from the start, and the
      // steps it had finished answer from their idempotency records.
      ++job.resumed;
      job.state = JobState::queued;
      say("job " + job.id + ": unfinished at the last stop, resumed");
    }
    if (job.type == JobType::recalculate) {
      std::string error;
      if (recalc_program(job, error) == nullptr) {
        job.state = JobState::failed;
        job.error = error;
        job.finished_at = clock_();
        say("job " + job.id + ": cannot resume: " + error);
      }
    }
    if (Status status = save(job); !status.ok()) return status;
    if (job.state == JobState::queued) queue_.push_back(job.id);
  }
  started_ = true;
  thread_ = std::thread([this] { loop(); });
  return Status::ok_status();
}

void JobRunner::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    if (current_) current_->progress->stop_requested = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status JobRunner::submit(const JobSpec& spec, JobRecord& out, bool& queued) {
  queued = false;
  LOYALTY_CHECK(spec.type != JobType::recalculate || spec.program != nullptr);
  const std::string id = job_id_of(spec);
  std::lock_guard lock(mutex_);
  std::optional<JobRecord> existing;
  if (Status status = store_.load_job(id, existing); !status.ok()) return status;
  if (existing && existing->state != JobState::failed) {
    out = std::move(*existing);
    if (current_ && current_->id == id) {
      out.done = current_->progress->done.load();
      out.total = current_->progress->total.load();
    }
    return Status::ok_status();
  }
  const TimeMs now = clock_();
  JobRecord job;
  if (existing) {  // failed: once more, keeping its history
    job = std::move(*existing);
  } else {
    job.id = id;
    job.type = spec.type;
    job.created_at = now;
  }
  job.state = JobState::queued;
  job.done = job.total = 0;
  job.finished_at = 0;
  job.result_json.clear();
  job.result_csv.clear();
  job.error.clear();
  job.requested_by = spec.requested_by;
  if (spec.type == JobType::recalculate) {
    std::shared_ptr<const ProgramVersion> program = spec.program;
    if (!spec.dry_run && program->number == 0) {
      // An apply names the version its adjustments come from: the rules are stored first (not
      // active), or found stored already when the same text was.
      std::shared_ptr<const ProgramVersion> stored;
      if (Status status = add_program_version(store_, program->program, program->source_toml, now,
                                              /*make_active=*/false, stored);
          !status.ok()) {
        return status;
      }
      program = std::move(stored);
    }
    put_job_parameters(spec, program.get(), job);
  } else {
    put_job_parameters(spec, nullptr, job);
  }
  if (Status status = save(job); !status.ok()) return status;
  queue_.push_back(id);
  changed_.notify_all();
  out = std::move(job);
  queued = true;
  return Status::ok_status();
}

Status JobRunner::find(std::string_view job_id, std::optional<JobRecord>& out) {
  if (Status status = store_.load_job(job_id, out); !status.ok()) return status;
  std::lock_guard lock(mutex_);
  if (out && current_ && current_->id == job_id && out->state == JobState::running) {
    out->done = current_->progress->done.load();
    out->total = current_->progress->total.load();
  }
  return Status::ok_status();
}

Status JobRunner::list(bool unfinished_only, std::vector<JobRecord>& out) {
  out.clear();
  Status status = store_.scan_jobs([&](const JobRecord& job) {
    if (!unfinished_only || !job.finished()) out.push_back(job);
    return true;
  });
  if (!status.ok()) return status;
  {
    std::lock_guard lock(mutex_);
    for (JobRecord& job : out) {
      if (current_ && current_->id == job.id && job.state == JobState::running) {
        job.done = current_->progress->done.load();
        job.total = current_->progress->total.load();
      }
    }
  }
  sort_newest_first(out);
  return Status::ok_status();
}

void JobRunner::wait_idle() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return (queue_.empty() && !busy_) || stopping_; });
}

void JobRunner::loop() {
  while (true) {
    std::string id;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      id = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;  // with the pop, so that wait_idle never sees neither
    }
    run(id);
    {
      std::lock_guard lock(mutex_);
      busy_ = false;
    }
    changed_.notify_all();
  }
}

void JobRunner::run(const std::string& job_id) {
  auto progress = std::make_shared<JobProgress>();
  JobRecord job;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;  // stays queued in the store: the next start runs it
    std::optional<JobRecord> stored;
    if (Status status = store_.load_job(job_id, stored); !status.ok()) {
      say("job " + job_id + ": cannot read its record: " + status.message());
      return;
    }
    if (!stored || stored->state != JobState::queued) return;  // queued twice: ran already
    job = std::move(*stored);
    job.state = JobState::running;
    job.started_at = clock_();
    ++job.runs;
    if (Status status = save(job); !status.ok()) {
      say("job " + job_id + ": cannot start: " + status.message());
      return;
    }
    current_ = Current{job_id, progress};
  }
  say("job " + job_id + ": started");

  // The job runs on a worker; this thread writes its progress to the record meanwhile.
  JobRecord ended = job;
  Outcome outcome = Outcome::failed;
  std::mutex worker_mutex;
  std::condition_variable worker_done;
  bool finished = false;
  std::thread worker([&] {
    outcome = execute(ended, *progress);
    std::lock_guard lock(worker_mutex);
    finished = true;
    worker_done.notify_all();
  });
  {
    std::unique_lock lock(worker_mutex);
    while (!worker_done.wait_for(lock, options_.progress_interval, [&] { return finished; })) {
      const uint64_t done = progress->done.load();
      const uint64_t total = progress->total.load();
      if (done == job.done && total == job.total) continue;
      job.done = done;
      job.total = total;
      lock.unlock();
      {
        std::lock_guard guard(mutex_);
        if (Status status = save(job); !status.ok()) {
          say("job " + job_id + ": cannot write progress: " + status.message());
        }
      }
      lock.lock();
    }
  }
  worker.join();

  std::lock_guard lock(mutex_);
  ended.done = progress->done.load();
  ended.total = progress->total.load();
  if (outcome == Outcome::interrupted) {
    ended.state = JobState::running;  // so that the next start resumes it
    say("job " + job_id + ": interrupted at " + std::to_string(ended.done) + "/" +
        std::to_string(ended.total) + "; it resumes at the next start");
  } else {
    ended.state = outcome == Outcome::succeeded ? JobState::succeeded : JobState::failed;
    ended.finished_at = clock_();
    say("job " + job_id + ": " + std::string(job_state_name(ended.state)) +
        (ended.error.empty() ? "" : ": " + ended.error));
  }
  if (Status status = save(ended); !status.ok()) {
    say("job " + job_id + ": cannot write its end: " + status.message());
  }
  current_.reset();
}

JobRunner::Outcome JobRunner::execute(JobRecord& job, JobProgress& progress) {
  if (job.type == JobType::recalculate) return execute_recalculation(job, progress);
  return execute_member_job(job, progress);
}

JobRunner::Outcome JobRunner::execute_member_job(JobRecord& job, JobProgress& progress) {
  MemberJobResult result;
  const Status status = run_member_job(store_, runtime_, member_kind(job.type), job.id, job.as_of,
                                       progress, result, options_.in_flight_max);
  if (!status.ok()) {
    if (progress.stop_requested.load()) return Outcome::interrupted;
    say("job " + job.id + ": " + status.message());
    job.error = "the job could not read the store; the server log has the details";
    return Outcome::failed;
  }
  job.result_json = member_job_result_json(job.id, result);
  if (result.failed > 0) {
    job.error = std::to_string(result.failed) + " of " + std::to_string(result.members) +
                " members failed; the first: " + result.first_failure;
    return Outcome::failed;
  }
  return Outcome::succeeded;
}

std::shared_ptr<const ProgramVersion> JobRunner::recalc_program(const JobRecord& job,
                                                                std::string& error) {
  if (job.program_version == 0) {
    std::variant<Program, ProgramLoadError> parsed =
        parse_program_toml(job.program_toml, "job " + job.id, os_time_zones());
    if (const auto* problem = std::get_if<ProgramLoadError>(&parsed)) {
      error = "the job's program no longer loads: " +
              (problem->key.empty() ? problem->message : problem->key + ": " + problem->message);
      return nullptr;
    }
    return std::make_shared<const ProgramVersion>(
        ProgramVersion{0, std::move(std::get<Program>(parsed)), job.program_toml});
  }
  StoredPrograms programs;
  if (Status status = load_stored_programs(store_, programs); !status.ok()) {
    say("job " + job.id + ": cannot read program versions: " + status.message());
    error = "the stored program versions cannot be read; the server log has the details";
    return nullptr;
  }
  const auto found = programs.versions.find(job.program_version);
  if (found == programs.versions.end()) {
    error = "program version " + std::to_string(job.program_version) + " is no longer stored";
    return nullptr;
  }
  return found->second;
}

JobRunner::Outcome JobRunner::execute_recalculation(JobRecord& job, JobProgress& progress) {
  std::shared_ptr<const ProgramVersion> program = recalc_program(job, job.error);
  if (program == nullptr) return Outcome::failed;
  RecalcRequest request;
  request.job_id = job.id;
  request.program = std::move(program);
  request.from = job.from;
  request.to = job.to;
  request.apply = !job.dry_run;
  RecalcReport report;
  const Status status =
      run_recalculation(store_, job.dry_run ? nullptr : &runtime_, request, progress, report);
  if (!status.ok()) {
    if (progress.stop_requested.load()) return Outcome::interrupted;
    say("job " + job.id + ": " + status.message());
    // invalid_argument is about the rules and the data (amounts too large to compute exactly),
    // written for operators; anything else is storage, whose details stay in the log.
    job.error = status.code() == Status::Code::invalid_argument
                    ? status.message()
                    : "the recalculation could not read the store; the server log has the details";
    return Outcome::failed;
  }
  job.result_json = recalc_report_json(report);
  std::string csv = recalc_report_csv(report);
  if (csv.size() <= kStoredCsvBytesMax) {
    job.result_csv = std::move(csv);
  } else {
    say("job " + job.id + ": the CSV report (" + std::to_string(csv.size()) +
        " bytes) is too large to keep; the JSON summary is kept");
  }
  if (report.adjustments_failed > 0) {
    job.error = std::to_string(report.adjustments_failed) +
                " adjustments failed; the first: " + report.first_failure;
    return Outcome::failed;
  }
  return Outcome::succeeded;
}

}  // namespace loyalty::ops
