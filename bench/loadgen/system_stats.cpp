// Peak RSS and flushed disk usage (see system_stats.hpp).
#include "bench/loadgen/system_stats.hpp"

#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/utilities/options_util.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <filesystem>
#include <memory>
#include <vector>

namespace loyalty::bench {

uint64_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<uint64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

bool flushed_disk_bytes(const std::string& path, uint64_t& bytes, std::string& error) {
  rocksdb::DBOptions db_options;
  rocksdb::ConfigOptions config;
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  rocksdb::Status status = rocksdb::LoadLatestOptions(config, path, &db_options, &families);
  if (!status.ok()) {
    error = status.ToString();
    return false;
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  status = rocksdb::DB::Open(db_options, path, families, &handles, &raw);
  if (!status.ok()) {
    error = status.ToString();
    return false;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::FlushOptions flush;
  flush.wait = true;
  status = db->Flush(flush, handles);
  for (rocksdb::ColumnFamilyHandle* handle : handles) {
    if (rocksdb::Status destroyed = db->DestroyColumnFamilyHandle(handle); !destroyed.ok()) {
      status = destroyed;
    }
  }
  if (rocksdb::Status closed = db->Close(); status.ok()) status = closed;
  db.reset();
  if (!status.ok()) {
    error = status.ToString();
    return false;
  }
  bytes = 0;
  std::error_code walk_error;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(path, walk_error)) {
    struct stat info {};
    if (entry.is_regular_file() && ::stat(entry.path().c_str(), &info) == 0) {
      bytes += static_cast<uint64_t>(info.st_blocks) * 512;
    }
  }
  if (walk_error) {
    error = walk_error.message();
    return false;
  }
  return true;
}

}  // namespace loyalty::bench
