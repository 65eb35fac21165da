// Purchases: pay part with points (directly or by capturing a hold), earn on the rest, reward a
// referee's first qualifying purchase, count activity toward tiers, keep a record for refunds.
#include <algorithm>

#include "engine/entry_writer.hpp"
#include "engine/handlers.hpp"
#include "engine/lots.hpp"
#include "engine/stats.hpp"
#include "engine/tiers.hpp"

namespace loyalty::handlers {
namespace {

struct Payment {
  Points points = 0;
  AmountMinor value_minor = 0;
  Hold* hold = nullptr;
};

Rejection plan_payment(const ApplyContext& context, MemberState& member, const PurchaseEvent& e,
                       AmountMinor order_total, Payment& payment) {
  const Program& program = context.program->program;
  payment.points = e.redeem_points;
  if (!e.hold_id.empty()) {
    payment.hold = find_active_hold(member, e.hold_id);
    if (payment.hold == nullptr) {
      if (context.stored_hold != nullptr && context.stored_hold->hold_id == e.hold_id) {
        return {ErrorCode::hold_not_active, "hold_id", "the hold is no longer active"};
      }
      return {ErrorCode::not_found, "hold_id", "this member has no hold with this id"};
    }
    if (payment.points != 0 && payment.points != payment.hold->points) {
      return invalid("redeem_points",
                     "must equal the hold's " + std::to_string(payment.hold->points) + " points");
    }
    payment.points = payment.hold->points;
  } else if (payment.points > 0) {
    if (Rejection r = check_redeemable(program, payment.points, "redeem_points"); !r.ok()) return r;
  }
  if (payment.points == 0) return Rejection::none();
  if (!program.redemption)
    return invalid("redeem_points", "this program does not allow redemption");
  const RedemptionRules& rules = *program.redemption;
  const Int128 max_value = Int128{order_total} * rules.max_redeem_fraction.scaled / Decimal::kScale;
  const Int128 max_points = max_value * rules.points_per_currency_unit / program.earning.unit_minor;
  if (payment.points > max_points) {
    return invalid("redeem_points", "points may pay at most " +
                                        std::to_string(static_cast<int64_t>(max_points)) +
                                        " points' worth of this order");
  }
  if (payment.hold == nullptr && spendable_points(member) < payment.points) {
    return {ErrorCode::insufficient_points, "redeem_points", "not enough available points"};
  }
  payment.value_minor = static_cast<AmountMinor>(
      Int128{payment.points} * program.earning.unit_minor / rules.points_per_currency_unit);
  return Rejection::none();
}

bool referee_qualifies(const Program& program, const MemberState& member, const PurchaseEvent& e,
                       AmountMinor eligible_minor) {
  if (!program.referral || member.referred_by.empty() || !member.referee_reward_trigger.empty()) {
    return false;
  }
  const ReferralRules& rules = *program.referral;
  return eligible_minor >= rules.qualifying_min_amount_minor && e.occurred_at >= member.joined_at &&
         e.occurred_at < add_days(member.joined_at, rules.window_days);
}

Points base_points_of(const EarningResult& earned) {
  for (const BreakdownLine& line : earned.breakdown) {
    if (line.rule == "base") return line.points;
  }
  return 0;
}

}  // namespace

PurchaseRecord make_purchase_record(const PurchaseEvent& e, const EarningInput& input,
                                    const EarningResult& earned, const Program& program) {
  PurchaseRecord record;
  record.event_id = e.event_id;
  record.member_id = e.member_id;
  record.store_id = e.store_id;
  record.occurred_at = e.occurred_at;
  record.points_earned = earned.points;
  record.order_total_minor = earned.order_total_minor;
  record.eligible_minor = earned.eligible_minor;
  record.base_points = base_points_of(earned);
  // Per-line eligible amounts, computed the way earning did, so refunds by line are exact.
  for (const PurchaseLine& line : e.lines) {
    record.lines.push_back({line.sku, line.amount_minor, 0, 0});
  }
  if (earned.order_total_minor < program.earning.min_order_minor) return record;
  AmountMinor paid_left = input.paid_by_points_minor;
  size_t last_with_amount = e.lines.size();
  for (size_t i = 0; i < e.lines.size(); ++i) {
    if (e.lines[i].amount_minor > 0) last_with_amount = i;
  }
  for (size_t i = 0; i < e.lines.size(); ++i) {
    const PurchaseLine& line = e.lines[i];
    AmountMinor share = 0;
    if (input.paid_by_points_minor > 0 && line.amount_minor > 0) {
      share = i == last_with_amount
                  ? paid_left
                  : static_cast<AmountMinor>(Int128{input.paid_by_points_minor} *
                                             line.amount_minor / earned.order_total_minor);
      paid_left -= share;
    }
    const bool excluded = program.earning.excluded_categories.contains(line.category) ||
                          program.earning.excluded_skus.contains(line.sku);
    record.lines[i].eligible_minor =
        excluded ? 0 : std::max<AmountMinor>(0, line.amount_minor - share);
  }
  return record;
}

Rejection purchase(const ApplyContext& context, MemberState& member, const PurchaseEvent& e,
                   Effects& effects) {
  const ProgramVersion& version = *context.program;
  const Program& program = version.program;
  if (e.currency != program.currency) {
    return {ErrorCode::currency_mismatch, "currency",
            "the program's currency is " + program.currency};
  }
  AmountMinor order_total = 0;
  for (const PurchaseLine& line : e.lines) order_total += line.amount_minor;
  Payment payment;
  if (Rejection r = plan_payment(context, member, e, order_total, payment); !r.ok()) return r;

  const EarningInput input{&e, member.tier_index, member.purchase_count, payment.value_minor};
  std::optional<EarningResult> earned = compute_earning(program, input);
  if (!earned) return invalid("lines", "the amounts are too large to compute exactly");

  EntryWriter writer(member, effects, version.number, e.occurred_at, e.event_id);
  std::vector<Coupon> coupons_used;
  if (Rejection r = use_purchase_coupons(member, e, writer, effects, coupons_used); !r.ok()) {
    return r;
  }
  if (payment.hold != nullptr) {
    Hold& hold = *payment.hold;
    spend_hold(member, hold, effects);
    writer.entry(EntryType::hold_capture, -hold.points, "hold:" + hold.hold_id);
    hold.state = HoldState::captured;
    hold.settled_at = e.occurred_at;
    hold.captured_by = e.event_id;
    effects.holds_written.push_back(hold);
    member.holds.erase(member.holds.begin() + (payment.hold - member.holds.data()));
  } else if (payment.points > 0) {
    debit_points(member, payment.points, std::nullopt, false, effects);
    writer.entry(EntryType::redeem, -payment.points, "payment");
  }
  if (payment.points > 0) writer.notify("points.redeemed", -payment.points);

  PurchaseRecord record = make_purchase_record(e, input, *earned, program);
  record.points_redeemed = payment.points;
  record.coupons = std::move(coupons_used);
  if (earned->points > 0) {
    record.lot_id = credit_lot(program, member, earned->points, e.event_id, e.occurred_at, effects);
    if (earned->rate_points != 0) writer.entry(EntryType::earn, earned->rate_points, "rate");
    Points bonus_left = earned->bonus_points;
    for (const BreakdownLine& line : earned->breakdown) {
      const bool is_bonus = line.rule.starts_with("bonus:") || line.rule.starts_with("milestone:");
      if (!is_bonus || bonus_left == 0) continue;
      const Points credited = std::min(line.points, bonus_left);
      writer.entry(EntryType::bonus, credited, line.rule);
      bonus_left -= credited;
    }
  }
  Points points_earned = earned->points;
  if (referee_qualifies(program, member, e, earned->eligible_minor)) {
    const Points reward = program.referral->referee_first_purchase_points;
    if (reward > 0) {
      credit_lot(program, member, reward, e.event_id, e.occurred_at, effects);
      writer.entry(EntryType::referral_bonus, reward, "referral:first_purchase");
      earned->breakdown.push_back({"referral:first_purchase", reward});
      points_earned += reward;
    }
    member.referee_reward_trigger = e.event_id;
    member.referee_reward_points = reward;
    record.referral_trigger = true;
    record.referee_reward_points = reward;
    ReferralFollowUp follow_up{"referral:" + e.event_id, member.referred_by, member.member_id,
                               e.event_id, e.occurred_at};
    effects.follow_ups.emplace_back(EventType::referral_reward, std::move(follow_up));
  }
  if (points_earned > 0) writer.notify("points.earned", points_earned);

  member.purchase_count += 1;
  const int64_t day = local_day_number(*program.time_zone, e.occurred_at);
  member.last_purchase_day = std::max(member.last_purchase_day.value_or(day), day);
  member.lifetime_points += points_earned;
  bool tier_changed = false;
  record.activity_month = local_month_index(*program.time_zone, e.occurred_at);
  if (program.tiers) {
    record_activity(*program.tiers, member, *record.activity_month,
                    {earned->eligible_minor, record.base_points, 1});
    tier_changed = upgrade_if_qualified(version, member, e.occurred_at, e.event_id, effects);
  }

  PurchaseAnswer answer;
  answer.points_earned = points_earned;
  answer.points_redeemed = payment.points;
  answer.breakdown = std::move(earned->breakdown);
  answer.balance = member.balance;
  answer.tier = program.tier_name(member.tier_index);
  answer.tier_changed = tier_changed;
  record.answer = answer;
  effects.purchase = std::move(record);
  effects.answer = std::move(answer);
  return Rejection::none();
}

}  // namespace loyalty::handlers
