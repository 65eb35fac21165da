// Engine structs ⇄ FlatBuffers bytes: builders on the way in, Verifier + checks on the way out.
#include "storage/record_codec.hpp"

#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "storage/records_generated.h"

namespace loyalty::storage {
namespace {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

// Empty strings are left out of the record (an absent field reads back as "").
Offset<flatbuffers::String> optional_string(FlatBufferBuilder& builder, std::string_view text) {
  if (text.empty()) return 0;
  return builder.CreateString(text.data(), text.size());
}

std::string to_string(const flatbuffers::String* text) {
  return text == nullptr ? std::string() : text->str();
}

fb::BalanceRecord to_record(const Balance& balance) {
  return fb::BalanceRecord(balance.available, balance.pending, balance.held);
}

Balance from_record(const fb::BalanceRecord* balance) {
  if (balance == nullptr) return {};
  return Balance{balance->available(), balance->pending(), balance->held()};
}

Status corruption(std::string_view what) {
  return Status::error(Status::Code::corruption, "corrupt " + std::string(what) + " record");
}

// RocksDB hands out values at any address, but FlatBuffers reads scalars in place, and an
// unaligned load is undefined behaviour: misaligned bytes are copied to 8-aligned memory.
class AlignedBytes {
 public:
  explicit AlignedBytes(std::string_view bytes) : size_(bytes.size()) {
    if (bytes.empty() || reinterpret_cast<uintptr_t>(bytes.data()) % alignof(uint64_t) == 0) {
      data_ = reinterpret_cast<const uint8_t*>(bytes.data());
      return;
    }
    copy_.resize(bytes.size() / sizeof(uint64_t) + 1);
    std::memcpy(copy_.data(), bytes.data(), bytes.size());
    data_ = reinterpret_cast<const uint8_t*>(copy_.data());
  }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  std::vector<uint64_t> copy_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// The verified root table of `bytes`, or nullptr when the buffer does not hold a T.
template <typename T>
const T* verified_root(const AlignedBytes& bytes) {
  if (bytes.size() < sizeof(flatbuffers::uoffset_t) ||
      bytes.size() >= FLATBUFFERS_MAX_BUFFER_SIZE) {
    return nullptr;
  }
  flatbuffers::Verifier verifier(bytes.data(), bytes.size());
  if (!verifier.VerifyBuffer<T>(nullptr)) return nullptr;
  return flatbuffers::GetRoot<T>(bytes.data());
}

bool valid_entry_type(uint8_t type) {
  return type >= static_cast<uint8_t>(EntryType::earn) &&
         type <= static_cast<uint8_t>(EntryType::tier_change);
}

Offset<fb::SignupEventRecord> encode_signup(FlatBufferBuilder& builder, const SignupEvent& e) {
  const auto member_id = optional_string(builder, e.member_id);
  const auto referral_code = optional_string(builder, e.referral_code);
  const auto phone = optional_string(builder, e.phone);
  const auto card_no = optional_string(builder, e.card_no);
  const auto profile_json = optional_string(builder, e.profile_json);
  const auto assigned_referral_code = optional_string(builder, e.assigned_referral_code);
  const auto referrer_member_id = optional_string(builder, e.referrer_member_id);
  fb::SignupEventRecordBuilder record(builder);
  record.add_member_id(member_id);
  record.add_referral_code(referral_code);
  record.add_has_joined_at(e.joined_at.has_value());
  record.add_joined_at(e.joined_at.value_or(0));
  record.add_phone(phone);
  record.add_card_no(card_no);
  record.add_profile_json(profile_json);
  record.add_assigned_referral_code(assigned_referral_code);
  record.add_referrer_member_id(referrer_member_id);
  record.add_request_fingerprint(e.request_fingerprint);
  return record.Finish();
}

Offset<fb::PurchaseEventRecord> encode_purchase(FlatBufferBuilder& builder,
                                                const PurchaseEvent& e) {
  std::vector<Offset<fb::PurchaseLineRecord>> line_offsets;
  line_offsets.reserve(e.lines.size());
  for (const PurchaseLine& line : e.lines) {
    const auto sku = optional_string(builder, line.sku);
    const auto category = optional_string(builder, line.category);
    fb::PurchaseLineRecordBuilder record(builder);
    record.add_sku(sku);
    record.add_category(category);
    record.add_quantity(line.quantity);
    record.add_amount_minor(line.amount_minor);
    line_offsets.push_back(record.Finish());
  }
  const auto lines = line_offsets.empty() ? 0 : builder.CreateVector(line_offsets);
  const auto event_id = optional_string(builder, e.event_id);
  const auto member_id = optional_string(builder, e.member_id);
  const auto store_id = optional_string(builder, e.store_id);
  const auto currency = optional_string(builder, e.currency);
  const auto hold_id = optional_string(builder, e.hold_id);
  fb::PurchaseEventRecordBuilder record(builder);
  record.add_event_id(event_id);
  record.add_member_id(member_id);
  record.add_store_id(store_id);
  record.add_occurred_at(e.occurred_at);
  record.add_currency(currency);
  record.add_lines(lines);
  record.add_redeem_points(e.redeem_points);
  record.add_hold_id(hold_id);
  return record.Finish();
}

SignupEvent decode_signup(const fb::SignupEventRecord& record) {
  SignupEvent e;
  e.member_id = to_string(record.member_id());
  e.referral_code = to_string(record.referral_code());
  if (record.has_joined_at()) e.joined_at = record.joined_at();
  e.phone = to_string(record.phone());
  e.card_no = to_string(record.card_no());
  e.profile_json = to_string(record.profile_json());
  e.assigned_referral_code = to_string(record.assigned_referral_code());
  e.referrer_member_id = to_string(record.referrer_member_id());
  e.request_fingerprint = record.request_fingerprint();
  return e;
}

PurchaseEvent decode_purchase(const fb::PurchaseEventRecord& record) {
  PurchaseEvent e;
  e.event_id = to_string(record.event_id());
  e.member_id = to_string(record.member_id());
  e.store_id = to_string(record.store_id());
  e.occurred_at = record.occurred_at();
  e.currency = to_string(record.currency());
  if (const auto* lines = record.lines()) {
    e.lines.reserve(lines->size());
    for (const fb::PurchaseLineRecord* line : *lines) {
      e.lines.push_back(PurchaseLine{to_string(line->sku()), to_string(line->category()),
                                     line->quantity(), line->amount_minor()});
    }
  }
  e.redeem_points = record.redeem_points();
  e.hold_id = to_string(record.hold_id());
  return e;
}

}  // namespace

std::string_view RecordEncoder::bytes() const {
  return {reinterpret_cast<const char*>(builder_.GetBufferPointer()), builder_.GetSize()};
}

std::string_view RecordEncoder::member(const MemberState& m) {
  builder_.Clear();
  const auto phone = optional_string(builder_, m.phone);
  const auto card_no = optional_string(builder_, m.card_no);
  const auto profile_json = optional_string(builder_, m.profile_json);
  const auto referral_code = optional_string(builder_, m.referral_code);
  const auto referred_by = optional_string(builder_, m.referred_by);
  const fb::BalanceRecord balance = to_record(m.balance);
  fb::MemberRecordBuilder record(builder_);
  record.add_joined_at(m.joined_at);
  record.add_phone(phone);
  record.add_card_no(card_no);
  record.add_profile_json(profile_json);
  record.add_referral_code(referral_code);
  record.add_referred_by(referred_by);
  record.add_signup_fingerprint(m.signup_fingerprint);
  record.add_tier_index(m.tier_index);
  record.add_tier_since(m.tier_since);
  if (m.balance != Balance{}) record.add_balance(&balance);
  record.add_lifetime_points(m.lifetime_points);
  record.add_purchase_count(m.purchase_count);
  record.add_program_version(m.program_version);
  record.add_next_ledger_seq(m.next_ledger_seq);
  record.add_next_lot_id(m.next_lot_id);
  record.add_next_notification_seq(m.next_notification_seq);
  builder_.Finish(record.Finish());
  return bytes();
}

std::string_view RecordEncoder::lot(const Lot& lot) {
  builder_.Clear();
  const auto reference = optional_string(builder_, lot.reference);
  fb::LotRecordBuilder record(builder_);
  record.add_reference(reference);
  record.add_earned_at(lot.earned_at);
  record.add_available_at(lot.available_at);
  record.add_expires_at(lot.expires_at);
  record.add_points_initial(lot.points_initial);
  record.add_points_remaining(lot.points_remaining);
  builder_.Finish(record.Finish());
  return bytes();
}

std::string_view RecordEncoder::ledger_entry(const LedgerEntry& entry) {
  builder_.Clear();
  const auto reference = optional_string(builder_, entry.reference);
  const auto rule = optional_string(builder_, entry.rule);
  fb::LedgerEntryRecordBuilder record(builder_);
  record.add_entry_type(static_cast<uint8_t>(entry.type));
  record.add_points(entry.points);
  record.add_at(entry.at);
  record.add_reference(reference);
  record.add_rule(rule);
  record.add_program_version(entry.program_version);
  record.add_balance_after(entry.balance_after);
  builder_.Finish(record.Finish());
  return bytes();
}

std::string_view RecordEncoder::notification(const Notification& notification) {
  builder_.Clear();
  const auto type = optional_string(builder_, notification.type);
  const auto reference = optional_string(builder_, notification.reference);
  fb::NotificationRecordBuilder record(builder_);
  record.add_type(type);
  record.add_points(notification.points);
  record.add_reference(reference);
  record.add_at(notification.at);
  builder_.Finish(record.Finish());
  return bytes();
}

std::string_view RecordEncoder::idempotency(const IdempotencyRecord& idempotency) {
  builder_.Clear();
  Offset<void> answer = 0;
  fb::StoredAnswer answer_type = fb::StoredAnswer::NONE;
  if (const auto* purchase = std::get_if<PurchaseAnswer>(&idempotency.answer)) {
    std::vector<Offset<fb::BreakdownLineRecord>> line_offsets;
    line_offsets.reserve(purchase->breakdown.size());
    for (const BreakdownLine& line : purchase->breakdown) {
      const auto rule = optional_string(builder_, line.rule);
      fb::BreakdownLineRecordBuilder record(builder_);
      record.add_rule(rule);
      record.add_points(line.points);
      line_offsets.push_back(record.Finish());
    }
    const auto breakdown = line_offsets.empty() ? 0 : builder_.CreateVector(line_offsets);
    const auto tier = optional_string(builder_, purchase->tier);
    const fb::BalanceRecord balance = to_record(purchase->balance);
    fb::PurchaseAnswerRecordBuilder record(builder_);
    record.add_points_earned(purchase->points_earned);
    record.add_points_redeemed(purchase->points_redeemed);
    record.add_breakdown(breakdown);
    if (purchase->balance != Balance{}) record.add_balance(&balance);
    record.add_tier(tier);
    record.add_tier_changed(purchase->tier_changed);
    answer = record.Finish().Union();
    answer_type = fb::StoredAnswer::PurchaseAnswerRecord;
  }
  const auto member_id = optional_string(builder_, idempotency.member_id);
  fb::IdempotencyRecordBuilder record(builder_);
  record.add_fingerprint(idempotency.fingerprint);
  record.add_member_id(member_id);
  record.add_answer_type(answer_type);
  record.add_answer(answer);
  builder_.Finish(record.Finish());
  return bytes();
}

std::string_view RecordEncoder::event(const Event& event, uint32_t program_version) {
  builder_.Clear();
  Offset<void> body = 0;
  fb::StoredEventBody body_type = fb::StoredEventBody::NONE;
  if (const auto* signup = std::get_if<SignupEvent>(&event.body)) {
    body = encode_signup(builder_, *signup).Union();
    body_type = fb::StoredEventBody::SignupEventRecord;
  } else {
    body = encode_purchase(builder_, std::get<PurchaseEvent>(event.body)).Union();
    body_type = fb::StoredEventBody::PurchaseEventRecord;
  }
  fb::EventRecordBuilder record(builder_);
  record.add_program_version(program_version);
  record.add_event_type(body_type);
  record.add_event(body);
  builder_.Finish(record.Finish());
  return bytes();
}

std::string_view RecordEncoder::program_version(const StoredProgramVersion& version) {
  builder_.Clear();
  const auto source_toml = optional_string(builder_, version.source_toml);
  fb::ProgramVersionRecordBuilder record(builder_);
  record.add_number(version.number);
  record.add_source_toml(source_toml);
  record.add_activated_at(version.activated_at);
  builder_.Finish(record.Finish());
  return bytes();
}

Status decode_member(std::string_view member_id, std::string_view bytes, MemberState& out) {
  const AlignedBytes aligned(bytes);
  const auto* record = verified_root<fb::MemberRecord>(aligned);
  // Sequences start at 1: a 0 would hand out seq 0, which keys and cursors reserve.
  if (record == nullptr || record->next_ledger_seq() == 0 || record->next_lot_id() == 0 ||
      record->next_notification_seq() == 0) {
    return corruption("member");
  }
  out = MemberState{};
  out.member_id = std::string(member_id);
  out.joined_at = record->joined_at();
  out.phone = to_string(record->phone());
  out.card_no = to_string(record->card_no());
  out.profile_json = to_string(record->profile_json());
  out.referral_code = to_string(record->referral_code());
  out.referred_by = to_string(record->referred_by());
  out.signup_fingerprint = record->signup_fingerprint();
  out.tier_index = record->tier_index();
  out.tier_since = record->tier_since();
  out.balance = from_record(record->balance());
  out.lifetime_points = record->lifetime_points();
  out.purchase_count = record->purchase_count();
  out.program_version = record->program_version();
  out.next_ledger_seq = record->next_ledger_seq();
  out.next_lot_id = record->next_lot_id();
  out.next_notification_seq = record->next_notification_seq();
  return Status::ok_status();
}

Status decode_lot(uint64_t lot_id, std::string_view bytes, Lot& out) {
  const AlignedBytes aligned(bytes);
  const auto* record = verified_root<fb::LotRecord>(aligned);
  if (record == nullptr) return corruption("lot");
  out.lot_id = lot_id;
  out.reference = to_string(record->reference());
  out.earned_at = record->earned_at();
  out.available_at = record->available_at();
  out.expires_at = record->expires_at();
  out.points_initial = record->points_initial();
  out.points_remaining = record->points_remaining();
  return Status::ok_status();
}

Status decode_ledger_entry(uint64_t seq, std::string_view bytes, LedgerEntry& out) {
  const AlignedBytes aligned(bytes);
  const auto* record = verified_root<fb::LedgerEntryRecord>(aligned);
  if (record == nullptr || !valid_entry_type(record->entry_type())) return corruption("ledger");
  out.seq = seq;
  out.type = static_cast<EntryType>(record->entry_type());
  out.points = record->points();
  out.at = record->at();
  out.reference = to_string(record->reference());
  out.rule = to_string(record->rule());
  out.program_version = record->program_version();
  out.balance_after = record->balance_after();
  return Status::ok_status();
}

Status decode_notification(uint64_t seq, std::string_view bytes, Notification& out) {
  const AlignedBytes aligned(bytes);
  const auto* record = verified_root<fb::NotificationRecord>(aligned);
  if (record == nullptr) return corruption("notification");
  out.seq = seq;
  out.type = to_string(record->type());
  out.points = record->points();
  out.reference = to_string(record->reference());
  out.at = record->at();
  return Status::ok_status();
}

Status decode_idempotency(std::string_view key, std::string_view bytes, IdempotencyRecord& out) {
  const AlignedBytes aligned(bytes);
  const auto* record = verified_root<fb::IdempotencyRecord>(aligned);
  if (record == nullptr) return corruption("idempotency");
  Answer answer;
  switch (record->answer_type()) {
    case fb::StoredAnswer::NONE:
      break;
    case fb::StoredAnswer::PurchaseAnswerRecord: {
      const auto* stored = record->answer_as_PurchaseAnswerRecord();
      if (stored == nullptr) return corruption("idempotency");
      PurchaseAnswer purchase;
      purchase.points_earned = stored->points_earned();
      purchase.points_redeemed = stored->points_redeemed();
      if (const auto* breakdown = stored->breakdown()) {
        purchase.breakdown.reserve(breakdown->size());
        for (const fb::BreakdownLineRecord* line : *breakdown) {
          purchase.breakdown.push_back(BreakdownLine{to_string(line->rule()), line->points()});
        }
      }
      purchase.balance = from_record(stored->balance());
      purchase.tier = to_string(stored->tier());
      purchase.tier_changed = stored->tier_changed();
      answer = std::move(purchase);
      break;
    }
    default:  // the Verifier accepts union types it does not know
      return corruption("idempotency");
  }
  out.key = std::string(key);
  out.fingerprint = record->fingerprint();
  out.member_id = to_string(record->member_id());
  out.answer = std::move(answer);
  return Status::ok_status();
}

Status decode_event(uint64_t log_seq, std::string_view bytes, StoredEvent& out) {
  const AlignedBytes aligned(bytes);
  const auto* record = verified_root<fb::EventRecord>(aligned);
  if (record == nullptr) return corruption("event");
  if (const auto* signup = record->event_as_SignupEventRecord()) {
    out.event.body = decode_signup(*signup);
  } else if (const auto* purchase = record->event_as_PurchaseEventRecord()) {
    out.event.body = decode_purchase(*purchase);
  } else {
    return corruption("event");  // no body, or a body type this build does not know
  }
  out.log_seq = log_seq;
  out.program_version = record->program_version();
  return Status::ok_status();
}

Status decode_program_version(std::string_view bytes, StoredProgramVersion& out) {
  const AlignedBytes aligned(bytes);
  const auto* record = verified_root<fb::ProgramVersionRecord>(aligned);
  if (record == nullptr) return corruption("program version");
  out.number = record->number();
  out.source_toml = to_string(record->source_toml());
  out.activated_at = record->activated_at();
  return Status::ok_status();
}

}  // namespace loyalty::storage
