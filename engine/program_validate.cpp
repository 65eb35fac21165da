// The semantic checks of a program (config.md): ranges, orderings, uniqueness and the
// combinations of keys that only make sense together. Each error names its key.
#include <algorithm>
#include <array>
#include <limits>
#include <map>
#include <set>

#include "engine/program_key_path.hpp"
#include "engine/program_toml.hpp"
#include "engine/types.hpp"

namespace loyalty {
namespace {

using Problem = std::optional<ProgramLoadError>;

Problem problem(std::string key, std::string message) {
  return ProgramLoadError{std::move(key), std::move(message)};
}

// ---------------------------------------------------------------------------------------------
// Semantic checks

std::string range_text(int64_t min, int64_t max) {
  return "must be between " + std::to_string(min) + " and " + std::to_string(max);
}

Problem check_range(const std::string& key, int64_t value, int64_t min, int64_t max) {
  if (value >= min && value <= max) return std::nullopt;
  return problem(key, range_text(min, max) + ", got " + std::to_string(value));
}

// Ids end up in ledger references and breakdown rule names: printable ASCII without spaces.
bool is_id(std::string_view text) {
  return !text.empty() && text.size() <= kIdLengthMax &&
         std::all_of(text.begin(), text.end(), [](char c) { return c > ' ' && c <= '~'; });
}

const std::string kIdRule =
    "must be 1 to " + std::to_string(kIdLengthMax) + " printable ASCII characters, no spaces";

Problem check_names(const std::string& key, const std::set<std::string>& names) {
  if (names.size() > kNameListEntriesMax) {
    return problem(key, "has more than " + std::to_string(kNameListEntriesMax) + " entries");
  }
  for (const std::string& name : names) {
    if (!is_program_name(name)) return problem(key, program_name_rule());
  }
  return std::nullopt;
}

// Rates and multipliers: never negative (config.md: negative rates are refused) and bounded so
// that the 128-bit earning products stay far from overflow.
Problem check_multiplier(const std::string& key, Decimal value) {
  if (value.is_negative()) return problem(key, "must not be negative, got " + value.to_string());
  if (value > kMultiplierMax) {
    return problem(key,
                   "must be at most " + kMultiplierMax.to_string() + ", got " + value.to_string());
  }
  return std::nullopt;
}

Problem check_multiplier_table(const std::string& key,
                               const std::map<std::string, Decimal>& rates) {
  if (rates.size() > kMultiplierEntriesMax) {
    return problem(key, "has more than " + std::to_string(kMultiplierEntriesMax) + " entries");
  }
  for (const auto& [name, rate] : rates) {
    const std::string entry = child_path(key, name);
    if (!is_program_name(name)) return problem(entry, program_name_rule());
    if (Problem found = check_multiplier(entry, rate)) return found;
  }
  return std::nullopt;
}

Problem check_program_section(const Program& program) {
  if (!is_id(program.id)) return problem("program.id", kIdRule);
  const std::string& currency = program.currency;
  if (currency.size() != 3 ||
      !std::all_of(currency.begin(), currency.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
    return problem(
        "program.currency",
        "must be an ISO 4217 code of three upper-case letters, got \"" + currency + "\"");
  }
  if (program.rounding != Rounding::floor && program.rounding != Rounding::nearest) {
    return problem("program.rounding", "must be \"floor\" or \"nearest\"");
  }
  if (!program.time_zone) return problem("program.time_zone", "must name a time zone");
  return std::nullopt;
}

Problem check_stores(const Program& program) {
  if (program.store_time_zones.size() > kStoresMax) {
    return problem("stores", "at most " + std::to_string(kStoresMax) + " stores");
  }
  size_t index = 0;
  for (const auto& [id, zone] : program.store_time_zones) {
    const std::string path = element_path("stores", index++);
    if (!is_program_name(id)) return problem(path + ".id", program_name_rule());
    if (!zone) return problem(path + ".time_zone", "must name a time zone");
  }
  return std::nullopt;
}

// Spans of the local day: start before end, within the day (one across midnight is two spans).
// Overlapping spans are allowed and mean their union.
Problem check_hours(const std::vector<LocalHours>& hours, const std::string& path) {
  if (hours.size() > kCampaignHoursMax) {
    return problem(path, "at most " + std::to_string(kCampaignHoursMax) + " spans");
  }
  for (size_t i = 0; i < hours.size(); ++i) {
    if (hours[i].start_minute >= hours[i].end_minute || hours[i].end_minute > 24 * 60) {
      return problem(element_path(path, i),
                     "must start before it ends, within one day (a span across midnight is two: "
                     "\"22:00-24:00\" and \"00:00-02:00\")");
    }
  }
  return std::nullopt;
}

Problem check_earning(const Program& program) {
  const EarningRules& earning = program.earning;
  if (earning.points_per_unit <= Decimal{0} || earning.points_per_unit > kPointsPerUnitMax) {
    return problem("earning.points_per_unit", "must be above 0 and at most " +
                                                  kPointsPerUnitMax.to_string() + ", got " +
                                                  earning.points_per_unit.to_string());
  }
  if (Problem found = check_range("earning.unit_minor", earning.unit_minor, 1, kAmountMax)) {
    return found;
  }
  if (earning.max_points_per_event) {
    if (Problem found = check_range("earning.max_points_per_event", *earning.max_points_per_event,
                                    1, kPointsMax)) {
      return found;
    }
  }
  if (Problem found = check_names("earning.excluded_categories", earning.excluded_categories)) {
    return found;
  }
  if (Problem found = check_names("earning.excluded_skus", earning.excluded_skus)) return found;
  if (Problem found =
          check_range("earning.min_order_minor", earning.min_order_minor, 0, kAmountMax)) {
    return found;
  }
  if (Problem found =
          check_range("earning.pending_days", earning.pending_days, 0, kPendingDaysMax)) {
    return found;
  }
  if (Problem found =
          check_multiplier_table("earning.category_multipliers", earning.category_multipliers)) {
    return found;
  }
  return check_multiplier_table("earning.sku_multipliers", earning.sku_multipliers);
}

Problem check_campaign(const Campaign& campaign, const std::string& path) {
  if (!is_id(campaign.id)) return problem(path + ".id", kIdRule);
  if (campaign.starts_at >= campaign.ends_at) {
    return problem(path + ".ends_at", "must be after starts_at (ends_at is exclusive)");
  }
  if ((campaign.iso_weekday_mask & 1u) != 0) {
    return problem(path + ".days_of_week", "ISO weekdays are 1 (Monday) to 7 (Sunday)");
  }
  if (Problem found = check_hours(campaign.hours, path + ".hours")) return found;
  if (Problem found = check_names(path + ".stores", campaign.stores)) return found;
  if (Problem found = check_names(path + ".categories", campaign.categories)) return found;
  if (campaign.multiplier && campaign.bonus_points) {
    return problem(path + ".bonus_points",
                   "a campaign has either a multiplier or bonus_points, not both");
  }
  if (!campaign.multiplier && !campaign.bonus_points) {
    return problem(path + ".multiplier", "a campaign needs either a multiplier or bonus_points");
  }
  if (campaign.multiplier) {
    if (Problem found = check_multiplier(path + ".multiplier", *campaign.multiplier)) return found;
  }
  if (campaign.bonus_points) {
    if (Problem found =
            check_range(path + ".bonus_points", *campaign.bonus_points, 1, kPointsMax)) {
      return found;
    }
  }
  if (campaign.min_amount_minor != 0 && !campaign.bonus_points) {
    return problem(path + ".min_amount_minor", "only applies with bonus_points");
  }
  return check_range(path + ".min_amount_minor", campaign.min_amount_minor, 0, kAmountMax);
}

Problem check_campaigns(const Program& program) {
  if (program.campaigns.size() > kCampaignsMax) {
    return problem("campaigns", "at most " + std::to_string(kCampaignsMax) + " campaigns");
  }
  std::map<std::string_view, size_t> seen;
  for (size_t i = 0; i < program.campaigns.size(); ++i) {
    const Campaign& campaign = program.campaigns[i];
    const std::string path = element_path("campaigns", i);
    if (Problem found = check_campaign(campaign, path)) return found;
    const auto [earlier, inserted] = seen.emplace(campaign.id, i);
    if (!inserted) {
      return problem(path + ".id", "duplicate campaign id \"" + campaign.id + "\" (also " +
                                       element_path("campaigns", earlier->second) + ")");
    }
  }
  return std::nullopt;
}

Problem check_milestones(const Program& program) {
  if (program.milestones.size() > kMilestonesMax) {
    return problem("milestones", "at most " + std::to_string(kMilestonesMax) + " milestones");
  }
  for (size_t i = 0; i < program.milestones.size(); ++i) {
    const Milestone& milestone = program.milestones[i];
    const std::string path = element_path("milestones", i);
    if (milestone.purchase_count < 1) {
      return problem(path + ".purchase_count", "must be at least 1");
    }
    // Ascending order lets the engine find the milestone a purchase reaches by a simple scan
    // and makes a repeated count (two bonuses for one purchase) an error, not a surprise.
    if (i > 0 && milestone.purchase_count <= program.milestones[i - 1].purchase_count) {
      return problem(path + ".purchase_count",
                     "milestones must have strictly ascending purchase counts (previous: " +
                         std::to_string(program.milestones[i - 1].purchase_count) + ")");
    }
    if (Problem found =
            check_range(path + ".bonus_points", milestone.bonus_points, 1, kPointsMax)) {
      return found;
    }
  }
  return std::nullopt;
}

// Tier benefits and reward benefits: free-form objects returned with every view.
Problem check_json_object(const std::string& key, const std::string& json) {
  if (json.size() < 2 || json.front() != '{' || json.back() != '}') {
    return problem(key, "must be a JSON object");
  }
  if (json.size() > kBenefitsJsonBytesMax) {
    return problem(key,
                   "is larger than " + std::to_string(kBenefitsJsonBytesMax) + " bytes as JSON");
  }
  return std::nullopt;
}

Problem check_tier_level(const TierRules& tiers, size_t index) {
  const TierLevel& level = tiers.levels[index];
  const std::string path = element_path("tiers.levels", index);
  if (!is_program_name(level.name)) return problem(path + ".name", program_name_rule());
  for (size_t j = 0; j < index; ++j) {
    if (tiers.levels[j].name == level.name) {
      return problem(path + ".name", "duplicate tier name \"" + level.name + "\" (also " +
                                         element_path("tiers.levels", j) + ")");
    }
  }
  if (index == 0 && level.threshold != 0) {
    return problem(path + ".threshold", "the first (lowest) tier must have threshold 0");
  }
  if (index > 0 && level.threshold <= tiers.levels[index - 1].threshold) {
    return problem(path + ".threshold", "tier thresholds must be strictly ascending (previous: " +
                                            std::to_string(tiers.levels[index - 1].threshold) +
                                            ")");
  }
  if (Problem found = check_range(path + ".threshold", level.threshold, 0, kPointsMax)) {
    return found;
  }
  if (Problem found = check_multiplier(path + ".multiplier", level.multiplier)) return found;
  return check_json_object(path + ".benefits", level.benefits_json);
}

Problem check_tiers(const Program& program) {
  if (!program.tiers) return std::nullopt;
  const TierRules& tiers = *program.tiers;
  if (tiers.metric != TierMetric::spend && tiers.metric != TierMetric::points &&
      tiers.metric != TierMetric::purchases) {
    return problem("tiers.metric", "must be \"spend\", \"points\" or \"purchases\"");
  }
  if (tiers.window != TierWindow::rolling && tiers.window != TierWindow::calendar_year) {
    return problem("tiers.window", "must be \"rolling\" or \"calendar_year\"");
  }
  if (Problem found =
          check_range("tiers.window_months", tiers.window_months, 1, kWindowMonthsMax)) {
    return found;
  }
  if (Problem found =
          check_range("tiers.retain_months", tiers.retain_months, 0, kRetainMonthsMax)) {
    return found;
  }
  if (tiers.levels.empty()) return problem("tiers.levels", "at least one tier level is required");
  if (tiers.levels.size() > kTierLevelsMax) {
    return problem("tiers.levels", "at most " + std::to_string(kTierLevelsMax) + " levels");
  }
  for (size_t i = 0; i < tiers.levels.size(); ++i) {
    if (Problem found = check_tier_level(tiers, i)) return found;
  }
  return std::nullopt;
}

Problem check_referral(const Program& program) {
  if (!program.referral) return std::nullopt;
  const ReferralRules& referral = *program.referral;
  const std::array<std::pair<const char*, Points>, 3> points{{
      {"referral.referee_signup_points", referral.referee_signup_points},
      {"referral.referee_first_purchase_points", referral.referee_first_purchase_points},
      {"referral.referrer_points", referral.referrer_points},
  }};
  for (const auto& [key, value] : points) {
    if (Problem found = check_range(key, value, 0, kPointsMax)) return found;
  }
  if (Problem found = check_range("referral.qualifying_min_amount_minor",
                                  referral.qualifying_min_amount_minor, 0, kAmountMax)) {
    return found;
  }
  return check_range("referral.window_days", referral.window_days, 1, kReferralWindowDaysMax);
}

Problem check_redemption(const Program& program) {
  if (!program.redemption) return std::nullopt;
  const RedemptionRules& redemption = *program.redemption;
  if (Problem found = check_range("redemption.points_per_currency_unit",
                                  redemption.points_per_currency_unit, 1, kPointsMax)) {
    return found;
  }
  if (Problem found = check_range("redemption.min_points", redemption.min_points, 1, kPointsMax)) {
    return found;
  }
  if (Problem found =
          check_range("redemption.step_points", redemption.step_points, 1, kPointsMax)) {
    return found;
  }
  if (redemption.max_redeem_fraction <= Decimal{0} ||
      redemption.max_redeem_fraction > Decimal::from_integer(1)) {
    return problem(
        "redemption.max_redeem_fraction",
        "must be above 0 and at most 1, got " + redemption.max_redeem_fraction.to_string());
  }
  return check_range("redemption.hold_ttl_seconds", redemption.hold_ttl_seconds, 1,
                     kHoldTtlSecondsMax);
}

Problem check_expiry(const Program& program) {
  const ExpiryRules& expiry = program.expiry;
  switch (expiry.mode) {
    case ExpiryMode::never:
      return std::nullopt;
    case ExpiryMode::days:
      return check_range("expiry.days", expiry.days, 1, kExpiryDaysMax);
    case ExpiryMode::end_of_month:
      return check_range("expiry.months", expiry.months, 1, kExpiryMonthsMax);
  }
  return problem("expiry.mode", "must be \"never\", \"days\" or \"end_of_month\"");
}

Problem check_reward_tiers(const Program& program, const Reward& reward, const std::string& path) {
  if (reward.tiers.empty()) return std::nullopt;
  if (!program.tiers) return problem(path + ".tiers", "only applies with a [tiers] section");
  for (const std::string& name : reward.tiers) {
    const auto& levels = program.tiers->levels;
    if (std::none_of(levels.begin(), levels.end(),
                     [&](const TierLevel& level) { return level.name == name; })) {
      return problem(path + ".tiers", "names no tier of tiers.levels: \"" + name + "\"");
    }
  }
  return std::nullopt;
}

Problem check_reward(const Program& program, const Reward& reward, const std::string& path) {
  if (!is_id(reward.id)) return problem(path + ".id", kIdRule);
  if (reward.name.empty() || !is_program_name(reward.name)) {
    return problem(path + ".name", program_name_rule());
  }
  if (Problem found = check_range(path + ".cost_points", reward.cost_points, 1, kPointsMax)) {
    return found;
  }
  if (Problem found = check_json_object(path + ".benefit", reward.benefit_json)) return found;
  if (reward.stock) {
    if (Problem found = check_range(path + ".stock", *reward.stock, 0, kRewardStockMax)) {
      return found;
    }
  }
  if (reward.per_member) {
    if (Problem found = check_range(path + ".per_member.max", reward.per_member->max, 1,
                                    kRewardMemberLimitMax)) {
      return found;
    }
  }
  if (Problem found = check_reward_tiers(program, reward, path)) return found;
  if (reward.available_from >= reward.available_to) {
    return problem(path + ".available_to", "must be after available_from (it is exclusive)");
  }
  return check_range(path + ".coupon_valid_days", reward.coupon_valid_days, 1, kCouponValidDaysMax);
}

Problem check_rewards(const Program& program) {
  if (program.rewards.size() > kRewardsMax) {
    return problem("rewards", "at most " + std::to_string(kRewardsMax) + " rewards");
  }
  std::map<std::string_view, size_t> seen;
  for (size_t i = 0; i < program.rewards.size(); ++i) {
    const Reward& reward = program.rewards[i];
    const std::string path = element_path("rewards", i);
    if (Problem found = check_reward(program, reward, path)) return found;
    const auto [earlier, inserted] = seen.emplace(reward.id, i);
    if (!inserted) {
      return problem(path + ".id", "duplicate reward id \"" + reward.id + "\" (also " +
                                       element_path("rewards", earlier->second) + ")");
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<ProgramLoadError> validate_program(const Program& program) {
  for (const auto check :
       {check_program_section, check_stores, check_earning, check_campaigns, check_milestones,
        check_tiers, check_referral, check_redemption, check_expiry, check_rewards}) {
    if (Problem found = check(program)) return found;
  }
  return std::nullopt;
}

}  // namespace loyalty
