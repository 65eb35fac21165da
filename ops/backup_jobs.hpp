// Online backups (api.md "POST /v1/backups"): each is a job with a durable record (type backup,
// id "backup-<ms>-<n>", shown by GET /v1/jobs/{job_id}) that adds a consistent backup of the
// live data folder to a BackupEngine folder while ingestion goes on (RocksStore::backup). One
// runs at a time, on a thread of its own. A backup a stop interrupted is not resumed: it is
// marked failed at the next start (BackupEngine drops the half-made copy), and the operator asks
// for another. Restore stays offline (loyaltyctl restore).
// In cluster mode a node backs up its own folder: the backup is of the node that took the request.
// Thread-safety: every public method from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "engine/runtime/runtime.hpp"
#include "storage/job_record.hpp"
#include "storage/rocks_store.hpp"

namespace loyalty::ops {

class BackupJobs {
 public:
  // `default_dir`: where a backup goes when the request names no folder.
  BackupJobs(RocksStore& store, Clock clock, std::string default_dir,
             std::function<void(std::string_view)> log = {});
  ~BackupJobs();  // stop()
  BackupJobs(const BackupJobs&) = delete;
  BackupJobs& operator=(const BackupJobs&) = delete;

  // Marks the backups a previous process left unfinished as failed, starts the thread.
  Status start();
  void stop();  // lets the running backup finish, leaves queued ones queued; idempotent

  // Queues a backup into `dir` ("" for the default folder); `out` is its record.
  Status submit(std::string dir, std::string requested_by, JobRecord& out);
  // The record of a backup job; nullopt when `job_id` is not one.
  Status find(std::string_view job_id, std::optional<JobRecord>& out);
  static bool is_backup_id(std::string_view job_id) { return job_id.starts_with("backup-"); }

 private:
  void loop();
  void run(JobRecord& job);
  void say(std::string_view line) const;

  RocksStore& store_;
  Clock clock_;
  const std::string default_dir_;
  std::function<void(std::string_view)> log_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::string> queue_;
  uint64_t submitted_ = 0;  // numbers ids made in the same millisecond apart
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace loyalty::ops
