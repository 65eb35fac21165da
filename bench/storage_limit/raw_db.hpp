// A RocksDB database opened directly, with exactly the options RocksStore gives its data
// folders: RocksStore::open creates the folder (column families in its order, its DB and
// column-family options, saved by RocksDB in the OPTIONS file), and this reopens it from that
// file. So the storage limit writes through the same options without a copy of them.
// Thread-safety: as rocksdb::DB.
#pragma once

#include <rocksdb/db.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace loyalty::bench {

class RawDb {
 public:
  // Opens `path`, which RocksStore created (and closed). `keep_wal` leaves the WAL in place
  // on open (no flush during recovery), so GetUpdatesSince can read what was written.
  bool open(const std::string& path, bool keep_wal, std::string& error);
  ~RawDb();

  rocksdb::DB& db() { return *db_; }
  rocksdb::ColumnFamilyHandle* family(const std::string& name) const;
  // Column family id → name.
  std::map<uint32_t, std::string> family_names() const;

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

// Creates an empty data folder the way loyaltyd does (RocksStore::open, then close).
bool create_store_folder(const std::string& path, std::string& error);

}  // namespace loyalty::bench
