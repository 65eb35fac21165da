// Event accessors and the canonical fingerprint used for idempotency.
#include "engine/events.hpp"

#include "engine/check.hpp"

namespace loyalty {
namespace {

// FNV-1a, 64 bit, over length-prefixed fields: simple, stable across builds and platforms.
class Fingerprinter {
 public:
  void add(std::string_view text) {
    add(static_cast<uint64_t>(text.size()));
    for (char c : text) byte(static_cast<uint8_t>(c));
  }
  void add(uint64_t value) {
    for (int i = 0; i < 8; ++i) byte(static_cast<uint8_t>(value >> (8 * i)));
  }
  void add(int64_t value) { add(static_cast<uint64_t>(value)); }
  void add(bool value) { byte(value ? 1 : 0); }
  template <typename T>
  void add(const std::optional<T>& value) {
    add(value.has_value());
    if (value) add(static_cast<int64_t>(*value));
  }
  uint64_t digest() const { return state_; }

 private:
  void byte(uint8_t b) {
    state_ ^= b;
    state_ *= 0x100000001b3ULL;
  }
  uint64_t state_ = 0xcbf29ce484222325ULL;
};

template <typename... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
// Clang 14 (the fuzz build) lacks C++20's aggregate deduction: spell the guide out.
template <typename... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

EventType unique_kind_of(const EventBody& body) {
  return std::visit(
      Overloaded{
          [](const SignupEvent&) { return EventType::signup; },
          [](const PurchaseEvent&) { return EventType::purchase; },
          [](const RefundEvent&) { return EventType::refund; },
          [](const RedemptionEvent&) { return EventType::redemption; },
          [](const HoldEvent&) { return EventType::hold; },
          [](const AdjustmentEvent&) { return EventType::adjustment; },
          [](const RecalcAdjustmentEvent&) { return EventType::recalc_adjustment; },
          [](const RewardRedeemEvent&) { return EventType::reward_redeem; },
          [](const CouponUseEvent&) { return EventType::coupon_use; },
          [](const CouponCancelEvent&) { return EventType::coupon_cancel; },
          [](const MemberUpdateEvent&) { return EventType::member_update; },
          // These bodies serve two kinds each: Event(EventType, EventBody) must say which.
          [](const HoldActionEvent&) -> EventType { LOYALTY_CHECK(false && "kind needed"); },
          [](const ReferralFollowUp&) -> EventType { LOYALTY_CHECK(false && "kind needed"); },
          [](const JobStepEvent&) -> EventType { LOYALTY_CHECK(false && "kind needed"); },
      },
      body);
}

}  // namespace

Event::Event(EventBody b) : body(std::move(b)), kind(unique_kind_of(body)) {}

std::string event_actor(const EventBody& body) {
  if (const auto* adjustment = std::get_if<AdjustmentEvent>(&body)) return adjustment->made_by;
  if (const auto* change = std::get_if<MemberUpdateEvent>(&body)) return change->changed_by;
  if (const auto* step = std::get_if<JobStepEvent>(&body)) return "job " + step->job_id;
  if (const auto* correction = std::get_if<RecalcAdjustmentEvent>(&body)) {
    return "job " + correction->job_id;
  }
  return {};
}

const std::string& Event::member_id() const {
  return std::visit([](const auto& e) -> const std::string& { return e.member_id; }, body);
}

std::string Event::idempotency_key() const {
  switch (kind) {
    case EventType::signup:
      return "m:" + member_id();
    case EventType::purchase:
      return "e:" + std::get<PurchaseEvent>(body).event_id;
    case EventType::refund:
      return "e:" + std::get<RefundEvent>(body).event_id;
    case EventType::redemption:
      return "r:" + std::get<RedemptionEvent>(body).redemption_id;
    case EventType::hold:
      return "h:" + std::get<HoldEvent>(body).hold_id;
    case EventType::hold_capture:
      return "hc:" + std::get<HoldActionEvent>(body).hold_id;
    case EventType::hold_void:
      return "hv:" + std::get<HoldActionEvent>(body).hold_id;
    case EventType::adjustment:
      return "a:" + std::get<AdjustmentEvent>(body).adjustment_id;
    case EventType::referral_reward:
    case EventType::referral_reversal:
      return "f:" + std::get<ReferralFollowUp>(body).id;
    case EventType::expire_points:
      return "jx:" + std::get<JobStepEvent>(body).job_id + ":" + member_id();
    case EventType::evaluate_tier:
      return "jt:" + std::get<JobStepEvent>(body).job_id + ":" + member_id();
    case EventType::recalc_adjustment:
      // The adjustments' namespace: an operator's adjustment cannot take a recalc's id.
      return "a:" + std::get<RecalcAdjustmentEvent>(body).adjustment_id();
    case EventType::reward_redeem:
      return "rr:" + std::get<RewardRedeemEvent>(body).redemption_id;
    case EventType::coupon_use:
      return "cu:" + std::get<CouponUseEvent>(body).use_id;
    case EventType::coupon_cancel:
      // A coupon is cancelled once: a retry of the cancellation answers it again.
      return "cc:" + std::get<CouponCancelEvent>(body).code;
    case EventType::member_update:
      return "mu:" + std::get<MemberUpdateEvent>(body).update_id;
    case EventType::member_erase:
      // Erasing twice with one erasure_id is a replay (api.md).
      return "me:" + std::get<MemberUpdateEvent>(body).update_id;
  }
  LOYALTY_CHECK(false && "unknown event kind");
}

uint64_t fingerprint(const Event& event) {
  Fingerprinter f;
  f.add(static_cast<uint64_t>(event.type()));
  std::visit(
      Overloaded{
          [&f](const SignupEvent& e) {
            f.add(e.member_id);
            f.add(e.referral_code);
            f.add(e.joined_at);
            f.add(e.phone);
            f.add(e.card_no);
            f.add(e.profile_json);
          },
          [&f](const PurchaseEvent& e) {
            f.add(e.event_id);
            f.add(e.member_id);
            f.add(e.store_id);
            f.add(e.occurred_at);
            f.add(e.currency);
            f.add(static_cast<uint64_t>(e.lines.size()));
            for (const PurchaseLine& line : e.lines) {
              f.add(line.sku);
              f.add(line.category);
              f.add(line.quantity);
              f.add(line.amount_minor);
            }
            f.add(e.redeem_points);
            f.add(e.hold_id);
            // Absent from fingerprints of purchases before coupons: they stay as they were.
            if (!e.coupons.empty()) {
              f.add(static_cast<uint64_t>(e.coupons.size()));
              for (const std::string& code : e.coupons) f.add(code);
            }
          },
          [&f](const RefundEvent& e) {
            // member_id is resolved by the runtime, not sent: not part of the payload.
            f.add(e.event_id);
            f.add(e.original_event_id);
            f.add(e.occurred_at);
            f.add(e.amount_minor);
            f.add(static_cast<uint64_t>(e.lines.size()));
            for (const RefundLine& line : e.lines) {
              f.add(line.sku);
              f.add(line.amount_minor);
            }
          },
          [&f](const RedemptionEvent& e) {
            // `at` is stamped by the server: a retry without it is the same request.
            f.add(e.redemption_id);
            f.add(e.member_id);
            f.add(e.points);
            f.add(e.reward_id);
            f.add(e.note);
          },
          [&f](const HoldEvent& e) {
            f.add(e.hold_id);
            f.add(e.member_id);
            f.add(e.points);
            f.add(e.ttl_seconds);
          },
          [&f](const HoldActionEvent& e) { f.add(e.hold_id); },
          [&f](const AdjustmentEvent& e) {
            f.add(e.adjustment_id);
            f.add(e.member_id);
            f.add(e.points);
            f.add(e.reason);
          },
          [&f](const ReferralFollowUp& e) {
            f.add(e.id);
            f.add(e.member_id);
            f.add(e.referee_id);
            f.add(e.trigger_event_id);
          },
          [&f](const JobStepEvent& e) {
            f.add(e.job_id);
            f.add(e.member_id);
            f.add(e.as_of);
          },
          [&f](const RecalcAdjustmentEvent& e) {
            // `at` is stamped when applying: a re-run of the job is the same request.
            f.add(e.job_id);
            f.add(e.event_id);
            f.add(e.member_id);
            f.add(e.points);
            f.add(e.points_recalculated);
            f.add(e.expires_at);
            f.add(static_cast<uint64_t>(e.program_version));
          },
          [&f](const RewardRedeemEvent& e) {
            // `at`, `code` and `stock_granted` come from the server, not the client.
            f.add(e.redemption_id);
            f.add(e.member_id);
            f.add(e.reward_id);
          },
          [&f](const CouponUseEvent& e) {
            // The member is resolved from the code by the server.
            f.add(e.use_id);
            f.add(e.code);
            f.add(e.store_id);
            f.add(e.event_id);
          },
          [&f](const CouponCancelEvent& e) { f.add(e.code); },
          [&f](const MemberUpdateEvent& e) {
            // `update_id` and `at` come from the server.
            f.add(e.member_id);
            for (const std::optional<std::string>* text : {&e.phone, &e.card_no, &e.profile_json}) {
              f.add(text->has_value());
              if (*text) f.add(**text);
            }
            f.add(e.blocked.has_value());
            if (e.blocked) f.add(*e.blocked);
            f.add(e.changed_by);
            f.add(e.reason);
          },
      },
      event.body);
  return f.digest();
}

}  // namespace loyalty
