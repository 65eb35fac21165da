#include "storage/erasure.hpp"

#include <rocksdb/db.h>

#include <algorithm>

#include "engine/personal_data.hpp"
#include "storage/keys.hpp"
#include "storage/record_codec.hpp"

namespace loyalty::storage {
namespace {

Status from_rocks(const rocksdb::Status& status, std::string_view step) {
  if (status.ok()) return Status::ok_status();
  return Status::error(Status::Code::io_error,
                       "erasure: " + std::string(step) + ": " + status.ToString());
}

rocksdb::Slice slice(std::string_view bytes) { return {bytes.data(), bytes.size()}; }

// Every change of the live files from here on is in a MANIFEST that starts with them.
Status compact_to_bottom(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* family,
                         const rocksdb::Slice* begin, const rocksdb::Slice* end) {
  rocksdb::CompactRangeOptions options;
  // Also the files already at the bottommost level: they hold the old versions too.
  options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  options.exclusive_manual_compaction = false;  // automatic compactions go on meanwhile
  return from_rocks(db.CompactRange(options, family, begin, end), "compact");
}

}  // namespace

std::string personal_messages_prefix(std::string_view member_id) {
  std::string key(kPersonalMessageKeyPrefix);
  key += member_id;
  key.push_back('\0');  // "m1" is not a prefix of "m10"'s keys
  return key;
}

std::string personal_message_key(std::string_view member_id, uint64_t sequence) {
  std::string key = personal_messages_prefix(member_id);
  append_u64_be(key, sequence);
  return key;
}

Status scrub_event_record(uint64_t log_seq, std::string_view bytes, std::string_view member_id,
                          std::optional<std::string>& out, std::string& idempotency_key) {
  out.reset();
  idempotency_key.clear();
  StoredEvent stored;
  if (Status status = decode_event(log_seq, bytes, stored); !status.ok()) return status;
  if (stored.event.member_id() != member_id || !blank_personal_data(stored.event)) {
    return Status::ok_status();
  }
  EventHistory history;
  if (Status status = decode_event_history(bytes, history); !status.ok()) return status;
  RecordEncoder encoder;
  LoggedEvent logged(&stored.event, stored.program_version, nullptr, history.entries,
                     history.notifications);
  logged.log_sequence = stored.log_sequence;
  out = std::string(encoder.logged_event(logged, history.member_prev));
  if (stored.event.type() == EventType::member_update) {
    idempotency_key = stored.event.idempotency_key();
  }
  return Status::ok_status();
}

namespace {

// The idempotency record at `key` with its fingerprint zeroed, into `batch`; whether there was one.
Status zero_fingerprint(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* family,
                        const std::string& key, rocksdb::WriteBatch& batch, bool& found) {
  std::string bytes;
  const rocksdb::Status read = db.Get({}, family, slice(key), &bytes);
  found = read.ok();
  if (read.IsNotFound()) return Status::ok_status();
  if (Status status = from_rocks(read, "read an idempotency record"); !status.ok()) return status;
  IdempotencyRecord record;
  if (Status status = decode_idempotency(key, bytes, record); !status.ok()) return status;
  record.fingerprint = IdempotencyRecord::kErasedFingerprint;
  RecordEncoder encoder;
  return from_rocks(batch.Put(family, slice(key), slice(encoder.idempotency(record))), "scrub");
}

}  // namespace

Status purge_erasure(rocksdb::DB& db, const ErasureFamilies& families, std::string_view member_id,
                     ErasureReport& out) {
  out = {};
  // 1. The member's events in the log, blanked. Event records are never rewritten otherwise,
  // so this write races with nothing; the log is read whole (erasures are rare, and the log
  // has no index by member of the events that wrote nothing in its ledger).
  rocksdb::WriteBatch scrubbed;
  std::string first_key, last_key;
  std::vector<std::string> idempotency_keys;  // rewritten, in no order
  {
    std::unique_ptr<rocksdb::Iterator> it(db.NewIterator({}, families.events));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string_view key(it->key().data(), it->key().size());
      const std::optional<uint64_t> log_seq = parse_event_key(key);
      if (!log_seq) return Status::error(Status::Code::corruption, "erasure: event key");
      std::optional<std::string> blanked;
      std::string idempotency_key;
      const std::string_view value(it->value().data(), it->value().size());
      if (Status status = scrub_event_record(*log_seq, value, member_id, blanked, idempotency_key);
          !status.ok()) {
        return status;
      }
      if (!blanked) continue;
      if (!idempotency_key.empty()) {
        bool found = false;
        if (Status status =
                zero_fingerprint(db, families.idempotency, idempotency_key, scrubbed, found);
            !status.ok()) {
          return status;
        }
        if (found) idempotency_keys.push_back(std::move(idempotency_key));
      }
      if (Status status =
              from_rocks(scrubbed.Put(families.events, it->key(), slice(*blanked)), "scrub");
          !status.ok()) {
        return status;
      }
      if (first_key.empty()) first_key = key;
      last_key = key;
      ++out.events_scrubbed;
    }
    if (Status status = from_rocks(it->status(), "read the log"); !status.ok()) return status;
  }
  rocksdb::WriteOptions synced;
  synced.sync = true;
  if (out.events_scrubbed > 0) {
    if (Status status = from_rocks(db.Write(synced, &scrubbed), "write"); !status.ok()) {
      return status;
    }
  }
  // 2. Every family flushed: no WAL file is needed any more that holds the old values, or the
  // erasure's deletes of the identifiers' keys, and RocksDB deletes them.
  rocksdb::FlushOptions flush;
  flush.allow_write_stall = true;
  if (Status status = from_rocks(db.Flush(flush, families.all), "flush"); !status.ok()) {
    return status;
  }
  // 3. Down to the bottommost level, where overwritten values and deleted keys are dropped:
  // the member's record, the identifiers (small: all of them), the scrubbed events. Not while a
  // snapshot is held (a job reading the log): compactions keep what it sees.
  uint64_t snapshots = 0;
  if (db.GetIntProperty(rocksdb::DB::Properties::kNumSnapshots, &snapshots) && snapshots > 0) {
    return Status::error(Status::Code::busy,
                         "erasure: a job holds a snapshot of the data; the purge is retried");
  }
  const rocksdb::Slice member(member_id.data(), member_id.size());
  if (Status status = compact_to_bottom(db, families.members, &member, &member); !status.ok()) {
    return status;
  }
  if (Status status = compact_to_bottom(db, families.identifiers, nullptr, nullptr); !status.ok()) {
    return status;
  }
  if (out.events_scrubbed > 0) {
    const rocksdb::Slice first(first_key), last(last_key);
    if (Status status = compact_to_bottom(db, families.events, &first, &last); !status.ok()) {
      return status;
    }
  }
  if (!idempotency_keys.empty()) {
    const auto [first, last] =
        std::minmax_element(idempotency_keys.begin(), idempotency_keys.end());
    const rocksdb::Slice begin(*first), end(*last);
    if (Status status = compact_to_bottom(db, families.idempotency, &begin, &end); !status.ok()) {
      return status;
    }
  }
  // 4. The mark removed and flushed: the flush's change of files starts a new MANIFEST with
  // the files as they are now, none of which holds the erased keys (a MANIFEST begins with the
  // files as they were before its first change, so the compactions' own could still name them).
  const std::string mark = std::string(kErasePendingKeyPrefix) + std::string(member_id);
  if (Status status = from_rocks(db.Delete(synced, families.meta, slice(mark)), "unmark");
      !status.ok()) {
    return status;
  }
  if (Status status = from_rocks(db.Flush(flush, families.meta), "flush"); !status.ok()) {
    return status;
  }
  // 5. Obsolete files deleted now rather than by the next background job: enabling deletions
  // again (nothing else disables them while this runs) looks for them in the whole folder.
  if (Status status = from_rocks(db.DisableFileDeletions(), "hold deletions"); !status.ok()) {
    return status;
  }
  return from_rocks(db.EnableFileDeletions(/*force=*/false), "delete obsolete files");
}

}  // namespace loyalty::storage
