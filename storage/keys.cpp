// Key encodings of the column families (see keys.hpp).
#include "storage/keys.hpp"

#include <algorithm>
#include <limits>

namespace loyalty::storage {
namespace {

constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();

std::string member_number_key(std::string_view member_id, uint64_t number) {
  std::string key;
  key.reserve(member_id.size() + 1 + 8);
  key.append(member_id);
  key.push_back('\0');
  append_u64_be(key, number);
  return key;
}

std::optional<MemberKey> parse_member_number_key(std::string_view key) {
  if (key.size() < 1 + 1 + 8) return std::nullopt;
  const size_t separator = key.size() - 8 - 1;
  if (key[separator] != '\0') return std::nullopt;
  const std::string_view member_id = key.substr(0, separator);
  if (!valid_member_key(member_id)) return std::nullopt;
  return MemberKey{member_id, *read_u64_be(key.substr(separator + 1))};
}

}  // namespace

void append_u64_be(std::string& out, uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>(static_cast<uint8_t>(value >> shift)));
  }
}

void append_u32_be(std::string& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>(static_cast<uint8_t>(value >> shift)));
  }
}

std::optional<uint64_t> read_u64_be(std::string_view bytes) {
  if (bytes.size() != 8) return std::nullopt;
  uint64_t value = 0;
  for (char c : bytes) value = (value << 8) | static_cast<uint8_t>(c);
  return value;
}

std::optional<uint32_t> read_u32_be(std::string_view bytes) {
  if (bytes.size() != 4) return std::nullopt;
  uint32_t value = 0;
  for (char c : bytes) value = (value << 8) | static_cast<uint8_t>(c);
  return value;
}

bool valid_member_key(std::string_view member_id) {
  return !member_id.empty() && member_id.find('\0') == std::string_view::npos;
}

std::string member_prefix(std::string_view member_id) {
  std::string prefix(member_id);
  prefix.push_back('\0');
  return prefix;
}

std::string member_prefix_end(std::string_view member_id) {
  std::string end(member_id);
  end.push_back('\1');
  return end;
}

std::string lot_key(std::string_view member_id, uint64_t lot_id) {
  return member_number_key(member_id, lot_id);
}

std::string ledger_key(std::string_view member_id, uint64_t seq) {
  return member_number_key(member_id, kU64Max - seq);
}

std::optional<std::string_view> purchase_event_id(std::string_view idempotency_key) {
  constexpr std::string_view kPrefix = "e:";
  if (!idempotency_key.starts_with(kPrefix) || idempotency_key.size() == kPrefix.size()) {
    return std::nullopt;
  }
  return idempotency_key.substr(kPrefix.size());
}

std::string event_key(uint64_t log_seq) {
  std::string key;
  append_u64_be(key, log_seq);
  return key;
}

std::string identifier_key(IdentifierKind kind, std::string_view value) {
  std::string key;
  key.reserve(1 + value.size());
  key.push_back(static_cast<char>(kind));
  key.append(value);
  return key;
}

std::string program_key(uint32_t number) {
  std::string key(kProgramKeyPrefix);
  append_u32_be(key, number);
  return key;
}

std::string referral_key(std::string_view referrer_id, std::string_view referee_id) {
  std::string key;
  key.reserve(referrer_id.size() + 1 + referee_id.size());
  key.append(referrer_id);
  key.push_back('\0');
  key.append(referee_id);
  return key;
}

std::string member_coupon_key(std::string_view member_id, TimeMs issued_at, std::string_view code) {
  std::string key;
  key.reserve(member_id.size() + 1 + 8 + code.size());
  key.append(member_id);
  key.push_back('\0');
  // Issue times are after 1970: as unsigned they sort as they are.
  append_u64_be(key, static_cast<uint64_t>(std::max<TimeMs>(issued_at, 0)));
  key.append(code);
  return key;
}

std::optional<MemberKey> parse_lot_key(std::string_view key) {
  return parse_member_number_key(key);
}

std::optional<MemberKey> parse_ledger_key(std::string_view key) {
  std::optional<MemberKey> parsed = parse_member_number_key(key);
  if (parsed) parsed->number = kU64Max - parsed->number;
  return parsed;
}

std::optional<uint64_t> parse_event_key(std::string_view key) { return read_u64_be(key); }

std::optional<uint32_t> parse_program_key(std::string_view key) {
  if (!key.starts_with(kProgramKeyPrefix)) return std::nullopt;
  return read_u32_be(key.substr(kProgramKeyPrefix.size()));
}

std::optional<ReferralKey> parse_referral_key(std::string_view key) {
  const size_t separator = key.find('\0');
  if (separator == std::string_view::npos) return std::nullopt;
  const ReferralKey parsed{key.substr(0, separator), key.substr(separator + 1)};
  if (!valid_member_key(parsed.referrer_id) || !valid_member_key(parsed.referee_id)) {
    return std::nullopt;
  }
  return parsed;
}

std::string claim_key(std::string_view key) {
  std::string out(kClaimKeyPrefix);
  out += key;
  return out;
}

std::string encode_claim_state(const ClaimState& state) {
  if (state.grants == 0 && state.request.empty()) return state.member_id;
  std::string out = state.member_id;
  out.push_back('\0');
  append_u64_be(out, state.grants);
  out += state.request;
  return out;
}

bool decode_claim_state(std::string_view value, ClaimState& out) {
  out = ClaimState{};
  const size_t end = value.find('\0');
  if (end == std::string_view::npos) {
    out.member_id = std::string(value);
    return valid_member_key(value);
  }
  const std::string_view member_id = value.substr(0, end);
  const std::optional<uint64_t> grants = read_u64_be(value.substr(end + 1, 8));
  if (!grants || (!member_id.empty() && !valid_member_key(member_id))) return false;
  out.member_id = std::string(member_id);
  out.grants = *grants;
  out.request = std::string(value.substr(end + 9));
  return true;
}

std::string claim_release_key(const ClaimRelease& release) {
  std::string out(kClaimReleaseKeyPrefix);
  append_u64_be(out, release.grant);
  out += release.key;
  return out;
}

std::string applied_key(uint32_t partition) {
  std::string key(kAppliedKeyPrefix);
  append_u32_be(key, partition);
  return key;
}

std::string partition_program_key(uint32_t partition) {
  std::string key(kPartitionProgramKeyPrefix);
  append_u32_be(key, partition);
  return key;
}

}  // namespace loyalty::storage
