// Job records and the job runner on a real RocksDB in a temporary folder: a record round trips
// with every field and survives a reopen; corrupt bytes read as corruption; the runner runs a
// job once per id, queues a failed one again, resumes what a crash left running, and fails a
// job whose program version is gone, with the reason.
#include "ops/job_runner.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <future>

#include "engine/program_toml.hpp"
#include "engine/runtime/runtime.hpp"
#include "engine/tzdb/os_time_zones.hpp"
#include "ops/member_jobs.hpp"
#include "ops/recalculation.hpp"
#include "storage/job_record.hpp"
#include "storage/jobs_generated.h"
#include "storage/program_versions.hpp"
#include "storage/rocks_store.hpp"
#include "tests/support/scenario.hpp"

namespace loyalty {
namespace {

namespace fs = std::filesystem;
using testing::at;
using testing::line;

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("loyalty-jobs-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

std::unique_ptr<RocksStore> open_store(const std::string& path) {
  std::unique_ptr<RocksStore> store;
  const Status status = RocksStore::open({.path = path, .durability = Durability::wal}, store);
  EXPECT_TRUE(status.ok()) << status.message();
  return store;
}

void expect_ok(const Status& status) { ASSERT_TRUE(status.ok()) << status.message(); }

JobRecord full_record() {
  JobRecord job;
  job.id = "recalc-0123456789abcdef";
  job.type = JobType::recalculate;
  job.state = JobState::failed;
  job.as_of = at("2026-12-01T03:00:00Z");
  job.from = at("2026-01-01T00:00:00Z");
  job.to = at("2026-07-01T00:00:00Z");
  job.program_version = 7;
  job.program_toml = "[program]\nid = \"x\"\n";
  job.dry_run = true;
  job.done = 1234;
  job.total = 5678;
  job.created_at = at("2026-11-20T10:00:00Z");
  job.started_at = at("2026-11-20T10:00:01Z");
  job.finished_at = at("2026-11-20T10:05:00Z");
  job.runs = 3;
  job.resumed = 2;
  job.result_json = R"({"events_examined":5678})";
  job.result_csv = "job_id,member_id\nx,m1\n";
  job.error = "1 adjustments failed";
  job.requested_by = "dev-admin";
  job.backup_dir = "/var/lib/loyalty/data-backups";
  return job;
}

void expect_same(const JobRecord& a, const JobRecord& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.as_of, b.as_of);
  EXPECT_EQ(a.from, b.from);
  EXPECT_EQ(a.to, b.to);
  EXPECT_EQ(a.program_version, b.program_version);
  EXPECT_EQ(a.program_toml, b.program_toml);
  EXPECT_EQ(a.dry_run, b.dry_run);
  EXPECT_EQ(a.done, b.done);
  EXPECT_EQ(a.total, b.total);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.started_at, b.started_at);
  EXPECT_EQ(a.finished_at, b.finished_at);
  EXPECT_EQ(a.runs, b.runs);
  EXPECT_EQ(a.resumed, b.resumed);
  EXPECT_EQ(a.result_json, b.result_json);
  EXPECT_EQ(a.result_csv, b.result_csv);
  EXPECT_EQ(a.error, b.error);
  EXPECT_EQ(a.requested_by, b.requested_by);
  EXPECT_EQ(a.backup_dir, b.backup_dir);
}

TEST(JobRecords, RoundTripEveryFieldAndSurviveAReopen) {
  TempDir dir;
  const JobRecord job = full_record();
  {
    std::unique_ptr<RocksStore> store = open_store(dir.path());
    expect_ok(store->save_job(job));
    std::optional<JobRecord> loaded;
    expect_ok(store->load_job(job.id, loaded));
    ASSERT_TRUE(loaded);
    expect_same(*loaded, job);
  }
  std::unique_ptr<RocksStore> store = open_store(dir.path());
  std::optional<JobRecord> loaded;
  expect_ok(store->load_job(job.id, loaded));
  ASSERT_TRUE(loaded);
  expect_same(*loaded, job);
  expect_ok(store->load_job("no-such-job", loaded));
  EXPECT_FALSE(loaded);
}

TEST(JobRecords, ScanListsOnlyJobsInIdOrderBesideProgramVersions) {
  TempDir dir;
  std::unique_ptr<RocksStore> store = open_store(dir.path());
  expect_ok(store->save_program_version({1, "[program]", 5}, true));
  JobRecord b = full_record();
  b.id = "expire:2026-12-01T03:00:00Z";
  b.type = JobType::expire;
  JobRecord a = b;
  a.id = "evaluate-tiers:2026-12-01T03:00:00Z";
  a.type = JobType::evaluate_tiers;
  expect_ok(store->save_job(b));
  expect_ok(store->save_job(a));
  b.state = JobState::succeeded;  // a save replaces the record
  expect_ok(store->save_job(b));
  std::vector<JobRecord> seen;
  expect_ok(store->scan_jobs([&](const JobRecord& job) {
    seen.push_back(job);
    return true;
  }));
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].id, a.id);
  EXPECT_EQ(seen[1].id, b.id);
  EXPECT_EQ(seen[1].state, JobState::succeeded);
  std::vector<StoredProgramVersion> versions;
  expect_ok(store->load_program_versions(versions));
  EXPECT_EQ(versions.size(), 1u);
}

