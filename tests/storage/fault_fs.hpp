// A RocksDB file system for tests: forwards to the real one, keeps track of what a power cut
// would take (data written since a file's last sync, files whose directory entry was never
// synced) and can make writes fail like a full disk or a failing device.
// Thread-safety: every method may be called from any thread (RocksDB's included).
#pragma once

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <string>

namespace loyalty::faults {

enum class WriteFault : uint8_t {
  none,
  // Appends write what still fits (`fail_writes`' space_left_bytes), then fail with ENOSPC;
  // RocksDB sees IOStatus::NoSpace, as from a real full disk. Syncs succeed: what was written
  // has its blocks. GetFreeSpace reports the space left.
  disk_full,
  // Every append, sync, file creation and directory sync fails with EIO and writes nothing.
  io_error,
};

// What a power cut took from the files.
struct PowerLoss {
  size_t files_truncated = 0;
  size_t files_removed = 0;
  uint64_t bytes_dropped = 0;
};

class FaultFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  FaultFileSystem();  // over rocksdb::FileSystem::Default()

  static const char* kClassName() { return "LoyaltyFaultFileSystem"; }
  const char* Name() const override { return kClassName(); }

  // Write faults, from now on until heal().
  void fail_writes(WriteFault fault, uint64_t space_left_bytes = 0);
  void heal();                     // space returns, the device works again
  uint64_t failed_writes() const;  // appends and syncs refused by a fault so far

  // The power goes off: from now on nothing reaches the disk (every append, sync, create,
  // rename, delete fails and changes nothing). Waits for file operations in progress, so a sync
  // that returned OK before this call is durable and none returns OK after it.
  void cut_power();
  // The power goes off in the middle of the `appends`-th append from now (to any file): a
  // part of its data, `prefix_percent` of it (0 to 100), reaches the file, then nothing more.
  void cut_power_at_append(uint64_t appends, uint32_t prefix_percent);
  bool powered() const { return powered_.load(); }
  // Call with every user of this file system closed. Makes the files what a machine would find
  // after the power cut: each file cut back to its last synced size (with `torn`, to a random
  // size between that and what was written: part of the unsynced data made it to the disk), and
  // files created since their directory's last sync removed. Then the power is on again, with
  // no fault and every file taken as durable.
  PowerLoss power_on(std::mt19937_64* torn = nullptr);

  // Mutating calls are gated and tracked; reads are forwarded as they are.
  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(const std::string& name, const std::string& old_name,
                                      const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewRandomRWFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSRandomRWFile>* result,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewDirectory(const std::string& name, const rocksdb::IOOptions& options,
                                 std::unique_ptr<rocksdb::FSDirectory>* result,
                                 rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteFile(const std::string& name, const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus RenameFile(const std::string& from, const std::string& to,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus LinkFile(const std::string& from, const std::string& to,
                             const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus Truncate(const std::string& name, size_t size,
                             const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus CreateDir(const std::string& name, const rocksdb::IOOptions& options,
                              rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus CreateDirIfMissing(const std::string& name, const rocksdb::IOOptions& options,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteDir(const std::string& name, const rocksdb::IOOptions& options,
                              rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus GetFreeSpace(const std::string& path, const rocksdb::IOOptions& options,
                                 uint64_t* free_bytes, rocksdb::IODebugContext* dbg) override;

 private:
  class TrackedFile;
  class TrackedDirectory;

  // A file written through this file system since the last power_on().
  struct FileState {
    uint64_t written = 0;       // bytes in the file now (page cache included)
    uint64_t synced = 0;        // bytes a power cut keeps
    bool entry_synced = false;  // its directory entry survives a power cut
  };

  // Shared for every file operation, exclusive for cut_power(): nothing is half done at the cut.
  std::shared_lock<std::shared_mutex> enter() const;
  rocksdb::IOStatus refuse_if_off() const;  // call with enter() held
  // Whether this append is the one the power goes off in; then `prefix` bytes of it are written.
  bool cut_in_this_append(uint64_t bytes, uint64_t& prefix);
  // Under a fault: how much of an append of `bytes` may be written, and the error after it.
  rocksdb::IOStatus admit_append(uint64_t bytes, uint64_t& allowed);
  rocksdb::IOStatus admit_sync();
  void track_new(const std::string& name, uint64_t size, bool entry_synced);
  void appended(const std::string& name, uint64_t bytes);
  uint64_t written(const std::string& name);
  void synced(const std::string& name, uint64_t size);
  void truncated(const std::string& name, uint64_t size);
  void directory_synced(const std::string& directory);

  mutable std::shared_mutex gate_;
  // Turned off under gate_ exclusively, or by the append that cut_power_at_append() chose
  // (which holds it shared: operations in progress elsewhere finish as if just before the cut).
  std::atomic<bool> powered_{true};
  std::atomic<int64_t> appends_until_cut_{-1};  // -1: no cut planned
  std::atomic<uint32_t> cut_prefix_percent_{0};

  mutable std::mutex mutex_;  // guards everything below
  WriteFault fault_ = WriteFault::none;
  uint64_t space_left_ = 0;
  uint64_t failed_writes_ = 0;
  std::map<std::string, FileState> files_;  // by normalised path
};

// RocksStoreOptions::env takes an Env: one over `fs` (keep `fs` alive as long as the Env).
std::unique_ptr<rocksdb::Env> make_env(const std::shared_ptr<FaultFileSystem>& fs);

}  // namespace loyalty::faults
