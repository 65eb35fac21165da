// A deliberately simple reference model of domain.md for the property test (TigerBeetle's
// auditor): flat lists, linear scans, exact integer arithmetic, no shared code with engine/.
// Local time comes straight from the date/tz library (its own conversions, not the engine's).
// It only shares the two enums it is compared on (refusal codes and ledger entry types).
// Where domain.md is silent it follows the choices in docs/decisions.md and the engine's
// documented behaviour; each such choice is marked "choice:" in reference_model.cpp.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/ledger.hpp"
#include "engine/outcome.hpp"

namespace loyalty::model {

using Ms = int64_t;  // milliseconds since the Unix epoch, UTC
inline constexpr Ms kDayMs = 86'400'000;
inline constexpr Ms kNeverMs = INT64_MAX;

// The small family of programs the property test draws from. Every multiplier is held in tenths
// (15 = ×1.5), so one earning is Σ eligible × factors / (unit × 10^5), rounded once.
struct Rules {
  std::string currency = "CNY";
  int64_t points_per_unit_tenths = 10;  // points per unit_minor minor units, × 10
  int64_t unit_minor = 100;
  bool round_nearest = false;  // else floor
  std::string excluded_category = "tobacco";
  std::string doubled_category = "beverage";  // ×2 category multiplier ("" none)
  bool weekend_campaign = true;               // ×2 on local Saturdays and Sundays, every line
  std::vector<std::pair<int, int>> weekend_hours;  // local minutes [from, to) it is on; {} all day
  std::string time_zone = "UTC";                   // the program's IANA zone
  std::string store_2_zone;                        // "" = store s-2 is in the program's zone
  std::string fest_category;                  // "" none: ×1.5 on this category in [from, until)
  Ms fest_from = 0;
  Ms fest_until = 0;
  std::string bonus_store;  // "" none: a flat bonus at this store when the eligible basket ≥ min
  int64_t bonus_points = 0;
  int64_t bonus_min_minor = 0;
  int64_t min_order_minor = 0;
  std::optional<int64_t> cap_points;
  int pending_days = 0;
  std::vector<std::pair<uint32_t, int64_t>> milestones;  // (purchase count, bonus), ascending

  enum class Expiry { never, days, end_of_month } expiry = Expiry::days;
  int expiry_days = 30;
  int expiry_months = 1;

  bool tiers = true;
  enum class Metric { spend, base_points, purchases } metric = Metric::spend;
  bool calendar_year = false;  // else the last window_months calendar months
  int window_months = 3;
  int retain_months = 1;
  std::vector<std::pair<int64_t, int64_t>> levels;  // (threshold, multiplier tenths), first 0

  int64_t referee_signup_points = 50;
  int64_t referee_first_purchase_points = 100;
  int64_t referrer_points = 200;
  int64_t referral_min_minor = 3000;
  int referral_window_days = 30;
  uint32_t max_rewarded_referrals = 2;

  int64_t points_per_currency_unit = 100;  // points that pay one unit_minor
  int64_t min_points = 100;
  int64_t step_points = 1;
  int64_t max_redeem_percent = 50;
  uint32_t hold_ttl_seconds = 900;

