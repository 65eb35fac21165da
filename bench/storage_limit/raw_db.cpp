// Opening a RocksStore folder directly with its saved options (see raw_db.hpp).
#include "bench/storage_limit/raw_db.hpp"

#include <rocksdb/convenience.h>
#include <rocksdb/utilities/options_util.h>

#include "storage/rocks_store.hpp"
#include "storage/stock_counter.hpp"

namespace loyalty::bench {

bool create_store_folder(const std::string& path, std::string& error) {
  std::unique_ptr<RocksStore> store;
  if (Status status = RocksStore::open({.path = path}, store); !status.ok()) {
    error = path + ": " + status.message();
    return false;
  }
  return true;
}

bool RawDb::open(const std::string& path, bool keep_wal, std::string& error) {
  rocksdb::DBOptions db_options;
  rocksdb::ConfigOptions config;
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  rocksdb::Status status = rocksdb::LoadLatestOptions(config, path, &db_options, &families);
  if (!status.ok()) {
    error = path + ": " + status.ToString();
    return false;
  }
  // Every commit merges counters into the stock family (storage/stock_counter.hpp); an options
  // file cannot name a merge operator back, and without it the WAL's merges do not replay.
  for (rocksdb::ColumnFamilyDescriptor& family : families) {
    if (family.name == storage::kStockFamily) {
      family.options.merge_operator = storage::stock_count_merge_operator();
    }
  }
  db_options.avoid_flush_during_recovery = keep_wal;
  if (keep_wal) {
    // Recovery flushes a memtable that fills up however avoid_flush_during_recovery is set, and
    // a flush lets the WAL go: with the store's 8 MiB memtables a capture of 20,000 events did
    // exactly that once a purchase record grew by a field. Room for the whole WAL instead.
    db_options.db_write_buffer_size = 0;
    for (rocksdb::ColumnFamilyDescriptor& family : families) {
      family.options.write_buffer_size = size_t{1} << 30;
    }
  }
  rocksdb::DB* raw = nullptr;
  status = rocksdb::DB::Open(db_options, path, families, &handles_, &raw);
  if (!status.ok()) {
    error = path + ": " + status.ToString();
    return false;
  }
  db_.reset(raw);
  return true;
}

RawDb::~RawDb() {
  if (!db_) return;
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    rocksdb::Status ignored = db_->DestroyColumnFamilyHandle(handle);
    (void)ignored;
  }
  rocksdb::Status closed = db_->Close();
  (void)closed;
}

rocksdb::ColumnFamilyHandle* RawDb::family(const std::string& name) const {
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    if (handle->GetName() == name) return handle;
  }
  return nullptr;
}

std::map<uint32_t, std::string> RawDb::family_names() const {
  std::map<uint32_t, std::string> names;
  for (rocksdb::ColumnFamilyHandle* handle : handles_) names[handle->GetID()] = handle->GetName();
  return names;
}

}  // namespace loyalty::bench
