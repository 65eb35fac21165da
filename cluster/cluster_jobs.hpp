// Jobs in cluster mode (cluster.md: POST /v1/jobs on any node runs the job over every
// partition; GET /v1/jobs/{id} on any node shows the whole job's progress).
//
// A job is a record in etcd ("/<name>/jobs/<id>", the JobRecord as storage encodes it), made
// once whoever asks (create-if-absent: the scheduler of every node asks for the same id). Every
// node runs it over the partitions it owns and has applied to their logs' end, one partition at
// a time: one step per member of the partition in its store, submitted like any write (so it
// goes through the partition's log, and its id, derived from the job and the member, makes a
// step run twice a replay). A partition's part is done when etcd has its result
// ("/<name>/job-parts/<id>/<partition>"); a part cut short (its partition moved, a step
// answered 503) is not recorded and runs again on whoever owns the partition then. The job's
// progress is the partitions done of all; its report adds the parts' results up.
// Recalculation is not run in cluster mode yet (refused with `busy`).
// Thread-safety: submit() and find() from any thread; start() and stop() from one.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cluster/node.hpp"
#include "engine/runtime/runtime.hpp"
#include "ops/job_progress.hpp"
#include "ops/job_service.hpp"
#include "storage/rocks_store.hpp"

namespace loyalty::cluster {

class ClusterJobs : public ops::JobService {
 public:
  // `node` has started; `node`, `runtime` and `store` outlive this.
  ClusterJobs(ClusterNode& node, Runtime& runtime, RocksStore& store, Clock clock);
  ~ClusterJobs() override;  // stop()
  ClusterJobs(const ClusterJobs&) = delete;
  ClusterJobs& operator=(const ClusterJobs&) = delete;

  void start();  // the thread that runs this node's parts
  // Interrupts the part running (it is not recorded, so it runs again) and joins. Idempotent.
  void stop();

  Status submit(const ops::JobSpec& spec, JobRecord& out, bool& queued) override;
  Status find(std::string_view job_id, std::optional<JobRecord>& out) override;

 private:
  struct Part {
    uint32_t partition = 0;
    uint64_t members = 0;
    int64_t points_expired = 0;
    uint64_t tier_changes = 0;
    uint64_t already_done = 0;
    uint64_t failed = 0;
    TimeMs finished_at = 0;
    std::string first_failure;
  };
  void loop();
  // Runs the job's steps for the members of `partition`; records the part unless cut short.
  void run_part(const JobRecord& job, uint32_t partition);
  Status load_parts(std::string_view job_id, std::vector<Part>& out);
  std::string job_key(std::string_view job_id) const;
  std::string part_prefix(std::string_view job_id) const;

  ClusterNode& node_;
  Runtime& runtime_;
  RocksStore& store_;
  Clock clock_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::shared_ptr<ops::JobProgress> running_;  // the part under way, to interrupt it
  std::thread thread_;
};

}  // namespace loyalty::cluster
