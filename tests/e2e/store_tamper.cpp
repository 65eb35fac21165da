// A test tool that breaks a stopped data folder on purpose, so the e2e tests can show that
// verify (and restore, which verifies) find a broken store: it adds one point to one ledger
// entry of a member (inside the event that wrote it), leaving the member's balance and lots as
// they were.
// Usage: store_tamper DATA_DIR MEMBER_ID SEQ      (exit 0 when the entry was there and changed)
#include <rocksdb/db.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "storage/keys.hpp"
#include "storage/record_codec.hpp"

namespace {

rocksdb::ColumnFamilyHandle* family(const std::vector<std::string>& names,
                                    const std::vector<rocksdb::ColumnFamilyHandle*>& handles,
                                    std::string_view name) {
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return handles[i];
  }
  return nullptr;
}

// Rewrites the event holding the member's entry `seq` with one point more on it; false when the
// member or the entry is not there.
bool tamper(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* members,
            rocksdb::ColumnFamilyHandle* events, const std::string& member_id, uint64_t seq) {
  std::string value;
  if (!db.Get(rocksdb::ReadOptions(), members, member_id, &value).ok()) return false;
  loyalty::MemberState member;
  if (!loyalty::storage::decode_member(member_id, value, member).ok()) return false;
  for (uint64_t log_seq = member.history_head.log_seq; log_seq != 0;) {
    const std::string key = loyalty::storage::event_key(log_seq);
    if (!db.Get(rocksdb::ReadOptions(), events, key, &value).ok()) return false;
    loyalty::storage::EventHistory history;
    loyalty::StoredEvent event;
    if (!loyalty::storage::decode_event_history(value, history).ok() ||
        !loyalty::storage::decode_event(log_seq, value, event).ok()) {
      return false;
    }
    for (loyalty::LedgerEntry& entry : history.entries) {
      if (entry.seq != seq) continue;
      entry.points += 1;
      loyalty::storage::RecordEncoder encoder;
      const loyalty::LoggedEvent logged(&event.event, event.program_version, nullptr,
                                        history.entries, history.notifications);
      rocksdb::WriteOptions sync;
      sync.sync = true;
      return db.Put(sync, events, key, encoder.logged_event(logged, history.member_prev)).ok();
    }
    log_seq = history.member_prev;
  }
  return false;
}

}  // namespace

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
  rocksdb::ColumnFamilyHandle* members = family(names, handles, loyalty::storage::kMembersFamily);
  rocksdb::ColumnFamilyHandle* events = family(names, handles, loyalty::storage::kEventsFamily);
  int code = 0;
  if (members == nullptr || events == nullptr ||
      !tamper(*db, members, events, argv[2], std::stoull(argv[3]))) {
    std::fprintf(stderr, "store_tamper: no such ledger entry\n");
    code = 1;
  }
  for (rocksdb::ColumnFamilyHandle* handle : handles) db->DestroyColumnFamilyHandle(handle);
  return code;
}
