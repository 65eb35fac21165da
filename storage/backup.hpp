// Backups of a data folder with RocksDB's BackupEngine (incremental, checksummed), and their
// restore. The server must be stopped: both open the database themselves.
#pragma once

#include <string>

#include "engine/status.hpp"

namespace loyalty {

struct BackupInfo {
  uint32_t backup_id = 0;
  uint64_t size_bytes = 0;
  uint32_t files = 0;
};

// Adds a backup of `data_dir` to `backup_dir` (created if missing).
Status create_backup(const std::string& data_dir, const std::string& backup_dir, BackupInfo& out);
// Verifies the newest backup's checksums, then restores it into `data_dir` (which must be empty
// or absent).
Status restore_latest_backup(const std::string& backup_dir, const std::string& data_dir,
                             BackupInfo& out);

}  // namespace loyalty
