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
// progress is the partitions done of all; its report adds the parts' results up. A
// recalculation's part replays the partition's members' history on its owner; the merged report
// is single mode's, and its CSV of every change is the parts' rows (kept in etcd in chunks,
// "/<name>/job-csv/<id>/<partition>/<run>/<chunk>") under one header, in partition order.
// Thread-safety: submit() and find() from any thread; start() and stop() from one.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
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
#include "ops/recalculation.hpp"
#include "storage/rocks_store.hpp"

namespace loyalty::cluster {

// Where a recalculation part's CSV rows are kept (etcd values are small: in chunks).
struct RecalcCsvPart {
  std::string run;  // unique to the run that wrote them: a part run twice never mixes rows
  uint32_t chunks = 0;
};

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
  // The job records and their parts' keys, two reads of etcd; a finished job is read whole
  // (find) unless `unfinished_only`.
  Status list(bool unfinished_only, std::vector<JobRecord>& out) override;

 private:
  struct Part {
    uint32_t partition = 0;
    std::string value;     // the partition's result (cluster_jobs.cpp writes and reads it)
    int64_t revision = 0;  // etcd's, when it was written
  };
  void loop();
  // The job's webhook message for its run `run` (the job ended), unless there is one.
  void put_job_message(const std::string& job_id, int64_t run);
  // Runs the job for the members of `partition`; records the part unless cut short.
  void run_part(const JobRecord& job, uint32_t partition);
  // The part's result as recorded, or nullopt when it was cut short (to run again).
  std::optional<std::string> member_part(const JobRecord& job, uint32_t partition,
                                         ops::JobProgress& progress);
  std::optional<std::string> recalc_part(const JobRecord& job, uint32_t partition,
                                         ops::JobProgress& progress);
  Status load_parts(std::string_view job_id, std::vector<Part>& out);
  std::string job_key(std::string_view job_id) const;
  std::string part_prefix(std::string_view job_id) const;
  std::string csv_prefix(std::string_view job_id) const;
  // Puts a recalculation part's CSV rows in etcd; the part's "csv" line ("" when not kept).
  std::string keep_csv_rows(const std::string& job_id, uint32_t partition,
                            const ops::RecalcReport& report);
  // The whole CSV from the parts' rows (`parts`: where each partition's are); "" when some are
  // gone or it is too large.
  Status assemble_csv(const std::string& job_id, const std::map<uint32_t, RecalcCsvPart>& parts,
                      std::string& out);

  ClusterNode& node_;
  Runtime& runtime_;
  RocksStore& store_;
  Clock clock_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::shared_ptr<ops::JobProgress> running_;  // the part under way, to interrupt it
  uint64_t csv_runs_ = 0;                      // on the parts' thread
  struct {
    std::string job_id, runs, csv;
  } csv_cache_;  // the last CSV assembled (under mutex_): a GET of a large one reads it once
  std::thread thread_;
};

}  // namespace loyalty::cluster