TEST(JobRecords, CorruptBytesAndUnknownStatesReadAsCorruption) {
  JobRecord out;
  EXPECT_EQ(storage::decode_job("j", "not a flatbuffer", out).code(), Status::Code::corruption);
  EXPECT_EQ(storage::decode_job("j", "", out).code(), Status::Code::corruption);
  flatbuffers::FlatBufferBuilder builder;
  storage::fb::JobRecordBuilder record(builder);
  record.add_type(static_cast<uint8_t>(JobType::expire));
  record.add_state(9);  // no such state
  builder.Finish(record.Finish());
  const std::string bytes(reinterpret_cast<const char*>(builder.GetBufferPointer()),
                          builder.GetSize());
  EXPECT_EQ(storage::decode_job("j", bytes, out).code(), Status::Code::corruption);
  const std::string good = storage::encode_job(full_record());
  EXPECT_TRUE(storage::decode_job("j", good, out).ok());
  EXPECT_EQ(storage::decode_job("", good, out).code(), Status::Code::corruption);
}

// 1 point per 1.00 CNY, points expire after 30 days.
constexpr const char* kSeedToml = R"([program]
id = "test-club"
currency = "CNY"

[earning]
points_per_unit = 1
unit_minor = 100

[expiry]
mode = "days"
days = 30
)";

// A store with members whose points expire, a runtime over it, and a job runner.
class Runner : public ::testing::Test {
 protected:
  void SetUp() override { open(); }
  void TearDown() override { close(); }

  void open() {
    store_ = open_store(dir_.path());
    StoredPrograms stored;
    expect_ok(load_stored_programs(*store_, stored));
    if (!stored.active) {
      expect_ok(store_->save_program_version({1, kSeedToml, 1}, true));
      expect_ok(load_stored_programs(*store_, stored));
    }
    const std::shared_ptr<const ProgramVersion> version = stored.versions.at(*stored.active);
    registry_ = std::make_unique<ProgramRegistry>(version);
    runtime_ = std::make_unique<Runtime>(RuntimeOptions{.partitions = 2}, *store_, *registry_,
                                         [] { return at("2026-11-01T00:00:00Z"); });
    runner_ = std::make_unique<ops::JobRunner>(*store_, *runtime_, [this] { return ++now_; });
  }
  void close() {
    if (runner_) runner_->stop();
    runner_.reset();
    if (runtime_) runtime_->stop();
    runtime_.reset();
    registry_.reset();
    store_.reset();
  }

  EventResult submit(Event event) {
    std::promise<EventResult> answer;
    runtime_->submit(std::move(event), [&](EventResult&& r) { answer.set_value(std::move(r)); });
    return answer.get_future().get();
  }

