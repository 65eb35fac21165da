// Backups of a data folder with RocksDB's BackupEngine (incremental, checksummed), and their
// restore. create_backup and restore open the database themselves (the server stopped); a
// running server backs up its open database (RocksStore::backup, POST /v1/backups).
#pragma once

#include <string>

#include "engine/status.hpp"

namespace rocksdb {
class DB;
}  // namespace rocksdb

namespace loyalty {

struct BackupInfo {
  uint32_t backup_id = 0;
  uint64_t size_bytes = 0;
  uint32_t files = 0;
};

// Adds a backup of `data_dir` to `backup_dir` (created if missing).
Status create_backup(const std::string& data_dir, const std::string& backup_dir, BackupInfo& out);
// Adds a backup of the open `db` to `backup_dir` and verifies it. With `live_writes` the memtables
// are not flushed first and the live WAL files are copied instead: a restore replays them, so
// the backup is one point in time of every column family together, however writes go on
// meanwhile (flushing families one after another would not be).
Status backup_database(rocksdb::DB& db, const std::string& backup_dir, bool live_writes,
                       BackupInfo& out);
// Verifies the newest backup's checksums, then restores it into `data_dir` (which must be empty
// or absent).
Status restore_latest_backup(const std::string& backup_dir, const std::string& data_dir,
                             BackupInfo& out);

}  // namespace loyalty
