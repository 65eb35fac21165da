// A member's state: balances, tier, counters and the lots their points live in.
// Owned by the partition writer that serialises all changes of the member.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/reward_terms.hpp"
#include "engine/time.hpp"
#include "engine/types.hpp"

namespace loyalty {

struct Balance {
  Points available = 0;
  Points pending = 0;  // earned but not yet available (pending_days)
  Points held = 0;     // reserved by open holds
  Points total() const { return available + pending + held; }
  friend bool operator==(const Balance&, const Balance&) = default;
};

// Points earned by one event, spent and expired earliest-expiring first.
struct Lot {
  uint64_t lot_id = 0;    // per-member sequence, 1, 2, …
  std::string reference;  // the event that created it
  TimeMs earned_at = 0;
  TimeMs available_at = 0;  // pending until then
  TimeMs expires_at = kTimeNever;
  Points points_initial = 0;
  Points points_remaining = 0;  // includes points_held
  Points points_held = 0;       // reserved by open holds: never spent by others, never expired
  bool pending = false;         // counted in balance.pending until available_at has passed
  friend bool operator==(const Lot&, const Lot&) = default;
};

// Points one hold (or spend) took from one lot, so that a void or refund can put them back.
struct LotTake {
  uint64_t lot_id = 0;
  Points points = 0;
  friend bool operator==(const LotTake&, const LotTake&) = default;
};

enum class HoldState : uint8_t { active = 0, captured = 1, voided = 2, expired = 3 };

// A two-phase redemption: points reserved from lots until captured, voided or timed out.
struct Hold {
  std::string hold_id;
  Points points = 0;
  TimeMs created_at = 0;
  TimeMs expires_at = 0;
  HoldState state = HoldState::active;
  TimeMs settled_at = 0;       // when it stopped being active
  std::string captured_by;     // the purchase that captured it, if any
  std::vector<LotTake> takes;  // where the reserved points sit
  friend bool operator==(const Hold&, const Hold&) = default;
};

enum class CouponState : uint8_t { active = 0, used = 1, expired = 2, cancelled = 3 };

// What a reward's redemption issues: a code the POS accepts once. The reward's name, kind,
// benefit and refund rule are kept as the catalog said when it was issued, so a later program
// version does not change what the member bought.
struct Coupon {
  std::string code;  // 12 characters of Crockford's Base32, upper case (engine/coupon_code.hpp)
  std::string reward_id;
  std::string reward_name;
  RewardKind kind = RewardKind::coupon;
  std::string benefit_json = "{}";
  CouponRefund on_refund = CouponRefund::forfeit;
  std::string redemption_id;  // the client id of the redemption that issued it
  Points points = 0;          // what it cost
  TimeMs issued_at = 0;
  TimeMs valid_until = 0;  // usable before this instant
  CouponState state = CouponState::active;
  TimeMs settled_at = 0;  // when it last stopped being active; 0 while active
  std::string used_by;    // the use_id, or the event_id of the purchase that used it
  std::string store_id;   // where it was used
  // The unit of the member's limit it took (its period and that period's number), given back
  // when it is cancelled. Absent when the reward had no per-member limit.
  LimitPeriod limit_period = LimitPeriod::lifetime;
  std::optional<int64_t> limit_period_index;
  friend bool operator==(const Coupon&, const Coupon&) = default;
};

// How many of a reward's per-member limit the member used in one period (the current one when
// it was last written; an older period counts as none).
struct RewardLimitUse {
  std::string reward_id;
  LimitPeriod period = LimitPeriod::lifetime;
  int64_t period_index = 0;
  uint32_t used = 0;
  friend bool operator==(const RewardLimitUse&, const RewardLimitUse&) = default;
};

// Qualifying activity of one calendar month, the unit of the tier window.
struct MonthActivity {
  int64_t month = 0;            // month_index(): year × 12 + month − 1
  AmountMinor spend_minor = 0;  // eligible spend
  Points base_points = 0;       // earned base points
  int64_t purchases = 0;
  friend bool operator==(const MonthActivity&, const MonthActivity&) = default;
};

// A referrer's record of one rewarded referral (at most max_rewarded_referrals of them).
struct ReferralReward {
  std::string referee_id;
  std::string trigger_event_id;
  Points points = 0;
  TimeMs rewarded_at = 0;
  bool reversed = false;
  friend bool operator==(const ReferralReward&, const ReferralReward&) = default;
};

// The earliest time at which the member's clock has work to do on its lots: a pending lot
// matures or an open lot expires. Never later than the truth; 0 when unknown (look at every
// lot). It is derived from the lots and kept only in memory, so it is not part of the member's
// value: any two compare equal.
struct LotDeadline {
  TimeMs at = 0;
  friend bool operator==(const LotDeadline&, const LotDeadline&) { return true; }
};

// Where the member's newest logged event that wrote in its ledger is in the event log: its
// history (ledger and feed) is the chain of those events, each naming the one before
// (docs/storage.md, layout 6). Storage writes and reads it; the runtime moves it on after each
// commit. The domain never looks at it, and it is a position in one store's log, not part of the
// member's value: any two compare equal (a replay elsewhere may number the log differently).
struct HistoryHead {
  uint64_t log_seq = 0;  // 0: no event logged yet
  friend bool operator==(const HistoryHead&, const HistoryHead&) { return true; }
};

struct MemberState {
  std::string member_id;
  TimeMs joined_at = 0;
  std::string phone;
  std::string card_no;
  // Cluster mode: which grant of the phone's (card's) claim the member holds it by (0: none
  // known, or single mode). A change names it when it gives the old one up, so that a grant
  // to the same member made since (a second change back to it) keeps the key taken.
  uint64_t phone_grant = 0;
  uint64_t card_grant = 0;
  std::string profile_json;
  std::string referral_code;
  std::string referred_by;
  uint64_t signup_fingerprint = 0;  // tells an identical sign-up retry from a conflict
  TimeMs erased_at = 0;             // when its personal data was erased (blocked since); 0: never
  bool blocked = false;             // customer service's block: earns nothing, redeems nothing