  void member_with_points(const std::string& member_id) {
    SignupEvent signup;
    signup.member_id = member_id;
    signup.joined_at = at("2026-06-01T00:00:00Z");
    ASSERT_TRUE(submit(Event{signup}).rejection.ok());
    PurchaseEvent purchase;
    purchase.event_id = "p-" + member_id;
    purchase.member_id = member_id;
    purchase.store_id = "s-1";
    purchase.occurred_at = at("2026-06-02T00:00:00Z");
    purchase.currency = testing::basic_program().currency;
    purchase.lines = {line("bagel", "food", 1000)};
    const EventResult r = submit(Event{purchase});
    ASSERT_TRUE(r.rejection.ok()) << r.rejection.message;
  }

  JobRecord job(const std::string& id) {
    std::optional<JobRecord> found;
    EXPECT_TRUE(runner_->find(id, found).ok());
    EXPECT_TRUE(found) << id;
    return found.value_or(JobRecord{});
  }

  ops::JobSpec expire_spec(TimeMs as_of) {
    ops::JobSpec spec;
    spec.type = JobType::expire;
    spec.as_of = as_of;
    spec.requested_by = "test";
    return spec;
  }

  TempDir dir_;
  TimeMs now_ = at("2026-11-23T03:00:00Z");
  std::unique_ptr<RocksStore> store_;
  std::unique_ptr<ProgramRegistry> registry_;
  std::unique_ptr<Runtime> runtime_;
  std::unique_ptr<ops::JobRunner> runner_;
};

TEST_F(Runner, RunsAJobOncePerIdThroughTheRuntime) {
  member_with_points("m1");
  member_with_points("m2");
  expect_ok(runner_->start());
  const TimeMs as_of = at("2026-08-01T00:00:00Z");
  JobRecord queued;
  bool was_queued = false;
  expect_ok(runner_->submit(expire_spec(as_of), queued, was_queued));
  EXPECT_TRUE(was_queued);
  EXPECT_EQ(queued.id, ops::member_job_id(ops::MemberJobKind::expire, as_of));
  EXPECT_EQ(queued.state, JobState::queued);
  runner_->wait_idle();
  const JobRecord done = job(queued.id);
  EXPECT_EQ(done.state, JobState::succeeded) << done.error;
  EXPECT_EQ(done.done, 2u);
  EXPECT_EQ(done.total, 2u);
  EXPECT_EQ(done.runs, 1u);
  EXPECT_EQ(done.requested_by, "test");
  EXPECT_NE(done.result_json.find("\"points_expired\":20"), std::string::npos) << done.result_json;
  EXPECT_GT(done.finished_at, done.started_at);

  // Asked again: the same job answers, nothing runs a second time.
  JobRecord again;
  expect_ok(runner_->submit(expire_spec(as_of), again, was_queued));
  EXPECT_FALSE(was_queued);
  EXPECT_EQ(again.state, JobState::succeeded);
  runner_->wait_idle();
  EXPECT_EQ(job(queued.id).runs, 1u);
}

