// Rewards and coupons (domain.md "Rewards, coupons and the points mall"): redeeming a reward
// for a coupon, using, cancelling and expiring coupons, and what a purchase and its full refund
// do with the coupons the sale used.
#include <algorithm>

#include "engine/coupon_code.hpp"
#include "engine/entry_writer.hpp"
#include "engine/handlers.hpp"
#include "engine/lots.hpp"
#include "engine/rewards.hpp"

namespace loyalty::handlers {
namespace {

std::string coupon_rule(const Coupon& coupon) { return "coupon:" + coupon.code; }

Coupon* find_active_coupon(MemberState& member, std::string_view code) {
  for (Coupon& coupon : member.coupons) {
    if (coupon.code == code) return &coupon;
  }
  return nullptr;
}

// Why a code that is not among the member's active coupons cannot be used or cancelled: it
// expired on the way here (the member's clock), it is stored in another state, or there is no
// such coupon of this member.
Rejection not_active(const ApplyContext& context, const Effects& effects, const std::string& code,
                     const std::string& field) {
  for (const Coupon& coupon : effects.coupons_written) {
    if (coupon.code == code && coupon.state == CouponState::expired) {
      return {ErrorCode::coupon_not_active, field, "the coupon expired"};
    }
  }
  const Coupon* stored = context.stored_coupon;
  if (stored != nullptr && stored->code == code) {
    return {ErrorCode::coupon_not_active, field,
            "the coupon is " + std::string(coupon_state_name(stored->state))};
  }
  return {ErrorCode::not_found, field, "this member has no coupon with this code"};
}

// Takes the coupon out of the member's active ones as `state`, recording it as settled.
Coupon settle(MemberState& member, Coupon* active, CouponState state, TimeMs at, Effects& effects) {
  Coupon settled = *active;
  effects.coupons_change.add(-1, -settled.points);
  member.coupons.erase(member.coupons.begin() + (active - member.coupons.data()));
  settled.state = state;
  settled.settled_at = at;
  effects.coupons_written.push_back(settled);
  return settled;
}

// One more of the reward's per-member limit used in the period `at` falls in; the coupon
// remembers which, to give it back when cancelled.
void count_limit_use(const Program& program, MemberState& member, const Reward& reward, TimeMs at,
                     Coupon& coupon) {
  if (!reward.per_member) return;
  const LimitPeriod period = reward.per_member->period;
  const int64_t index = limit_period_index(program, period, at);
  auto use = std::find_if(member.reward_limits.begin(), member.reward_limits.end(),
                          [&](const RewardLimitUse& u) { return u.reward_id == reward.id; });
  if (use == member.reward_limits.end()) {
    member.reward_limits.push_back(RewardLimitUse{reward.id, period, index, 0});
    use = member.reward_limits.end() - 1;
  } else if (use->period != period || use->period_index != index) {
    *use = RewardLimitUse{reward.id, period, index, 0};  // a new period starts from none
  }
  use->used += 1;
  coupon.limit_period = period;
  coupon.limit_period_index = index;
}

void give_back_limit_use(MemberState& member, const Coupon& coupon) {
  if (!coupon.limit_period_index) return;
  for (RewardLimitUse& use : member.reward_limits) {
    if (use.reward_id == coupon.reward_id && use.period == coupon.limit_period &&
        use.period_index == *coupon.limit_period_index && use.used > 0) {
      use.used -= 1;
    }
  }
}

Rejection refusal(ErrorCode code, const Reward& reward, const MemberState& member,
                  const Program& program) {
  switch (code) {
    case ErrorCode::reward_not_available:
      return {code, "reward_id", "the reward cannot be redeemed at this time"};
    case ErrorCode::tier_not_eligible:
      return {
          code, "reward_id",
          "members of tier " + program.tier_name(member.tier_index) + " cannot redeem this reward"};
    case ErrorCode::out_of_stock:
      return {code, "reward_id", "the reward is out of stock"};
    case ErrorCode::member_limit_reached:
      return {code, "reward_id",
              "the member has redeemed this reward " + std::to_string(reward.per_member->max) +
                  " times in this period, the most allowed"};
    case ErrorCode::insufficient_points:
      if (member.debt > 0) {
        return {code, "reward_id",
                "the member owes " + std::to_string(member.debt) + " points from a refund"};
      }
      return {code, "reward_id",
              "the reward costs " + std::to_string(reward.cost_points) + " points; only " +
                  std::to_string(spendable_points(member)) + " are available"};
    default:
      return {code, "reward_id", "the reward cannot be redeemed"};
  }
}

}  // namespace

Rejection reward_redeem(const ApplyContext& context, MemberState& member,
                        const RewardRedeemEvent& e, Effects& effects) {
  const Program& program = context.program->program;
  const Reward* reward = program.reward(e.reward_id);
  if (reward == nullptr) return {ErrorCode::not_found, "reward_id", "no reward with this id"};
  if (!parse_coupon_code(e.code)) return invalid("code", "no coupon code was drawn for it");
  const RewardStanding standing = reward_standing(program, member, *reward, e.at, std::nullopt);
  if (!standing.redeemable()) return refusal(standing.reasons.front(), *reward, member, program);
  // The runtime reserved a unit of stock for it, or found none left (it reserves none for a
  // redemption refused for another reason, which the line above answers).
  if (reward->stock && !e.stock_granted) {
    return refusal(ErrorCode::out_of_stock, *reward, member, program);
  }

  Coupon coupon;
  coupon.code = e.code;
  coupon.reward_id = reward->id;
  coupon.reward_name = reward->name;
  coupon.kind = reward->kind;
  coupon.benefit_json = reward->benefit_json;
  coupon.on_refund = reward->on_refund;
  coupon.redemption_id = e.redemption_id;
  coupon.points = reward->cost_points;
  coupon.issued_at = e.at;
  coupon.valid_until = e.at + int64_t{reward->coupon_valid_days} * kMsPerDay;
  count_limit_use(program, member, *reward, e.at, coupon);

  EntryWriter writer(member, effects, context.program->number, e.at, e.redemption_id);
  debit_points(member, reward->cost_points, std::nullopt, false, effects);
  writer.entry(EntryType::reward_redeem, -reward->cost_points, "reward:" + reward->id);
  writer.notify("reward.redeemed", -reward->cost_points);
  member.coupons.push_back(coupon);
  effects.coupons_written.push_back(coupon);
  effects.coupons_change.add(1, coupon.points);
  effects.stock_changes.push_back(StockChange{reward->id, 1});
  effects.answer = CouponAnswer{coupon, reward->cost_points, member.balance};
  return Rejection::none();
}

Rejection coupon_use(const ApplyContext& context, MemberState& member, const CouponUseEvent& e,
                     Effects& effects) {
  Coupon* active = find_active_coupon(member, e.code);
  if (active == nullptr) return not_active(context, effects, e.code, "code");
  EntryWriter writer(member, effects, context.program->number, e.at, e.use_id);
  Coupon used = settle(member, active, CouponState::used, e.at, effects);
  used.used_by = e.use_id;
  used.store_id = e.store_id;
  effects.coupons_written.back() = used;
  writer.entry(EntryType::coupon_use, 0, coupon_rule(used));
  writer.notify("coupon.used", 0);
  effects.answer = CouponAnswer{used, 0, member.balance};
  return Rejection::none();
}

Rejection coupon_cancel(const ApplyContext& context, MemberState& member,
                        const CouponCancelEvent& e, Effects& effects) {
  const Program& program = context.program->program;
  Coupon* active = find_active_coupon(member, e.code);
  if (active == nullptr) return not_active(context, effects, e.code, "code");
  EntryWriter writer(member, effects, context.program->number, e.at, e.code);
  const Coupon cancelled = settle(member, active, CouponState::cancelled, e.at, effects);
  // Its points come back as a new lot, as a refund's restored points do.
  credit_lot(program, member, cancelled.points, e.code, e.at, effects);
  writer.entry(EntryType::reward_cancel, cancelled.points, "reward:" + cancelled.reward_id);
  writer.notify("coupon.cancelled", cancelled.points);
  give_back_limit_use(member, cancelled);
  effects.stock_changes.push_back(StockChange{cancelled.reward_id, -1});
  effects.answer = CouponAnswer{cancelled, cancelled.points, member.balance};
  return Rejection::none();
}

void expire_coupons(const ProgramVersion& program, MemberState& member, TimeMs at,
                    Effects& effects) {
  for (size_t i = 0; i < member.coupons.size();) {
    if (member.coupons[i].valid_until > at) {
      ++i;
      continue;
    }
    const TimeMs due = member.coupons[i].valid_until;
    EntryWriter writer(member, effects, program.number, due, member.coupons[i].code);
    const Coupon expired = settle(member, &member.coupons[i], CouponState::expired, due, effects);
    writer.entry(EntryType::coupon_expire, 0, coupon_rule(expired));
    writer.notify("coupon.expired", 0);
  }
}

Rejection use_purchase_coupons(MemberState& member, const PurchaseEvent& e, EntryWriter& writer,
                               Effects& effects, std::vector<Coupon>& used) {
  for (size_t i = 0; i < e.coupons.size(); ++i) {
    if (find_active_coupon(member, e.coupons[i]) == nullptr) {
      // One message for a used, expired or cancelled coupon and another member's: the till
      // only needs to know it cannot take it (a mistyped code never gets here).
      return {ErrorCode::coupon_not_active, "coupons[" + std::to_string(i) + "]",
              "not an active coupon of this member"};
    }
  }
  for (const std::string& code : e.coupons) {
    Coupon settled =
        settle(member, find_active_coupon(member, code), CouponState::used, e.occurred_at, effects);
    settled.used_by = e.event_id;
    settled.store_id = e.store_id;
    effects.coupons_written.back() = settled;
    writer.entry(EntryType::coupon_use, 0, coupon_rule(settled));
    writer.notify("coupon.used", 0);
    used.push_back(std::move(settled));
  }
  return Rejection::none();
}

Points settle_refunded_coupons(const Program& program, MemberState& member,
                               const std::vector<Coupon>& coupons, TimeMs at,
                               const std::string& reference, EntryWriter& writer,
                               Effects& effects) {
  Points returned = 0;
  for (const Coupon& coupon : coupons) {
    switch (coupon.on_refund) {
      case CouponRefund::restore: {
        // Active again until its old date; the member's clock expires it if that has passed.
        Coupon restored = coupon;
        restored.state = CouponState::active;
        restored.settled_at = 0;
        restored.used_by.clear();
        restored.store_id.clear();
        member.coupons.push_back(restored);
        effects.coupons_written.push_back(restored);
        effects.coupons_change.add(1, restored.points);
        writer.entry(EntryType::coupon_restore, 0, coupon_rule(coupon));
        writer.notify("coupon.restored", 0);
        break;
      }
      case CouponRefund::refund_points:
        credit_lot(program, member, coupon.points, reference, at, effects);
        // As a refund's restored payment: an entry, and the refund's answer says it.
        writer.entry(EntryType::restore, coupon.points, coupon_rule(coupon));
        returned += coupon.points;
        break;
      case CouponRefund::forfeit:
        break;
    }
  }
  return returned;
}

}  // namespace loyalty::handlers
