// Engine structs ⇄ FlatBuffers bytes (storage/schema/records.fbs). Every decoder runs the
// Verifier first and answers Status corruption on malformed bytes: stored bytes are never
// trusted. Fields the key holds (member id, lot id, seq, log_seq) come in from the key.
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "engine/apply.hpp"
#include "engine/events.hpp"
#include "engine/ledger.hpp"
#include "engine/member_state.hpp"
#include "engine/purchase_record.hpp"
#include "engine/status.hpp"
#include "engine/store.hpp"
#include "storage/rocks_store.hpp"

namespace loyalty::storage {

namespace fb {
struct FeedNoteRecord;  // storage/records_generated.h
}

// Encodes one record at a time into a builder reused across calls, so a commit of many
// records allocates once. The returned bytes stay valid until the next call.
// Thread-safety: none; one encoder per thread or per commit.
class RecordEncoder {
 public:
  std::string_view member(const MemberState& member);               // without member_id and lots
  std::string_view lot(const Lot& lot);                             // without lot_id
  // Without seq; with the notifications that follow the entry (each one's entry_seq is its seq).
  std::string_view ledger_entry(const LedgerEntry& entry,
                                std::span<const Notification* const> notifications = {});
  std::string_view idempotency(const IdempotencyRecord& record);    // without key
  std::string_view event(const Event& event, uint32_t program_version);  // without log_seq
  std::string_view program_version(const StoredProgramVersion& version);
  // Without what the purchase's event holds (its id, member, store, time, lines' skus and
  // amounts): that is read from the event, at `log_seq` in the event log (decode_purchase).
  std::string_view purchase(const PurchaseRecord& purchase, uint64_t log_seq);
  std::string_view hold(const std::string& member_id, const Hold& hold);  // without hold_id
  std::string_view referral_link(const ReferralLink& link);               // without the two ids

 private:
  std::string_view bytes() const;
  flatbuffers::FlatBufferBuilder builder_{1024};
  std::vector<flatbuffers::Offset<fb::FeedNoteRecord>> note_offsets_;
  std::vector<int64_t> line_numbers_;
  std::vector<flatbuffers::Offset<flatbuffers::String>> string_offsets_;
};

// `out.lots` is left empty: lots live in their own column family.
Status decode_member(std::string_view member_id, std::string_view bytes, MemberState& out);
Status decode_lot(uint64_t lot_id, std::string_view bytes, Lot& out);
Status decode_ledger_entry(uint64_t seq, std::string_view bytes, LedgerEntry& out);
// The notifications stored with the ledger entry `seq` (none in a record without them).
Status decode_ledger_notifications(uint64_t seq, std::string_view bytes,
                                   std::vector<Notification>& out);
Status decode_idempotency(std::string_view key, std::string_view bytes, IdempotencyRecord& out);
Status decode_event(uint64_t log_seq, std::string_view bytes, StoredEvent& out);
Status decode_program_version(std::string_view bytes, StoredProgramVersion& out);
// A purchase record names its event's position in the event log, where its member, store, time
// and lines are (layout 5): purchase_log_seq reads that position, decode_purchase the record
// completed from the event; corruption when that is not the purchase's event or their lines
// disagree.
Status purchase_log_seq(std::string_view bytes, uint64_t& log_seq);
// Whether `purchase` says of its member, store, time and lines what `event` says: what
// decode_purchase takes from the event must be what the record was.
bool purchase_matches_event(const PurchaseRecord& purchase, const PurchaseEvent& event);
Status decode_purchase(std::string_view event_id, std::string_view bytes, const StoredEvent& event,
                       PurchaseRecord& out);
Status decode_hold(std::string_view hold_id, std::string_view bytes, StoredHold& out);
Status decode_referral_link(std::string_view referrer_id, std::string_view referee_id,
                            std::string_view bytes, ReferralLink& out);
// An outbox value (an event record); a referral follow-up's id must be `id`, its key.
Status decode_outbox_event(std::string_view id, std::string_view bytes, Event& out);

// The outbox key of a follow-up event (its id); checked to be one.
const std::string& follow_up_id(const Event& event);

}  // namespace loyalty::storage
