// Engine structs ⇄ FlatBuffers bytes: builders on the way in, Verifier + checks on the way out.
#include "storage/record_codec.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "engine/check.hpp"
#include "engine/member_view.hpp"
#include "storage/flatbuffer_support.hpp"
#include "storage/records_generated.h"

namespace loyalty::storage {

// Every field of these structs is written by this codec: the event log must replay exactly
// and a member must load as it was stored. A size that changed means a field was added (or
// removed): store it in records.fbs and here, then update the number. (A bool can hide in
// padding; the round-trip tests with every field set catch the rest.) Sizes of x86-64 with
// libstdc++, the platform we build on.
#if defined(__x86_64__) && defined(__GLIBCXX__)
#define LOYALTY_CODEC_COVERS(type, size) \
  static_assert(sizeof(type) == (size), "a field of " #type " is not stored")
// MemberState::lot_deadline (8 bytes) is derived from the lots and deliberately not stored.
LOYALTY_CODEC_COVERS(MemberState, 544);
LOYALTY_CODEC_COVERS(Balance, 24);
LOYALTY_CODEC_COVERS(Lot, 96);
LOYALTY_CODEC_COVERS(Hold, 128);
LOYALTY_CODEC_COVERS(LotTake, 16);
LOYALTY_CODEC_COVERS(MonthActivity, 32);
LOYALTY_CODEC_COVERS(ReferralReward, 88);
// LedgerEntry::actor is not stored with the entry: its event's body says it (event_actor).
LOYALTY_CODEC_COVERS(LedgerEntry, 144);
// Notification::entry_seq is the seq of the entry it is stored with.
LOYALTY_CODEC_COVERS(Notification, 96);
LOYALTY_CODEC_COVERS(PurchaseRecord, 416);
LOYALTY_CODEC_COVERS(PurchaseLineRecord, 56);
LOYALTY_CODEC_COVERS(ReferralLink, 88);
LOYALTY_CODEC_COVERS(SignupEvent, 264);
LOYALTY_CODEC_COVERS(PurchaseEvent, 224);
LOYALTY_CODEC_COVERS(PurchaseLine, 80);
LOYALTY_CODEC_COVERS(RefundEvent, 144);
LOYALTY_CODEC_COVERS(RefundLine, 40);
LOYALTY_CODEC_COVERS(RedemptionEvent, 144);
LOYALTY_CODEC_COVERS(HoldEvent, 88);
LOYALTY_CODEC_COVERS(HoldActionEvent, 72);
LOYALTY_CODEC_COVERS(AdjustmentEvent, 144);
LOYALTY_CODEC_COVERS(ReferralFollowUp, 136);
LOYALTY_CODEC_COVERS(JobStepEvent, 72);
LOYALTY_CODEC_COVERS(RecalcAdjustmentEvent, 136);
LOYALTY_CODEC_COVERS(PurchaseAnswer, 104);
LOYALTY_CODEC_COVERS(BreakdownLine, 40);
LOYALTY_CODEC_COVERS(RefundAnswer, 64);
LOYALTY_CODEC_COVERS(PointsAnswer, 32);
LOYALTY_CODEC_COVERS(HoldAnswer, 152);
LOYALTY_CODEC_COVERS(JobStepAnswer, 48);
LOYALTY_CODEC_COVERS(Coupon, 304);
LOYALTY_CODEC_COVERS(RewardLimitUse, 56);
LOYALTY_CODEC_COVERS(CouponAnswer, 336);
LOYALTY_CODEC_COVERS(RewardRedeemEvent, 144);
LOYALTY_CODEC_COVERS(CouponUseEvent, 168);
LOYALTY_CODEC_COVERS(CouponCancelEvent, 72);
LOYALTY_CODEC_COVERS(MemberUpdateEvent, 280);
#undef LOYALTY_CODEC_COVERS
#endif

namespace {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

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

bool valid_entry_type(uint8_t type) {
  return type >= static_cast<uint8_t>(EntryType::earn) &&
         type <= static_cast<uint8_t>(EntryType::member_erase);
}

template <typename... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};

// A vector of tables, left out of the record when empty.
template <typename T, typename Item, typename Encode>
Offset<flatbuffers::Vector<Offset<T>>> table_vector(FlatBufferBuilder& builder,
                                                    const std::vector<Item>& items,
                                                    Encode&& encode) {
  if (items.empty()) return 0;
  std::vector<Offset<T>> offsets;
  offsets.reserve(items.size());
  for (const Item& item : items) offsets.push_back(encode(item));
  return builder.CreateVector(offsets);
}

// The Verifier checks a vector's length field but not that its structs sit at their own
// alignment; a corrupt record could misplace them, and reading them would be undefined.
template <typename T>
bool structs_aligned(const flatbuffers::Vector<const T*>* vector) {
  // An empty vector has no struct to read, and FlatBuffers aligns its (absent) data only to
  // its length's 4 bytes.
  return vector == nullptr || vector->size() == 0 ||
         reinterpret_cast<uintptr_t>(vector->Data()) % alignof(T) == 0;
}

// The same for vectors of 8-byte scalars: the Verifier checks their length's alignment (4
// bytes) but not their elements', and a corrupt offset can leave them at any 4-byte boundary.
template <typename T>
bool scalars_aligned(const flatbuffers::Vector<T>* vector) {
  return vector == nullptr || vector->size() == 0 ||
         reinterpret_cast<uintptr_t>(vector->Data()) % alignof(T) == 0;
}

bool valid_hold_state(uint8_t state) { return state <= static_cast<uint8_t>(HoldState::expired); }

bool valid_referral_status(uint8_t status) {
  return status <= static_cast<uint8_t>(ReferralStatus::reversed);
}

bool valid_coupon_enums(const fb::CouponRecord& record) {
  return record.kind() <= static_cast<uint8_t>(RewardKind::product) &&
         record.on_refund() <= static_cast<uint8_t>(CouponRefund::refund_points) &&
         record.state() <= static_cast<uint8_t>(CouponState::cancelled) &&
         record.limit_period() <= static_cast<uint8_t>(LimitPeriod::lifetime);
}

// The code is left out where the key holds it (the "coupons" column family).
Offset<fb::CouponRecord> encode_coupon(FlatBufferBuilder& builder, const Coupon& coupon,
                                       bool with_code) {
  const auto code = with_code ? optional_string(builder, coupon.code) : 0;
  const auto reward_id = optional_string(builder, coupon.reward_id);
  const auto reward_name = optional_string(builder, coupon.reward_name);
  const auto benefit_json = optional_string(builder, coupon.benefit_json);
  const auto redemption_id = optional_string(builder, coupon.redemption_id);
  const auto used_by = optional_string(builder, coupon.used_by);
  const auto store_id = optional_string(builder, coupon.store_id);
  fb::CouponRecordBuilder record(builder);
  record.add_code(code);
  record.add_reward_id(reward_id);
  record.add_reward_name(reward_name);
  record.add_kind(static_cast<uint8_t>(coupon.kind));
  record.add_benefit_json(benefit_json);
  record.add_on_refund(static_cast<uint8_t>(coupon.on_refund));
  record.add_redemption_id(redemption_id);
  record.add_points(coupon.points);
  record.add_issued_at(coupon.issued_at);
  record.add_valid_until(coupon.valid_until);
  record.add_state(static_cast<uint8_t>(coupon.state));
  record.add_settled_at(coupon.settled_at);
  record.add_used_by(used_by);
  record.add_store_id(store_id);
  record.add_limit_period(static_cast<uint8_t>(coupon.limit_period));
  if (coupon.limit_period_index) record.add_limit_period_index(*coupon.limit_period_index);
  return record.Finish();
}

// False when the record holds values no engine struct can (an unknown state or kind).
bool decode_coupon_record(const fb::CouponRecord& record, Coupon& out) {
  if (!valid_coupon_enums(record)) return false;
  out.code = to_string(record.code());
  out.reward_id = to_string(record.reward_id());
  out.reward_name = to_string(record.reward_name());
  out.kind = static_cast<RewardKind>(record.kind());
  out.benefit_json = record.benefit_json() != nullptr ? to_string(record.benefit_json()) : "{}";
  out.on_refund = static_cast<CouponRefund>(record.on_refund());
  out.redemption_id = to_string(record.redemption_id());
  out.points = record.points();
  out.issued_at = record.issued_at();
  out.valid_until = record.valid_until();
  out.state = static_cast<CouponState>(record.state());
  out.settled_at = record.settled_at();
  out.used_by = to_string(record.used_by());
  out.store_id = to_string(record.store_id());
  out.limit_period = static_cast<LimitPeriod>(record.limit_period());
  out.limit_period_index = record.limit_period_index();
  return true;
}

Offset<flatbuffers::Vector<Offset<fb::CouponRecord>>> encode_coupons(
    FlatBufferBuilder& builder, const std::vector<Coupon>& coupons) {
  return table_vector<fb::CouponRecord>(builder, coupons, [&builder](const Coupon& coupon) {
    return encode_coupon(builder, coupon, true);
  });
}

bool decode_coupons(const flatbuffers::Vector<Offset<fb::CouponRecord>>* stored,
                    std::vector<Coupon>& out) {
  out.clear();
  if (stored == nullptr) return true;
  out.reserve(stored->size());
  for (const fb::CouponRecord* record : *stored) {
    Coupon coupon;
    if (!decode_coupon_record(*record, coupon)) return false;
    out.push_back(std::move(coupon));
  }
  return true;
}

// The hold's id is left out where the key holds it (the "holds" column family).
Offset<fb::HoldRecord> encode_hold(FlatBufferBuilder& builder, const Hold& hold, bool with_id) {
  std::vector<fb::LotTakeRecord> takes;
  takes.reserve(hold.takes.size());
  for (const LotTake& take : hold.takes) takes.emplace_back(take.lot_id, take.points);
  const auto take_vector = takes.empty() ? 0 : builder.CreateVectorOfStructs(takes);
  const auto hold_id = with_id ? optional_string(builder, hold.hold_id) : 0;
  const auto captured_by = optional_string(builder, hold.captured_by);
  fb::HoldRecordBuilder record(builder);
  record.add_hold_id(hold_id);
  record.add_points(hold.points);
  record.add_created_at(hold.created_at);
  record.add_expires_at(hold.expires_at);
  record.add_state(static_cast<uint8_t>(hold.state));
  record.add_settled_at(hold.settled_at);
  record.add_captured_by(captured_by);
  record.add_takes(take_vector);
  return record.Finish();
}

// False when the record holds values no engine struct can (an unknown state).
bool decode_hold_record(const fb::HoldRecord& record, Hold& out) {
  if (!valid_hold_state(record.state()) || !structs_aligned(record.takes())) return false;
  out.hold_id = to_string(record.hold_id());
  out.points = record.points();
  out.created_at = record.created_at();
  out.expires_at = record.expires_at();
  out.state = static_cast<HoldState>(record.state());
  out.settled_at = record.settled_at();
  out.captured_by = to_string(record.captured_by());
  out.takes.clear();
  if (const auto* takes = record.takes()) {
    out.takes.reserve(takes->size());
    for (const fb::LotTakeRecord* take : *takes) {
      out.takes.push_back(LotTake{take->lot_id(), take->points()});
    }
  }
  return true;
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
  record.add_phone_grant(e.phone_grant);
  record.add_card_grant(e.card_grant);
  return record.Finish();
}

Offset<fb::PurchaseEventRecord> encode_purchase(FlatBufferBuilder& builder,
                                                const PurchaseEvent& e) {
  // One vector per field (layout 5). Vectors of strings need their offsets first; the scratch
  // vectors are reused, so that encoding a purchase allocates nothing once warm.
  struct Scratch {
    std::vector<Offset<flatbuffers::String>> skus;
    std::vector<Offset<flatbuffers::String>> categories;
    std::vector<uint32_t> quantities;
    std::vector<int64_t> amounts;
    std::vector<std::pair<std::string_view, Offset<flatbuffers::String>>> distinct;
  };
  thread_local Scratch scratch;
  auto& [skus, categories, quantities, amounts, distinct] = scratch;
  skus.clear();
  categories.clear();
  quantities.clear();
  amounts.clear();
  distinct.clear();
  // A basket repeats a few categories: each is stored once (up to this many distinct ones,
  // which bounds the search; FlatBuffers' own shared strings allocate a set node each).
  constexpr size_t kSharedCategoriesMax = 32;
  bool every_quantity_one = true;
  for (const PurchaseLine& line : e.lines) {
    skus.push_back(builder.CreateString(line.sku.data(), line.sku.size()));
    const auto seen = std::find_if(distinct.begin(), distinct.end(), [&line](const auto& entry) {
      return entry.first == line.category;
    });
    if (seen != distinct.end()) {
      categories.push_back(seen->second);
    } else {
      categories.push_back(builder.CreateString(line.category.data(), line.category.size()));
      if (distinct.size() < kSharedCategoriesMax) {
        distinct.emplace_back(line.category, categories.back());
      }
    }
    amounts.push_back(line.amount_minor);
    every_quantity_one = every_quantity_one && line.quantity == 1;
  }
  Offset<flatbuffers::Vector<uint32_t>> quantity_vector = 0;
  if (!every_quantity_one) {
    for (const PurchaseLine& line : e.lines) {
      LOYALTY_CHECK(line.quantity >= 1 && line.quantity <= std::numeric_limits<uint32_t>::max());
      quantities.push_back(static_cast<uint32_t>(line.quantity));
    }
    quantity_vector = builder.CreateVector(quantities);
  }
  const bool any = !e.lines.empty();
  const auto sku_vector = any ? builder.CreateVector(skus) : 0;
  const auto category_vector = any ? builder.CreateVector(categories) : 0;
  const auto amount_vector = any ? builder.CreateVector(amounts) : 0;
  const auto event_id = optional_string(builder, e.event_id);
  const auto member_id = optional_string(builder, e.member_id);
  const auto store_id = optional_string(builder, e.store_id);
  const auto currency = optional_string(builder, e.currency);
  const auto hold_id = optional_string(builder, e.hold_id);
  Offset<flatbuffers::Vector<Offset<flatbuffers::String>>> coupons = 0;
  if (!e.coupons.empty()) coupons = builder.CreateVectorOfStrings(e.coupons);
  fb::PurchaseEventRecordBuilder record(builder);
  record.add_event_id(event_id);
  record.add_member_id(member_id);
  record.add_store_id(store_id);
  record.add_occurred_at(e.occurred_at);
  record.add_currency(currency);
  record.add_redeem_points(e.redeem_points);
  record.add_hold_id(hold_id);
  record.add_line_skus(sku_vector);
  record.add_line_categories(category_vector);
  record.add_line_quantities(quantity_vector);
  record.add_line_amounts(amount_vector);
  record.add_coupons(coupons);
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
  e.phone_grant = record.phone_grant();
  e.card_grant = record.card_grant();
  return e;
}

// nullopt: the line vectors disagree in length, or the amounts are not where an int64 can be.
std::optional<PurchaseEvent> decode_purchase_event(const fb::PurchaseEventRecord& record) {
  PurchaseEvent e;
  e.event_id = to_string(record.event_id());
  e.member_id = to_string(record.member_id());
  e.store_id = to_string(record.store_id());
  e.occurred_at = record.occurred_at();
  e.currency = to_string(record.currency());
  if (const auto* lines = record.lines()) {  // layouts 1–4
    e.lines.reserve(lines->size());
    for (const fb::PurchaseLineRecord* line : *lines) {
      e.lines.push_back(PurchaseLine{to_string(line->sku()), to_string(line->category()),
                                     line->quantity(), line->amount_minor()});
    }
  } else if (const auto* amounts = record.line_amounts()) {
    if (!scalars_aligned(amounts)) return std::nullopt;
    const auto* skus = record.line_skus();
    const auto* categories = record.line_categories();
    const auto* quantities = record.line_quantities();
    const flatbuffers::uoffset_t count = amounts->size();
    if (skus == nullptr || categories == nullptr || skus->size() != count ||
        categories->size() != count || (quantities != nullptr && quantities->size() != count)) {
      return std::nullopt;
    }
    e.lines.reserve(count);
    for (flatbuffers::uoffset_t i = 0; i < count; ++i) {
      e.lines.push_back(PurchaseLine{to_string(skus->Get(i)), to_string(categories->Get(i)),
                                     quantities != nullptr ? quantities->Get(i) : 1,
                                     amounts->Get(i)});
    }
  } else if (record.line_skus() != nullptr || record.line_categories() != nullptr ||
             record.line_quantities() != nullptr) {
    return std::nullopt;
  }
  e.redeem_points = record.redeem_points();
  e.hold_id = to_string(record.hold_id());
  if (const auto* coupons = record.coupons()) {
    e.coupons.reserve(coupons->size());
    for (const flatbuffers::String* code : *coupons) e.coupons.push_back(to_string(code));
  }
  return e;
}

Offset<fb::RefundEventRecord> encode_refund(FlatBufferBuilder& builder, const RefundEvent& e) {
  const auto lines =
      table_vector<fb::RefundLineRecord>(builder, e.lines, [&builder](const RefundLine& line) {
        const auto sku = optional_string(builder, line.sku);
        fb::RefundLineRecordBuilder record(builder);
        record.add_sku(sku);
        record.add_amount_minor(line.amount_minor);
        return record.Finish();
      });
  const auto event_id = optional_string(builder, e.event_id);
  const auto original_event_id = optional_string(builder, e.original_event_id);
  const auto member_id = optional_string(builder, e.member_id);
  fb::RefundEventRecordBuilder record(builder);
  record.add_event_id(event_id);
  record.add_original_event_id(original_event_id);
  record.add_member_id(member_id);
  record.add_occurred_at(e.occurred_at);
  record.add_has_amount_minor(e.amount_minor.has_value());
  record.add_amount_minor(e.amount_minor.value_or(0));
  record.add_lines(lines);
  return record.Finish();
}

RefundEvent decode_refund(const fb::RefundEventRecord& record) {
  RefundEvent e;
  e.event_id = to_string(record.event_id());
  e.original_event_id = to_string(record.original_event_id());
  e.member_id = to_string(record.member_id());
  e.occurred_at = record.occurred_at();
  if (record.has_amount_minor()) e.amount_minor = record.amount_minor();
  if (const auto* lines = record.lines()) {
    e.lines.reserve(lines->size());
    for (const fb::RefundLineRecord* line : *lines) {
      e.lines.push_back(RefundLine{to_string(line->sku()), line->amount_minor()});
    }
  }
  return e;
}

Offset<fb::RedemptionEventRecord> encode_redemption(FlatBufferBuilder& builder,
                                                    const RedemptionEvent& e) {
  const auto redemption_id = optional_string(builder, e.redemption_id);
  const auto member_id = optional_string(builder, e.member_id);
  const auto reward_id = optional_string(builder, e.reward_id);
  const auto note = optional_string(builder, e.note);
  fb::RedemptionEventRecordBuilder record(builder);
  record.add_redemption_id(redemption_id);
  record.add_member_id(member_id);
  record.add_points(e.points);
  record.add_reward_id(reward_id);
  record.add_note(note);
  record.add_at(e.at);
  return record.Finish();
}

RedemptionEvent decode_redemption(const fb::RedemptionEventRecord& record) {
  RedemptionEvent e;
  e.redemption_id = to_string(record.redemption_id());
  e.member_id = to_string(record.member_id());
  e.points = record.points();
  e.reward_id = to_string(record.reward_id());
  e.note = to_string(record.note());
  e.at = record.at();
  return e;
}

Offset<fb::HoldEventRecord> encode_hold_event(FlatBufferBuilder& builder, const HoldEvent& e) {
  const auto hold_id = optional_string(builder, e.hold_id);
  const auto member_id = optional_string(builder, e.member_id);
  fb::HoldEventRecordBuilder record(builder);
  record.add_hold_id(hold_id);
  record.add_member_id(member_id);
  record.add_points(e.points);
  record.add_has_ttl_seconds(e.ttl_seconds.has_value());
  record.add_ttl_seconds(e.ttl_seconds.value_or(0));
  record.add_at(e.at);
  return record.Finish();
}

HoldEvent decode_hold_event(const fb::HoldEventRecord& record) {
  HoldEvent e;
  e.hold_id = to_string(record.hold_id());
  e.member_id = to_string(record.member_id());
  e.points = record.points();
  if (record.has_ttl_seconds()) e.ttl_seconds = record.ttl_seconds();
  e.at = record.at();
  return e;
}

Offset<fb::HoldActionEventRecord> encode_hold_action(FlatBufferBuilder& builder,
                                                     const HoldActionEvent& e) {
  const auto hold_id = optional_string(builder, e.hold_id);
  const auto member_id = optional_string(builder, e.member_id);
  fb::HoldActionEventRecordBuilder record(builder);
  record.add_hold_id(hold_id);
  record.add_member_id(member_id);
  record.add_at(e.at);
  return record.Finish();
}

HoldActionEvent decode_hold_action(const fb::HoldActionEventRecord& record) {
  return HoldActionEvent{to_string(record.hold_id()), to_string(record.member_id()), record.at()};
}

Offset<fb::AdjustmentEventRecord> encode_adjustment(FlatBufferBuilder& builder,
                                                    const AdjustmentEvent& e) {
  const auto adjustment_id = optional_string(builder, e.adjustment_id);
  const auto member_id = optional_string(builder, e.member_id);
  const auto reason = optional_string(builder, e.reason);
  const auto made_by = optional_string(builder, e.made_by);
  fb::AdjustmentEventRecordBuilder record(builder);
  record.add_made_by(made_by);
  record.add_adjustment_id(adjustment_id);
  record.add_member_id(member_id);
  record.add_points(e.points);
  record.add_reason(reason);
  record.add_at(e.at);
  return record.Finish();
}

AdjustmentEvent decode_adjustment(const fb::AdjustmentEventRecord& record) {
  return AdjustmentEvent{to_string(record.adjustment_id()),
                         to_string(record.member_id()),
                         record.points(),
                         to_string(record.reason()),
                         record.at(),
                         to_string(record.made_by())};
}

Offset<fb::ReferralFollowUpRecord> encode_follow_up(FlatBufferBuilder& builder,
                                                    const ReferralFollowUp& e) {
  const auto id = optional_string(builder, e.id);
  const auto member_id = optional_string(builder, e.member_id);
  const auto referee_id = optional_string(builder, e.referee_id);
  const auto trigger_event_id = optional_string(builder, e.trigger_event_id);
  fb::ReferralFollowUpRecordBuilder record(builder);
  record.add_id(id);
  record.add_member_id(member_id);
  record.add_referee_id(referee_id);
  record.add_trigger_event_id(trigger_event_id);
  record.add_at(e.at);
  return record.Finish();
}

ReferralFollowUp decode_follow_up(const fb::ReferralFollowUpRecord& record) {
  return ReferralFollowUp{to_string(record.id()), to_string(record.member_id()),
                          to_string(record.referee_id()), to_string(record.trigger_event_id()),
                          record.at()};
}

Offset<fb::JobStepEventRecord> encode_job_step(FlatBufferBuilder& builder, const JobStepEvent& e) {
  const auto job_id = optional_string(builder, e.job_id);
  const auto member_id = optional_string(builder, e.member_id);
  fb::JobStepEventRecordBuilder record(builder);
  record.add_job_id(job_id);
  record.add_member_id(member_id);
  record.add_as_of(e.as_of);
  return record.Finish();
}

JobStepEvent decode_job_step(const fb::JobStepEventRecord& record) {
  return JobStepEvent{to_string(record.job_id()), to_string(record.member_id()), record.as_of()};
}

Offset<fb::RecalcAdjustmentEventRecord> encode_recalc(FlatBufferBuilder& builder,
                                                      const RecalcAdjustmentEvent& e) {
  const auto job_id = optional_string(builder, e.job_id);
  const auto event_id = optional_string(builder, e.event_id);
  const auto member_id = optional_string(builder, e.member_id);
  fb::RecalcAdjustmentEventRecordBuilder record(builder);
  record.add_job_id(job_id);
  record.add_event_id(event_id);
  record.add_member_id(member_id);
  record.add_points(e.points);
  record.add_points_recalculated(e.points_recalculated);
  record.add_expires_at(e.expires_at);
  record.add_program_version(e.program_version);
  record.add_at(e.at);
  return record.Finish();
}

RecalcAdjustmentEvent decode_recalc(const fb::RecalcAdjustmentEventRecord& record) {
  return RecalcAdjustmentEvent{to_string(record.job_id()),    to_string(record.event_id()),
                               to_string(record.member_id()), record.points(),
                               record.points_recalculated(),  record.expires_at(),
                               record.program_version(),      record.at()};
}

Offset<fb::RewardRedeemEventRecord> encode_reward_redeem(FlatBufferBuilder& builder,
                                                         const RewardRedeemEvent& e) {
  const auto redemption_id = optional_string(builder, e.redemption_id);
  const auto member_id = optional_string(builder, e.member_id);
  const auto reward_id = optional_string(builder, e.reward_id);
  const auto code = optional_string(builder, e.code);
  fb::RewardRedeemEventRecordBuilder record(builder);
  record.add_redemption_id(redemption_id);
  record.add_member_id(member_id);
  record.add_reward_id(reward_id);
  record.add_at(e.at);
  record.add_code(code);
  record.add_stock_granted(e.stock_granted);
  return record.Finish();
}

RewardRedeemEvent decode_reward_redeem(const fb::RewardRedeemEventRecord& record) {
  RewardRedeemEvent e;
  e.redemption_id = to_string(record.redemption_id());
  e.member_id = to_string(record.member_id());
  e.reward_id = to_string(record.reward_id());
  e.at = record.at();
  e.code = to_string(record.code());
  e.stock_granted = record.stock_granted();
  return e;
}

Offset<fb::CouponUseEventRecord> encode_coupon_use(FlatBufferBuilder& builder,
                                                   const CouponUseEvent& e) {
  const auto use_id = optional_string(builder, e.use_id);
  const auto code = optional_string(builder, e.code);
  const auto member_id = optional_string(builder, e.member_id);
  const auto store_id = optional_string(builder, e.store_id);
  const auto event_id = optional_string(builder, e.event_id);
  fb::CouponUseEventRecordBuilder record(builder);
  record.add_use_id(use_id);
  record.add_code(code);
  record.add_member_id(member_id);
  record.add_store_id(store_id);
  record.add_event_id(event_id);
  record.add_at(e.at);
  return record.Finish();
}

CouponUseEvent decode_coupon_use(const fb::CouponUseEventRecord& record) {
  CouponUseEvent e;
  e.use_id = to_string(record.use_id());
  e.code = to_string(record.code());
  e.member_id = to_string(record.member_id());
  e.store_id = to_string(record.store_id());
  e.event_id = to_string(record.event_id());
  e.at = record.at();
  return e;
}

Offset<fb::CouponCancelEventRecord> encode_coupon_cancel(FlatBufferBuilder& builder,
                                                         const CouponCancelEvent& e) {
  const auto code = optional_string(builder, e.code);
  const auto member_id = optional_string(builder, e.member_id);
  fb::CouponCancelEventRecordBuilder record(builder);
  record.add_code(code);
  record.add_member_id(member_id);
  record.add_at(e.at);
  return record.Finish();
}

CouponCancelEvent decode_coupon_cancel(const fb::CouponCancelEventRecord& record) {
  return CouponCancelEvent{to_string(record.code()), to_string(record.member_id()), record.at()};
}

Offset<fb::MemberUpdateEventRecord> encode_member_update(FlatBufferBuilder& builder,
                                                         const MemberUpdateEvent& e) {
  const auto update_id = optional_string(builder, e.update_id);
  const auto member_id = optional_string(builder, e.member_id);
  const auto phone = optional_string(builder, e.phone.value_or(""));
  const auto card_no = optional_string(builder, e.card_no.value_or(""));
  const auto profile = optional_string(builder, e.profile_json.value_or(""));
  const auto changed_by = optional_string(builder, e.changed_by);
  const auto reason = optional_string(builder, e.reason);
  fb::MemberUpdateEventRecordBuilder record(builder);
  record.add_update_id(update_id);
  record.add_member_id(member_id);
  record.add_has_phone(e.phone.has_value());
  record.add_phone(phone);
  record.add_has_card_no(e.card_no.has_value());
  record.add_card_no(card_no);
  record.add_has_profile(e.profile_json.has_value());
  record.add_profile_json(profile);
  record.add_blocked(static_cast<uint8_t>(e.blocked ? (*e.blocked ? 2 : 1) : 0));
  record.add_changed_by(changed_by);
  record.add_at(e.at);
  record.add_reason(reason);
  record.add_phone_grant(e.phone_grant);
  record.add_card_grant(e.card_grant);
  return record.Finish();
}

MemberUpdateEvent decode_member_update(const fb::MemberUpdateEventRecord& record) {
  MemberUpdateEvent e;
  e.update_id = to_string(record.update_id());
  e.member_id = to_string(record.member_id());
  if (record.has_phone()) e.phone = to_string(record.phone());
  if (record.has_card_no()) e.card_no = to_string(record.card_no());
  if (record.has_profile()) e.profile_json = to_string(record.profile_json());
  if (record.blocked() != 0) e.blocked = record.blocked() == 2;
  e.changed_by = to_string(record.changed_by());
  e.at = record.at();
  e.reason = to_string(record.reason());
  e.phone_grant = record.phone_grant();
  e.card_grant = record.card_grant();
  return e;
}

// The body's union type and offset.
std::pair<fb::StoredEventBody, Offset<void>> encode_body(FlatBufferBuilder& builder,
                                                         const EventBody& body) {
  using Body = fb::StoredEventBody;
  return std::visit(
      Overloaded{
          [&](const SignupEvent& e) {
            return std::pair{Body::SignupEventRecord, encode_signup(builder, e).Union()};
          },
          [&](const PurchaseEvent& e) {
            return std::pair{Body::PurchaseEventRecord, encode_purchase(builder, e).Union()};
          },
          [&](const RefundEvent& e) {
            return std::pair{Body::RefundEventRecord, encode_refund(builder, e).Union()};
          },
          [&](const RedemptionEvent& e) {
            return std::pair{Body::RedemptionEventRecord, encode_redemption(builder, e).Union()};
          },
          [&](const HoldEvent& e) {
            return std::pair{Body::HoldEventRecord, encode_hold_event(builder, e).Union()};
          },
          [&](const HoldActionEvent& e) {
            return std::pair{Body::HoldActionEventRecord, encode_hold_action(builder, e).Union()};
          },
          [&](const AdjustmentEvent& e) {
            return std::pair{Body::AdjustmentEventRecord, encode_adjustment(builder, e).Union()};
          },
          [&](const ReferralFollowUp& e) {
            return std::pair{Body::ReferralFollowUpRecord, encode_follow_up(builder, e).Union()};
          },
          [&](const JobStepEvent& e) {
            return std::pair{Body::JobStepEventRecord, encode_job_step(builder, e).Union()};
          },
          [&](const RecalcAdjustmentEvent& e) {
            return std::pair{Body::RecalcAdjustmentEventRecord, encode_recalc(builder, e).Union()};
          },
          [&](const RewardRedeemEvent& e) {
            return std::pair{Body::RewardRedeemEventRecord,
                             encode_reward_redeem(builder, e).Union()};
          },
          [&](const CouponUseEvent& e) {
            return std::pair{Body::CouponUseEventRecord, encode_coupon_use(builder, e).Union()};
          },
          [&](const MemberUpdateEvent& e) {
            return std::pair{Body::MemberUpdateEventRecord,
                             encode_member_update(builder, e).Union()};
          },
          [&](const CouponCancelEvent& e) {
            return std::pair{Body::CouponCancelEventRecord,
                             encode_coupon_cancel(builder, e).Union()};
          },
      },
      body);
}

// The body of a verified event record; nullopt when there is none or its type is unknown.
std::optional<EventBody> decode_body(const fb::EventRecord& record) {
  using Body = fb::StoredEventBody;
  if (record.event() == nullptr) return std::nullopt;  // a type without its table
  switch (record.event_type()) {
    case Body::SignupEventRecord:
      return decode_signup(*record.event_as_SignupEventRecord());
    case Body::PurchaseEventRecord: {
      std::optional<PurchaseEvent> purchase =
          decode_purchase_event(*record.event_as_PurchaseEventRecord());
      if (!purchase) return std::nullopt;
      return std::move(*purchase);
    }
    case Body::RefundEventRecord:
      return decode_refund(*record.event_as_RefundEventRecord());
    case Body::RedemptionEventRecord:
      return decode_redemption(*record.event_as_RedemptionEventRecord());
    case Body::HoldEventRecord:
      return decode_hold_event(*record.event_as_HoldEventRecord());
    case Body::HoldActionEventRecord:
      return decode_hold_action(*record.event_as_HoldActionEventRecord());
    case Body::AdjustmentEventRecord:
      return decode_adjustment(*record.event_as_AdjustmentEventRecord());
    case Body::ReferralFollowUpRecord:
      return decode_follow_up(*record.event_as_ReferralFollowUpRecord());
    case Body::JobStepEventRecord:
      return decode_job_step(*record.event_as_JobStepEventRecord());
    case Body::RecalcAdjustmentEventRecord:
      return decode_recalc(*record.event_as_RecalcAdjustmentEventRecord());
    case Body::RewardRedeemEventRecord:
      return decode_reward_redeem(*record.event_as_RewardRedeemEventRecord());
    case Body::CouponUseEventRecord:
      return decode_coupon_use(*record.event_as_CouponUseEventRecord());
    case Body::CouponCancelEventRecord:
      return decode_coupon_cancel(*record.event_as_CouponCancelEventRecord());
    case Body::MemberUpdateEventRecord:
      return decode_member_update(*record.event_as_MemberUpdateEventRecord());
    default:
      return std::nullopt;  // NONE, or a body type this build does not know
  }
}

// Whether an event of `kind` can have `body`: a stored kind that contradicts its body is
// corruption, not something to apply.
bool kind_fits_body(EventType kind, const EventBody& body) {
  switch (kind) {
    case EventType::signup:
      return std::holds_alternative<SignupEvent>(body);
    case EventType::purchase:
      return std::holds_alternative<PurchaseEvent>(body);
    case EventType::refund:
      return std::holds_alternative<RefundEvent>(body);
    case EventType::redemption:
      return std::holds_alternative<RedemptionEvent>(body);
    case EventType::hold:
      return std::holds_alternative<HoldEvent>(body);
    case EventType::hold_capture:
    case EventType::hold_void:
      return std::holds_alternative<HoldActionEvent>(body);
    case EventType::adjustment:
      return std::holds_alternative<AdjustmentEvent>(body);
    case EventType::referral_reward:
    case EventType::referral_reversal:
      return std::holds_alternative<ReferralFollowUp>(body);
    case EventType::expire_points:
    case EventType::evaluate_tier:
      return std::holds_alternative<JobStepEvent>(body);
    case EventType::recalc_adjustment:
      return std::holds_alternative<RecalcAdjustmentEvent>(body);
    case EventType::reward_redeem:
      return std::holds_alternative<RewardRedeemEvent>(body);
    case EventType::coupon_use:
      return std::holds_alternative<CouponUseEvent>(body);
    case EventType::coupon_cancel:
      return std::holds_alternative<CouponCancelEvent>(body);
    case EventType::member_update:
    case EventType::member_erase:
      return std::holds_alternative<MemberUpdateEvent>(body);
  }
  return false;  // a number no EventType has
}

// The id an event's ledger entries name unless they say otherwise (the first entry of a
// layout-6 event record stores no reference when it is this one). Empty for the kinds whose
// entries each name something of their own (job steps, recalculations).
std::string_view event_reference(const EventBody& body) {
  return std::visit(
      Overloaded{
          [](const SignupEvent& e) -> std::string_view { return e.member_id; },
          [](const PurchaseEvent& e) -> std::string_view { return e.event_id; },
          [](const RefundEvent& e) -> std::string_view { return e.event_id; },
          [](const RedemptionEvent& e) -> std::string_view { return e.redemption_id; },
          [](const HoldEvent& e) -> std::string_view { return e.hold_id; },
          [](const HoldActionEvent& e) -> std::string_view { return e.hold_id; },
          [](const AdjustmentEvent& e) -> std::string_view { return e.adjustment_id; },
          [](const ReferralFollowUp& e) -> std::string_view { return e.id; },
          [](const JobStepEvent&) -> std::string_view { return {}; },
          [](const RecalcAdjustmentEvent&) -> std::string_view { return {}; },
          [](const RewardRedeemEvent& e) -> std::string_view { return e.redemption_id; },
          [](const CouponUseEvent& e) -> std::string_view { return e.use_id; },
          [](const CouponCancelEvent& e) -> std::string_view { return e.code; },
          [](const MemberUpdateEvent& e) -> std::string_view { return e.update_id; },
      },
      body);
}

Status decode_event_record(std::string_view bytes, Event& out, uint32_t& program_version,
                           uint64_t* log_sequence = nullptr) {
  const AlignedBytes aligned(bytes);
  const auto* record = verified_root<fb::EventRecord>(aligned);
  if (record == nullptr) return corruption("event");
  std::optional<EventBody> body = decode_body(*record);
  if (!body) return corruption("event");
  const uint8_t kind = record->kind();
  if (kind == 0) {
    // Written before kinds were stored: only the two bodies of that time, whose kind is unique.
    if (!std::holds_alternative<SignupEvent>(*body) &&
        !std::holds_alternative<PurchaseEvent>(*body)) {
      return corruption("event");
    }
    out = Event(std::move(*body));
  } else {
    if (!kind_fits_body(static_cast<EventType>(kind), *body)) return corruption("event");
    out = Event(static_cast<EventType>(kind), std::move(*body));
  }
  program_version = record->program_version();
  if (log_sequence != nullptr) *log_sequence = record->log_sequence();
  return Status::ok_status();
}

// What expiry_schedule makes: complete (every date) or the earliest kExpiryScheduleDates,
// complete through the last of them.
bool schedule_consistent(size_t dates, TimeMs last, TimeMs complete_through) {
  return complete_through == kTimeNever ||
         (dates == kExpiryScheduleDates && complete_through == last);
}

// `with_id`: inside a member record, where no key holds the lot_id.
Offset<fb::LotRecord> encode_lot(FlatBufferBuilder& builder, const Lot& lot, bool with_id) {
  const auto reference = optional_string(builder, lot.reference);
  fb::LotRecordBuilder record(builder);
  if (with_id) record.add_lot_id(lot.lot_id);
  record.add_reference(reference);
  record.add_earned_at(lot.earned_at);
  record.add_available_at(lot.available_at);
  record.add_expires_at(lot.expires_at);
  record.add_points_initial(lot.points_initial);
  record.add_points_remaining(lot.points_remaining);
  record.add_points_held(lot.points_held);
  record.add_pending(lot.pending);
  return record.Finish();
}

void decode_lot_record(const fb::LotRecord& record, uint64_t lot_id, Lot& out) {
  out.lot_id = lot_id;
  out.reference = to_string(record.reference());
  out.earned_at = record.earned_at();
  out.available_at = record.available_at();
  out.expires_at = record.expires_at();
  out.points_initial = record.points_initial();
  out.points_remaining = record.points_remaining();
  out.points_held = record.points_held();
  out.pending = record.pending();
}

}  // namespace

bool lots_inline(const MemberState& member) { return member.next_lot_id <= kInlineLotsMax + 1; }

std::string_view RecordEncoder::bytes() const {
  return {reinterpret_cast<const char*>(builder_.GetBufferPointer()), builder_.GetSize()};
}

std::string_view RecordEncoder::member(const MemberState& m, uint64_t history_head) {
  builder_.Clear();
  const auto phone = optional_string(builder_, m.phone);
  const auto card_no = optional_string(builder_, m.card_no);
  const auto profile_json = optional_string(builder_, m.profile_json);
  const auto referral_code = optional_string(builder_, m.referral_code);
  const auto referred_by = optional_string(builder_, m.referred_by);
  std::vector<fb::MonthActivityRecord> months;
  months.reserve(m.activity.size());
  for (const MonthActivity& month : m.activity) {
    months.emplace_back(month.month, month.spend_minor, month.base_points, month.purchases);
  }
  const auto activity = months.empty() ? 0 : builder_.CreateVectorOfStructs(months);
  const auto holds = table_vector<fb::HoldRecord>(
      builder_, m.holds, [this](const Hold& hold) { return encode_hold(builder_, hold, true); });
  const auto referee_reward_trigger = optional_string(builder_, m.referee_reward_trigger);
  const auto referral_rewards = table_vector<fb::ReferralRewardRecord>(
      builder_, m.referral_rewards, [this](const ReferralReward& reward) {
        const auto referee_id = optional_string(builder_, reward.referee_id);
        const auto trigger_event_id = optional_string(builder_, reward.trigger_event_id);
        fb::ReferralRewardRecordBuilder record(builder_);
        record.add_referee_id(referee_id);
        record.add_trigger_event_id(trigger_event_id);
        record.add_points(reward.points);
        record.add_rewarded_at(reward.rewarded_at);
        record.add_reversed(reward.reversed);
        return record.Finish();
      });
  Offset<flatbuffers::Vector<Offset<fb::LotRecord>>> lots = 0;
  if (lots_inline(m)) {
    std::vector<Offset<fb::LotRecord>>& offsets = lot_offsets_;
    offsets.clear();
    uint64_t previous_id = 0;
    for (const Lot& lot : m.lots) {
      // A lot that ran out in this batch is no longer the member's (the runtime drops it after
      // the commit). What decode_member requires, checked before it is written: ascending ids
      // below next_lot_id, at most kInlineLotsMax.
      if (lot.points_remaining == 0) continue;
      LOYALTY_CHECK(lot.lot_id > previous_id && lot.lot_id < m.next_lot_id);
      previous_id = lot.lot_id;
      offsets.push_back(encode_lot(builder_, lot, true));
    }
    LOYALTY_CHECK(offsets.size() <= kInlineLotsMax);
    if (!offsets.empty()) lots = builder_.CreateVector(offsets);
  }
  // A member whose lots are apart carries their expiry schedule, for views (one pass over its
  // lots per batch that writes it, instead of one per view).
  Offset<flatbuffers::Vector<const fb::ExpiringPointsRecord*>> schedule = 0;
  TimeMs complete_through = kTimeNever;
  if (!lots_inline(m)) {
    const ExpirySchedule computed = expiry_schedule(m);
    LOYALTY_CHECK(schedule_consistent(computed.dates.size(),
                                      computed.dates.empty() ? 0 : computed.dates.back().expires_at,
                                      computed.complete_through));
    thread_local std::vector<fb::ExpiringPointsRecord> dates;
    dates.clear();
    for (const ExpiringPoints& date : computed.dates) {
      dates.emplace_back(date.expires_at, date.points);
    }
    schedule = builder_.CreateVectorOfStructs(dates);  // present even when empty: it is known
    complete_through = computed.complete_through;
  }
  const auto coupons = encode_coupons(builder_, m.coupons);
  const auto reward_limits = table_vector<fb::RewardLimitUseRecord>(
      builder_, m.reward_limits, [this](const RewardLimitUse& use) {
        const auto reward_id = optional_string(builder_, use.reward_id);
        fb::RewardLimitUseRecordBuilder record(builder_);
        record.add_reward_id(reward_id);
        record.add_period(static_cast<uint8_t>(use.period));
        record.add_period_index(use.period_index);
        record.add_used(use.used);
        return record.Finish();
      });
  const fb::BalanceRecord balance = to_record(m.balance);
  fb::MemberRecordBuilder record(builder_);
  record.add_joined_at(m.joined_at);
  record.add_phone(phone);
  record.add_card_no(card_no);
  record.add_profile_json(profile_json);
  record.add_referral_code(referral_code);
  record.add_referred_by(referred_by);
  record.add_signup_fingerprint(m.signup_fingerprint);
  record.add_blocked(m.blocked);
  record.add_erased_at(m.erased_at);
  record.add_phone_grant(m.phone_grant);
  record.add_card_grant(m.card_grant);
  if (m.last_purchase_day) record.add_last_purchase_day(*m.last_purchase_day);
  record.add_tier_index(m.tier_index);
  record.add_tier_since(m.tier_since);
  if (m.balance != Balance{}) record.add_balance(&balance);
  record.add_lifetime_points(m.lifetime_points);
  record.add_purchase_count(m.purchase_count);
  record.add_history_head(history_head);
  record.add_lots(lots);
  record.add_expiry_schedule(schedule);
  record.add_expiry_complete_through(complete_through);
  record.add_program_version(m.program_version);
  record.add_next_ledger_seq(m.next_ledger_seq);
  record.add_next_lot_id(m.next_lot_id);
  record.add_next_notification_seq(m.next_notification_seq);
  record.add_activity(activity);
  record.add_debt(m.debt);
  record.add_holds(holds);
  record.add_referee_reward_trigger(referee_reward_trigger);
  record.add_referee_reward_points(m.referee_reward_points);
  record.add_referral_rewards(referral_rewards);
  record.add_coupons(coupons);
  record.add_reward_limits(reward_limits);
  builder_.Finish(record.Finish());
  return bytes();
}

std::string_view RecordEncoder::lot(const Lot& lot) {
  builder_.Clear();
  builder_.Finish(encode_lot(builder_, lot, false));
  return bytes();
}

namespace {

// The feed's notification types, numbered from 1 in stored records: append only, never
// reorder. A type not listed is stored as text.
constexpr std::array<std::string_view, 13> kFeedNoteTypes = {
    "points.earned",     "points.redeemed", "points.reversed", "points.expired", "hold.expired",
    "referral.rewarded", "tier.changed",    "reward.redeemed", "coupon.used",    "coupon.expired",
    "coupon.cancelled",  "coupon.restored", "member.updated"};

uint8_t feed_note_kind(std::string_view type) {
  for (size_t i = 0; i < kFeedNoteTypes.size(); ++i) {
    if (kFeedNoteTypes[i] == type) return static_cast<uint8_t>(i + 1);
  }
  return 0;
}

Offset<fb::PurchaseAnswerRecord> encode_purchase_answer(FlatBufferBuilder& builder,
                                                        const PurchaseAnswer& purchase) {
  const auto breakdown = table_vector<fb::BreakdownLineRecord>(
      builder, purchase.breakdown, [&builder](const BreakdownLine& line) {
        const auto rule = optional_string(builder, line.rule);
        fb::BreakdownLineRecordBuilder record(builder);
        record.add_rule(rule);
        record.add_points(line.points);
        return record.Finish();
      });
  const auto tier = optional_string(builder, purchase.tier);
  const fb::BalanceRecord balance = to_record(purchase.balance);
  fb::PurchaseAnswerRecordBuilder record(builder);
  record.add_points_earned(purchase.points_earned);
  record.add_points_redeemed(purchase.points_redeemed);
  record.add_breakdown(breakdown);
  if (purchase.balance != Balance{}) record.add_balance(&balance);
  record.add_tier(tier);
  record.add_tier_changed(purchase.tier_changed);
  return record.Finish();
}

PurchaseAnswer decode_purchase_answer(const fb::PurchaseAnswerRecord& stored) {
  PurchaseAnswer purchase;
  purchase.points_earned = stored.points_earned();
  purchase.points_redeemed = stored.points_redeemed();
  if (const auto* breakdown = stored.breakdown()) {
    purchase.breakdown.reserve(breakdown->size());
    for (const fb::BreakdownLineRecord* line : *breakdown) {
      purchase.breakdown.push_back(BreakdownLine{to_string(line->rule()), line->points()});
    }
  }
  purchase.balance = from_record(stored.balance());
  purchase.tier = to_string(stored.tier());
  purchase.tier_changed = stored.tier_changed();
  return purchase;
}

}  // namespace

std::string_view RecordEncoder::idempotency(const IdempotencyRecord& idempotency) {
  builder_.Clear();
  using Stored = fb::StoredAnswer;
  FlatBufferBuilder& builder = builder_;
  const auto [answer_type, answer] =
      std::visit(Overloaded{
                     [](const std::monostate&) {
                       return std::pair{Stored::NONE, Offset<void>(0)};
                     },
                     [&builder](const PurchaseAnswer& purchase) {
                       return std::pair{Stored::PurchaseAnswerRecord,
                                        encode_purchase_answer(builder, purchase).Union()};
                     },
                     [&builder](const RefundAnswer& refund) {
                       const fb::BalanceRecord balance = to_record(refund.balance);
                       fb::RefundAnswerRecordBuilder record(builder);
                       record.add_points_reversed(refund.points_reversed);
                       record.add_points_restored(refund.points_restored);
                       record.add_referral_reversed(refund.referral_reversed);
                       record.add_refunded_minor(refund.refunded_minor);
                       record.add_remaining_minor(refund.remaining_minor);
                       if (refund.balance != Balance{}) record.add_balance(&balance);
                       return std::pair{Stored::RefundAnswerRecord, record.Finish().Union()};
                     },
                     [&builder](const PointsAnswer& points) {
                       const fb::BalanceRecord balance = to_record(points.balance);
                       fb::PointsAnswerRecordBuilder record(builder);
                       record.add_points(points.points);
                       if (points.balance != Balance{}) record.add_balance(&balance);
                       return std::pair{Stored::PointsAnswerRecord, record.Finish().Union()};
                     },
                     [&builder](const HoldAnswer& hold) {
                       const auto hold_record = encode_hold(builder, hold.hold, true);
                       const fb::BalanceRecord balance = to_record(hold.balance);
                       fb::HoldAnswerRecordBuilder record(builder);
                       record.add_hold(hold_record);
                       if (hold.balance != Balance{}) record.add_balance(&balance);
                       return std::pair{Stored::HoldAnswerRecord, record.Finish().Union()};
                     },
                     [&builder](const JobStepAnswer& job) {
                       const auto tier = optional_string(builder, job.tier);
                       fb::JobStepAnswerRecordBuilder record(builder);
                       record.add_points_expired(job.points_expired);
                       record.add_tier_changed(job.tier_changed);
                       record.add_tier(tier);
                       return std::pair{Stored::JobStepAnswerRecord, record.Finish().Union()};
                     },
                     [&builder](const CouponAnswer& coupon) {
                       const auto coupon_record = encode_coupon(builder, coupon.coupon, true);
                       const fb::BalanceRecord balance = to_record(coupon.balance);
                       fb::CouponAnswerRecordBuilder record(builder);
                       record.add_coupon(coupon_record);
                       record.add_points(coupon.points);
                       if (coupon.balance != Balance{}) record.add_balance(&balance);
                       return std::pair{Stored::CouponAnswerRecord, record.Finish().Union()};
                     },
                 },
                 idempotency.answer);
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
  LOYALTY_CHECK(kind_fits_body(event.kind, event.body));
  builder_.Clear();
  const auto [body_type, body] = encode_body(builder_, event.body);
  fb::EventRecordBuilder record(builder_);
  record.add_program_version(program_version);
  record.add_event_type(body_type);
  record.add_event(body);
  record.add_kind(static_cast<uint8_t>(event.kind));
  builder_.Finish(record.Finish());
  return bytes();
}

Offset<flatbuffers::Vector<Offset<fb::EventNoteRecord>>> RecordEncoder::event_notes(
    const LedgerEntry& entry, std::span<const Notification> notifications) {
  if (notifications.empty()) return 0;
  std::vector<Offset<fb::EventNoteRecord>>& offsets = event_note_offsets_;
  offsets.clear();
  for (const Notification& note : notifications) {
    LOYALTY_CHECK(note.entry_seq == entry.seq);
    const uint8_t kind = feed_note_kind(note.type);
    const auto type = kind != 0 ? 0 : optional_string(builder_, note.type);
    // Absent means "the entry's": a different one is written even when empty.
    const auto reference =
        note.reference == entry.reference ? 0 : builder_.CreateString(note.reference);
    fb::EventNoteRecordBuilder record(builder_);
    record.add_kind(kind);
    record.add_type(type);
    if (note.points != entry.points) record.add_points(note.points);
    record.add_reference(reference);
    if (note.at != entry.at) record.add_at(note.at);
    offsets.push_back(record.Finish());
  }
  return builder_.CreateVector(offsets);
}

std::string_view RecordEncoder::logged_event(const LoggedEvent& logged, uint64_t member_prev) {
  const Event& event = *logged.event;
  LOYALTY_CHECK(kind_fits_body(event.kind, event.body));
  LOYALTY_CHECK(logged.member == nullptr || logged.member->member_id == event.member_id());
  builder_.Clear();
  const auto [body_type, body] = encode_body(builder_, event.body);
  // Entries in apply order, seqs consecutive; each notification follows one of them, in order.
  std::vector<Offset<fb::EventEntryRecord>>& entries = entry_offsets_;
  entries.clear();
  const std::string_view own_reference = event_reference(event.body);
  const std::span<const Notification> notes = logged.notifications;
  for (size_t i = 1; i < notes.size(); ++i) LOYALTY_CHECK(notes[i].seq == notes[i - 1].seq + 1);
  size_t note = 0;
  const LedgerEntry* previous = nullptr;
  for (const LedgerEntry& entry : logged.entries) {
    LOYALTY_CHECK(previous == nullptr || entry.seq == previous->seq + 1);
    const size_t first_note = note;
    while (note != notes.size() && notes[note].entry_seq == entry.seq) ++note;
    const auto notifications = event_notes(entry, notes.subspan(first_note, note - first_note));
    const std::string_view reference_before = previous ? previous->reference : own_reference;
    // Absent means "the one before": a different one is written even when empty.
    const auto reference =
        entry.reference == reference_before ? 0 : builder_.CreateString(entry.reference);
    const auto rule = optional_string(builder_, entry.rule);
    fb::EventEntryRecordBuilder record(builder_);
    record.add_entry_type(static_cast<uint8_t>(entry.type));
    record.add_points(entry.points);
    record.add_balance_after(entry.balance_after);
    record.add_rule(rule);
    if (previous == nullptr || entry.at != previous->at) record.add_at(entry.at);
    record.add_reference(reference);
    const uint32_t version_before = previous ? previous->program_version : logged.program_version;
    if (entry.program_version != version_before) record.add_program_version(entry.program_version);
    record.add_notifications(notifications);
    entries.push_back(record.Finish());
    previous = &entry;
  }
  LOYALTY_CHECK(note == notes.size());  // every notification follows an entry of its event
  const auto entry_vector = entries.empty() ? 0 : builder_.CreateVector(entries);
  fb::EventRecordBuilder record(builder_);
  record.add_program_version(logged.program_version);
  record.add_event_type(body_type);
  record.add_event(body);
  record.add_kind(static_cast<uint8_t>(event.kind));
  record.add_member_prev(member_prev);
  if (!logged.entries.empty()) record.add_first_entry_seq(logged.entries.front().seq);
  if (!notes.empty()) record.add_first_note_seq(notes.front().seq);
  record.add_entries(entry_vector);
  if (logged.log_sequence != 0) record.add_log_sequence(logged.log_sequence);
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

std::string_view RecordEncoder::purchase(const PurchaseRecord& purchase, uint64_t log_seq) {
  LOYALTY_CHECK(log_seq >= 1);
  builder_.Clear();
  FlatBufferBuilder& builder = builder_;
  std::vector<int64_t>& numbers = line_numbers_;
  AmountMinor order_total = 0;
  AmountMinor eligible_total = 0;
  bool eligible_is_amount = true;
  bool refunded = false;
  for (const PurchaseLineRecord& line : purchase.lines) {
    order_total += line.amount_minor;
    eligible_total += line.eligible_minor;
    eligible_is_amount = eligible_is_amount && line.eligible_minor == line.amount_minor;
    refunded = refunded || line.refunded_minor != 0;
  }
  Offset<flatbuffers::Vector<int64_t>> line_eligible = 0;
  if (!eligible_is_amount) {
    numbers.clear();
    for (const PurchaseLineRecord& line : purchase.lines) numbers.push_back(line.eligible_minor);
    line_eligible = builder.CreateVector(numbers);
  }
  Offset<flatbuffers::Vector<int64_t>> line_refunded = 0;
  if (refunded) {
    numbers.clear();
    for (const PurchaseLineRecord& line : purchase.lines) numbers.push_back(line.refunded_minor);
    line_refunded = builder.CreateVector(numbers);
  }
  const PurchaseAnswer& answer = purchase.answer;
  Offset<flatbuffers::Vector<Offset<flatbuffers::String>>> rules = 0;
  Offset<flatbuffers::Vector<int64_t>> rule_points = 0;
  if (!answer.breakdown.empty()) {
    std::vector<Offset<flatbuffers::String>>& rule_names = string_offsets_;
    rule_names.clear();
    numbers.clear();
    for (const BreakdownLine& line : answer.breakdown) {  // one line per rule: no repeats
      rule_names.push_back(builder.CreateString(line.rule.data(), line.rule.size()));
      numbers.push_back(line.points);
    }
    rules = builder.CreateVector(rule_names);
    rule_points = builder.CreateVector(numbers);
  }
  const auto tier = optional_string(builder, answer.tier);
  const fb::BalanceRecord balance = to_record(answer.balance);
  LOYALTY_CHECK(purchase.points_recalculated.value_or(0) >= 0);
  LOYALTY_CHECK(purchase.activity_month.value_or(0) >= 0 &&
                purchase.activity_month.value_or(0) <= std::numeric_limits<int32_t>::max());
  const auto coupons = encode_coupons(builder, purchase.coupons);
  fb::PurchaseStateRecordBuilder record(builder);
  record.add_event_log_seq(log_seq);
  record.add_request_fingerprint(purchase.request_fingerprint);
  record.add_lot_id(purchase.lot_id);
  record.add_points_earned(purchase.points_earned);
  record.add_base_points(purchase.base_points);
  record.add_activity_month(static_cast<int32_t>(purchase.activity_month.value_or(-1)));
  if (answer.balance != Balance{}) record.add_balance(&balance);
  record.add_breakdown_rules(rules);
  record.add_breakdown_points(rule_points);
  record.add_tier(tier);
  record.add_tier_changed(answer.tier_changed);
  record.add_points_redeemed(purchase.points_redeemed);
  if (answer.points_earned != purchase.points_earned) {
    record.add_answer_points_earned(answer.points_earned);
  }
  if (answer.points_redeemed != purchase.points_redeemed) {
    record.add_answer_points_redeemed(answer.points_redeemed);
  }
  record.add_line_eligible(line_eligible);
  if (purchase.order_total_minor != order_total) {
    record.add_order_total_minor(purchase.order_total_minor);
  }
  if (purchase.eligible_minor != eligible_total) record.add_eligible_minor(purchase.eligible_minor);
  record.add_refunded_minor(purchase.refunded_minor);
  record.add_refunded_eligible_minor(purchase.refunded_eligible_minor);
  record.add_points_reversed(purchase.points_reversed);
  record.add_points_restored(purchase.points_restored);
  record.add_line_refunded(line_refunded);
  record.add_referral_trigger(purchase.referral_trigger);
  record.add_referee_reward_points(purchase.referee_reward_points);
  record.add_referral_reversed(purchase.referral_reversed);
  record.add_points_adjusted(purchase.points_adjusted);
  record.add_points_recalculated(purchase.points_recalculated.value_or(-1));
  record.add_coupons(coupons);
  builder_.Finish(record.Finish());
  return bytes();
}

std::string_view RecordEncoder::hold(const std::string& member_id, const Hold& hold) {
  builder_.Clear();
  const auto hold_record = encode_hold(builder_, hold, false);
  const auto member = optional_string(builder_, member_id);
  fb::StoredHoldRecordBuilder record(builder_);
  record.add_member_id(member);
  record.add_hold(hold_record);
  builder_.Finish(record.Finish());
  return bytes();
}

std::string_view RecordEncoder::coupon(const std::string& member_id, const Coupon& coupon) {
  builder_.Clear();
  const auto coupon_record = encode_coupon(builder_, coupon, false);
  const auto member = optional_string(builder_, member_id);
  fb::StoredCouponRecordBuilder record(builder_);
  record.add_member_id(member);
  record.add_coupon(coupon_record);
  builder_.Finish(record.Finish());
  return bytes();
}

std::string_view RecordEncoder::referral_link(const ReferralLink& link) {
  builder_.Clear();
  fb::ReferralLinkRecordBuilder record(builder_);
  record.add_status(static_cast<uint8_t>(link.status));
  record.add_signed_up_at(link.signed_up_at);
  record.add_rewarded_at(link.rewarded_at);
  builder_.Finish(record.Finish());
  return bytes();
}

Status decode_member(std::string_view member_id, std::string_view bytes, MemberState& out,
                     std::optional<ExpirySchedule>* schedule) {
  const AlignedBytes aligned(bytes);
  const auto* record = verified_root<fb::MemberRecord>(aligned);
  // Sequences start at 1: a 0 would hand out seq 0, which keys and cursors reserve.
  if (record == nullptr || record->next_ledger_seq() == 0 || record->next_lot_id() == 0 ||
      record->next_notification_seq() == 0) {
    return corruption("member");
  }
  if (!structs_aligned(record->activity())) return corruption("member");
  out = MemberState{};
  out.member_id = std::string(member_id);
  out.joined_at = record->joined_at();
  out.phone = to_string(record->phone());
  out.card_no = to_string(record->card_no());
  out.profile_json = to_string(record->profile_json());
  out.referral_code = to_string(record->referral_code());
  out.referred_by = to_string(record->referred_by());
  out.signup_fingerprint = record->signup_fingerprint();
  out.blocked = record->blocked();
  out.erased_at = record->erased_at();
  out.phone_grant = record->phone_grant();
  out.card_grant = record->card_grant();
  if (const auto day = record->last_purchase_day(); day.has_value()) {
    out.last_purchase_day = day.value();
  }
  out.tier_index = record->tier_index();
  out.tier_since = record->tier_since();
  out.balance = from_record(record->balance());
  out.lifetime_points = record->lifetime_points();
  out.purchase_count = record->purchase_count();
  out.program_version = record->program_version();
  out.next_ledger_seq = record->next_ledger_seq();
  out.next_lot_id = record->next_lot_id();
  out.next_notification_seq = record->next_notification_seq();
  out.history_head.log_seq = record->history_head();
  if (const auto* activity = record->activity()) {
    out.activity.reserve(activity->size());
    for (const fb::MonthActivityRecord* month : *activity) {
      out.activity.push_back(MonthActivity{month->month(), month->spend_minor(),
                                           month->base_points(), month->purchases()});
    }
  }
  out.debt = record->debt();
  if (const auto* holds = record->holds()) {
    out.holds.reserve(holds->size());
    for (const fb::HoldRecord* stored : *holds) {
      Hold hold;
      if (!decode_hold_record(*stored, hold)) return corruption("member");
      out.holds.push_back(std::move(hold));
    }
  }
  out.referee_reward_trigger = to_string(record->referee_reward_trigger());
  out.referee_reward_points = record->referee_reward_points();
  if (const auto* rewards = record->referral_rewards()) {
    out.referral_rewards.reserve(rewards->size());
    for (const fb::ReferralRewardRecord* reward : *rewards) {
      out.referral_rewards.push_back(
          ReferralReward{to_string(reward->referee_id()), to_string(reward->trigger_event_id()),
                         reward->points(), reward->rewarded_at(), reward->reversed()});
    }
  }
  if (!decode_coupons(record->coupons(), out.coupons)) return corruption("member (coupons)");
  if (const auto* limits = record->reward_limits()) {
    out.reward_limits.reserve(limits->size());
    for (const fb::RewardLimitUseRecord* use : *limits) {
      if (use->period() > static_cast<uint8_t>(LimitPeriod::lifetime)) {
        return corruption("member (reward limits)");
      }
      out.reward_limits.push_back(RewardLimitUse{to_string(use->reward_id()),
                                                 static_cast<LimitPeriod>(use->period()),
                                                 use->period_index(), use->used()});
    }
  }
  if (const auto* lots = record->lots()) {
    // Only a member whose lots all live here has any here, open ones, by ascending lot_id.
    if (!lots_inline(out) || lots->size() > kInlineLotsMax) return corruption("member (lots)");
    out.lots.reserve(lots->size());
    for (const fb::LotRecord* stored : *lots) {
      if (stored->lot_id() == 0 || stored->lot_id() >= out.next_lot_id ||
          stored->points_remaining() == 0 ||
          (!out.lots.empty() && stored->lot_id() <= out.lots.back().lot_id)) {
        return corruption("member (lots)");
      }
      decode_lot_record(*stored, stored->lot_id(), out.lots.emplace_back());
    }
  }
  if (const auto* dates = record->expiry_schedule()) {
    if (!structs_aligned(dates) || dates->size() > kExpiryScheduleDates) {
      return corruption("member (expiry schedule)");
    }
    if (schedule != nullptr) {
      ExpirySchedule& read = schedule->emplace();
      for (const fb::ExpiringPointsRecord* date : *dates) {
        // Ascending dates with points: what expiry_schedule makes.
        if (date->points() <= 0 ||
            (!read.dates.empty() && date->expires_at() <= read.dates.back().expires_at)) {
          return corruption("member (expiry schedule)");
        }
        read.dates.push_back(ExpiringPoints{date->points(), date->expires_at()});
      }
      read.complete_through = record->expiry_complete_through();
      if (!schedule_consistent(read.dates.size(),
                               read.dates.empty() ? 0 : read.dates.back().expires_at,
                               read.complete_through)) {
        return corruption("member (expiry schedule)");
      }
    }
  }
  return Status::ok_status();
}

Status decode_lot(uint64_t lot_id, std::string_view bytes, Lot& out) {
  const AlignedBytes aligned(bytes);
  const auto* record = verified_root<fb::LotRecord>(aligned);
  if (record == nullptr) return corruption("lot");
  decode_lot_record(*record, lot_id, out);
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
      answer = decode_purchase_answer(*stored);
      break;
    }
    case fb::StoredAnswer::RefundAnswerRecord: {
      const auto* stored = record->answer_as_RefundAnswerRecord();
      if (stored == nullptr) return corruption("idempotency");
      answer = RefundAnswer{stored->points_reversed(),   stored->points_restored(),
                            stored->referral_reversed(), stored->refunded_minor(),
                            stored->remaining_minor(),   from_record(stored->balance())};
      break;
    }
    case fb::StoredAnswer::PointsAnswerRecord: {
      const auto* stored = record->answer_as_PointsAnswerRecord();
      if (stored == nullptr) return corruption("idempotency");
      answer = PointsAnswer{stored->points(), from_record(stored->balance())};
      break;
    }
    case fb::StoredAnswer::HoldAnswerRecord: {
      const auto* stored = record->answer_as_HoldAnswerRecord();
      if (stored == nullptr || stored->hold() == nullptr) return corruption("idempotency");
      HoldAnswer hold;
      if (!decode_hold_record(*stored->hold(), hold.hold)) return corruption("idempotency");
      hold.balance = from_record(stored->balance());
      answer = std::move(hold);
      break;
    }
    case fb::StoredAnswer::JobStepAnswerRecord: {
      const auto* stored = record->answer_as_JobStepAnswerRecord();
      if (stored == nullptr) return corruption("idempotency");
      answer = JobStepAnswer{stored->points_expired(), stored->tier_changed(),
                             to_string(stored->tier())};
      break;
    }
    case fb::StoredAnswer::CouponAnswerRecord: {
      const auto* stored = record->answer_as_CouponAnswerRecord();
      if (stored == nullptr || stored->coupon() == nullptr) return corruption("idempotency");
      CouponAnswer coupon;
      if (!decode_coupon_record(*stored->coupon(), coupon.coupon)) {
        return corruption("idempotency");
      }
      coupon.points = stored->points();
      coupon.balance = from_record(stored->balance());
      answer = std::move(coupon);
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

Status decode_event_history(std::string_view bytes, EventHistory& out) {
  out.entries.clear();
  out.notifications.clear();
  const AlignedBytes aligned(bytes);
  const auto* record = verified_root<fb::EventRecord>(aligned);
  if (record == nullptr) return corruption("event");
  std::optional<EventBody> body = decode_body(*record);
  if (!body) return corruption("event");
  out.member_id = std::visit([](const auto& e) { return e.member_id; }, *body);
  out.member_prev = record->member_prev();
  const std::string actor = event_actor(*body);
  const auto* entries = record->entries();
  if (entries == nullptr) return Status::ok_status();
  if (record->first_entry_seq() == 0) return corruption("event (entry seq)");
  out.entries.reserve(entries->size());
  uint64_t next_note = record->first_note_seq();
  for (const fb::EventEntryRecord* stored : *entries) {
    if (!valid_entry_type(stored->entry_type())) return corruption("event (entry type)");
    const LedgerEntry* before = out.entries.empty() ? nullptr : &out.entries.back();
    LedgerEntry entry;
    entry.seq = record->first_entry_seq() + out.entries.size();
    entry.type = static_cast<EntryType>(stored->entry_type());
    entry.points = stored->points();
    entry.balance_after = stored->balance_after();
    entry.rule = to_string(stored->rule());
    entry.actor = actor;
    if (stored->at()) {
      entry.at = *stored->at();
    } else if (before != nullptr) {
      entry.at = before->at;
    } else {
      return corruption("event (entry time)");
    }
    if (stored->reference() != nullptr) {
      entry.reference = to_string(stored->reference());
    } else {
      entry.reference = before ? before->reference : std::string(event_reference(*body));
    }
    entry.program_version = stored->program_version().value_or(before ? before->program_version
                                                                      : record->program_version());
    if (const auto* notes = stored->notifications()) {
      if (next_note == 0) return corruption("event (notification seq)");
      for (const fb::EventNoteRecord* note : *notes) {
        Notification& notification = out.notifications.emplace_back();
        notification.seq = next_note++;
        if (note->kind() == 0) {
          notification.type = to_string(note->type());
        } else if (note->kind() <= kFeedNoteTypes.size()) {
          notification.type = kFeedNoteTypes[note->kind() - 1];
        } else {
          return corruption("event (notification kind)");
        }
        notification.points = note->points().value_or(entry.points);
        notification.reference =
            note->reference() != nullptr ? to_string(note->reference()) : entry.reference;
        notification.at = note->at().value_or(entry.at);
        notification.entry_seq = entry.seq;
      }
    }
    out.entries.push_back(std::move(entry));
  }
  return Status::ok_status();
}

Status decode_event(uint64_t log_seq, std::string_view bytes, StoredEvent& out) {
  Event event;
  uint32_t program_version = 0;
  if (Status status = decode_event_record(bytes, event, program_version, &out.log_sequence);
      !status.ok()) {
    return status;
  }
  out.log_seq = log_seq;
  out.program_version = program_version;
  out.event = std::move(event);
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

namespace loyalty::storage {

Status purchase_log_seq(std::string_view bytes, uint64_t& log_seq) {
  const AlignedBytes aligned(bytes);
  const auto* record = verified_root<fb::PurchaseStateRecord>(aligned);
  if (record == nullptr || record->event_log_seq() == 0) return corruption("purchase");
  log_seq = record->event_log_seq();
  return Status::ok_status();
}

bool purchase_matches_event(const PurchaseRecord& purchase, const PurchaseEvent& event) {
  if (purchase.event_id != event.event_id || purchase.member_id != event.member_id ||
      purchase.store_id != event.store_id || purchase.occurred_at != event.occurred_at ||
      purchase.lines.size() != event.lines.size()) {
    return false;
  }
  for (size_t i = 0; i < event.lines.size(); ++i) {
    if (purchase.lines[i].sku != event.lines[i].sku ||
        purchase.lines[i].amount_minor != event.lines[i].amount_minor) {
      return false;
    }
  }
  return true;
}

Status decode_purchase(std::string_view event_id, std::string_view bytes, const StoredEvent& event,
                       PurchaseRecord& out) {
  const AlignedBytes aligned(bytes);
  const auto* record = verified_root<fb::PurchaseStateRecord>(aligned);
  if (record == nullptr) return corruption("purchase");
  const auto* purchase = std::get_if<PurchaseEvent>(&event.event.body);
  if (purchase == nullptr || record->event_log_seq() != event.log_seq ||
      purchase->event_id != event_id) {
    return corruption("purchase (its event)");
  }
  const size_t line_count = purchase->lines.size();
  const auto* eligible = record->line_eligible();
  const auto* refunded = record->line_refunded();
  const auto* rules = record->breakdown_rules();
  const auto* rule_points = record->breakdown_points();
  if ((eligible != nullptr && eligible->size() != line_count) ||
      (refunded != nullptr && refunded->size() != line_count) ||
      (rules == nullptr) != (rule_points == nullptr) ||
      (rules != nullptr && rules->size() != rule_points->size()) || !scalars_aligned(eligible) ||
      !scalars_aligned(refunded) || !scalars_aligned(rule_points) ||
      record->points_recalculated() < -1 || record->activity_month() < -1) {
    return corruption("purchase");
  }
  PurchaseRecord read;
  read.event_id = purchase->event_id;
  read.member_id = purchase->member_id;
  read.store_id = purchase->store_id;
  read.occurred_at = purchase->occurred_at;
  read.log_seq = event.log_seq;
  read.lines.resize(line_count);
  AmountMinor order_total = 0;
  AmountMinor eligible_total = 0;
  for (size_t i = 0; i < line_count; ++i) {
    const auto at = static_cast<flatbuffers::uoffset_t>(i);
    PurchaseLineRecord& line = read.lines[i];
    line.sku = purchase->lines[i].sku;
    line.amount_minor = purchase->lines[i].amount_minor;
    line.eligible_minor = eligible != nullptr ? eligible->Get(at) : line.amount_minor;
    line.refunded_minor = refunded != nullptr ? refunded->Get(at) : 0;
    order_total += line.amount_minor;
    eligible_total += line.eligible_minor;
  }
  read.order_total_minor = record->order_total_minor().value_or(order_total);
  read.eligible_minor = record->eligible_minor().value_or(eligible_total);
  read.lot_id = record->lot_id();
  read.points_earned = record->points_earned();
  read.base_points = record->base_points();
  if (record->activity_month() >= 0) read.activity_month = record->activity_month();
  read.points_redeemed = record->points_redeemed();
  read.refunded_minor = record->refunded_minor();
  read.refunded_eligible_minor = record->refunded_eligible_minor();
  read.points_reversed = record->points_reversed();
  read.points_restored = record->points_restored();
  read.referral_trigger = record->referral_trigger();
  read.referee_reward_points = record->referee_reward_points();
  read.referral_reversed = record->referral_reversed();
  read.points_adjusted = record->points_adjusted();
  if (record->points_recalculated() >= 0) read.points_recalculated = record->points_recalculated();
  if (!decode_coupons(record->coupons(), read.coupons)) return corruption("purchase (coupons)");
  PurchaseAnswer& answer = read.answer;
  answer.points_earned = record->answer_points_earned().value_or(read.points_earned);
  answer.points_redeemed = record->answer_points_redeemed().value_or(read.points_redeemed);
  if (rules != nullptr) {
    answer.breakdown.reserve(rules->size());
    for (flatbuffers::uoffset_t i = 0; i < rules->size(); ++i) {
      answer.breakdown.push_back(BreakdownLine{to_string(rules->Get(i)), rule_points->Get(i)});
    }
  }
  answer.balance = from_record(record->balance());
  answer.tier = to_string(record->tier());
  answer.tier_changed = record->tier_changed();
  read.request_fingerprint = record->request_fingerprint();
  out = std::move(read);
  return Status::ok_status();
}

Status decode_hold(std::string_view hold_id, std::string_view bytes, StoredHold& out) {
  const AlignedBytes aligned(bytes);
  const auto* record = verified_root<fb::StoredHoldRecord>(aligned);
  if (record == nullptr || record->hold() == nullptr || record->member_id() == nullptr) {
    return corruption("hold");
  }
  StoredHold hold;
  hold.member_id = to_string(record->member_id());
  if (!decode_hold_record(*record->hold(), hold.hold)) return corruption("hold");
  hold.hold.hold_id = std::string(hold_id);
  out = std::move(hold);
  return Status::ok_status();
}

Status decode_coupon(std::string_view code, std::string_view bytes, StoredCoupon& out) {
  const AlignedBytes aligned(bytes);
  const auto* record = verified_root<fb::StoredCouponRecord>(aligned);
  if (record == nullptr || record->coupon() == nullptr || record->member_id() == nullptr) {
    return corruption("coupon");
  }
  StoredCoupon coupon;
  coupon.member_id = to_string(record->member_id());
  if (!decode_coupon_record(*record->coupon(), coupon.coupon)) return corruption("coupon");
  coupon.coupon.code = std::string(code);
  out = std::move(coupon);
  return Status::ok_status();
}

Status decode_referral_link(std::string_view referrer_id, std::string_view referee_id,
                            std::string_view bytes, ReferralLink& out) {
  const AlignedBytes aligned(bytes);
  const auto* record = verified_root<fb::ReferralLinkRecord>(aligned);
  if (record == nullptr || !valid_referral_status(record->status())) {
    return corruption("referral link");
  }
  out.referrer_id = std::string(referrer_id);
  out.referee_id = std::string(referee_id);
  out.status = static_cast<ReferralStatus>(record->status());
  out.signed_up_at = record->signed_up_at();
  out.rewarded_at = record->rewarded_at();
  return Status::ok_status();
}

Status decode_outbox_event(std::string_view id, std::string_view bytes, Event& out) {
  Event event;
  uint32_t program_version = 0;
  if (Status status = decode_event_record(bytes, event, program_version); !status.ok()) {
    return status;
  }
  const auto* follow_up = std::get_if<ReferralFollowUp>(&event.body);
  if (follow_up == nullptr || follow_up->id != id) return corruption("outbox");
  out = std::move(event);
  return Status::ok_status();
}

Status decode_event_only(std::string_view bytes, Event& out, uint32_t& program_version) {
  return decode_event_record(bytes, out, program_version);
}

const std::string& follow_up_id(const Event& event) {
  const auto* follow_up = std::get_if<ReferralFollowUp>(&event.body);
  LOYALTY_CHECK(follow_up != nullptr && "only referral follow-ups go through the outbox");
  return follow_up->id;
}

}  // namespace loyalty::storage
