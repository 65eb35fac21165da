// The engine's pure core: apply(program, member state, event) → new state, ledger entries,
// notifications and the answer for the client. Staged as validate (no state) → check
// (state read only) → produce (cannot fail), so a refused event changes nothing.
// Thread-safety: free functions over caller-owned data; no shared state.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "engine/earning.hpp"
#include "engine/events.hpp"
#include "engine/ledger.hpp"
#include "engine/member_state.hpp"
#include "engine/outcome.hpp"
#include "engine/program.hpp"
#include "engine/purchase_record.hpp"
#include "engine/stats.hpp"

namespace loyalty {

// A change pushed to subscribers of the member's feed once it is durable.
struct Notification {
  uint64_t seq = 0;  // per member, grows by one
  std::string type;  // "points.earned", …
  Points points = 0;
  std::string reference;
  TimeMs at = 0;
  // The ledger entry it is stored with: the newest entry of the member when it was made.
  // Every notification follows an entry of its own event, so the feed needs no records of its
  // own (storage keeps it inside the ledger).
  uint64_t entry_seq = 0;
  friend bool operator==(const Notification&, const Notification&) = default;
};

struct RefundAnswer {
  Points points_reversed = 0;    // taken back (proportional, exact on the completing refund)
  Points points_restored = 0;    // points that had paid for the refunded part, given back
  Points referral_reversed = 0;  // the referee's first-purchase reward, clawed back
  AmountMinor refunded_minor = 0;
  AmountMinor remaining_minor = 0;  // still refundable
  Balance balance;
  friend bool operator==(const RefundAnswer&, const RefundAnswer&) = default;
};

// Redemptions, adjustments and hold actions answer with the points moved and the balance.
struct PointsAnswer {
  Points points = 0;
  Balance balance;
  friend bool operator==(const PointsAnswer&, const PointsAnswer&) = default;
};

struct HoldAnswer {
  Hold hold;
  Balance balance;
  friend bool operator==(const HoldAnswer&, const HoldAnswer&) = default;
};

// Reward redemptions, coupon uses and cancellations: the coupon as it is now, the points moved
// (spent by a redemption, given back by a cancellation) and the balance.
struct CouponAnswer {
  Coupon coupon;
  Points points = 0;
  Balance balance;
  friend bool operator==(const CouponAnswer&, const CouponAnswer&) = default;
};

struct JobStepAnswer {
  Points points_expired = 0;
  bool tier_changed = false;
  std::string tier;
  friend bool operator==(const JobStepAnswer&, const JobStepAnswer&) = default;
};

// What the client is told; stored with the idempotency record and sent again on a replay.
// Sign-ups answer with the member view, which is read fresh, so they store nothing here.
using Answer = std::variant<std::monostate, PurchaseAnswer, RefundAnswer, PointsAnswer, HoldAnswer,
                            JobStepAnswer, CouponAnswer>;

// The link from a referrer to one referee, as GET /v1/members/{id}/referrals lists it.
enum class ReferralStatus : uint8_t { signed_up = 0, rewarded = 1, not_rewarded = 2, reversed = 3 };

struct ReferralLink {
  std::string referrer_id;
  std::string referee_id;
  ReferralStatus status = ReferralStatus::signed_up;
  TimeMs signed_up_at = 0;
  TimeMs rewarded_at = 0;  // 0: not rewarded
  friend bool operator==(const ReferralLink&, const ReferralLink&) = default;
};

// A change of how many units of a reward are out (issued and not cancelled), program-wide.
struct StockChange {
  std::string reward_id;
  int64_t delta = 0;
  friend bool operator==(const StockChange&, const StockChange&) = default;
};

// A change of the active coupons program-wide and of their points (the liability finance
// watches: points spent on coupons not yet used, cancelled or expired).
struct CouponsChange {
  int64_t active = 0;
  Points points = 0;
  void add(int64_t coupons, Points coupon_points) {
    active += coupons;
    points += coupon_points;
  }
  bool empty() const { return active == 0 && points == 0; }
  friend bool operator==(const CouponsChange&, const CouponsChange&) = default;
};

struct Effects {
  std::vector<LedgerEntry> entries;
  std::vector<Notification> notifications;
  std::vector<uint64_t> lots_written;  // lot ids of `member.lots` whose records changed
  // Lots as they were before this event changed them (not the ones it created): apply_event
  // undoes a refused event with these, and empties them when the event is applied.
  std::vector<Lot> lots_before;
  std::optional<PurchaseRecord> purchase;  // created by a purchase, updated by a refund
  std::vector<Hold> holds_written;         // created or settled holds, as GET /v1/holds shows
  std::vector<Coupon> coupons_written;     // issued, used, expired, cancelled or restored
  std::vector<StockChange> stock_changes;
  CouponsChange coupons_change;
  std::vector<Event> follow_ups;  // to other members, delivered exactly once
  std::vector<ReferralLink> referral_links;
  // A member's phone or card it no longer has: free for others once this commits.
  std::vector<IdentifierClaim> identifiers_released;
  StatsChange stats{};  // the program's figures this event moved (engine/stats.hpp)
  Answer answer;

  void clear() {
    entries.clear();
    notifications.clear();
    lots_written.clear();
    lots_before.clear();
    purchase.reset();
    holds_written.clear();
    coupons_written.clear();
    stock_changes.clear();
    coupons_change = {};
    follow_ups.clear();
    referral_links.clear();
    identifiers_released.clear();
    stats.clear();
    answer = std::monostate{};
  }
};

struct ApplyContext {
  const ProgramVersion* program = nullptr;
  // Loaded by the runtime for the events that need them:
  // Refunds: the purchase refunded; recalc adjustments: the purchase corrected.
  const PurchaseRecord* original_purchase = nullptr;
  const Hold* stored_hold = nullptr;  // hold actions: the hold as last stored (any state)
  // Coupon uses and cancellations: the coupon as last stored (any state), nullptr when none.
  const Coupon* stored_coupon = nullptr;
};

inline constexpr TimeMs kFutureToleranceMs = 5 * 60 * kMsPerSecond;  // domain.md: 5 minutes

// Stage 1: everything that can be checked without state: ids, lengths, amounts, times.
// `now` is the receiving server's clock; it is only used to refuse events from the future.
Rejection validate_input(const Event& event, TimeMs now);

// Stages 2 and 3. `member` is the member's current state, nullopt when unknown. On a
// refusal neither `member` nor `effects` is touched.
Rejection apply_event(const ApplyContext& context, std::optional<MemberState>& member,
                      const Event& event, Effects& effects);

// A quote: what the purchase would earn and how many points could pay for it, computed by
// the purchase's own code path on a copy of the state; nothing changes.
struct QuoteAnswer {
  PurchaseAnswer purchase;           // as if applied (balance after, tier after)
  Points redeemable_points_max = 0;  // points that could pay for this basket now
  AmountMinor redeemable_value_minor = 0;
};
Rejection quote_purchase(const ApplyContext& context, const MemberState& member,
                         const PurchaseEvent& purchase, QuoteAnswer& out);

// Σ ledger == available + pending + held == Σ lots − debt: the books balance. Checked after every
// applied event by the runtime (an always-on assertion) and by verify over the store.
bool member_invariants_hold(const MemberState& member, Points ledger_sum);
bool lots_match_balance(const MemberState& member);

}  // namespace loyalty
