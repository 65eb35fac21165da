// The fault-injecting file system of the power-loss and fault tests (fault_fs.hpp).
#include "tests/storage/fault_fs.hpp"

#include <filesystem>
#include <system_error>
#include <utility>

namespace loyalty::faults {
namespace {

namespace fs = std::filesystem;
using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;
using rocksdb::Slice;

std::string normalised(const std::string& name) {
  std::string path = fs::path(name).lexically_normal().string();
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

std::string parent_of(const std::string& normalised_name) {
  return fs::path(normalised_name).parent_path().string();
}

IOStatus powered_off() { return IOStatus::IOError("fault_fs: the power is off"); }

}  // namespace

// A writable file whose appends, syncs and truncations are gated and recorded.
class FaultFileSystem::TrackedFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  TrackedFile(FaultFileSystem& owner, std::string name,
              std::unique_ptr<rocksdb::FSWritableFile>&& file)
      : FSWritableFileOwnerWrapper(std::move(file)), owner_(owner), name_(std::move(name)) {}

  IOStatus Append(const Slice& data, const IOOptions& options, IODebugContext* dbg) override {
    const auto entered = owner_.enter();
    if (IOStatus off = owner_.refuse_if_off(); !off.ok()) return off;
    uint64_t prefix = 0;
    if (owner_.cut_in_this_append(data.size(), prefix)) {
      if (prefix > 0 && target()->Append(Slice(data.data(), prefix), options, dbg).ok()) {
        owner_.appended(name_, prefix);
      }
      owner_.powered_.store(false);
      return powered_off();
    }
    uint64_t allowed = data.size();
    const IOStatus fault = owner_.admit_append(data.size(), allowed);
    if (allowed > 0) {
      IOStatus written = target()->Append(Slice(data.data(), allowed), options, dbg);
      if (!written.ok()) return written;
      owner_.appended(name_, allowed);
    }
    return fault;
  }
  IOStatus Append(const Slice& data, const IOOptions& options,
                  const rocksdb::DataVerificationInfo& /*verification*/,
                  IODebugContext* dbg) override {
    return Append(data, options, dbg);
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& options,
                            IODebugContext* dbg) override {
    const auto entered = owner_.enter();
    if (IOStatus off = owner_.refuse_if_off(); !off.ok()) return off;
    uint64_t allowed = data.size();
    if (IOStatus fault = owner_.admit_append(data.size(), allowed); !fault.ok()) return fault;
    IOStatus written = target()->PositionedAppend(data, offset, options, dbg);
    if (written.ok()) {
      const uint64_t end = offset + data.size();
      const uint64_t now = owner_.written(name_);
      if (end > now) owner_.appended(name_, end - now);
    }
    return written;
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& options,
                            const rocksdb::DataVerificationInfo& /*verification*/,
                            IODebugContext* dbg) override {
    return PositionedAppend(data, offset, options, dbg);
  }
  IOStatus Truncate(uint64_t size, const IOOptions& options, IODebugContext* dbg) override {
    const auto entered = owner_.enter();
    if (IOStatus off = owner_.refuse_if_off(); !off.ok()) return off;
    IOStatus done = target()->Truncate(size, options, dbg);
    if (done.ok()) owner_.truncated(name_, size);
    return done;
  }
  IOStatus Sync(const IOOptions& options, IODebugContext* dbg) override {
    return sync([&] { return target()->Sync(options, dbg); });
  }
  IOStatus Fsync(const IOOptions& options, IODebugContext* dbg) override {
    return sync([&] { return target()->Fsync(options, dbg); });
  }
  // sync_file_range starts writeback but promises nothing after a power cut: not a sync here.
  IOStatus RangeSync(uint64_t offset, uint64_t bytes, const IOOptions& options,
                     IODebugContext* dbg) override {
    const auto entered = owner_.enter();
    if (IOStatus off = owner_.refuse_if_off(); !off.ok()) return off;
    return target()->RangeSync(offset, bytes, options, dbg);
  }
  IOStatus Allocate(uint64_t offset, uint64_t length, const IOOptions& options,
                    IODebugContext* dbg) override {
    const auto entered = owner_.enter();
    if (IOStatus off = owner_.refuse_if_off(); !off.ok()) return off;
    return target()->Allocate(offset, length, options, dbg);
  }

 private:
  template <typename Sync>
  IOStatus sync(Sync&& do_sync) {
    const auto entered = owner_.enter();
    if (IOStatus off = owner_.refuse_if_off(); !off.ok()) return off;
    if (IOStatus fault = owner_.admit_sync(); !fault.ok()) return fault;
    // What was written before the sync began is what it makes durable.
    const uint64_t size = owner_.written(name_);
    IOStatus done = do_sync();
    if (done.ok()) owner_.synced(name_, size);
    return done;
  }