TEST_F(Runner, ResumesWhatAStopLeftRunningAndEachStepAppliesOnce) {
  member_with_points("m1");
  member_with_points("m2");
  const TimeMs as_of = at("2026-08-01T00:00:00Z");
  const std::string id = ops::member_job_id(ops::MemberJobKind::expire, as_of);
  // A crash mid-run: m1's step was applied, then the process died with the record running.
  JobStepEvent step{id, "m1", as_of};
  ASSERT_TRUE(submit(Event{EventType::expire_points, step}).rejection.ok());
  JobRecord crashed;
  crashed.id = id;
  crashed.type = JobType::expire;
  crashed.state = JobState::running;
  crashed.as_of = as_of;
  crashed.created_at = now_;
  crashed.started_at = now_;
  crashed.runs = 1;
  crashed.done = 1;
  crashed.total = 2;
  expect_ok(store_->save_job(crashed));
  close();
  open();
  expect_ok(runner_->start());
  runner_->wait_idle();
  const JobRecord resumed = job(id);
  EXPECT_EQ(resumed.state, JobState::succeeded) << resumed.error;
  EXPECT_EQ(resumed.resumed, 1u);
  EXPECT_EQ(resumed.runs, 2u);
  // m1's step answered from its record; only m2's expired now.
  EXPECT_NE(resumed.result_json.find("\"already_done\":1"), std::string::npos)
      << resumed.result_json;
  EXPECT_NE(resumed.result_json.find("\"points_expired\":10"), std::string::npos)
      << resumed.result_json;
  for (const char* member : {"m1", "m2"}) {
    LedgerPage page;
    expect_ok(store_->read_ledger(member, std::nullopt, 100, page));
    int expiries = 0;
    for (const LedgerEntry& entry : page.entries) expiries += entry.type == EntryType::expire;
    EXPECT_EQ(expiries, 1) << member;
  }
}

TEST_F(Runner, FailsAJobWhoseProgramIsGoneAndQueuesAFailedJobAgain) {
  JobRecord orphan;
  orphan.id = "recalc-00000000000000aa";
  orphan.type = JobType::recalculate;
  orphan.state = JobState::queued;
  orphan.program_version = 9;  // never stored
  orphan.from = at("2026-01-01T00:00:00Z");
  orphan.to = at("2026-12-01T00:00:00Z");
  orphan.created_at = now_;
  expect_ok(store_->save_job(orphan));
  expect_ok(runner_->start());
  runner_->wait_idle();
  const JobRecord failed = job(orphan.id);
  EXPECT_EQ(failed.state, JobState::failed);
  EXPECT_NE(failed.error.find("program version 9"), std::string::npos) << failed.error;
  EXPECT_EQ(failed.runs, 0u) << "never half-run: refused before it started";

  // A failed job asked for again runs again (here: a dry run of rules sent with the request).
  member_with_points("m1");
  const std::string doubled_toml =
      "[program]\nid = \"test-club\"\ncurrency = \"CNY\"\n"
      "[earning]\npoints_per_unit = 2\nunit_minor = 100\n";
  std::variant<Program, ProgramLoadError> doubled =
      parse_program_toml(doubled_toml, "test", os_time_zones());
  ASSERT_TRUE(std::holds_alternative<Program>(doubled));
  ops::JobSpec spec;
  spec.type = JobType::recalculate;
  spec.program = std::make_shared<const ProgramVersion>(
      ProgramVersion{0, std::get<Program>(doubled), doubled_toml});
  spec.from = at("2026-01-01T00:00:00Z");
  spec.to = at("2026-12-01T00:00:00Z");
  spec.dry_run = true;
  const std::string id = ops::job_id_of(spec);
  EXPECT_EQ(id, ops::recalc_job_id(doubled_toml, spec.from, spec.to) + "-dry-run");
  JobRecord earlier = failed;
  earlier.id = id;
  earlier.error = "an earlier failure";
  expect_ok(store_->save_job(earlier));
  JobRecord queued;
  bool was_queued = false;
  expect_ok(runner_->submit(spec, queued, was_queued));
  EXPECT_TRUE(was_queued);
  EXPECT_EQ(queued.state, JobState::queued);
  EXPECT_TRUE(queued.error.empty());
  EXPECT_EQ(queued.program_version, 0u);
  EXPECT_EQ(queued.program_toml, doubled_toml) << "kept, so that a restart can run it again";
  runner_->wait_idle();
  const JobRecord second = job(id);
  EXPECT_EQ(second.state, JobState::succeeded) << second.error;
  EXPECT_EQ(second.runs, 1u);
  EXPECT_NE(second.result_json.find("\"events_changed\":1"), std::string::npos)
      << second.result_json;
  EXPECT_NE(second.result_csv.find("p-m1"), std::string::npos) << second.result_csv;
}

}  // namespace
}  // namespace loyalty
