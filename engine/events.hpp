// Input events: what clients ask the engine to do. Each carries the client id that makes
// it idempotent. These are the records of the event log, replayed to rebuild state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "engine/time.hpp"
#include "engine/types.hpp"

namespace loyalty {

enum class EventType : uint8_t {
  signup = 1,
  purchase = 2,
  refund = 3,
  redemption = 4,
  hold = 5,
  hold_capture = 6,
  hold_void = 7,
  adjustment = 8,
  referral_reward = 9,     // a follow-up, delivered to the referrer's partition
  referral_reversal = 10,  // a follow-up: the referrer's reward clawed back
  expire_points = 11,      // the expiry job, per member, with an explicit as_of
  evaluate_tier = 12,      // the tier evaluation job, per member, with an explicit as_of
  recalc_adjustment = 13,  // a recalculation's correction of one purchase (ops/recalculation)
  reward_redeem = 14,      // a catalog reward bought with points: issues a coupon
  coupon_use = 15,         // a POS accepts a coupon on its own (purchases may name coupons too)
  coupon_cancel = 16,      // an active coupon given back: its points, stock and limit unit return
  member_update = 17,      // customer service changes a member's phone, card, profile or block
  member_erase = 18,       // the right to erasure: phone, card and profile go (a MemberUpdateEvent)
};

struct SignupEvent {
  std::string member_id;
  std::string referral_code;        // empty: none
  std::optional<TimeMs> joined_at;  // absent in the request: the runtime stamps the clock
  std::string phone;                // empty: none
  std::string card_no;              // empty: none
  std::string profile_json;         // free-form JSON object kept for the app, "" when absent

