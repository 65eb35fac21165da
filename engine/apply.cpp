// apply_event: runs the event's handler on a scratch copy of the member, so that a refusal at
// any stage leaves the member and the effects untouched; then publishes both.
#include "engine/apply.hpp"

#include <algorithm>

#include "engine/check.hpp"
#include "engine/entry_writer.hpp"
#include "engine/handlers.hpp"
#include "engine/lots.hpp"

namespace loyalty {
namespace handlers {

Rejection invalid(std::string field, std::string message) {
  return {ErrorCode::invalid_request, std::move(field), std::move(message)};
}

Hold* find_active_hold(MemberState& member, std::string_view hold_id) {
  for (Hold& hold : member.holds) {
    if (hold.hold_id == hold_id) return &hold;
  }
  return nullptr;
}

Rejection check_redeemable(const Program& program, Points points, const std::string& field) {
  if (!program.redemption) return invalid(field, "this program does not allow redemption");
  const RedemptionRules& rules = *program.redemption;
  if (points < rules.min_points) {
    return invalid(field, "at least " + std::to_string(rules.min_points) + " points");
  }
  if (points % rules.step_points != 0) {
    return invalid(field, "must be a multiple of " + std::to_string(rules.step_points));
  }
  return Rejection::none();
}

void advance_member_clock(const ProgramVersion& program, MemberState& member, TimeMs at,
                          Effects& effects) {
  for (auto it = member.holds.begin(); it != member.holds.end();) {
    if (it->expires_at > at) {
      ++it;
      continue;
    }
    EntryWriter writer(member, effects, program.number, it->expires_at, it->hold_id);
    release_hold(member, *it, effects);
    it->state = HoldState::expired;
    it->settled_at = it->expires_at;
    writer.entry(EntryType::hold_release, 0, "hold:expired");
    writer.notify("hold.expired", it->points);
    effects.holds_written.push_back(*it);
    it = member.holds.erase(it);
  }
  expire_coupons(program, member, at, effects);
  advance_lots(member, at, program.number, effects);
}

}  // namespace handlers

namespace {

template <typename... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
// Clang 14 (the fuzz build) lacks C++20's aggregate deduction: spell the guide out.
template <typename... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

// The instant the event happens at, to which the member's clock is advanced first.
std::optional<TimeMs> event_time(const Event& event) {
  return std::visit(
      Overloaded{
          [](const SignupEvent&) -> std::optional<TimeMs> { return std::nullopt; },
          [](const PurchaseEvent& e) -> std::optional<TimeMs> { return e.occurred_at; },
          [](const RefundEvent& e) -> std::optional<TimeMs> { return e.occurred_at; },
          [](const RedemptionEvent& e) -> std::optional<TimeMs> { return e.at; },
          [](const HoldEvent& e) -> std::optional<TimeMs> { return e.at; },
          [](const HoldActionEvent& e) -> std::optional<TimeMs> { return e.at; },
          [](const AdjustmentEvent& e) -> std::optional<TimeMs> { return e.at; },
          [](const ReferralFollowUp& e) -> std::optional<TimeMs> { return e.at; },
          [](const RecalcAdjustmentEvent& e) -> std::optional<TimeMs> { return e.at; },
          [](const RewardRedeemEvent& e) -> std::optional<TimeMs> { return e.at; },
          [](const CouponUseEvent& e) -> std::optional<TimeMs> { return e.at; },
          [](const CouponCancelEvent& e) -> std::optional<TimeMs> { return e.at; },
          [](const MemberUpdateEvent& e) -> std::optional<TimeMs> { return e.at; },
          [&event](const JobStepEvent& e) -> std::optional<TimeMs> {
            // Tier evaluation looks at activity only; it expires nothing.
            if (event.type() == EventType::evaluate_tier) return std::nullopt;
            return e.as_of;
          },
      },
      event.body);
}

// What a blocked member may not do: earn (a purchase, a referrer's reward) or spend points.
// Refunds, voids, adjustments, jobs and cancellations still run: they undo or correct.
bool blocked_for(EventType kind) {
  switch (kind) {
    case EventType::purchase:
    case EventType::redemption:
    case EventType::hold:
    case EventType::hold_capture:
    case EventType::referral_reward:
    case EventType::reward_redeem:
    case EventType::coupon_use:
      return true;
    default:
      return false;
  }
}

Rejection dispatch(const ApplyContext& context, MemberState& member, const Event& event,
                   Effects& effects) {
  const EventType kind = event.type();
  if (member.blocked && blocked_for(kind)) {
    return {ErrorCode::member_blocked, "member_id",
            "the member is blocked: it earns nothing and redeems nothing until unblocked"};
  }
  return std::visit(
      Overloaded{
          [](const SignupEvent&) -> Rejection {
            return {ErrorCode::member_exists, "member_id", "a member with this id exists"};
          },
          [&](const PurchaseEvent& e) { return handlers::purchase(context, member, e, effects); },
          [&](const RefundEvent& e) { return handlers::refund(context, member, e, effects); },
          [&](const RedemptionEvent& e) {
            return handlers::redemption(context, member, e, effects);
          },
          [&](const HoldEvent& e) { return handlers::hold(context, member, e, effects); },
          [&](const HoldActionEvent& e) {
            return handlers::hold_action(context, member, kind, e, effects);
          },
          [&](const AdjustmentEvent& e) {
            return handlers::adjustment(context, member, e, effects);
          },
          [&](const ReferralFollowUp& e) {
            return handlers::referral_follow_up(context, member, kind, e, effects);
          },
          [&](const JobStepEvent& e) {
            return handlers::job_step(context, member, kind, e, effects);
          },
          [&](const RecalcAdjustmentEvent& e) {
            return handlers::recalc_adjustment(context, member, e, effects);
          },
          [&](const RewardRedeemEvent& e) {
            return handlers::reward_redeem(context, member, e, effects);
          },
          [&](const CouponUseEvent& e) {
            return handlers::coupon_use(context, member, e, effects);
          },
          [&](const CouponCancelEvent& e) {
            return handlers::coupon_cancel(context, member, e, effects);
          },
          [&](const MemberUpdateEvent& e) {
            if (kind == EventType::member_erase) {
              return handlers::member_erase(context, member, e, effects);
            }
            return handlers::member_update(context, member, e, effects);
          },
      },
      event.body);
}

// Undoes an event's changes to `lots`: drops the lots it created, puts back the ones it changed.
void restore_lots(std::vector<Lot>& lots, uint64_t first_new_lot, std::vector<Lot>& before) {
  while (!lots.empty() && lots.back().lot_id >= first_new_lot) lots.pop_back();
  for (Lot& original : before) {
    const auto it = std::lower_bound(lots.begin(), lots.end(), original.lot_id,
                                     [](const Lot& lot, uint64_t id) { return lot.lot_id < id; });
    LOYALTY_CHECK(it != lots.end() && it->lot_id == original.lot_id);
    *it = std::move(original);
  }
}

}  // namespace

Rejection apply_event(const ApplyContext& context, std::optional<MemberState>& member,
                      const Event& event, Effects& effects) {
  LOYALTY_CHECK(context.program != nullptr);
  Effects scratch_effects;
  if (const auto* signup = std::get_if<SignupEvent>(&event.body)) {
    const Rejection r = handlers::signup(context, member, *signup, scratch_effects);
    if (!r.ok()) return r;
    count_event_stats(context.program->program,
                      {.after = &*member,
                       .entries = scratch_effects.entries,
                       .coupons_active = scratch_effects.coupons_change.active,
                       .coupon_points = scratch_effects.coupons_change.points},
                      scratch_effects.stats);
    effects = std::move(scratch_effects);
    return r;
  }
  if (!member) {
    return {ErrorCode::not_found, "member_id", "no member with this id; sign up first"};
  }
  // The event works on a copy of the member, but not of its lots: a busy member has thousands
  // (one per purchase until spent or expired) and an event changes a few. Those it changes are
  // kept as they were (Effects::lots_before) and put back if the event is refused.
  std::vector<Lot> lots = std::move(member->lots);
  member->lots.clear();
  const uint64_t first_new_lot = member->next_lot_id;
  MemberState scratch = *member;
  scratch.lots = std::move(lots);
  if (const std::optional<TimeMs> at = event_time(event)) {
    handlers::advance_member_clock(*context.program, scratch, *at, scratch_effects);
  }
  const Rejection r = dispatch(context, scratch, event, scratch_effects);
  if (!r.ok()) {
    restore_lots(scratch.lots, first_new_lot, scratch_effects.lots_before);
    member->lots = std::move(scratch.lots);
    return r;
  }
  scratch.program_version = context.program->number;
  if (std::string actor = event_actor(event.body); !actor.empty()) {
    for (LedgerEntry& entry : scratch_effects.entries) entry.actor = actor;
  }
  count_event_stats(context.program->program,
                    {.before = &*member,
                     .lots_before = scratch_effects.lots_before,
                     .first_new_lot = first_new_lot,
                     .after = &scratch,
                     .entries = scratch_effects.entries,
                     .coupons_written = scratch_effects.coupons_written,
                     .coupons_active = scratch_effects.coupons_change.active,
                     .coupon_points = scratch_effects.coupons_change.points},
                    scratch_effects.stats);
  scratch_effects.lots_before.clear();
  *member = std::move(scratch);
  effects = std::move(scratch_effects);
  return r;
}

Rejection quote_purchase(const ApplyContext& context, const MemberState& member,
                         const PurchaseEvent& purchase, QuoteAnswer& out) {
  std::optional<MemberState> scratch = member;
  PurchaseEvent probe = purchase;
  if (probe.event_id.empty()) probe.event_id = "quote";
  Effects effects;
  const Rejection r = apply_event(context, scratch, Event{probe}, effects);
  if (!r.ok()) return r;
  out = QuoteAnswer{};
  out.purchase = std::get<PurchaseAnswer>(effects.answer);
  const Program& program = context.program->program;
  if (program.redemption) {
    const RedemptionRules& rules = *program.redemption;
    AmountMinor order_total = 0;
    for (const PurchaseLine& line : purchase.lines) order_total += line.amount_minor;
    const Int128 max_paid =
        Int128{order_total} * rules.max_redeem_fraction.scaled / Decimal::kScale;
    const Int128 by_order = max_paid * rules.points_per_currency_unit / program.earning.unit_minor;
    Points points = static_cast<Points>(
        std::min<Int128>(by_order, std::max<Points>(spendable_points(member), 0)));
    points -= points % rules.step_points;
    if (points < rules.min_points) points = 0;
    out.redeemable_points_max = points;
    out.redeemable_value_minor = static_cast<AmountMinor>(
        Int128{points} * program.earning.unit_minor / rules.points_per_currency_unit);
  }
  return Rejection::none();
}

bool lots_match_balance(const MemberState& member) {
  Points in_lots = 0;
  Points held = 0;
  Points pending = 0;
  for (const Lot& lot : member.lots) {
    in_lots += lot.points_remaining;
    held += lot.points_held;
    if (lot.pending) pending += lot.points_remaining;
  }
  return in_lots - member.debt == member.balance.total() && held == member.balance.held &&
         pending == member.balance.pending && member.debt >= 0;
}

bool member_invariants_hold(const MemberState& member, Points ledger_sum) {
  return ledger_sum == member.balance.total() && lots_match_balance(member);
}

}  // namespace loyalty
