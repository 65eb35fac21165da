// BackupEngine around a data folder opened for the purpose (the server holds the folder's lock
// while it runs, so a running server makes these fail cleanly instead of copying a moving DB).
#include "storage/backup.hpp"

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/utilities/backup_engine.h>

#include <filesystem>
#include <memory>
#include <vector>

namespace loyalty {
namespace {

Status io_error(const std::string& what, const rocksdb::Status& status) {
  return Status::error(Status::Code::io_error, what + ": " + status.ToString());
}

// Opens the database with every column family it has, for a backup.
class OpenDatabase {
 public:
  Status open(const std::string& path) {
    std::vector<std::string> names;
    rocksdb::Status s = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names);
    if (!s.ok()) return io_error("cannot read " + path, s);
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const std::string& name : names)
      families.emplace_back(name, rocksdb::ColumnFamilyOptions());
    rocksdb::DB* db = nullptr;
    s = rocksdb::DB::Open(rocksdb::DBOptions(), path, families, &handles_, &db);
    if (!s.ok()) return io_error("cannot open " + path + " (is the server running?)", s);
    db_.reset(db);
    return Status::ok_status();
  }
  ~OpenDatabase() {
    if (!db_) return;
    for (rocksdb::ColumnFamilyHandle* handle : handles_) db_->DestroyColumnFamilyHandle(handle);
    db_->Close();
  }
  rocksdb::DB* get() const { return db_.get(); }

 private:
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::unique_ptr<rocksdb::DB> db_;
};

void fill(const rocksdb::BackupInfo& info, BackupInfo& out) {
  out.backup_id = info.backup_id;
  out.size_bytes = info.size;
  out.files = info.number_files;
}

}  // namespace

Status create_backup(const std::string& data_dir, const std::string& backup_dir, BackupInfo& out) {
  OpenDatabase db;
  if (Status status = db.open(data_dir); !status.ok()) return status;
  return backup_database(*db.get(), backup_dir, /*live_writes=*/false, out);
}

Status backup_database(rocksdb::DB& db, const std::string& backup_dir, bool live_writes,
                       BackupInfo& out) {
  rocksdb::BackupEngine* raw = nullptr;
  rocksdb::IOStatus s = rocksdb::BackupEngine::Open(rocksdb::BackupEngineOptions(backup_dir),
                                                    rocksdb::Env::Default(), &raw);
  if (!s.ok()) return io_error("cannot open the backup folder " + backup_dir, s);
  std::unique_ptr<rocksdb::BackupEngine> engine(raw);
  rocksdb::CreateBackupOptions options;
  options.flush_before_backup = !live_writes;
  rocksdb::BackupID id = 0;
  s = engine->CreateNewBackup(options, &db, &id);
  if (!s.ok()) return io_error("backup failed", s);
  s = engine->VerifyBackup(id, /*verify_with_checksum=*/true);
  if (!s.ok()) return io_error("the new backup does not verify", s);
  rocksdb::BackupInfo info;
  if (rocksdb::Status got = engine->GetBackupInfo(id, &info); !got.ok()) {
    return io_error("cannot read the backup's info", got);
  }
  fill(info, out);
  return Status::ok_status();
}

Status restore_latest_backup(const std::string& backup_dir, const std::string& data_dir,
                             BackupInfo& out) {
  std::error_code ignored;
  if (std::filesystem::exists(data_dir) && !std::filesystem::is_empty(data_dir, ignored)) {
    return Status::error(Status::Code::invalid_argument,
                         data_dir + " is not empty: restore only into a new folder");
  }
  rocksdb::BackupEngineReadOnly* raw = nullptr;
  rocksdb::IOStatus s = rocksdb::BackupEngineReadOnly::Open(
      rocksdb::BackupEngineOptions(backup_dir), rocksdb::Env::Default(), &raw);
  if (!s.ok()) return io_error("cannot open the backup folder " + backup_dir, s);
  std::unique_ptr<rocksdb::BackupEngineReadOnly> engine(raw);
  std::vector<rocksdb::BackupInfo> backups;
  engine->GetBackupInfo(&backups);
  if (backups.empty()) {
    return Status::error(Status::Code::not_found, "no backup in " + backup_dir);
  }
  const rocksdb::BackupInfo& latest = backups.back();
  s = engine->VerifyBackup(latest.backup_id, /*verify_with_checksum=*/true);
  if (!s.ok()) return io_error("the backup does not verify", s);
  s = engine->RestoreDBFromBackup(latest.backup_id, data_dir, data_dir);
  if (!s.ok()) return io_error("restore failed", s);
  fill(latest, out);
  return Status::ok_status();
}

}  // namespace loyalty
