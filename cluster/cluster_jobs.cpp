#include "cluster/cluster_jobs.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include "cluster/job_messages.hpp"
#include "engine/program_toml.hpp"
#include "engine/tzdb/os_time_zones.hpp"
#include "ops/member_jobs.hpp"
#include "ops/recalculation.hpp"

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

std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

// A part's result in etcd is text, a few lines of space-separated fields (ids and labels have
// no spaces). An expire or evaluate_tiers part:
//   <members> <points_expired> <tier_changes> <already_done> <failed> <finished_at>
//   <first failure>
std::string member_part_text(const ops::MemberJobResult& r, TimeMs finished_at) {
  return std::to_string(r.members) + " " + std::to_string(r.points_expired) + " " +
         std::to_string(r.tier_changes) + " " + std::to_string(r.already_done) + " " +
         std::to_string(r.failed) + " " + std::to_string(finished_at) + "\n" +
         one_line(r.first_failure);
}

bool parse_member_part(const std::string& text, ops::MemberJobResult& r, TimeMs& finished_at) {
  std::istringstream in(text);
  if (!(in >> r.members >> r.points_expired >> r.tier_changes >> r.already_done >> r.failed >>
        finished_at)) {
    return false;
  }
  in.ignore(1);
  std::getline(in, r.first_failure);
  return true;
}

constexpr size_t kCsvChunkBytes = size_t{1} << 20;  // under etcd's 1.5 MiB a request
constexpr size_t kCsvBytesMax = size_t{32} << 20;   // as single mode keeps at most

// A recalculation's part:
//   recalc <program label>
//   <examined> <changed> <already adjusted> <members affected> <passes> <total delta>
//     <total positive> <total negative> <applied> <replayed> <failed> <finished_at>
//   <histogram counts, bucket by bucket>
//   <first failure>
//   csv <run> <chunks>     (where its CSV rows are: "/<name>/job-csv/<id>/<p>/<run>/<chunk>")
//   <member> <event> <occurred_at> <old> <new> <delta>     (the largest changes, one a line)
// or, when the partition's history could not be recalculated under the rules:
//   error <finished_at>
//   <why>
std::string recalc_part_text(const ops::RecalcReport& r, TimeMs finished_at,
                             const std::string& csv_line) {
  std::string out = "recalc " + r.program_label + "\n";
  for (const auto number : {r.events_examined, r.events_changed, r.events_already_adjusted,
                            r.members_affected, static_cast<uint64_t>(r.passes)}) {
    out += std::to_string(number) + " ";
  }
  for (const Points points : {r.total_delta, r.total_positive, r.total_negative}) {
    out += std::to_string(points) + " ";
  }
  out += std::to_string(r.adjustments_applied) + " " + std::to_string(r.adjustments_replayed) +
         " " + std::to_string(r.adjustments_failed) + " " + std::to_string(finished_at) + "\n";
  for (const ops::RecalcBucket& bucket : r.histogram) out += std::to_string(bucket.count) + " ";
  out += "\n" + one_line(r.first_failure) + "\n";
  if (!csv_line.empty()) out += csv_line + "\n";
  for (const ops::RecalcChange& c : r.largest) {
    out += c.member_id + " " + c.event_id + " " + std::to_string(c.occurred_at) + " " +
           std::to_string(c.old_points) + " " + std::to_string(c.new_points) + " " +
           std::to_string(c.delta) + "\n";
  }
  return out;
}

std::string recalc_error_text(const std::string& why, TimeMs finished_at) {
  return "error " + std::to_string(finished_at) + "\n" + one_line(why);
}