  FaultFileSystem& owner_;
  std::string name_;
};

// A directory whose syncs make the entries of the files created in it durable.
class FaultFileSystem::TrackedDirectory final : public rocksdb::FSDirectoryWrapper {
 public:
  TrackedDirectory(FaultFileSystem& owner, std::string name,
                   std::unique_ptr<rocksdb::FSDirectory>&& directory)
      : FSDirectoryWrapper(std::move(directory)), owner_(owner), name_(std::move(name)) {}

  IOStatus Fsync(const IOOptions& options, IODebugContext* dbg) override {
    return sync([&] { return FSDirectoryWrapper::Fsync(options, dbg); });
  }
  IOStatus FsyncWithDirOptions(const IOOptions& options, IODebugContext* dbg,
                               const rocksdb::DirFsyncOptions& dir_options) override {
    return sync([&] { return FSDirectoryWrapper::FsyncWithDirOptions(options, dbg, dir_options); });
  }

 private:
  template <typename Sync>
  IOStatus sync(Sync&& do_sync) {
    const auto entered = owner_.enter();
    if (IOStatus off = owner_.refuse_if_off(); !off.ok()) return off;
    if (IOStatus fault = owner_.admit_sync(); !fault.ok()) return fault;
    IOStatus done = do_sync();
    if (done.ok()) owner_.directory_synced(name_);
    return done;
  }

  FaultFileSystem& owner_;
  std::string name_;
};

FaultFileSystem::FaultFileSystem() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}

void FaultFileSystem::fail_writes(WriteFault fault, uint64_t space_left_bytes) {
  std::lock_guard lock(mutex_);
  fault_ = fault;
  space_left_ = space_left_bytes;
}

void FaultFileSystem::heal() { fail_writes(WriteFault::none); }

uint64_t FaultFileSystem::failed_writes() const {
  std::lock_guard lock(mutex_);
  return failed_writes_;
}

void FaultFileSystem::cut_power() {
  std::unique_lock gate(gate_);
  powered_.store(false);
}

void FaultFileSystem::cut_power_at_append(uint64_t appends, uint32_t prefix_percent) {
  cut_prefix_percent_.store(prefix_percent > 100 ? 100 : prefix_percent);
  appends_until_cut_.store(static_cast<int64_t>(appends));
}

bool FaultFileSystem::cut_in_this_append(uint64_t bytes, uint64_t& prefix) {
  int64_t left = appends_until_cut_.load();
  while (left > 0 && !appends_until_cut_.compare_exchange_weak(left, left - 1)) {
  }
  if (left != 1) return false;
  prefix = bytes * cut_prefix_percent_.load() / 100;
  return true;
}

PowerLoss FaultFileSystem::power_on(std::mt19937_64* torn) {
  std::unique_lock gate(gate_);
  std::lock_guard lock(mutex_);
  PowerLoss loss;
  for (const auto& [name, state] : files_) {
    std::error_code error;
    if (!state.entry_synced) {
      if (fs::remove(name, error)) ++loss.files_removed;
      continue;
    }
    const uintmax_t size = fs::file_size(name, error);
    if (error || state.synced >= size) continue;
    uint64_t keep = state.synced;
    if (torn != nullptr) keep += (*torn)() % (size - state.synced + 1);
    if (keep >= size) continue;
    fs::resize_file(name, keep, error);
    if (!error) {
      ++loss.files_truncated;
      loss.bytes_dropped += size - keep;
    }
  }
  files_.clear();
  fault_ = WriteFault::none;
  appends_until_cut_.store(-1);
  powered_.store(true);
  return loss;
}

std::shared_lock<std::shared_mutex> FaultFileSystem::enter() const {
  return std::shared_lock(gate_);
}

IOStatus FaultFileSystem::refuse_if_off() const {
  return powered_.load() ? IOStatus::OK() : powered_off();
}

IOStatus FaultFileSystem::admit_append(uint64_t bytes, uint64_t& allowed) {
  std::lock_guard lock(mutex_);
  allowed = bytes;
  switch (fault_) {
    case WriteFault::none:
      return IOStatus::OK();
    case WriteFault::disk_full:
      if (bytes <= space_left_) {
        space_left_ -= bytes;
        return IOStatus::OK();
      }
      allowed = space_left_;
      space_left_ = 0;
      ++failed_writes_;
      return IOStatus::NoSpace("fault_fs: no space left on device");
    case WriteFault::io_error:
      allowed = 0;
      ++failed_writes_;
      return IOStatus::IOError("fault_fs: input/output error");
  }
  return IOStatus::OK();
}

IOStatus FaultFileSystem::admit_sync() {
  std::lock_guard lock(mutex_);
  if (fault_ != WriteFault::io_error) return IOStatus::OK();
  ++failed_writes_;
  return IOStatus::IOError("fault_fs: input/output error on sync");
}

