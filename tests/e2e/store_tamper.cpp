// A test tool that breaks a stopped data folder on purpose, so the e2e tests can show that
// verify (and restore, which verifies) find a broken store: it deletes one ledger entry of a
// member, leaving the member's balance and lots as they were.
// Usage: store_tamper DATA_DIR MEMBER_ID SEQ      (exit 0 when the entry was there and is gone)
#include <rocksdb/db.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "storage/keys.hpp"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: store_tamper DATA_DIR MEMBER_ID SEQ\n");
    return 2;
  }
  const std::string path = argv[1];
  rocksdb::DBOptions options;
  std::vector<std::string> names;
  if (!rocksdb::DB::ListColumnFamilies(options, path, &names).ok()) {
    std::fprintf(stderr, "store_tamper: %s is not a data folder\n", path.c_str());
    return 2;
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : names)
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status status = rocksdb::DB::Open(options, path, descriptors, &handles, &raw);
  if (!status.ok()) {
    std::fprintf(stderr, "store_tamper: %s\n", status.ToString().c_str());
    return 2;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::ColumnFamilyHandle* ledger = nullptr;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == loyalty::storage::kLedgerFamily) ledger = handles[i];
  }
  int code = 1;
  const std::string key = loyalty::storage::ledger_key(argv[2], std::stoull(argv[3]));
  std::string value;
  if (ledger != nullptr && db->Get(rocksdb::ReadOptions(), ledger, key, &value).ok()) {
    rocksdb::WriteOptions sync;
    sync.sync = true;
    code = db->Delete(sync, ledger, key).ok() ? 0 : 1;
  } else {
    std::fprintf(stderr, "store_tamper: no such ledger entry\n");
  }
  for (rocksdb::ColumnFamilyHandle* handle : handles) db->DestroyColumnFamilyHandle(handle);
  return code;
}