// Adds a recalculation part to `into` (whose histogram has every bucket). `error` gets an
// error part's reason.
bool merge_recalc_part(const std::string& text, ops::RecalcReport& into, TimeMs& finished_at,
                       std::string& error, std::optional<RecalcCsvPart>& csv) {
  csv.reset();
  std::istringstream in(text);
  std::string head, numbers, histogram, first_failure;
  if (!std::getline(in, head)) return false;
  if (head.rfind("error ", 0) == 0) {
    std::istringstream at(head.substr(6));
    if (!(at >> finished_at)) return false;
    std::getline(in, error);
    if (error.empty()) error = "the recalculation failed";
    return true;
  }
  if (head.rfind("recalc ", 0) != 0 || !std::getline(in, numbers) || !std::getline(in, histogram) ||
      !std::getline(in, first_failure)) {
    return false;
  }
  uint64_t examined = 0, changed = 0, adjusted = 0, affected = 0, passes = 0;
  Points total = 0, positive = 0, negative = 0;
  uint64_t applied = 0, replayed = 0, failed = 0;
  std::istringstream figures(numbers);
  if (!(figures >> examined >> changed >> adjusted >> affected >> passes >> total >> positive >>
        negative >> applied >> replayed >> failed >> finished_at)) {
    return false;
  }
  into.program_label = head.substr(7);
  into.events_examined += examined;
  into.events_changed += changed;
  into.events_already_adjusted += adjusted;
  into.members_affected += affected;
  into.passes += static_cast<uint32_t>(passes);
  into.total_delta += total;
  into.total_positive += positive;
  into.total_negative += negative;
  into.adjustments_applied += applied;
  into.adjustments_replayed += replayed;
  into.adjustments_failed += failed;
  std::istringstream counts(histogram);
  for (ops::RecalcBucket& bucket : into.histogram) {
    uint64_t count = 0;
    if (!(counts >> count)) return false;
    bucket.count += count;
  }
  if (into.first_failure.empty()) into.first_failure = first_failure;
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    if (line.rfind("csv ", 0) == 0) {
      std::string word;
      RecalcCsvPart part;
      if (!(fields >> word >> part.run >> part.chunks)) return false;
      csv = std::move(part);
      continue;
    }
    ops::RecalcChange change;
    if (!(fields >> change.member_id >> change.event_id >> change.occurred_at >>
          change.old_points >> change.new_points >> change.delta)) {
      return false;
    }
    into.largest.push_back(std::move(change));
  }
  return true;
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
  for (EtcdKeyValue& kv : found) {
    const std::optional<uint32_t> partition =
        parse_partition(std::string_view(kv.key).substr(prefix.size()));
    if (!partition) {
      return Status::error(Status::Code::corruption, "etcd's " + kv.key + " is not a job part");
    }
    out.push_back(Part{*partition, std::move(kv.value), kv.create_revision});
  }
  return Status::ok_status();
}

