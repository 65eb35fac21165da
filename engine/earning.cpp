// Earning arithmetic. Points are rounded once per event: each rule's breakdown line is the
// difference between the rounded running totals before and after the rule, so the lines
// always add up to the rounded whole.
#include "engine/earning.hpp"

#include <algorithm>

#include "engine/check.hpp"

namespace loyalty {
namespace {

struct LineFactor {
  AmountMinor eligible = 0;
  Rational factor = Rational::of(1);  // product of the rules applied so far
};

// A rule that multiplies some lines: the breakdown stage it contributes.
struct MultiplierStage {
  std::string rule;
  Rational multiplier;
  std::vector<bool> applies_to_line;
};

bool line_excluded(const EarningRules& rules, const PurchaseLine& line) {
  return rules.excluded_categories.contains(line.category) ||
         rules.excluded_skus.contains(line.sku);
}

// Eligible amounts per line, with the points-paid value taken off pro rata over the
// order's lines (by amount); the last line with an amount absorbs the rounding remainder.
std::vector<AmountMinor> eligible_amounts(const EarningRules& rules, const PurchaseEvent& p,
                                          AmountMinor order_total, AmountMinor paid_by_points) {
  std::vector<AmountMinor> eligible(p.lines.size(), 0);
  const AmountMinor paid = std::min(paid_by_points, order_total);
  AmountMinor paid_left = paid;
  size_t last_with_amount = p.lines.size();
  for (size_t i = 0; i < p.lines.size(); ++i) {
    if (p.lines[i].amount_minor > 0) last_with_amount = i;
  }
  for (size_t i = 0; i < p.lines.size(); ++i) {
    const AmountMinor amount = p.lines[i].amount_minor;
    AmountMinor share = 0;
    if (paid > 0 && amount > 0) {
      share = i == last_with_amount ? paid_left
                                    : static_cast<AmountMinor>(Int128{paid} * amount / order_total);
      paid_left -= share;
    }
    eligible[i] = line_excluded(rules, p.lines[i]) ? 0 : std::max<AmountMinor>(0, amount - share);
  }
  return eligible;
}

std::optional<Rational> running_total(const std::vector<LineFactor>& lines, const Rational& rate) {
  Rational sum = Rational::of(0);
  for (const LineFactor& line : lines) {
    if (line.eligible == 0) continue;
    auto term = line.factor.times(Rational::of(line.eligible));
    if (!term) return std::nullopt;
    auto next = sum.plus(*term);
    if (!next) return std::nullopt;
    sum = *next;
  }
  return sum.times(rate);
}

// Line multipliers (SKU replaces category), one stage per distinct rule, ordered by name.
void add_line_multiplier_stages(const EarningRules& rules, const PurchaseEvent& p,
                                std::vector<MultiplierStage>& stages) {
  std::vector<std::pair<std::string, Decimal>> rule_of_line(p.lines.size());
  std::vector<std::pair<std::string, Decimal>> distinct;
  for (size_t i = 0; i < p.lines.size(); ++i) {
    const PurchaseLine& line = p.lines[i];
    if (auto sku = rules.sku_multipliers.find(line.sku); sku != rules.sku_multipliers.end()) {
      rule_of_line[i] = {"sku:" + line.sku, sku->second};
    } else if (auto cat = rules.category_multipliers.find(line.category);
               cat != rules.category_multipliers.end()) {
      rule_of_line[i] = {"category:" + line.category, cat->second};
    } else {
      continue;
    }
    if (std::find(distinct.begin(), distinct.end(), rule_of_line[i]) == distinct.end()) {
      distinct.push_back(rule_of_line[i]);
    }
  }
  std::sort(distinct.begin(), distinct.end());
  for (const auto& [rule, multiplier] : distinct) {
    MultiplierStage stage{rule, Rational::of(multiplier), std::vector<bool>(p.lines.size())};
    for (size_t i = 0; i < p.lines.size(); ++i)
      stage.applies_to_line[i] = rule_of_line[i].first == rule;
    stages.push_back(std::move(stage));
  }
}

}  // namespace

bool campaign_applies(const Campaign& campaign, const PurchaseEvent& purchase, TimeMs local_time) {
  if (purchase.occurred_at < campaign.starts_at || purchase.occurred_at >= campaign.ends_at) {
    return false;
  }
  if (campaign.iso_weekday_mask != 0 &&
      (campaign.iso_weekday_mask & (1u << iso_weekday(local_time))) == 0) {
    return false;
  }
  if (!campaign.hours.empty()) {
    const auto minute = static_cast<uint32_t>(minute_of_day(local_time));
    if (std::none_of(campaign.hours.begin(), campaign.hours.end(), [minute](LocalHours span) {
          return span.start_minute <= minute && minute < span.end_minute;
        })) {
      return false;
    }
  }
  return campaign.stores.empty() || campaign.stores.contains(purchase.store_id);
}

std::optional<EarningResult> compute_earning(const Program& program, const EarningInput& input) {
  LOYALTY_CHECK(input.purchase != nullptr);
  const PurchaseEvent& p = *input.purchase;
  const EarningRules& rules = program.earning;
  EarningResult result;
  for (const PurchaseLine& line : p.lines) result.order_total_minor += line.amount_minor;

  const bool basket_earns = result.order_total_minor >= rules.min_order_minor;
  std::vector<LineFactor> lines(p.lines.size());
  if (basket_earns) {
    const std::vector<AmountMinor> eligible =
        eligible_amounts(rules, p, result.order_total_minor, input.paid_by_points_minor);
    for (size_t i = 0; i < lines.size(); ++i) {
      lines[i].eligible = eligible[i];
      result.eligible_minor += eligible[i];
    }
  }

  std::vector<MultiplierStage> stages;
  add_line_multiplier_stages(rules, p, stages);
  std::vector<const Campaign*> bonus_campaigns;
  // Campaign days and hours are the store's local ones (domain.md, "Local time").
  const TimeMs local_time =
      program.campaigns.empty() ? 0 : program.zone_of_store(p.store_id).local_of(p.occurred_at);
  for (const Campaign& campaign : program.campaigns) {
    if (!campaign_applies(campaign, p, local_time)) continue;
    if (campaign.bonus_points) {
      bonus_campaigns.push_back(&campaign);
      continue;
    }
    MultiplierStage stage{"campaign:" + campaign.id, Rational::of(*campaign.multiplier),
                          std::vector<bool>(p.lines.size())};
    for (size_t i = 0; i < p.lines.size(); ++i) {
      stage.applies_to_line[i] =
          campaign.categories.empty() || campaign.categories.contains(p.lines[i].category);
    }
    stages.push_back(std::move(stage));
  }
  const Decimal tier_multiplier = program.tier_multiplier(input.tier_index);
  if (tier_multiplier != Decimal::from_integer(1)) {
    stages.push_back({"tier:" + program.tier_name(input.tier_index), Rational::of(tier_multiplier),
                      std::vector<bool>(p.lines.size(), true)});
  }

  auto unit = Rational::ratio(1, rules.unit_minor);
  if (!unit) return std::nullopt;
  auto rate = Rational::of(rules.points_per_unit).times(*unit);
  if (!rate) return std::nullopt;
  auto total = running_total(lines, *rate);
  if (!total) return std::nullopt;
  auto rounded = total->rounded(program.rounding);
  if (!rounded) return std::nullopt;
  result.breakdown.push_back({"base", *rounded});
  Points previous = *rounded;
  for (const MultiplierStage& stage : stages) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (!stage.applies_to_line[i]) continue;
      auto next = lines[i].factor.times(stage.multiplier);
      if (!next) return std::nullopt;
      lines[i].factor = *next;
    }
    total = running_total(lines, *rate);
    if (!total) return std::nullopt;
    rounded = total->rounded(program.rounding);
    if (!rounded) return std::nullopt;
    if (*rounded != previous) result.breakdown.push_back({stage.rule, *rounded - previous});
    previous = *rounded;
  }
  result.rate_points = previous;

  if (basket_earns) {
    for (const Campaign* campaign : bonus_campaigns) {
      AmountMinor basket = 0;
      for (size_t i = 0; i < lines.size(); ++i) {
        if (campaign->categories.empty() || campaign->categories.contains(p.lines[i].category)) {
          basket += lines[i].eligible;
        }
      }
      if (basket > 0 && basket >= campaign->min_amount_minor) {
        result.breakdown.push_back({"bonus:" + campaign->id, *campaign->bonus_points});
        result.bonus_points += *campaign->bonus_points;
      }
    }
  }
  const uint32_t purchase_count_after = input.purchase_count_before + 1;
  for (const Milestone& milestone : program.milestones) {
    if (milestone.purchase_count == purchase_count_after) {
      result.breakdown.push_back(
          {"milestone:" + std::to_string(milestone.purchase_count), milestone.bonus_points});
      result.bonus_points += milestone.bonus_points;
    }
  }

  result.points = result.rate_points + result.bonus_points;
  if (rules.max_points_per_event && result.points > *rules.max_points_per_event) {
    const Points over = result.points - *rules.max_points_per_event;
    result.breakdown.push_back({"cap", -over});
    result.points = *rules.max_points_per_event;
    // The cap trims bonuses first, then the multiplied part.
    const Points bonus_cut = std::min(over, result.bonus_points);
    result.bonus_points -= bonus_cut;
    result.rate_points -= over - bonus_cut;
  }
  return result;
}

}  // namespace loyalty
