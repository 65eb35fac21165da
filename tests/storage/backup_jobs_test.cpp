// Online backups as jobs (ops/backup_jobs.hpp) on a real RocksDB: a backup of the open store
// while a writer commits, restored, holds everything committed before it was asked for; one a
// stop left unfinished is failed at the next start; only backup ids are found.
#include "ops/backup_jobs.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "storage/backup.hpp"
#include "storage/rocks_store.hpp"

namespace loyalty {
namespace {

namespace fs = std::filesystem;

class BackupJobsTest : public ::testing::Test {
 protected:
  BackupJobsTest()
      : dir_(fs::temp_directory_path() /
             ("loyalty-backup-jobs-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  ~BackupJobsTest() override { fs::remove_all(dir_); }

  std::unique_ptr<RocksStore> open(const fs::path& path) {
    std::unique_ptr<RocksStore> store;
    const Status status =
        RocksStore::open({.path = path.string(), .durability = Durability::wal}, store);
    EXPECT_TRUE(status.ok()) << status.message();
    return store;
  }

  JobRecord wait_for(ops::BackupJobs& backups, const std::string& id) {
    for (int i = 0; i < 3000; ++i) {
      std::optional<JobRecord> job;
      EXPECT_TRUE(backups.find(id, job).ok());
      if (job && job->finished()) return *job;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "backup " << id << " did not finish";
    return {};
  }

  fs::path dir_;
};

// A claim per commit stands for any write: its presence in the restore is what is checked.
Status commit_claim(RocksStore& store, int n) {
  CommitBatch batch;
  batch.claims.push_back({"k:" + std::to_string(n), ClaimState{"m-" + std::to_string(n)}});
  return store.commit(batch);
}

TEST_F(BackupJobsTest, ABackupWhileCommitsGoOnHoldsEverythingCommittedBeforeIt) {
  std::unique_ptr<RocksStore> store = open(dir_ / "data");
  ops::BackupJobs backups(
      *store, [] { return TimeMs{1'700'000'000'000}; }, (dir_ / "default-backups").string());
  ASSERT_TRUE(backups.start().ok());
  std::atomic<int> committed{0};
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int n = 0; !stop; ++n) {
      ASSERT_TRUE(commit_claim(*store, n).ok());
      committed = n + 1;
    }
  });
  while (committed < 500) std::this_thread::yield();
  const int before = committed.load();
  JobRecord job;
  ASSERT_TRUE(backups.submit("", "test", job).ok());
  EXPECT_EQ(job.type, JobType::backup);
  EXPECT_EQ(job.backup_dir, (dir_ / "default-backups").string()) << "the default folder";
  EXPECT_TRUE(ops::BackupJobs::is_backup_id(job.id));
  const JobRecord done = wait_for(backups, job.id);
  stop = true;
  writer.join();
  ASSERT_EQ(done.state, JobState::succeeded) << done.error;
  EXPECT_NE(done.result_json.find("\"verified\":true"), std::string::npos);

  BackupInfo info;
  ASSERT_TRUE(restore_latest_backup(done.backup_dir, (dir_ / "restored").string(), info).ok());
  std::unique_ptr<RocksStore> restored = open(dir_ / "restored");
  for (int n = 0; n < before; ++n) {
    ClaimState claim;
    ASSERT_TRUE(restored->find_claim("k:" + std::to_string(n), claim).ok());
    ASSERT_EQ(claim.member_id, "m-" + std::to_string(n)) << "commit " << n << " of " << before;
  }
  backups.stop();
}

TEST_F(BackupJobsTest, AnUnfinishedBackupFailsAtTheNextStartAndOnlyBackupsAreFound) {
  std::unique_ptr<RocksStore> store = open(dir_ / "data");
  JobRecord left;
  left.id = "backup-1-1";
  left.type = JobType::backup;
  left.state = JobState::running;
  left.backup_dir = (dir_ / "b").string();
  ASSERT_TRUE(store->save_job(left).ok());
  JobRecord other;
  other.id = "expire:2026-12-01T00:00:00Z";
  other.type = JobType::expire;
  ASSERT_TRUE(store->save_job(other).ok());

  ops::BackupJobs backups(
      *store, [] { return TimeMs{5}; }, (dir_ / "b").string());
  ASSERT_TRUE(backups.start().ok());
  std::optional<JobRecord> found;
  ASSERT_TRUE(backups.find(left.id, found).ok());
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->state, JobState::failed);
  EXPECT_FALSE(found->error.empty());
  ASSERT_TRUE(backups.find(other.id, found).ok());
  EXPECT_FALSE(found.has_value()) << "not a backup";
  ASSERT_TRUE(store->load_job(other.id, found).ok());
  EXPECT_EQ(found->state, JobState::queued) << "left to the job runner";

  // A folder that cannot be made: the job fails and says why.
  JobRecord job;
  ASSERT_TRUE(backups.submit("/proc/no-backups-here", "test", job).ok());
  const JobRecord failed = wait_for(backups, job.id);
  EXPECT_EQ(failed.state, JobState::failed);
  EXPECT_FALSE(failed.error.empty());
  backups.stop();
}

}  // namespace
}  // namespace loyalty