  // The catalog: a few rewards, each with or without a stock and a monthly per-member limit.
  enum class OnRefund { forfeit, restore, refund_points };
  struct RewardRule {
    std::string id;
    int64_t cost = 100;
    std::optional<int64_t> stock;
    std::optional<uint32_t> monthly_max;  // per member and local month
    OnRefund on_refund = OnRefund::forfeit;
    int valid_days = 30;
  };
  std::vector<RewardRule> rewards;
};

struct Line {
  std::string sku;
  std::string category;
  int64_t amount_minor = 0;
};

enum class OpKind : uint8_t {
  signup,
  purchase,
  refund,
  redeem,
  hold,
  capture,
  void_hold,
  adjust,
  expire,
  evaluate,
  reward_redeem,
  coupon_use,
  coupon_cancel,
};

// One client request. Unused fields stay empty.
struct Op {
  OpKind kind = OpKind::signup;
  std::string member;         // the member it is for (sign-up: the new member)
  std::string id;             // event_id / redemption_id / hold_id / adjustment_id / job id
  std::string target;         // refund: original event id; purchase, capture, void: hold id
  std::string referral_code;  // sign-up: as typed ("" none)
  std::string referrer;       // sign-up: the member the code resolved to ("" none)
  std::string store = "s-1";
  std::string currency = "CNY";
  Ms at = 0;  // occurred_at / at / joined_at / as_of
  std::vector<Line> lines;
  int64_t amount = 0;  // refund amount, redemption/hold/adjustment points, purchase redeem_points
  std::optional<uint32_t> ttl_seconds;
  // Reward redemptions: the reward is `target`, the code it issues `code` (the runtime draws it;
  // the generator gives it). Coupon uses and cancellations: the code is `target`.
  std::string code;
  std::vector<std::string> coupons;  // purchase: codes of coupons it uses
};

std::string describe(const Op& op);

struct Entry {
  EntryType type = EntryType::earn;
  int64_t points = 0;
  Ms at = 0;
  friend bool operator==(const Entry&, const Entry&) = default;
};

struct Balances {
  int64_t available = 0;
  int64_t pending = 0;
  int64_t held = 0;
  friend bool operator==(const Balances&, const Balances&) = default;
};

// What an accepted operation reports back (only the fields its kind fills).
struct Outcome {
  ErrorCode code = ErrorCode::ok;
  int64_t points_earned = 0;  // purchase: rate + bonuses + referee reward
  int64_t points_redeemed = 0;
  bool tier_changed = false;
  int64_t points_reversed = 0;  // refund
  int64_t points_restored = 0;
  int64_t points_expired = 0;  // expiry job
};

class Model {
 public:
  explicit Model(Rules rules) : rules_(std::move(rules)) {}

  Outcome apply(const Op& op);

  const Rules& rules() const { return rules_; }
  bool has_member(const std::string& id) const { return members_.contains(id); }
  std::vector<std::string> member_ids() const;
  Balances balances(const std::string& member) const;
  int64_t debt(const std::string& member) const;
  uint32_t tier(const std::string& member) const;
  uint32_t purchase_count(const std::string& member) const;
  std::vector<std::string> active_holds(const std::string& member) const;
  int64_t qualifying(const std::string& member, Ms as_of) const;
  const std::vector<Entry>& ledger(const std::string& member) const;
  int64_t ledger_sum(const std::string& member) const;

  // For the generator: what exists, so it can pick plausible targets.
  struct PurchaseInfo {
    std::string id;
    std::string member;
    int64_t total_minor = 0;
    int64_t refunded_minor = 0;
  };
  std::vector<PurchaseInfo> purchases() const;
  // Every hold ever accepted: (hold id, member, still active).
  struct HoldInfo {
    std::string id;
    std::string member;
    int64_t points = 0;
    bool active = false;
  };
  std::vector<HoldInfo> holds() const;
  // Every coupon ever issued, in issue order: (code, member).
  std::vector<std::pair<std::string, std::string>> coupons() const;
  // A member's active coupons' codes, in the order the engine keeps them.
  std::vector<std::string> active_coupons(const std::string& member) const;
  // Units of a reward out (issued, not cancelled).
  int64_t stock_out(const std::string& reward) const;

