#include "cluster/result_codec.hpp"

#include "cluster/wire_fields.hpp"
#include "storage/keys.hpp"
#include "storage/record_codec.hpp"

namespace loyalty::cluster {
namespace {

using wire::put_bytes;
using wire::take_bytes;

// Format 2 ends with a block of what grants of claims are counted for (EventResult::claim_grant
// and ::claim_releases); a result without either is still written as format 1.
constexpr uint8_t kFormat = 1;
constexpr uint8_t kFormatWithGrants = 2;
enum Flags : uint8_t {
  storage_ok = 1,
  replayed = 2,
  has_member = 4,
  has_answer = 8,
  has_claim_owner = 16,
  has_member_id = 32,
  stock_granted = 64,
  has_stock_left = 128,
};

Status corrupt(const std::string& what) {
  return Status::error(Status::Code::corruption, "event result: " + what);
}

}  // namespace

std::string encode_result(const EventResult& result) {
  thread_local storage::RecordEncoder encoder;
  std::string out;
  const bool grants = result.claim_grant != 0 || !result.claim_releases.empty();
  out.push_back(static_cast<char>(grants ? kFormatWithGrants : kFormat));
  uint8_t flags = 0;
  if (result.storage.ok()) flags |= storage_ok;
  if (result.replayed) flags |= replayed;
  if (result.member) flags |= has_member;
  const bool answered = !std::holds_alternative<std::monostate>(result.answer);
  if (answered) flags |= has_answer;
  if (!result.claim_owner.empty()) flags |= has_claim_owner;
  if (!result.member_id.empty()) flags |= has_member_id;
  if (result.stock_granted) flags |= stock_granted;
  if (result.stock_left) flags |= has_stock_left;
  out.push_back(static_cast<char>(flags));
  out.push_back(static_cast<char>(static_cast<uint16_t>(result.rejection.code) >> 8));
  out.push_back(static_cast<char>(static_cast<uint16_t>(result.rejection.code) & 0xff));
  put_bytes(out, result.rejection.field);
  // A storage failure's details may name files: they stay in the owner's log.
  put_bytes(out, result.storage.ok() ? std::string_view(result.rejection.message)
                                     : std::string_view("the owner could not commit"));
  // (A sign-up's result has no answer of its own: its member is what it answers with.)
  if (answered) put_bytes(out, encoder.idempotency(IdempotencyRecord{"", 0, "", result.answer}));
  if (result.member) {
    put_bytes(out, result.member->member_id);
    put_bytes(out, encoder.member(*result.member, result.member->history_head.log_seq));
  }
  if (!result.claim_owner.empty()) put_bytes(out, result.claim_owner);
  if (!result.member_id.empty()) put_bytes(out, result.member_id);
  if (result.stock_left) storage::append_u64_be(out, static_cast<uint64_t>(*result.stock_left));
  if (grants) {
    storage::append_u64_be(out, result.claim_grant);
    storage::append_u32_be(out, static_cast<uint32_t>(result.claim_releases.size()));
    for (const ClaimRelease& release : result.claim_releases) {
      put_bytes(out, release.key);
      put_bytes(out, release.member_id);
      storage::append_u64_be(out, release.grant);
    }
  }
  return out;
}

Status decode_result(std::string_view bytes, EventResult& out) {
  out = EventResult{};
  const auto format = bytes.empty() ? 0 : static_cast<uint8_t>(bytes[0]);
  if (bytes.size() < 4 || (format != kFormat && format != kFormatWithGrants)) {
    return corrupt("format");
  }
  const auto flags = static_cast<uint8_t>(bytes[1]);
  const uint16_t code =
      static_cast<uint16_t>((static_cast<uint8_t>(bytes[2]) << 8) | static_cast<uint8_t>(bytes[3]));
  // Every code the engine names (new ones are appended to the enum), none past them.
  if (error_code_name(static_cast<ErrorCode>(code)) == "unknown") return corrupt("error code");
  bytes.remove_prefix(4);
  std::string_view field, message;
  if (!take_bytes(bytes, field) || !take_bytes(bytes, message)) return corrupt("truncated");
  out.rejection = {static_cast<ErrorCode>(code), std::string(field), std::string(message)};
  if ((flags & storage_ok) == 0) {
    out.storage = Status::error(Status::Code::io_error, "the owner could not commit");
  }
  out.replayed = (flags & replayed) != 0;
  if ((flags & has_answer) != 0) {
    std::string_view answer;
    if (!take_bytes(bytes, answer)) return corrupt("truncated");
    IdempotencyRecord record;
    if (Status s = storage::decode_idempotency("", answer, record); !s.ok()) {
      return corrupt("answer");
    }
    out.answer = std::move(record.answer);
  }
  if ((flags & has_member) != 0) {
    std::string_view member_id, member;
    if (!take_bytes(bytes, member_id) || !take_bytes(bytes, member)) return corrupt("truncated");
    MemberState state;
    if (Status s = storage::decode_member(member_id, member, state); !s.ok()) {
      return corrupt("member");
    }
    out.member = std::move(state);
  }
  if ((flags & has_claim_owner) != 0) {
    std::string_view owner;
    if (!take_bytes(bytes, owner)) return corrupt("truncated");
    out.claim_owner = owner;
  }
  if ((flags & has_member_id) != 0) {
    std::string_view member_id;
    if (!take_bytes(bytes, member_id)) return corrupt("truncated");
    out.member_id = member_id;
  }
  out.stock_granted = (flags & stock_granted) != 0;
  if ((flags & has_stock_left) != 0) {
    const std::optional<uint64_t> left =
        bytes.size() >= 8 ? storage::read_u64_be(bytes.substr(0, 8)) : std::nullopt;
    if (!left) return corrupt("truncated");
    out.stock_left = static_cast<int64_t>(*left);
    bytes.remove_prefix(8);
  }
  if (format == kFormatWithGrants) {
    const std::optional<uint32_t> count =
        bytes.size() >= 12 ? storage::read_u32_be(bytes.substr(8, 4)) : std::nullopt;
    if (!count || !wire::take_u64(bytes, out.claim_grant)) return corrupt("truncated");
    bytes.remove_prefix(4);
    for (uint32_t i = 0; i < *count; ++i) {
      ClaimRelease release;
      if (!take_bytes(bytes, release.key) || !take_bytes(bytes, release.member_id) ||
          !wire::take_u64(bytes, release.grant)) {
        return corrupt("truncated");
      }
      out.claim_releases.push_back(std::move(release));
    }
  }
  if (!bytes.empty()) return corrupt("trailing bytes");
  return Status::ok_status();
}

}  // namespace loyalty::cluster
