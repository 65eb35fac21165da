// Key encodings of the column families. Integers are big-endian so that RocksDB's bytewise
// order is numeric order; member ids are printable ASCII, so a 0 byte ends them safely.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/store.hpp"

namespace loyalty::storage {

inline constexpr std::string_view kMembersFamily = "members";
inline constexpr std::string_view kLotsFamily = "lots";
// Layouts 1–5 only: the ledger (and the feed inside it from layout 2), now kept in the event
// log's records.
inline constexpr std::string_view kLedgerFamily = "ledger";
// Layout 1 only: the feed, now kept inside the ledger's records.
inline constexpr std::string_view kFeedFamily = "feed";
inline constexpr std::string_view kIdempotencyFamily = "idempotency";
inline constexpr std::string_view kEventsFamily = "events";
inline constexpr std::string_view kIdentifiersFamily = "identifiers";
inline constexpr std::string_view kMetaFamily = "meta";
inline constexpr std::string_view kPurchasesFamily = "purchases";
inline constexpr std::string_view kHoldsFamily = "holds";
inline constexpr std::string_view kReferralsFamily = "referrals";
inline constexpr std::string_view kOutboxFamily = "outbox";
// Coupons by code (StoredCouponRecord), and each member's coupons by issue: key member_id, 0,
// big-endian issued_at, code; value the coupon's state (one byte), so a list filtered by state
// reads only the coupons it shows.
inline constexpr std::string_view kCouponsFamily = "coupons";
inline constexpr std::string_view kMemberCouponsFamily = "member_coupons";

// "layout" in "meta": the record layout the folder was written with (docs/storage.md), as a
// big-endian u32. Absent in folders of layout 1 (before issue 15), which had a "feed" family.
inline constexpr std::string_view kLayoutKey = "layout";
inline constexpr uint32_t kLayoutCurrent = 8;
inline constexpr std::string_view kProgramKeyPrefix = "program/";
inline constexpr std::string_view kProgramActiveKey = "program_active";
// "job/" + job id: job records (storage/job_record.hpp), also in "meta".
inline constexpr std::string_view kJobKeyPrefix = "job/";
// "applied/" + big-endian u32 partition: the last stream sequence of that partition's cluster
// log the folder has applied (big-endian u64), written with the state (CommitBatch::log_position).
inline constexpr std::string_view kAppliedKeyPrefix = "applied/";
std::string applied_key(uint32_t partition);
// Cluster mode: the program activation a partition's log last applied here (big-endian u64
// activation, then u32 version), written with the state (CommitBatch::program_switch).
inline constexpr std::string_view kPartitionProgramKeyPrefix = "partition_program/";
std::string partition_program_key(uint32_t partition);
// "claim/" + claim key (ClaimWrite): whose a key is in its home partition, as
// encode_claim_state writes it.
inline constexpr std::string_view kClaimKeyPrefix = "claim/";
std::string claim_key(std::string_view key);
// A claim's value: the member id alone while grants are not counted (as every claim was before
// they were), else the member id ("" when free), a 0 byte, the grants (big-endian u64) and the
// last grant's request. decode: false when the value is neither.
std::string encode_claim_state(const ClaimState& state);
bool decode_claim_state(std::string_view value, ClaimState& out);
// Cluster mode, in "meta": "claim_release/" + grant (big-endian u64) + claim key → member id,
// a changed phone or card a member's partition gives up (CommitBatch::claim_releases), until
// sent.
inline constexpr std::string_view kClaimReleaseKeyPrefix = "claim_release/";
std::string claim_release_key(const ClaimRelease& release);
// Cluster mode, also in "meta": "unit/" + coupon code → reward id, a unit of the reward's stock
// taken for that code in the reward's home partition (CommitBatch::units_taken); and
// "give_back/" + code → reward id, a unit a member's partition gives back, until sent.
inline constexpr std::string_view kStockUnitKeyPrefix = "unit/";
inline constexpr std::string_view kGiveBackKeyPrefix = "give_back/";

void append_u64_be(std::string& out, uint64_t value);
void append_u32_be(std::string& out, uint32_t value);
// nullopt unless `bytes` is exactly 8 (4) bytes.
std::optional<uint64_t> read_u64_be(std::string_view bytes);
std::optional<uint32_t> read_u32_be(std::string_view bytes);

// The event id of a purchase's idempotency key ("e:" + event_id, Event::idempotency_key());
// nullopt for keys of other shapes. Refunds share the "e:" prefix: look the id up to tell.
std::optional<std::string_view> purchase_event_id(std::string_view idempotency_key);

// Whether an id can be used as (part of) a key: non-empty, no 0 byte.
bool valid_member_key(std::string_view member_id);

// member_id + 0: every key of one member in "lots" and "ledger" starts with it.
std::string member_prefix(std::string_view member_id);
// The first key after every key that starts with member_prefix(member_id).
std::string member_prefix_end(std::string_view member_id);

std::string lot_key(std::string_view member_id, uint64_t lot_id);
// Stores UINT64_MAX - seq, so that a forward scan of the member's prefix is newest first.
std::string ledger_key(std::string_view member_id, uint64_t seq);
std::string event_key(uint64_t log_seq);
std::string identifier_key(IdentifierKind kind, std::string_view value);
std::string program_key(uint32_t number);
// referrer_id + 0 + referee_id: a referrer's links are the keys under member_prefix(referrer).
std::string referral_key(std::string_view referrer_id, std::string_view referee_id);
std::string member_coupon_key(std::string_view member_id, TimeMs issued_at, std::string_view code);

// A key of "lots" or "ledger" split into its parts; nullopt when malformed.
struct MemberKey {
  std::string_view member_id;
  uint64_t number = 0;  // lot_id or seq, decoded (the ledger's inversion undone)
};
std::optional<MemberKey> parse_lot_key(std::string_view key);
std::optional<MemberKey> parse_ledger_key(std::string_view key);
std::optional<uint64_t> parse_event_key(std::string_view key);
std::optional<uint32_t> parse_program_key(std::string_view key);
struct ReferralKey {
  std::string_view referrer_id;
  std::string_view referee_id;
};
std::optional<ReferralKey> parse_referral_key(std::string_view key);

}  // namespace loyalty::storage
