// The loyaltyctl commands (config.md "loyaltyctl"); each returns the process exit code.
#pragma once

#include <string>

#include "apps/loyaltyctl/common.hpp"

namespace loyalty::ctl {

int run_verify(const Target& target);
int run_stats(const Target& target);
int run_replay(const Target& target, const std::string& into_dir);
// migrate (migrate.cpp): a folder of an older record layout rebuilt from its event log.
int run_migrate(const Target& target);

// Rebuilds `into_dir` (new or empty) from the event log of `source` (the folder `data_dir`),
// each event under the program version it ran with, and compares the two states' digests.
struct ReplayOutcome {
  uint64_t events = 0;
  uint64_t members = 0;
  uint64_t source_digest = 0;
  uint64_t rebuilt_digest = 0;
  bool same = false;
  std::string failure;  // empty unless the rebuild or a digest failed
  int exit_code = kExitOk;
};
ReplayOutcome replay_into(RocksStore& source, const std::string& data_dir,
                          const std::string& into_dir);
int run_job(const Target& target, EventType kind, const std::string& as_of_text);
int run_export(const Target& target, const std::string& what, const std::string& format);
int run_backup(const Target& target, const std::string& backup_dir);
int run_restore(const Target& target, const std::string& backup_dir);

// import (import.cpp) and export events (export_events.cpp): see README.md, "loyaltyctl".
struct ImportOptions {
  std::string file;         // NDJSON or CSV
  std::string report_path;  // --report: the rejected rows as CSV; empty: none
  bool digest = false;      // --digest: print the data folder's state digest afterwards
};
int run_import(const Target& target, const ImportOptions& options);
int run_export_events(const Target& target);

struct RecalcOptions {
  std::string program_path;  // --program
  std::string from, to;      // --from, --to: RFC 3339
  bool dry_run = false;      // --dry-run
  bool apply = false;        // --apply
  std::string report_path;   // --report: PATH.json and PATH.csv; empty: none
};
int run_recalc(const Target& target, const RecalcOptions& options);

// --server mode (remote_jobs.cpp): the job runs on the server (POST /v1/jobs), followed until it
// ends. Exit 0 succeeded, 1 failed or the server could not be reached, 2 bad usage or a 4xx.
int check_server_target(const Target& target);  // --server with --key, and no --data/--config
int run_remote_job(const Target& target, EventType kind, const std::string& as_of_text);
// loyaltyctl cluster status --server URL --key KEY: GET /v1/cluster of that node, as a report.
int run_cluster_status(const Target& target);
int run_remote_recalc(const Target& target, const RecalcOptions& options);
// backup --server: POST /v1/backups (into `backup_dir` on the server's machine, "" for its
// default), followed until it ends.
int run_remote_backup(const Target& target, const std::string& backup_dir);

// A digest of every member and ledger entry (the NDJSON export, hashed), to compare stores.
Status state_digest(RocksStore& store, uint64_t& digest, uint64_t& members);

}  // namespace loyalty::ctl
