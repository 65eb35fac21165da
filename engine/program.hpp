// The loyalty program: the rules an operator writes in program.toml (see config.md).
// Immutable once built; shared read-only between all partition writers.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "engine/decimal.hpp"
#include "engine/rational.hpp"
#include "engine/reward_terms.hpp"
#include "engine/time.hpp"
#include "engine/time_zone.hpp"
#include "engine/types.hpp"

namespace loyalty {

struct EarningRules {
  Decimal points_per_unit;                     // points per unit of money…
  AmountMinor unit_minor = 100;                // …where a unit is this many minor units
  std::optional<Points> max_points_per_event;  // default: no cap
  std::set<std::string> excluded_categories;
  std::set<std::string> excluded_skus;
  AmountMinor min_order_minor = 0;  // baskets below this earn nothing
  uint32_t pending_days = 0;        // earned points become available after this many days
  std::map<std::string, Decimal> category_multipliers;
  std::map<std::string, Decimal> sku_multipliers;  // replaces the category multiplier
};

// A span of the local day, "14:00-17:00": minutes after local midnight, start inclusive, end
// exclusive (1440 for a span that runs to midnight).
struct LocalHours {
  uint32_t start_minute = 0;
  uint32_t end_minute = 0;
  friend bool operator==(const LocalHours&, const LocalHours&) = default;
};

struct Campaign {
  std::string id;
  TimeMs starts_at = 0;
  TimeMs ends_at = kTimeNever;        // exclusive
  uint8_t iso_weekday_mask = 0;       // bit d set = local ISO weekday d applies; 0 = every day
  std::vector<LocalHours> hours;      // local times of day it applies at; empty = all day
  std::set<std::string> stores;       // empty = every store
  std::set<std::string> categories;   // empty = every line
  std::optional<Decimal> multiplier;  // exactly one of multiplier / bonus_points
  std::optional<Points> bonus_points;
  AmountMinor min_amount_minor = 0;  // basket threshold for the bonus
};

struct Milestone {
  uint32_t purchase_count = 0;
  Points bonus_points = 0;
};

enum class TierMetric : uint8_t { spend = 0, points = 1, purchases = 2 };
enum class TierWindow : uint8_t { rolling = 0, calendar_year = 1 };

struct TierLevel {
  std::string name;
  int64_t threshold = 0;  // in the metric's unit (minor units for spend)
  Decimal multiplier = Decimal::from_integer(1);
  std::string benefits_json = "{}";  // free-form, returned to the app as is
};

struct TierRules {
  TierMetric metric = TierMetric::spend;
  TierWindow window = TierWindow::rolling;
  uint32_t window_months = 12;
  uint32_t retain_months = 12;
  std::vector<TierLevel> levels;  // ascending thresholds, the first is 0
};

struct ReferralRules {
  Points referee_signup_points = 0;
  Points referee_first_purchase_points = 0;
  Points referrer_points = 0;
  AmountMinor qualifying_min_amount_minor = 0;
  uint32_t window_days = 30;
  uint32_t max_rewarded_referrals = 50;
};

struct RedemptionRules {
  Points points_per_currency_unit = 100;  // points that pay one unit (unit_minor minor units)
  Points min_points = 1;
  Points step_points = 1;  // redemptions must be a multiple of this
  Decimal max_redeem_fraction = Decimal::from_integer(1);
  uint32_t hold_ttl_seconds = 900;
};

enum class ExpiryMode : uint8_t { never = 0, days = 1, end_of_month = 2 };

struct ExpiryRules {
  ExpiryMode mode = ExpiryMode::never;
  uint32_t days = 365;
  uint32_t months = 24;
};

// A reward of the points mall (config.md [[rewards]]).
struct Reward {
  std::string id;
  std::string name;
  RewardKind kind = RewardKind::coupon;
  Points cost_points = 0;
  std::string benefit_json = "{}";  // free-form, handed to the POS and the app as is
  std::optional<int64_t> stock;     // units the whole program may issue; absent: unlimited
  std::optional<MemberLimit> per_member;
  std::set<std::string> tiers;  // tier names that may redeem it; empty: every member
  TimeMs available_from = 0;
  TimeMs available_to = kTimeNever;  // exclusive
  uint32_t coupon_valid_days = 30;
  CouponRefund on_refund = CouponRefund::forfeit;
};

struct Program {
  std::string id;
  std::string currency;  // ISO 4217, three upper-case letters
  Rounding rounding = Rounding::floor;
  // Where the program runs: tier windows, month-end expiry, activity months and schedules are
  // judged on this zone's calendar; campaign days and hours too, unless the store has its own.
  TimeZonePtr time_zone = utc_time_zone();
  std::map<std::string, TimeZonePtr, std::less<>> store_time_zones;  // [[stores]] in other zones
  EarningRules earning;
  std::vector<Campaign> campaigns;
  std::vector<Milestone> milestones;          // ascending purchase_count
  std::optional<TierRules> tiers;             // absent: everyone is in one implicit tier
  std::optional<ReferralRules> referral;      // absent: referral rewards are off
  std::optional<RedemptionRules> redemption;  // absent: redemption is off
  ExpiryRules expiry;
  std::vector<Reward> rewards;  // the catalog, in file order; ids are unique

  // The reward with this id, nullptr when the catalog has none.
  const Reward* reward(std::string_view reward_id) const;
  // The tier multiplier of level `tier_index`, 1 when the program has no tiers.
  Decimal tier_multiplier(uint32_t tier_index) const;
  std::string tier_name(uint32_t tier_index) const;
  // The zone a purchase at `store_id` is judged in: the store's own, else the program's.
  const TimeZone& zone_of_store(std::string_view store_id) const;
};

// A program as activated: the rules plus the version number every ledger entry records.
struct ProgramVersion {
  uint32_t number = 0;
  Program program;
  std::string source_toml;  // what the operator wrote, kept for audit and GET /v1/program

  std::string label() const { return program.id + "@" + std::to_string(number); }
};

}  // namespace loyalty
