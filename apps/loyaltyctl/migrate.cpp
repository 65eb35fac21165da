// migrate: brings a data folder written by an older release to this release's record layout
// (docs/storage.md). The folder is rebuilt from its own event log, every event under the
// program version it ran with (replay), into DIR.migrating; the job records are copied; the
// rebuilt state must have the old one's digest. Only then are the folders swapped: DIR becomes
// DIR.layout<N> (kept for the operator to delete) and the rebuilt folder becomes DIR.
// Stop loyaltyd first: the old folder is read under its lock.
#include <filesystem>
#include <iostream>
#include <system_error>

#include "apps/loyaltyctl/commands.hpp"
#include "storage/keys.hpp"

namespace loyalty::ctl {
namespace {

namespace fs = std::filesystem;

Status copy_jobs(RocksStore& source, const std::string& into_dir) {
  std::unique_ptr<RocksStore> rebuilt;
  if (open_store(into_dir, rebuilt, Durability::fsync) != kExitOk) {
    return Status::error(Status::Code::io_error, "cannot open " + into_dir);
  }
  Status saved;
  Status scanned = source.scan_jobs([&](const JobRecord& job) {
    saved = rebuilt->save_job(job);
    return saved.ok();
  });
  return scanned.ok() ? saved : scanned;
}

void report(const Target& target, uint32_t from, const ReplayOutcome& outcome,
            const std::string& kept, const std::string& failure) {
  if (target.json) {
    std::cout << "{\"from_layout\":" << from << ",\"layout\":" << storage::kLayoutCurrent
              << ",\"events\":" << outcome.events << ",\"members\":" << outcome.members
              << ",\"digest\":\"" << std::hex << outcome.source_digest << std::dec
              << "\",\"ok\":" << (failure.empty() ? "true" : "false");
    if (!kept.empty()) std::cout << ",\"previous\":\"" << json_escape(kept) << "\"";
    if (!failure.empty()) std::cout << ",\"error\":\"" << json_escape(failure) << "\"";
    std::cout << "}\n";
    return;
  }
  if (!failure.empty()) {
    std::cout << "migrate failed: " << failure << "\n";
    return;
  }
  std::cout << "migrated " << target.data_dir << " from record layout " << from << " to "
            << storage::kLayoutCurrent << ": " << outcome.events << " events, " << outcome.members
            << " members, digest " << std::hex << outcome.source_digest << std::dec
            << " unchanged; the old folder is " << kept << "\n";
}

}  // namespace

int run_migrate(const Target& target) {
  uint32_t from = 0;
  const std::string dir = fs::path(target.data_dir).lexically_normal().string();
  const std::string staging = dir + ".migrating";
  ReplayOutcome outcome;
  {
    std::unique_ptr<RocksStore> source;
    if (int code = open_store(dir, source, Durability::fsync, /*older_layout=*/true);
        code != kExitOk) {
      return code;
    }
    from = source->layout();
    if (from == storage::kLayoutCurrent) {
      if (target.json) {
        std::cout << "{\"from_layout\":" << from << ",\"layout\":" << from
                  << ",\"ok\":true,\"unchanged\":true}\n";
      } else {
        std::cout << dir << " already has record layout " << from << "; nothing to do\n";
      }
      return kExitOk;
    }
    std::error_code ignored;
    fs::remove_all(staging, ignored);  // what an interrupted migrate left
    outcome = replay_into(*source, dir, staging);
    if (outcome.failure.empty() && !outcome.same) {
      outcome.failure = "the rebuilt folder's digest differs from the old one's";
    }
    if (outcome.failure.empty()) {
      if (Status status = copy_jobs(*source, staging); !status.ok()) {
        outcome.failure = "cannot copy the job records: " + status.message();
      }
    }
  }
  if (!outcome.failure.empty()) {
    report(target, from, outcome, "", outcome.failure + " (" + dir + " is unchanged)");
    return kExitProblemFound;
  }
  const std::string kept = dir + ".layout" + std::to_string(from);
  std::error_code error;
  if (fs::exists(kept)) {
    report(target, from, outcome, "", kept + " exists: move it away and run migrate again");
    return kExitUsage;
  }
  fs::rename(dir, kept, error);
  if (!error) {
    fs::rename(staging, dir, error);
    if (error) fs::rename(kept, dir);  // put the old one back: the folder stays usable
  }
  if (error) {
    report(target, from, outcome, "", "cannot swap the folders: " + error.message());
    return kExitProblemFound;
  }
  report(target, from, outcome, kept, "");
  return kExitOk;
}

}  // namespace loyalty::ctl