  // Filled by the runtime before the event is logged (not part of the fingerprint), so a
  // replay of the log reproduces them without consulting other members.
  std::string assigned_referral_code;
  std::string referrer_member_id;    // the owner of referral_code
  uint64_t request_fingerprint = 0;  // fingerprint() of the request as the client sent it
  // Cluster mode: the grants of the phone's and the card's claims (ClaimAsk; 0: none, or
  // single mode), kept with the member so that a change can give up exactly that grant.
  uint64_t phone_grant = 0;
  uint64_t card_grant = 0;
};

struct PurchaseLine {
  std::string sku;
  std::string category;
  int64_t quantity = 1;
  AmountMinor amount_minor = 0;  // the line's total, not a unit price
};

struct PurchaseEvent {
  std::string event_id;
  std::string member_id;
  std::string store_id;
  TimeMs occurred_at = 0;
  std::string currency;
  std::vector<PurchaseLine> lines;
  Points redeem_points = 0;
  std::string hold_id;               // empty: none
  std::vector<std::string> coupons;  // codes (normalised) used in this sale, all or none
};

struct RefundLine {
  std::string sku;
  AmountMinor amount_minor = 0;  // how much of that SKU's original amount is refunded
};

// A refund of an earlier purchase, by amount (taken pro rata over its lines) or by lines.
struct RefundEvent {
  std::string event_id;
  std::string original_event_id;
  std::string member_id;  // resolved by the runtime from the original purchase
  TimeMs occurred_at = 0;
  std::optional<AmountMinor> amount_minor;  // exactly one of amount_minor / lines
  std::vector<RefundLine> lines;
};

struct RedemptionEvent {
  std::string redemption_id;
  std::string member_id;
  Points points = 0;
  std::string reward_id;  // empty: none
  std::string note;
  TimeMs at = 0;  // stamped by the runtime when 0
};

struct HoldEvent {
  std::string hold_id;
  std::string member_id;
  Points points = 0;
  std::optional<uint32_t> ttl_seconds;  // absent: the program's hold_ttl_seconds
  TimeMs at = 0;                        // stamped by the runtime when 0
};

// A reward of the catalog bought with points (domain.md "Rewards, coupons and the points mall").
struct RewardRedeemEvent {
  std::string redemption_id;
  std::string member_id;
  std::string reward_id;
  TimeMs at = 0;  // stamped by the runtime when 0
  // Filled by the runtime before the event is logged (not part of the fingerprint), so a
  // replay decides it alike: the coupon's code (drawn from a CSPRNG, free program-wide), and
  // whether a unit of the reward's stock was reserved for it.
  std::string code;
  bool stock_granted = false;
};

// A coupon accepted by a POS (`use_id` is the client id), or cancelled (by its code). The
// runtime resolves the member from the code.
struct CouponUseEvent {
  std::string use_id;
  std::string code;  // normalised: upper case, no separators
  std::string member_id;
  std::string store_id;
  std::string event_id;  // optional: the sale it was used in
  TimeMs at = 0;         // stamped by the runtime when 0
};

struct CouponCancelEvent {
  std::string code;
  std::string member_id;
  TimeMs at = 0;  // stamped by the runtime when 0
};

// PATCH /v1/members/{member_id}: what is given changes (an empty phone or card removes it; an
// empty profile clears it). `update_id` is drawn by the runtime; `changed_by` names the API key.
// The same body, as EventType::member_erase, is an erasure (POST /v1/members/{id}:erase):
// `update_id` is the client's erasure_id, `reason` says why, and nothing else is given.
// An erasure also blanks phone, card and profile in the member's earlier events in the log
// (storage/erasure.hpp), keeping which were given: replay writes the same audit entries.
struct MemberUpdateEvent {
  std::string update_id;
  std::string member_id;
  std::optional<std::string> phone;
  std::optional<std::string> card_no;
  std::optional<std::string> profile_json;
  std::optional<bool> blocked;
  std::string changed_by;
  std::string reason;  // why (required for erasures, optional for changes)
  TimeMs at = 0;       // stamped by the runtime when 0
  // Cluster mode: the grants of the new phone's and card's claims, filled before the change is
  // logged (not part of the fingerprint), as SignupEvent's are.
  uint64_t phone_grant = 0;
  uint64_t card_grant = 0;
};

// Capture or void of a hold, by hold_id; the runtime resolves the member.
struct HoldActionEvent {
  std::string hold_id;
  std::string member_id;
  TimeMs at = 0;  // stamped by the runtime when 0
};

struct AdjustmentEvent {
  std::string adjustment_id;
  std::string member_id;
  Points points = 0;  // positive credits a new lot, negative takes points (may create debt)
  std::string reason;
  TimeMs at = 0;          // stamped by the runtime when 0
  std::string made_by{};  // the API key that asked for it ("" from tools); not in the fingerprint
};

// A follow-up written in the same commit as the purchase (or refund) that triggered it and
// delivered to the referrer's partition exactly once. `id` is derived from the trigger.
struct ReferralFollowUp {
  std::string id;         // "referral:<trigger event id>" or "referral-reversal:<…>"
  std::string member_id;  // the referrer
  std::string referee_id;
  std::string trigger_event_id;  // the referee's qualifying purchase
  TimeMs at = 0;                 // the trigger's time
};

// A job step for one member: expire lots past their date, or evaluate the tier, as of `as_of`.
struct JobStepEvent {
  std::string job_id;
  std::string member_id;
  TimeMs as_of = 0;
};

// A recalculation's correction of one purchase: `points` (non-zero) added to or taken from
// what the purchase earned, written as an `adjust` entry with id recalc:<job_id>:<event_id>.
// It belongs to the purchase: added points expire with the purchase's lot (`expires_at` when
// that lot is gone), taken points come from that lot first.
struct RecalcAdjustmentEvent {
  std::string job_id;
  std::string event_id;  // the purchase corrected
  std::string member_id;
  Points points = 0;               // the change: new figure − what the purchase gives now
  Points points_recalculated = 0;  // what it earns under the new rules, before refunds
  TimeMs expires_at = kTimeNever;  // for added points when the purchase's lot is gone
  uint32_t program_version = 0;    // the stored version whose rules gave the new figure
  TimeMs at = 0;                   // stamped by the runtime when 0

  std::string adjustment_id() const { return "recalc:" + job_id + ":" + event_id; }
};

using EventBody = std::variant<SignupEvent, PurchaseEvent, RefundEvent, RedemptionEvent, HoldEvent,
                               HoldActionEvent, AdjustmentEvent, ReferralFollowUp, JobStepEvent,
                               RecalcAdjustmentEvent, RewardRedeemEvent, CouponUseEvent,
                               CouponCancelEvent, MemberUpdateEvent>;

struct Event {
  EventBody body;
  // Which of capture / void a HoldActionEvent is, reward / reversal a ReferralFollowUp, and
  // expire / evaluate a JobStepEvent: the body type alone does not say.
  EventType kind = EventType::signup;

  Event() = default;
  Event(EventBody b);  // NOLINT: implicit, the body type implies the kind where it is unique
  Event(EventType k, EventBody b) : body(std::move(b)), kind(k) {}

  EventType type() const { return kind; }
  const std::string& member_id() const;
  // The idempotency key: a kind prefix plus the client id, so ids of different kinds
  // never collide.
  std::string idempotency_key() const;
};

// Who made the ledger entries of an event, for the audit (api.md LedgerEntry.actor): the API
// key of an operator's adjustment or change of a member, "job <id>" for a job's steps and a
// recalculation's corrections; "" for what members and tills do (the entry's reference names
// their event).
std::string event_actor(const EventBody& body);

// A 64-bit digest of the event's canonical content, used to tell an identical retry
// (same digest) from a different payload under the same id (idempotency conflict).
uint64_t fingerprint(const Event& event);

}  // namespace loyalty
