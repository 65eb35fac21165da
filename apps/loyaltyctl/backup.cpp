// backup and restore of a data folder (RocksDB BackupEngine); a restore is verified at once.
#include "storage/backup.hpp"

#include <filesystem>
#include <iostream>

#include "apps/loyaltyctl/commands.hpp"

namespace loyalty::ctl {

int run_backup(const Target& target, const std::string& backup_dir) {
  BackupInfo info;
  if (Status s = create_backup(target.data_dir, backup_dir, info); !s.ok()) {
    std::cerr << "loyaltyctl backup: " << s.message() << "\n";
    return kExitProblemFound;
  }
  if (target.json) {
    std::cout << "{\"backup_id\":" << info.backup_id << ",\"size_bytes\":" << info.size_bytes
              << ",\"files\":" << info.files << ",\"verified\":true}\n";
  } else {
    std::cout << "backup " << info.backup_id << " of " << target.data_dir << " in " << backup_dir
              << ": " << info.files << " files, " << info.size_bytes << " bytes, verified\n";
  }
  return kExitOk;
}

int run_restore(const Target& target, const std::string& backup_dir) {
  std::error_code ignored;
  if (!std::filesystem::is_directory(backup_dir, ignored)) {  // bad input, not a failed restore
    std::cerr << "loyaltyctl restore: " << backup_dir << " is not a backup folder\n";
    return kExitUsage;
  }
  BackupInfo info;
  if (Status s = restore_latest_backup(backup_dir, target.data_dir, info); !s.ok()) {
    std::cerr << "loyaltyctl restore: " << s.message() << "\n";
    return s.code() == Status::Code::invalid_argument ? kExitUsage : kExitProblemFound;
  }
  if (!target.json) {
    std::cout << "restored backup " << info.backup_id << " into " << target.data_dir
              << "; verifying\n";
  }
  return run_verify(target);
}

}  // namespace loyalty::ctl