 private:
  struct Lot {
    uint64_t id = 0;
    int64_t remaining = 0;  // includes held
    int64_t held = 0;
    bool pending = false;
    Ms available_at = 0;
    Ms expires_at = kNeverMs;
  };
  struct Hold {
    std::string id;
    int64_t points = 0;
    Ms expires_at = 0;
    std::vector<std::pair<uint64_t, int64_t>> takes;  // (lot id, points reserved there)
  };
  struct Reward {
    std::string trigger;
    int64_t points = 0;
    bool reversed = false;
  };
  struct Coupon {
    std::string code;
    std::string reward;
    int64_t points = 0;
    Ms valid_until = 0;
    Rules::OnRefund on_refund = Rules::OnRefund::forfeit;
    std::optional<int64_t> month;  // the limit's month it counted in
  };
  struct Activity {
    int64_t month = 0;  // year × 12 + month − 1
    int64_t spend_minor = 0;
    int64_t base_points = 0;
    int64_t purchases = 0;
  };
  struct Member {
    std::string id;
    Ms joined_at = 0;
    std::string referrer;
    std::vector<Lot> lots;  // in creation order
    uint64_t next_lot = 1;
    int64_t debt = 0;
    std::vector<Hold> holds;  // active ones, in creation order
    uint32_t purchases = 0;
    uint32_t tier = 0;
    Ms tier_since = 0;
    bool referee_rewarded = false;
    std::vector<Reward> rewards;     // as referrer
    std::vector<Activity> activity;  // one record per purchase or refund, never pruned
    std::vector<Entry> ledger;
    std::vector<Coupon> coupons;  // active, issue order (restored ones at the end)
    std::map<std::string, std::pair<int64_t, uint32_t>> limits;  // reward → (month, used)
  };
  struct PurchaseLine {
    int64_t amount = 0;
    int64_t eligible = 0;
    int64_t refunded = 0;
    int64_t refunded_eligible = 0;
  };
  struct Purchase {
    std::string id;
    std::string member;
    Ms at = 0;
    uint64_t lot = 0;  // 0: none
    int64_t earned = 0;
    int64_t reversed = 0;
    int64_t redeemed = 0;
    int64_t restored = 0;
    int64_t total = 0;
    int64_t eligible = 0;
    int64_t refunded = 0;
    int64_t base_points = 0;  // the tier metric "earned base points"
    int64_t base_taken_back = 0;
    std::vector<PurchaseLine> lines;
    bool referral_trigger = false;
    int64_t referee_reward = 0;
    bool referral_reversed = false;
    std::vector<Coupon> coupons;  // used by the sale
  };

  // Lots and balances.
  void advance(Member& m, Ms at) const;
  uint64_t credit(Member& m, int64_t points, Ms at) const;
  void debit(Member& m, int64_t points, uint64_t first_lot) const;
  void repay(Member& m, Lot& lot) const;
  Lot* find_lot(Member& m, uint64_t id) const;
  Lot* next_to_spend(Member& m) const;
  void reserve(Member& m, Hold& hold) const;
  void release(Member& m, const Hold& hold) const;
  void spend(Member& m, const Hold& hold) const;
  static int64_t available(const Member& m);

  // Tiers.
  int64_t qualifying_of(const Member& m, Ms as_of) const;
  uint32_t tier_for(int64_t value) const;

  Outcome signup(const Op& op);
  Outcome purchase(const Op& op);
  Outcome refund(const Op& op);
  Outcome redeem(const Op& op);
  Outcome hold(const Op& op);
  Outcome settle(const Op& op);
  Outcome adjust(const Op& op);
  Outcome expire(const Op& op);
  Outcome evaluate(const Op& op);
  Outcome reward_redeem(const Op& op);
  Outcome coupon_action(const Op& op);
  const Rules::RewardRule* reward_rule(const std::string& id) const;
  void reward_referrer(const std::string& referrer, const std::string& trigger, Ms at);
  void claw_back_referrer(const std::string& referrer, const std::string& trigger, Ms at);

  Rules rules_;
  std::map<std::string, Member> members_;
  std::map<std::string, Purchase> purchases_;
  std::vector<std::string> purchase_order_;
  std::map<std::string, std::string> holds_seen_;  // hold id → member, ever accepted
  // Captures and voids accepted, by kind and hold id: the same action again is a retry of the
  // same request (its id is the hold id), answered again without changing anything.
  std::set<std::pair<OpKind, std::string>> settled_;
  std::vector<std::string> hold_order_;
  std::vector<std::pair<std::string, std::string>> coupons_issued_;  // (code, member)
  std::map<std::string, std::string> coupon_member_;                 // code → member
  std::set<std::string> cancelled_;  // codes a cancellation settled: a retry answers again
  std::map<std::string, int64_t> stock_out_;
};

// Local time in an IANA zone: the wall-clock time of an instant, and the instant of a wall-clock
// time (a skipped one is the instant the clocks resume, a repeated one its first occurrence).
Ms local_time_in(const std::string& zone, Ms instant);
Ms instant_in(const std::string& zone, Ms local);

// Calendar helpers, written here rather than taken from engine/time.hpp.
int64_t month_number(Ms t);                 // year × 12 + month − 1
int iso_weekday_of(Ms t);                   // 1 = Monday … 7 = Sunday
Ms plus_months(Ms t, int months);           // day clamped to the target month's length
Ms start_of_month_after(Ms t, int months);  // first instant after the end of month(t) + months

}  // namespace loyalty::model