  uint32_t tier_index = 0;
  TimeMs tier_since = 0;
  std::vector<MonthActivity> activity;  // ascending months, pruned to the longest tier window
  Balance balance;  // available may be negative: debt from refunds of spent points
  Points debt = 0;  // points owed, repaid first from anything credited; Σ lots − debt ==
                    // available + pending + held
  Points lifetime_points = 0;  // everything ever credited
  uint32_t purchase_count = 0;
  // The program's local day (engine/stats.hpp local_day_number) of the member's latest
  // purchase: who is active, for the overview's figures. nullopt: none yet.
  std::optional<int64_t> last_purchase_day{};
  uint32_t program_version = 0;  // the version that last changed the member

  uint64_t next_ledger_seq = 1;
  uint64_t next_lot_id = 1;
  uint64_t next_notification_seq = 1;  // the WebSocket feed's per-member seq
  std::vector<Lot> lots;               // open lots (points_remaining != 0), by lot_id
  LotDeadline lot_deadline;            // lets the clock skip the lots when nothing is due
  std::vector<Hold> holds;             // active holds only; settled ones live in the holds store
  std::vector<Coupon> coupons;  // active coupons only, by issue; others live in the coupon store
  std::vector<RewardLimitUse> reward_limits;  // one per limited reward the member redeemed

  // Referrals: as referee (referred_by set at sign-up) and as referrer.
  std::string referee_reward_trigger;  // the purchase that earned this referee's reward
  Points referee_reward_points = 0;
  std::vector<ReferralReward> referral_rewards;  // as referrer

  HistoryHead history_head;

  friend bool operator==(const MemberState&, const MemberState&) = default;
};

}  // namespace loyalty
