// The loyaltyctl commands (config.md "loyaltyctl"); each returns the process exit code.
#pragma once

#include <string>

#include "apps/loyaltyctl/common.hpp"

namespace loyalty::ctl {

int run_verify(const Target& target);
int run_stats(const Target& target);
int run_replay(const Target& target, const std::string& into_dir);
int run_job(const Target& target, EventType kind, const std::string& as_of_text);
int run_export(const Target& target, const std::string& what, const std::string& format);
int run_backup(const Target& target, const std::string& backup_dir);
int run_restore(const Target& target, const std::string& backup_dir);

// A digest of every member and ledger entry (the NDJSON export, hashed), to compare stores.
Status state_digest(RocksStore& store, uint64_t& digest, uint64_t& members);

}  // namespace loyalty::ctl
