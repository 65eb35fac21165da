// Online backups as jobs (see backup_jobs.hpp).
#include "ops/backup_jobs.hpp"

#include <vector>

namespace loyalty::ops {

BackupJobs::BackupJobs(RocksStore& store, Clock clock, std::string default_dir,
                       std::function<void(std::string_view)> log)
    : store_(store),
      clock_(std::move(clock)),
      default_dir_(std::move(default_dir)),
      log_(std::move(log)) {}

BackupJobs::~BackupJobs() { stop(); }

void BackupJobs::say(std::string_view line) const {
  if (log_) log_(line);
}

Status BackupJobs::start() {
  std::vector<JobRecord> unfinished;
  if (Status status = store_.scan_jobs([&](const JobRecord& job) {
        if (job.type == JobType::backup && !job.finished()) unfinished.push_back(job);
        return true;
      });
      !status.ok()) {
    return status;
  }
  for (JobRecord& job : unfinished) {
    // A copy half made is of no use, and a backup asked long ago is not what the operator
    // wants now: it fails, saying so.
    job.state = JobState::failed;
    job.finished_at = clock_();
    job.error = "the server stopped before this backup finished; ask for another";
    if (Status status = store_.save_job(job); !status.ok()) return status;
    say("backup " + job.id + ": unfinished at the last stop, marked failed");
  }
  const std::lock_guard lock(mutex_);
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
  return Status::ok_status();
}

void BackupJobs::stop() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status BackupJobs::submit(std::string dir, std::string requested_by, JobRecord& out) {
  const std::lock_guard lock(mutex_);
  JobRecord job;
  job.created_at = clock_();
  job.id = "backup-" + std::to_string(job.created_at) + "-" + std::to_string(++submitted_);
  job.type = JobType::backup;
  job.state = JobState::queued;
  job.backup_dir = dir.empty() ? default_dir_ : std::move(dir);
  job.requested_by = std::move(requested_by);
  if (Status status = store_.save_job(job); !status.ok()) return status;
  queue_.push_back(job.id);
  changed_.notify_all();
  out = std::move(job);
  return Status::ok_status();
}

Status BackupJobs::find(std::string_view job_id, std::optional<JobRecord>& out) {
  out.reset();
  if (!is_backup_id(job_id)) return Status::ok_status();
  if (Status status = store_.load_job(job_id, out); !status.ok()) return status;
  if (out && out->type != JobType::backup) out.reset();
  return Status::ok_status();
}

void BackupJobs::loop() {
  while (true) {
    std::string id;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      id = std::move(queue_.front());
      queue_.pop_front();
    }
    std::optional<JobRecord> job;
    if (Status status = store_.load_job(id, job); !status.ok() || !job) {
      say("backup " + id + ": its record cannot be read: " + status.message());
      continue;
    }
    run(*job);
  }
}

void BackupJobs::run(JobRecord& job) {
  job.state = JobState::running;
  job.started_at = clock_();
  job.runs += 1;
  job.total = 1;
  if (Status status = store_.save_job(job); !status.ok()) {
    say("backup " + job.id + ": cannot record its start: " + status.message());
    return;
  }
  BackupInfo info;
  const Status made = store_.backup(job.backup_dir, info);
  job.finished_at = clock_();
  if (made.ok()) {
    job.state = JobState::succeeded;
    job.done = 1;
    job.result_json = "{\"backup_id\":" + std::to_string(info.backup_id) +
                      ",\"files\":" + std::to_string(info.files) +
                      ",\"size_bytes\":" + std::to_string(info.size_bytes) + ",\"verified\":true}";
    say("backup " + job.id + ": backup " + std::to_string(info.backup_id) + " in " +
        job.backup_dir);
  } else {
    job.state = JobState::failed;
    job.error = made.message();
    say("backup " + job.id + ": failed: " + made.message());
  }
  if (Status status = store_.save_job(job); !status.ok()) {
    say("backup " + job.id + ": cannot record its end: " + status.message());
  }
}

}  // namespace loyalty::ops