void FaultFileSystem::track_new(const std::string& name, uint64_t size, bool entry_synced) {
  std::lock_guard lock(mutex_);
  files_[name] = FileState{size, size, entry_synced};
}

void FaultFileSystem::appended(const std::string& name, uint64_t bytes) {
  std::lock_guard lock(mutex_);
  files_[name].written += bytes;
}

uint64_t FaultFileSystem::written(const std::string& name) {
  std::lock_guard lock(mutex_);
  return files_[name].written;
}

void FaultFileSystem::synced(const std::string& name, uint64_t size) {
  std::lock_guard lock(mutex_);
  FileState& state = files_[name];
  if (size > state.synced) state.synced = size;
}

void FaultFileSystem::truncated(const std::string& name, uint64_t size) {
  std::lock_guard lock(mutex_);
  FileState& state = files_[name];
  state.written = size;
  if (state.synced > size) state.synced = size;
}

void FaultFileSystem::directory_synced(const std::string& directory) {
  std::lock_guard lock(mutex_);
  for (auto& [name, state] : files_) {
    if (parent_of(name) == directory) state.entry_synced = true;
  }
}

IOStatus FaultFileSystem::NewWritableFile(const std::string& name,
                                          const rocksdb::FileOptions& options,
                                          std::unique_ptr<rocksdb::FSWritableFile>* result,
                                          IODebugContext* dbg) {
  const auto entered = enter();
  if (IOStatus off = refuse_if_off(); !off.ok()) return off;
  if (IOStatus fault = admit_sync(); !fault.ok()) return fault;
  const std::string path = normalised(name);
  std::error_code ignored;
  const bool existed = fs::exists(path, ignored);
  std::unique_ptr<rocksdb::FSWritableFile> file;
  IOStatus opened = target()->NewWritableFile(name, options, &file, dbg);
  if (!opened.ok()) return opened;
  // An existing file keeps its directory entry; its old content is gone either way.
  track_new(path, 0, existed);
  *result = std::make_unique<TrackedFile>(*this, path, std::move(file));
  return opened;
}

IOStatus FaultFileSystem::ReopenWritableFile(const std::string& name,
                                             const rocksdb::FileOptions& options,
                                             std::unique_ptr<rocksdb::FSWritableFile>* result,
                                             IODebugContext* dbg) {
  const auto entered = enter();
  if (IOStatus off = refuse_if_off(); !off.ok()) return off;
  if (IOStatus fault = admit_sync(); !fault.ok()) return fault;
  const std::string path = normalised(name);
  std::error_code error;
  const bool existed = fs::exists(path, error);
  std::unique_ptr<rocksdb::FSWritableFile> file;
  IOStatus opened = target()->ReopenWritableFile(name, options, &file, dbg);
  if (!opened.ok()) return opened;
  bool tracked = false;
  {
    std::lock_guard lock(mutex_);
    tracked = files_.contains(path);
  }
  if (!tracked) {
    // Written before this file system knew it: what is there is taken as durable.
    const uintmax_t size = existed ? fs::file_size(path, error) : 0;
    track_new(path, error ? 0 : size, existed);
  }
  *result = std::make_unique<TrackedFile>(*this, path, std::move(file));
  return opened;
}

IOStatus FaultFileSystem::ReuseWritableFile(const std::string& name, const std::string& old_name,
                                            const rocksdb::FileOptions& options,
                                            std::unique_ptr<rocksdb::FSWritableFile>* result,
                                            IODebugContext* dbg) {
  const auto entered = enter();
  if (IOStatus off = refuse_if_off(); !off.ok()) return off;
  if (IOStatus fault = admit_sync(); !fault.ok()) return fault;
  std::unique_ptr<rocksdb::FSWritableFile> file;
  IOStatus opened = target()->ReuseWritableFile(name, old_name, options, &file, dbg);
  if (!opened.ok()) return opened;
  const std::string path = normalised(name);
  {
    std::lock_guard lock(mutex_);
    files_.erase(normalised(old_name));
  }
  track_new(path, 0, false);  // a rename: durable once the directory is synced
  *result = std::make_unique<TrackedFile>(*this, path, std::move(file));
  return opened;
}

// Not used by RocksStore's options; refused while the power is off, not tracked otherwise.
IOStatus FaultFileSystem::NewRandomRWFile(const std::string& name,
                                          const rocksdb::FileOptions& options,
                                          std::unique_ptr<rocksdb::FSRandomRWFile>* result,
                                          IODebugContext* dbg) {
  const auto entered = enter();
  if (IOStatus off = refuse_if_off(); !off.ok()) return off;
  return target()->NewRandomRWFile(name, options, result, dbg);
}