Status ClusterJobs::list(bool unfinished_only, std::vector<JobRecord>& out) {
  out.clear();
  const std::string jobs_prefix = "/" + node_.config().name + "/jobs/";
  const std::string parts_prefix = "/" + node_.config().name + "/job-parts/";
  std::vector<EtcdKeyValue> records;
  std::vector<EtcdKeyValue> part_keys;
  if (Status s = node_.etcd().get_prefix(jobs_prefix, records); !s.ok()) return s;
  if (Status s = node_.etcd().get_prefix(parts_prefix, part_keys, nullptr, /*keys_only=*/true);
      !s.ok()) {
    return s;
  }
  std::map<std::string, uint32_t, std::less<>> parts_done;  // job id → parts recorded
  for (const EtcdKeyValue& kv : part_keys) {
    const std::string_view rest = std::string_view(kv.key).substr(parts_prefix.size());
    const size_t slash = rest.rfind('/');
    if (slash == std::string_view::npos) continue;
    ++parts_done[std::string(rest.substr(0, slash))];
  }
  const uint32_t partitions = node_.config().partitions;
  for (const EtcdKeyValue& kv : records) {
    const std::string_view job_id = std::string_view(kv.key).substr(jobs_prefix.size());
    const auto done = parts_done.find(job_id);
    const uint32_t parts = done == parts_done.end() ? 0 : done->second;
    if (parts >= partitions) {  // finished: its outcome is in its parts
      if (unfinished_only) continue;
      std::optional<JobRecord> finished;
      if (Status s = find(job_id, finished); !s.ok()) return s;
      if (finished) out.push_back(std::move(*finished));
      continue;
    }
    JobRecord job;
    if (Status s = storage::decode_job(job_id, kv.value, job); !s.ok()) return s;
    // As find() tells progress: in partitions, each done whole.
    job.total = partitions;
    job.done = parts;
    job.state = parts == 0 ? JobState::queued : JobState::running;
    if (parts > 0) job.started_at = job.created_at;
    out.push_back(std::move(job));
  }
  ops::sort_newest_first(out);
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
  const auto unreadable = [&](const Part& part) {
    return Status::error(Status::Code::corruption, "job " + job.id + ", partition " +
                                                       std::to_string(part.partition) +
                                                       ": its result does not read");
  };
  // Progress in partitions: each is done whole, by whichever node owns it.
  job.total = node_.config().partitions;
  job.done = parts.size();
  job.state = parts.empty() ? JobState::queued : JobState::running;
  if (!parts.empty()) job.started_at = job.created_at;
  if (job.done < job.total) {
    out = std::move(job);
    return Status::ok_status();
  }
  TimeMs finished_at = 0;
  if (job.type == JobType::recalculate) {
    ops::RecalcReport report;
    report.job_id = job.id;
    report.program_version = job.program_version;
    report.from = job.from;
    report.to = job.to;
    report.applied = !job.dry_run;
    report.histogram = ops::empty_recalc_histogram();
    std::string error;
    std::map<uint32_t, RecalcCsvPart> csv_parts;  // in partition order
    for (const Part& part : parts) {
      TimeMs at = 0;
      std::optional<RecalcCsvPart> csv;
      if (!merge_recalc_part(part.value, report, at, error, csv)) return unreadable(part);
      if (csv) csv_parts.emplace(part.partition, std::move(*csv));
      finished_at = std::max(finished_at, at);
    }
    std::stable_sort(report.largest.begin(), report.largest.end(),
                     [](const ops::RecalcChange& a, const ops::RecalcChange& b) {
                       return (a.delta < 0 ? -a.delta : a.delta) >
                              (b.delta < 0 ? -b.delta : b.delta);
                     });
    if (report.largest.size() > ops::kLargestShown) report.largest.resize(ops::kLargestShown);
    if (!error.empty()) {
      job.error = error;
    } else {
      job.result_json = ops::recalc_report_json(report);
      if (csv_parts.size() == parts.size()) {
        if (Status s = assemble_csv(job.id, csv_parts, job.result_csv); !s.ok()) return s;
      }
      if (report.adjustments_failed > 0) {
        job.error = std::to_string(report.adjustments_failed) +
                    " adjustments failed; the first: " + report.first_failure;
      }
    }
  } else {
    ops::MemberJobResult sum;
    for (const Part& part : parts) {
      ops::MemberJobResult r;
      TimeMs at = 0;
      if (!parse_member_part(part.value, r, at)) return unreadable(part);
      sum.members += r.members;
      sum.points_expired += r.points_expired;
      sum.tier_changes += r.tier_changes;
      sum.already_done += r.already_done;
      sum.failed += r.failed;
      if (sum.first_failure.empty()) sum.first_failure = r.first_failure;
      finished_at = std::max(finished_at, at);
    }
    job.result_json = ops::member_job_result_json(job.id, sum);
    if (sum.failed > 0) {
      job.error = std::to_string(sum.failed) + " of " + std::to_string(sum.members) +
                  " members failed; the first: " + sum.first_failure;
    }
  }
  job.finished_at = finished_at;
  job.state = job.error.empty() ? JobState::succeeded : JobState::failed;
  out = std::move(job);
  return Status::ok_status();
}

Status ClusterJobs::assemble_csv(const std::string& job_id,
                                 const std::map<uint32_t, RecalcCsvPart>& parts, std::string& out) {
  std::string runs;  // which runs' rows: the same set gives the same CSV
  for (const auto& [partition, part] : parts) runs += part.run + " ";
  {
    const std::lock_guard lock(mutex_);
    if (csv_cache_.job_id == job_id && csv_cache_.runs == runs) {
      out = csv_cache_.csv;
      return Status::ok_status();
    }
  }
  ops::RecalcReport header_only;
  std::string csv = ops::recalc_report_csv(header_only);
  for (const auto& [partition, part] : parts) {
    for (uint32_t chunk = 0; chunk < part.chunks; ++chunk) {
      std::optional<EtcdKeyValue> rows;
      if (Status s = node_.etcd().get(csv_prefix(job_id) + std::to_string(partition) + "/" +
                                          part.run + "/" + std::to_string(chunk),
                                      rows);
          !s.ok()) {
        return s;
      }
      if (!rows || csv.size() + rows->value.size() > kCsvBytesMax) {
        out.clear();  // a chunk gone (the job was asked for again) or too large: no CSV
        return Status::ok_status();
      }
      csv += rows->value;
    }
  }
  const std::lock_guard lock(mutex_);
  csv_cache_ = {job_id, runs, csv};
  out = std::move(csv);
  return Status::ok_status();
}

