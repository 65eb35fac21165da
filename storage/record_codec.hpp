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
#include "engine/member_view.hpp"
#include "engine/purchase_record.hpp"
#include "engine/status.hpp"
#include "engine/store.hpp"
#include "storage/rocks_store.hpp"

namespace loyalty::storage {

namespace fb {
struct EventNoteRecord;  // storage/records_generated.h
struct EventEntryRecord;
struct LotRecord;
}

// What a layout-6 event record holds of its member's history (decode_event_history).
struct EventHistory {
  std::string member_id;
  uint64_t member_prev = 0;                 // the member's previous event's log_seq; 0: none
  std::vector<LedgerEntry> entries;         // ascending seq
  std::vector<Notification> notifications;  // ascending seq
};

// A member that never had more than this many lots (next_lot_id ≤ kInlineLotsMax + 1) keeps its
// open lots inside its member record (layout 7): loading it is one point read, and a batch that
// changes its lots writes one record. Every other member's lots are records of "lots", one per
// lot: a busy member holds thousands, which the member record would rewrite at every batch.
inline constexpr uint64_t kInlineLotsMax = 8;
bool lots_inline(const MemberState& member);

// Encodes one record at a time into a builder reused across calls, so a commit of many
// records allocates once. The returned bytes stay valid until the next call.
// Thread-safety: none; one encoder per thread or per commit.
class RecordEncoder {
 public:
  // Without member_id; with its open lots when lots_inline(member); with where its history
  // begins (MemberState::history_head is where it began before the batch, so the commit passes
  // the new one).
  std::string_view member(const MemberState& member, uint64_t history_head);
  std::string_view lot(const Lot& lot);                             // without lot_id
  std::string_view idempotency(const IdempotencyRecord& record);    // without key
  std::string_view event(const Event& event, uint32_t program_version);  // without log_seq
  // The event log's record (without log_seq): the event, and what it wrote in its member's
  // ledger and feed, chained to the member's previous event at `member_prev`.
  std::string_view logged_event(const LoggedEvent& logged, uint64_t member_prev);
  std::string_view program_version(const StoredProgramVersion& version);
  // Without what the purchase's event holds (its id, member, store, time, lines' skus and
  // amounts): that is read from the event, at `log_seq` in the event log (decode_purchase).
  std::string_view purchase(const PurchaseRecord& purchase, uint64_t log_seq);
  std::string_view hold(const std::string& member_id, const Hold& hold);  // without hold_id
  std::string_view coupon(const std::string& member_id, const Coupon& coupon);  // without code
  std::string_view referral_link(const ReferralLink& link);               // without the two ids

 private:
  std::string_view bytes() const;
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::EventNoteRecord>>> event_notes(
      const LedgerEntry& entry, std::span<const Notification> notifications);
  flatbuffers::FlatBufferBuilder builder_{1024};
  std::vector<flatbuffers::Offset<fb::EventNoteRecord>> event_note_offsets_;
  std::vector<flatbuffers::Offset<fb::EventEntryRecord>> entry_offsets_;
  std::vector<flatbuffers::Offset<fb::LotRecord>> lot_offsets_;
  std::vector<int64_t> line_numbers_;
  std::vector<flatbuffers::Offset<flatbuffers::String>> string_offsets_;
};

// `out.lots` holds the member's lots when they live in its record (lots_inline, layout 7), and
// is left empty otherwise: those live in their own column family.
// `schedule` (when given) gets the expiry schedule a member whose lots are apart carries
// (nullopt in records without one: read the lots).
Status decode_member(std::string_view member_id, std::string_view bytes, MemberState& out,
                     std::optional<ExpirySchedule>* schedule = nullptr);
Status decode_lot(uint64_t lot_id, std::string_view bytes, Lot& out);
// A "ledger" record of layouts 1–5 (a folder of those layouts is read only to be migrated: its
// ledger is part of the state digest the rebuilt folder must match).
Status decode_ledger_entry(uint64_t seq, std::string_view bytes, LedgerEntry& out);
Status decode_idempotency(std::string_view key, std::string_view bytes, IdempotencyRecord& out);
Status decode_event(uint64_t log_seq, std::string_view bytes, StoredEvent& out);
// The member an event record belongs to and what it wrote in the member's history; records of
// layouts before 6 hold no history (entries and notifications come back empty).
Status decode_event_history(std::string_view bytes, EventHistory& out);
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
Status decode_coupon(std::string_view code, std::string_view bytes, StoredCoupon& out);
Status decode_referral_link(std::string_view referrer_id, std::string_view referee_id,
                            std::string_view bytes, ReferralLink& out);
// An outbox value (an event record); a referral follow-up's id must be `id`, its key.
Status decode_outbox_event(std::string_view id, std::string_view bytes, Event& out);
// Any event record RecordEncoder::event wrote (a cluster log message carries one), verified.
Status decode_event_only(std::string_view bytes, Event& out, uint32_t& program_version);

// The outbox key of a follow-up event (its id); checked to be one.
const std::string& follow_up_id(const Event& event);

}  // namespace loyalty::storage