IOStatus FaultFileSystem::NewDirectory(const std::string& name, const IOOptions& options,
                                       std::unique_ptr<rocksdb::FSDirectory>* result,
                                       IODebugContext* dbg) {
  std::unique_ptr<rocksdb::FSDirectory> directory;
  IOStatus opened = target()->NewDirectory(name, options, &directory, dbg);
  if (!opened.ok()) return opened;
  *result = std::make_unique<TrackedDirectory>(*this, normalised(name), std::move(directory));
  return opened;
}

IOStatus FaultFileSystem::DeleteFile(const std::string& name, const IOOptions& options,
                                     IODebugContext* dbg) {
  const auto entered = enter();
  if (IOStatus off = refuse_if_off(); !off.ok()) return off;
  IOStatus deleted = target()->DeleteFile(name, options, dbg);
  if (deleted.ok()) {
    std::lock_guard lock(mutex_);
    files_.erase(normalised(name));
  }
  return deleted;
}

// Renames are taken as durable at once when they replace a file (RocksDB's CURRENT): the model
// does not bring an old version back. A rename to a new name is as durable as the source's entry.
// Journaling file systems commit a directory's changes in the order they were made, so a
// replacing rename taken as durable makes the entries created before it in its directory durable
// too: a CURRENT naming a MANIFEST whose entry was lost is a state no power cut leaves (RocksDB
// writes the new MANIFEST, then renames CURRENT over, then syncs the directory).
IOStatus FaultFileSystem::RenameFile(const std::string& from, const std::string& to,
                                     const IOOptions& options, IODebugContext* dbg) {
  const auto entered = enter();
  if (IOStatus off = refuse_if_off(); !off.ok()) return off;
  const std::string source = normalised(from);
  const std::string target_path = normalised(to);
  std::error_code error;
  const bool replaces = fs::exists(target_path, error);
  IOStatus renamed = target()->RenameFile(from, to, options, dbg);
  if (!renamed.ok()) return renamed;
  std::lock_guard lock(mutex_);
  FileState state;
  if (auto it = files_.find(source); it != files_.end()) {
    state = it->second;
    files_.erase(it);
  } else {
    const uintmax_t size = fs::file_size(target_path, error);
    state = FileState{error ? 0 : size, error ? 0 : size, true};
  }
  state.entry_synced = state.entry_synced || replaces;
  if (replaces) {
    for (auto& [name, earlier] : files_) {
      if (parent_of(name) == parent_of(target_path)) earlier.entry_synced = true;
    }
  }
  files_[target_path] = state;
  return renamed;
}

IOStatus FaultFileSystem::LinkFile(const std::string& from, const std::string& to,
                                   const IOOptions& options, IODebugContext* dbg) {
  const auto entered = enter();
  if (IOStatus off = refuse_if_off(); !off.ok()) return off;
  return target()->LinkFile(from, to, options, dbg);
}

IOStatus FaultFileSystem::Truncate(const std::string& name, size_t size, const IOOptions& options,
                                   IODebugContext* dbg) {
  const auto entered = enter();
  if (IOStatus off = refuse_if_off(); !off.ok()) return off;
  IOStatus done = target()->Truncate(name, size, options, dbg);
  if (done.ok()) {
    const std::string path = normalised(name);
    bool tracked = false;
    {
      std::lock_guard lock(mutex_);
      tracked = files_.contains(path);
    }
    if (tracked) truncated(path, size);
  }
  return done;
}

IOStatus FaultFileSystem::CreateDir(const std::string& name, const IOOptions& options,
                                    IODebugContext* dbg) {
  const auto entered = enter();
  if (IOStatus off = refuse_if_off(); !off.ok()) return off;
  return target()->CreateDir(name, options, dbg);
}

IOStatus FaultFileSystem::CreateDirIfMissing(const std::string& name, const IOOptions& options,
                                             IODebugContext* dbg) {
  const auto entered = enter();
  if (IOStatus off = refuse_if_off(); !off.ok()) return off;
  return target()->CreateDirIfMissing(name, options, dbg);
}

IOStatus FaultFileSystem::DeleteDir(const std::string& name, const IOOptions& options,
                                    IODebugContext* dbg) {
  const auto entered = enter();
  if (IOStatus off = refuse_if_off(); !off.ok()) return off;
  return target()->DeleteDir(name, options, dbg);
}

IOStatus FaultFileSystem::GetFreeSpace(const std::string& path, const IOOptions& options,
                                       uint64_t* free_bytes, IODebugContext* dbg) {
  {
    std::lock_guard lock(mutex_);
    if (fault_ == WriteFault::disk_full) {
      *free_bytes = space_left_;
      return IOStatus::OK();
    }
  }
  return target()->GetFreeSpace(path, options, free_bytes, dbg);
}

std::unique_ptr<rocksdb::Env> make_env(const std::shared_ptr<FaultFileSystem>& fs) {
  return rocksdb::NewCompositeEnv(fs);
}

}  // namespace loyalty::faults