Status ClusterJobs::submit(const ops::JobSpec& spec, JobRecord& out, bool& queued) {
  queued = false;
  JobRecord job;
  job.id = ops::job_id_of(spec);
  job.type = spec.type;
  job.created_at = clock_();
  job.requested_by = spec.requested_by;
  job.runs = 1;
  if (spec.type == JobType::recalculate) {
    std::shared_ptr<const ProgramVersion> program = spec.program;
    if (!spec.dry_run && program->number == 0) {
      // An apply names the version its adjustments come from: numbered cluster-wide first.
      if (Status s = node_.programs().register_version(program->source_toml, program); !s.ok()) {
        return s;
      }
    }
    ops::put_job_parameters(spec, program.get(), job);
  } else {
    ops::put_job_parameters(spec, nullptr, job);
  }
  bool created = false;
  if (Status s = node_.etcd().create(job_key(job.id), storage::encode_job(job), 0, created);
      !s.ok()) {
    return s;
  }
  std::optional<JobRecord> current;
  if (Status s = find(job.id, current); !s.ok()) return s;
  if (!current) return Status::error(Status::Code::io_error, "the job vanished from etcd");
  if (!created && current->state == JobState::failed) {
    // Asked again after it failed: every partition runs again (finished steps and adjustments
    // answer as replays, so only what failed is done anew).
    if (Status s = node_.etcd().remove_prefix(part_prefix(job.id)); !s.ok()) return s;
    if (Status s = node_.etcd().remove_prefix(csv_prefix(job.id)); !s.ok()) return s;
    if (Status s = find(job.id, current); !s.ok()) return s;
    if (!current) return Status::error(Status::Code::io_error, "the job vanished from etcd");
    created = true;
  }
  queued = created;
  if (created) wake_.notify_all();
  out = std::move(*current);
  return Status::ok_status();
}

std::optional<std::string> ClusterJobs::member_part(const JobRecord& job, uint32_t partition,
                                                    ops::JobProgress& progress) {
  const uint32_t partitions = node_.config().partitions;
  ops::MemberJobResult result;
  const Status status =
      ops::run_member_job(store_, runtime_, member_kind(job.type), job.id, job.as_of, progress,
                          result, 4096, [partition, partitions](const std::string& member_id) {
                            return member_partition(member_id, partitions) == partition;
                          });
  if (!status.ok() || result.unavailable > 0) {
    // Interrupted, or the partition moved under it: run again, here or by its new owner.
    if (!status.ok() && !progress.stop_requested.load()) {
      std::fprintf(stderr, "cluster: job %s, partition %u: %s\n", job.id.c_str(), partition,
                   status.message().c_str());
    }
    return std::nullopt;
  }
  return member_part_text(result, clock_());
}

std::optional<std::string> ClusterJobs::recalc_part(const JobRecord& job, uint32_t partition,
                                                    ops::JobProgress& progress) {
  std::shared_ptr<const ProgramVersion> program;
  if (job.program_version != 0) {
    if (Status s = node_.programs().version(job.program_version, program); !s.ok()) {
      if (s.code() == Status::Code::not_found) return recalc_error_text(s.message(), clock_());
      std::fprintf(stderr, "cluster: job %s: %s\n", job.id.c_str(), s.message().c_str());
      return std::nullopt;
    }
  } else {
    auto parsed = parse_program_toml(job.program_toml, "job " + job.id, os_time_zones());
    if (const auto* problem = std::get_if<ProgramLoadError>(&parsed)) {
      return recalc_error_text("the job's program no longer loads: " + problem->message, clock_());
    }
    program = std::make_shared<const ProgramVersion>(
        ProgramVersion{0, std::get<Program>(std::move(parsed)), job.program_toml});
  }
  const uint32_t partitions = node_.config().partitions;
  ops::RecalcRequest request;
  request.job_id = job.id;
  request.program = std::move(program);
  request.from = job.from;
  request.to = job.to;
  request.apply = !job.dry_run;
  request.include = [partition, partitions](std::string_view member_id) {
    return member_partition(member_id, partitions) == partition;
  };
  ops::RecalcReport report;
  const Status status =
      ops::run_recalculation(store_, job.dry_run ? nullptr : &runtime_, request, progress, report);
  if (status.code() == Status::Code::invalid_argument) {
    return recalc_error_text(status.message(), clock_());  // the rules cannot re-run this history
  }
  if (!status.ok() || report.adjustments_unavailable > 0) {
    // Interrupted, or the partition moved under it: run again (adjustments made answer as
    // replays, and the purchases this job adjusted are skipped).
    if (!status.ok() && !progress.stop_requested.load()) {
      std::fprintf(stderr, "cluster: job %s, partition %u: %s\n", job.id.c_str(), partition,
                   status.message().c_str());
    }
    return std::nullopt;
  }
  return recalc_part_text(report, clock_(), keep_csv_rows(job.id, partition, report));
}

