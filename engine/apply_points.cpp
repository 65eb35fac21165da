// Direct redemptions, operator adjustments and two-phase holds (domain.md "Redemption").
#include "engine/entry_writer.hpp"
#include "engine/handlers.hpp"
#include "engine/lots.hpp"

namespace loyalty::handlers {
namespace {

Rejection check_spendable(const MemberState& member, Points points, const std::string& field) {
  if (member.debt > 0) {
    return {ErrorCode::insufficient_points, field,
            "the member owes " + std::to_string(member.debt) + " points from a refund"};
  }
  if (spendable_points(member) < points) {
    return {ErrorCode::insufficient_points, field,
            "only " + std::to_string(spendable_points(member)) + " points are available"};
  }
  return Rejection::none();
}

}  // namespace

Rejection redemption(const ApplyContext& context, MemberState& member, const RedemptionEvent& e,
                     Effects& effects) {
  if (Rejection r = check_redeemable(context.program->program, e.points, "points"); !r.ok()) {
    return r;
  }
  if (Rejection r = check_spendable(member, e.points, "points"); !r.ok()) return r;
  EntryWriter writer(member, effects, context.program->number, e.at, e.redemption_id);
  debit_points(member, e.points, std::nullopt, false, effects);
  writer.entry(EntryType::redeem, -e.points,
               e.reward_id.empty() ? "redemption" : "reward:" + e.reward_id);
  writer.notify("points.redeemed", -e.points);
  effects.answer = PointsAnswer{e.points, member.balance};
  return Rejection::none();
}

Rejection adjustment(const ApplyContext& context, MemberState& member, const AdjustmentEvent& e,
                     Effects& effects) {
  const Program& program = context.program->program;
  EntryWriter writer(member, effects, context.program->number, e.at, e.adjustment_id);
  if (e.points > 0) {
    credit_lot(program, member, e.points, e.adjustment_id, e.at, effects);
    member.lifetime_points += e.points;
    writer.entry(EntryType::adjust, e.points, e.reason);
    writer.notify("points.earned", e.points);
  } else {
    // An operator's correction may take more than is available: the rest becomes debt.
    debit_points(member, -e.points, std::nullopt, true, effects);
    writer.entry(EntryType::adjust, e.points, e.reason);
    writer.notify("points.reversed", e.points);
  }
  effects.answer = PointsAnswer{e.points, member.balance};
  return Rejection::none();
}

Rejection hold(const ApplyContext& context, MemberState& member, const HoldEvent& e,
               Effects& effects) {
  const Program& program = context.program->program;
  if (Rejection r = check_redeemable(program, e.points, "points"); !r.ok()) return r;
  if (find_active_hold(member, e.hold_id) != nullptr) {
    return {ErrorCode::idempotency_conflict, "hold_id", "this hold_id was used before"};
  }
  if (Rejection r = check_spendable(member, e.points, "points"); !r.ok()) return r;
  Hold created;
  created.hold_id = e.hold_id;
  created.points = e.points;
  created.created_at = e.at;
  const uint32_t ttl = e.ttl_seconds.value_or(program.redemption->hold_ttl_seconds);
  created.expires_at = e.at + int64_t{ttl} * kMsPerSecond;
  EntryWriter writer(member, effects, context.program->number, e.at, e.hold_id);
  reserve_for_hold(member, created, effects);
  writer.entry(EntryType::hold, 0, "hold:" + std::to_string(e.points));
  member.holds.push_back(created);
  effects.holds_written.push_back(created);
  effects.answer = HoldAnswer{created, member.balance};
  return Rejection::none();
}

Rejection hold_action(const ApplyContext& context, MemberState& member, EventType kind,
                      const HoldActionEvent& e, Effects& effects) {
  Hold* found = find_active_hold(member, e.hold_id);
  if (found == nullptr) {
    if (context.stored_hold != nullptr && context.stored_hold->hold_id == e.hold_id) {
      return {ErrorCode::hold_not_active, "hold_id", "the hold is no longer active"};
    }
    return {ErrorCode::not_found, "hold_id", "this member has no hold with this id"};
  }
  Hold settled = *found;
  member.holds.erase(member.holds.begin() + (found - member.holds.data()));
  EntryWriter writer(member, effects, context.program->number, e.at, e.hold_id);
  settled.settled_at = e.at;
  if (kind == EventType::hold_capture) {
    spend_hold(member, settled, effects);
    settled.state = HoldState::captured;
    writer.entry(EntryType::hold_capture, -settled.points, "hold:" + settled.hold_id);
    writer.notify("points.redeemed", -settled.points);
  } else {
    release_hold(member, settled, effects);
    settled.state = HoldState::voided;
    writer.entry(EntryType::hold_release, 0, "hold:voided");
  }
  effects.holds_written.push_back(settled);
  effects.answer = HoldAnswer{settled, member.balance};
  return Rejection::none();
}

}  // namespace loyalty::handlers
