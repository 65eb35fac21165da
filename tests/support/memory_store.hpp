// An in-memory MemberStore for engine and runtime tests: the same contract as the RocksDB
// store (atomic commits, idempotency records, identifiers), none of the I/O. Can be told to
// fail commits, to test that a failed batch changes nothing.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "engine/store.hpp"

namespace loyalty::testing {

class MemoryStore final : public MemberStore {
 public:
  Status load_member(std::string_view member_id, std::optional<MemberState>& out) override {
    std::lock_guard lock(mutex_);
    auto it = members_.find(std::string(member_id));
    out = it == members_.end() ? std::nullopt : std::optional<MemberState>(it->second);
    return Status::ok_status();
  }

  Status load_idempotency(std::string_view key, std::optional<IdempotencyRecord>& out) override {
    std::lock_guard lock(mutex_);
    auto it = idempotency_.find(std::string(key));
    out = it == idempotency_.end() ? std::nullopt : std::optional(it->second);
    return Status::ok_status();
  }

  Status find_identifier(IdentifierKind kind, std::string_view value,
                         std::string& member_id) override {
    std::lock_guard lock(mutex_);
    auto it = identifiers_.find({kind, std::string(value)});
    member_id = it == identifiers_.end() ? std::string() : it->second;
    return Status::ok_status();
  }

  Status commit(const CommitBatch& batch) override {
    std::lock_guard lock(mutex_);
    if (fail_commits_) return Status::error(Status::Code::io_error, "injected failure");
    ++commits_;
    for (const MemberState* member : batch.members) members_[member->member_id] = *member;
    for (const LedgerWrite& write : batch.entries) {
      ledger_[*write.member_id].push_back(*write.entry);
    }
    for (const IdempotencyRecord* record : batch.idempotency) idempotency_[record->key] = *record;
    for (const IdentifierClaim& claim : batch.identifiers) {
      identifiers_[{claim.kind, claim.value}] = claim.member_id;
    }
    events_logged_ += batch.events.size();
    return Status::ok_status();
  }

  void fail_commits(bool fail) {
    std::lock_guard lock(mutex_);
    fail_commits_ = fail;
  }
  size_t commits() const {
    std::lock_guard lock(mutex_);
    return commits_;
  }
  size_t events_logged() const {
    std::lock_guard lock(mutex_);
    return events_logged_;
  }
  std::vector<LedgerEntry> ledger(const std::string& member_id) const {
    std::lock_guard lock(mutex_);
    auto it = ledger_.find(member_id);
    return it == ledger_.end() ? std::vector<LedgerEntry>{} : it->second;
  }
  std::optional<MemberState> member(const std::string& member_id) const {
    std::lock_guard lock(mutex_);
    auto it = members_.find(member_id);
    return it == members_.end() ? std::nullopt : std::optional(it->second);
  }

 private:
  mutable std::mutex mutex_;
  bool fail_commits_ = false;
  size_t commits_ = 0;
  size_t events_logged_ = 0;
  std::map<std::string, MemberState> members_;
  std::map<std::string, std::vector<LedgerEntry>> ledger_;
  std::map<std::string, IdempotencyRecord> idempotency_;
  std::map<std::pair<IdentifierKind, std::string>, std::string> identifiers_;
};

}  // namespace loyalty::testing
