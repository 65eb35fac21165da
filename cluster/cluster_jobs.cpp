#include "cluster/cluster_jobs.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <sstream>

#include "ops/member_jobs.hpp"

namespace loyalty::cluster {
namespace {

// How often a node looks for parts of unfinished jobs it can run.
constexpr auto kPollEvery = std::chrono::seconds(1);

ops::MemberJobKind member_kind(JobType type) {
  return type == JobType::expire ? ops::MemberJobKind::expire : ops::MemberJobKind::evaluate_tiers;
}

std::optional<uint32_t> parse_partition(std::string_view text) {
  uint32_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

ClusterJobs::ClusterJobs(ClusterNode& node, Runtime& runtime, RocksStore& store, Clock clock)
    : node_(node), runtime_(runtime), store_(store), clock_(std::move(clock)) {}

ClusterJobs::~ClusterJobs() { stop(); }

std::string ClusterJobs::job_key(std::string_view job_id) const {
  return "/" + node_.config().name + "/jobs/" + std::string(job_id);
}

std::string ClusterJobs::part_prefix(std::string_view job_id) const {
  return "/" + node_.config().name + "/job-parts/" + std::string(job_id) + "/";
}

void ClusterJobs::start() {
  const std::lock_guard lock(mutex_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { loop(); });
}

void ClusterJobs::stop() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
    if (running_) running_->stop_requested.store(true);
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status ClusterJobs::load_parts(std::string_view job_id, std::vector<Part>& out) {
  out.clear();
  std::vector<EtcdKeyValue> found;
  const std::string prefix = part_prefix(job_id);
  if (Status s = node_.etcd().get_prefix(prefix, found); !s.ok()) return s;
  for (const EtcdKeyValue& kv : found) {
    const std::optional<uint32_t> partition =
        parse_partition(std::string_view(kv.key).substr(prefix.size()));
    Part part;
    std::istringstream fields(kv.value);
    if (!partition || !(fields >> part.members >> part.points_expired >> part.tier_changes >>
                        part.already_done >> part.failed >> part.finished_at)) {
      return Status::error(Status::Code::corruption, "etcd's " + kv.key + " is not a job part");
    }
    part.partition = *partition;
    fields.ignore(1);  // the line break before the first failure
    std::getline(fields, part.first_failure);
    out.push_back(std::move(part));
  }
  return Status::ok_status();
}

Status ClusterJobs::find(std::string_view job_id, std::optional<JobRecord>& out) {
  out.reset();
  std::optional<EtcdKeyValue> found;
  if (Status s = node_.etcd().get(job_key(job_id), found); !s.ok()) return s;
  if (!found) return Status::ok_status();
  JobRecord job;
  if (Status s = storage::decode_job(job_id, found->value, job); !s.ok()) return s;
  std::vector<Part> parts;
  if (Status s = load_parts(job_id, parts); !s.ok()) return s;
  ops::MemberJobResult sum;
  for (const Part& part : parts) {
    sum.members += part.members;
    sum.points_expired += part.points_expired;
    sum.tier_changes += part.tier_changes;
    sum.already_done += part.already_done;
    sum.failed += part.failed;
    if (sum.first_failure.empty()) sum.first_failure = part.first_failure;
    job.finished_at = std::max(job.finished_at, part.finished_at);
  }
  // Progress in partitions: each is done whole, by whichever node owns it.
  job.total = node_.config().partitions;
  job.done = parts.size();
  if (parts.empty()) {
    job.state = JobState::queued;
    job.finished_at = 0;
  } else if (job.done < job.total) {
    job.state = JobState::running;
    job.started_at = job.created_at;
    job.finished_at = 0;
  } else {
    job.started_at = job.created_at;
    job.result_json = ops::member_job_result_json(job.id, sum);
    job.state = sum.failed > 0 ? JobState::failed : JobState::succeeded;
    if (sum.failed > 0) {
      job.error = std::to_string(sum.failed) + " of " + std::to_string(sum.members) +
                  " members failed; the first: " + sum.first_failure;
    }
  }
  out = std::move(job);
  return Status::ok_status();
}

Status ClusterJobs::submit(const ops::JobSpec& spec, JobRecord& out, bool& queued) {
  queued = false;
  if (spec.type == JobType::recalculate) {
    return Status::error(Status::Code::busy,
                         "recalculation runs in single mode only for now: in cluster mode, "
                         "expire and evaluate_tiers");
  }
  JobRecord job;
  job.id = ops::job_id_of(spec);
  job.type = spec.type;
  job.as_of = spec.as_of;
  job.created_at = clock_();
  job.requested_by = spec.requested_by;
  job.runs = 1;
  bool created = false;
  if (Status s = node_.etcd().create(job_key(job.id), storage::encode_job(job), 0, created);
      !s.ok()) {
    return s;
  }
  std::optional<JobRecord> current;
  if (Status s = find(job.id, current); !s.ok()) return s;
  if (!current) return Status::error(Status::Code::io_error, "the job vanished from etcd");
  if (!created && current->state == JobState::failed) {
    // Asked again after it failed: the partitions whose members failed run again (their
    // finished steps answer as replays); those that succeeded stay done.
    std::vector<Part> parts;
    if (Status s = load_parts(job.id, parts); !s.ok()) return s;
    for (const Part& part : parts) {
      if (part.failed == 0) continue;
      if (Status s = node_.etcd().remove(part_prefix(job.id) + std::to_string(part.partition));
          !s.ok()) {
        return s;
      }
    }
    if (Status s = find(job.id, current); !s.ok()) return s;
    if (!current) return Status::error(Status::Code::io_error, "the job vanished from etcd");
    created = true;
  }
  queued = created;
  if (created) wake_.notify_all();
  out = std::move(*current);
  return Status::ok_status();
}

void ClusterJobs::run_part(const JobRecord& job, uint32_t partition) {
  auto progress = std::make_shared<ops::JobProgress>();
  {
    const std::lock_guard lock(mutex_);
    if (stopping_) return;
    running_ = progress;
  }
  const uint32_t partitions = node_.config().partitions;
  ops::MemberJobResult result;
  const Status status =
      ops::run_member_job(store_, runtime_, member_kind(job.type), job.id, job.as_of, *progress,
                          result, 4096, [partition, partitions](const std::string& member_id) {
                            return member_partition(member_id, partitions) == partition;
                          });
  {
    const std::lock_guard lock(mutex_);
    running_.reset();
  }
  if (!status.ok() || result.unavailable > 0) {
    // Interrupted, or the partition moved under it: run again, here or by its new owner.
    if (!status.ok() && !progress->stop_requested.load()) {
      std::fprintf(stderr, "cluster: job %s, partition %u: %s\n", job.id.c_str(), partition,
                   status.message().c_str());
    }
    return;
  }
  std::string first_failure = result.first_failure;
  std::replace(first_failure.begin(), first_failure.end(), '\n', ' ');
  const std::string value =
      std::to_string(result.members) + " " + std::to_string(result.points_expired) + " " +
      std::to_string(result.tier_changes) + " " + std::to_string(result.already_done) + " " +
      std::to_string(result.failed) + " " + std::to_string(clock_()) + "\n" + first_failure;
  bool created = false;
  if (Status s =
          node_.etcd().create(part_prefix(job.id) + std::to_string(partition), value, 0, created);
      !s.ok()) {
    std::fprintf(stderr, "cluster: job %s, partition %u: %s\n", job.id.c_str(), partition,
                 s.message().c_str());
  }
}

void ClusterJobs::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, kPollEvery, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    std::vector<EtcdKeyValue> found;
    const std::string prefix = "/" + node_.config().name + "/jobs/";
    if (node_.etcd().get_prefix(prefix, found).ok()) {
      for (const EtcdKeyValue& kv : found) {
        JobRecord job;
        const std::string id = kv.key.substr(prefix.size());
        if (!storage::decode_job(id, kv.value, job).ok() || job.type == JobType::recalculate) {
          continue;
        }
        std::vector<Part> parts;
        if (!load_parts(id, parts).ok()) continue;
        std::vector<bool> done(node_.config().partitions, false);
        for (const Part& part : parts) {
          if (part.partition < done.size()) done[part.partition] = true;
        }
        for (uint32_t p = 0; p < done.size(); ++p) {
          // Owned here and applied to the log's end: this store has every member of it.
          if (!done[p] && node_.serves_reads(p)) run_part(job, p);
        }
      }
    }
    lock.lock();
  }
}

}  // namespace loyalty::cluster
