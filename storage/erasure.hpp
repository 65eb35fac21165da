// The right to erasure in the data folder (api.md "POST /v1/members/{member_id}:erase"). The
// erasure's commit blanks the member's record and frees its identifiers; afterwards its phone,
// card and profile must exist nowhere in the folder. RocksDB keeps overwritten values and
// deleted keys in older files: in the WAL until every family is flushed, in SST files until a
// compaction at the bottommost level drops them, and, for keys that bound an SST file (an
// identifier's key can), in the MANIFEST's history of files. purge_erasure removes them all.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.hpp"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace loyalty::storage {

// "erase_pending/" + member id, in "meta": written by the erasure's commit, removed when
// purge_erasure has finished, so an erasure a stop interrupted is finished at the next start.
inline constexpr std::string_view kErasePendingKeyPrefix = "erase_pending/";

// Cluster mode (docs/decisions.md "Erasure in cluster mode"), in "meta": the messages of the
// input log that carry a member's personal data, "personal_message/" + member id + '\0' + the
// stream sequence (8 bytes, big-endian) → the message's Nats-Msg-Id; and an erasure's mark
// until the log holds none of them, "log_erase_pending/" + member id.
inline constexpr std::string_view kPersonalMessageKeyPrefix = "personal_message/";
inline constexpr std::string_view kLogErasePendingKeyPrefix = "log_erase_pending/";
std::string personal_messages_prefix(std::string_view member_id);  // its member's keys
std::string personal_message_key(std::string_view member_id, uint64_t sequence);

// An event record of the log with `member_id`'s phone, card, profile (and the sign-up's
// digest of them) blanked, when it is the member's sign-up or change and holds any; nullopt
// when the record needs no change. A change keeps which fields it gave (replay writes the
// same audit entries); `idempotency_key` gets its key (its record's fingerprint is a digest of
// the values too), "" for a sign-up.
Status scrub_event_record(uint64_t log_seq, std::string_view bytes, std::string_view member_id,
                          std::optional<std::string>& out, std::string& idempotency_key);

struct ErasureFamilies {
  rocksdb::ColumnFamilyHandle* events = nullptr;
  rocksdb::ColumnFamilyHandle* idempotency = nullptr;
  rocksdb::ColumnFamilyHandle* members = nullptr;
  rocksdb::ColumnFamilyHandle* identifiers = nullptr;
  rocksdb::ColumnFamilyHandle* meta = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> all;  // the default family too
};

struct ErasureReport {
  uint64_t events_scrubbed = 0;
};

// Blanks the member's events in the log (and zeroes their idempotency records' fingerprints,
// IdempotencyRecord::kErasedFingerprint), flushes every family (the WAL files that held the
// values go), compacts what held them down to the bottommost level (their old versions and the
// identifiers' deleted keys go), removes the pending mark, and deletes obsolete files now. The
// database must be opened with a tiny max_manifest_file_size, so that every change of its
// files starts a new MANIFEST holding only the live ones. Not concurrently with a backup (it
// holds file deletions). Idempotent: a purge of a purged member finds nothing to scrub.
Status purge_erasure(rocksdb::DB& db, const ErasureFamilies& families, std::string_view member_id,
                     ErasureReport& out);

}  // namespace loyalty::storage