std::string ClusterJobs::keep_csv_rows(const std::string& job_id, uint32_t partition,
                                       const ops::RecalcReport& report) {
  std::string rows = ops::recalc_report_csv(report);
  rows.erase(0, rows.find('\n') + 1);         // the header is written once, by find()
  if (rows.size() > kCsvBytesMax) return "";  // the JSON summary only, as in single mode
  const std::string run =
      node_.config().node_id + "-" + std::to_string(clock_()) + "-" + std::to_string(++csv_runs_);
  uint32_t chunks = 0;
  for (size_t at = 0; at < rows.size(); at += kCsvChunkBytes, ++chunks) {
    const Status s = node_.etcd().put(
        csv_prefix(job_id) + std::to_string(partition) + "/" + run + "/" + std::to_string(chunks),
        std::string_view(rows).substr(at, kCsvChunkBytes));
    if (!s.ok()) {
      std::fprintf(stderr, "cluster: job %s, partition %u: its CSV rows: %s\n", job_id.c_str(),
                   partition, s.message().c_str());
      return "";  // the part stands; the job has no CSV
    }
  }
  return "csv " + run + " " + std::to_string(chunks);
}

std::string ClusterJobs::csv_prefix(std::string_view job_id) const {
  return "/" + node_.config().name + "/job-csv/" + std::string(job_id) + "/";
}

void ClusterJobs::run_part(const JobRecord& job, uint32_t partition) {
  auto progress = std::make_shared<ops::JobProgress>();
  {
    const std::lock_guard lock(mutex_);
    if (stopping_) return;
    running_ = progress;
  }
  const std::optional<std::string> result = job.type == JobType::recalculate
                                                ? recalc_part(job, partition, *progress)
                                                : member_part(job, partition, *progress);
  {
    const std::lock_guard lock(mutex_);
    running_.reset();
  }
  if (!result) return;
  bool created = false;
  if (Status s =
          node_.etcd().create(part_prefix(job.id) + std::to_string(partition), *result, 0, created);
      !s.ok()) {
    std::fprintf(stderr, "cluster: job %s, partition %u: %s\n", job.id.c_str(), partition,
                 s.message().c_str());
  }
}

void ClusterJobs::put_job_message(const std::string& job_id, int64_t run) {
  std::optional<JobRecord> ended;
  Status s = find(job_id, ended);
  if (s.ok() && ended && ended->finished()) {
    s = ensure_job_message(node_.etcd(), node_.config().name, *ended, run);
  }
  if (!s.ok()) {
    std::fprintf(stderr, "cluster: job %s: its webhook message: %s\n", job_id.c_str(),
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
    std::set<std::string> messages;  // the job messages there are (cluster/job_messages.hpp)
    if (node_.etcd().get_prefix(prefix, found).ok() &&
        job_message_runs(node_.etcd(), node_.config().name, messages).ok()) {
      for (const EtcdKeyValue& kv : found) {
        JobRecord job;
        const std::string id = kv.key.substr(prefix.size());
        if (!storage::decode_job(id, kv.value, job).ok()) continue;
        std::vector<Part> parts;
        if (!load_parts(id, parts).ok()) continue;
        std::vector<bool> done(node_.config().partitions, false);
        int64_t run = 0;  // the newest part's revision: every run of the job has its own
        for (const Part& part : parts) {
          if (part.partition < done.size()) done[part.partition] = true;
          run = std::max(run, part.revision);
        }
        if (std::all_of(done.begin(), done.end(), [](bool d) { return d; })) {
          if (!messages.contains(id + "/" + std::to_string(run))) put_job_message(id, run);
          continue;
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
