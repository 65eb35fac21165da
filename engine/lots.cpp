// Lot arithmetic. Every function keeps the balance in step with the lots it changes.
#include "engine/lots.hpp"

#include <algorithm>

#include "engine/apply.hpp"
#include "engine/check.hpp"
#include "engine/entry_writer.hpp"

namespace loyalty {
namespace {

void mark_written(Effects& effects, uint64_t lot_id) {
  if (std::find(effects.lots_written.begin(), effects.lots_written.end(), lot_id) ==
      effects.lots_written.end()) {
    effects.lots_written.push_back(lot_id);
  }
}

Lot* find_lot(MemberState& member, uint64_t lot_id) {
  for (Lot& lot : member.lots) {
    if (lot.lot_id == lot_id) return &lot;
  }
  return nullptr;
}

// Available lots in spending order: earliest expiry first, then oldest.
std::vector<Lot*> spending_order(MemberState& member) {
  std::vector<Lot*> order;
  for (Lot& lot : member.lots) {
    if (!lot.pending && lot.points_remaining > lot.points_held) order.push_back(&lot);
  }
  std::sort(order.begin(), order.end(), [](const Lot* a, const Lot* b) {
    return a->expires_at != b->expires_at ? a->expires_at < b->expires_at : a->lot_id < b->lot_id;
  });
  return order;
}

// Takes up to `wanted` free points from `lot`, keeping the balance in step; returns the taken.
Points take_from(MemberState& member, Lot& lot, Points wanted, Effects& effects) {
  const Points taken = std::min(wanted, lot.points_remaining - lot.points_held);
  if (taken <= 0) return 0;
  lot.points_remaining -= taken;
  (lot.pending ? member.balance.pending : member.balance.available) -= taken;
  mark_written(effects, lot.lot_id);
  return taken;
}

// Repays debt from an available lot's free points; available is unchanged (debt was in it).
void repay_debt(MemberState& member, Lot& lot, Effects& effects) {
  const Points repaid = std::min(member.debt, lot.points_remaining - lot.points_held);
  if (repaid <= 0) return;
  lot.points_remaining -= repaid;
  member.debt -= repaid;
  mark_written(effects, lot.lot_id);
}

}  // namespace

TimeMs lot_expiry(const ExpiryRules& rules, TimeMs earned_at) {
  switch (rules.mode) {
    case ExpiryMode::never:
      return kTimeNever;
    case ExpiryMode::days:
      return add_days(earned_at, rules.days);
    case ExpiryMode::end_of_month:
      return end_of_month_after(earned_at, static_cast<int>(rules.months));
  }
  return kTimeNever;
}

uint64_t credit_lot(const Program& program, MemberState& member, Points points,
                    const std::string& reference, TimeMs earned_at, Effects& effects) {
  const LotDates dates{earned_at, add_days(earned_at, program.earning.pending_days),
                       lot_expiry(program.expiry, earned_at), program.earning.pending_days > 0};
  return credit_lot_dated(member, points, reference, dates, effects);
}

uint64_t credit_lot_dated(MemberState& member, Points points, const std::string& reference,
                          const LotDates& dates, Effects& effects) {
  LOYALTY_CHECK(points > 0);
  Lot lot;
  lot.lot_id = member.next_lot_id++;
  lot.reference = reference;
  lot.earned_at = dates.earned_at;
  lot.available_at = dates.available_at;
  lot.expires_at = dates.expires_at;
  lot.points_initial = points;
  lot.points_remaining = points;
  lot.pending = dates.pending;
  (lot.pending ? member.balance.pending : member.balance.available) += points;
  member.lots.push_back(lot);
  mark_written(effects, lot.lot_id);
  if (!lot.pending) repay_debt(member, member.lots.back(), effects);
  return lot.lot_id;
}

void debit_points(MemberState& member, Points points, std::optional<uint64_t> first_lot,
                  bool allow_debt, Effects& effects) {
  LOYALTY_CHECK(points > 0);
  Points left = points;
  if (first_lot) {
    if (Lot* lot = find_lot(member, *first_lot)) left -= take_from(member, *lot, left, effects);
  }
  for (Lot* lot : spending_order(member)) {
    if (left == 0) break;
    left -= take_from(member, *lot, left, effects);
  }
  if (left > 0) {
    LOYALTY_CHECK(allow_debt);
    member.debt += left;
    member.balance.available -= left;
  }
}

Points spendable_points(const MemberState& member) { return member.balance.available; }

void reserve_for_hold(MemberState& member, Hold& hold, Effects& effects) {
  Points left = hold.points;
  for (Lot* lot : spending_order(member)) {
    if (left == 0) break;
    const Points reserved = std::min(left, lot->points_remaining - lot->points_held);
    lot->points_held += reserved;
    hold.takes.push_back({lot->lot_id, reserved});
    mark_written(effects, lot->lot_id);
    left -= reserved;
  }
  LOYALTY_CHECK(left == 0);  // the caller checked the available balance
  member.balance.available -= hold.points;
  member.balance.held += hold.points;
}

void release_hold(MemberState& member, const Hold& hold, Effects& effects) {
  for (const LotTake& take : hold.takes) {
    Lot* lot = find_lot(member, take.lot_id);
    LOYALTY_CHECK(lot != nullptr && lot->points_held >= take.points);
    lot->points_held -= take.points;
    mark_written(effects, lot->lot_id);
  }
  member.balance.held -= hold.points;
  member.balance.available += hold.points;
  // Released points may repay debt taken on while they were reserved.
  for (const LotTake& take : hold.takes) {
    if (member.debt == 0) break;
    if (Lot* lot = find_lot(member, take.lot_id)) repay_debt(member, *lot, effects);
  }
}

void spend_hold(MemberState& member, const Hold& hold, Effects& effects) {
  for (const LotTake& take : hold.takes) {
    Lot* lot = find_lot(member, take.lot_id);
    LOYALTY_CHECK(lot != nullptr && lot->points_held >= take.points);
    lot->points_held -= take.points;
    lot->points_remaining -= take.points;
    mark_written(effects, lot->lot_id);
  }
  member.balance.held -= hold.points;
}

void mature_lots(MemberState& member, TimeMs as_of, Effects& effects) {
  for (Lot& lot : member.lots) {
    if (!lot.pending || lot.available_at > as_of) continue;
    lot.pending = false;
    member.balance.pending -= lot.points_remaining;
    member.balance.available += lot.points_remaining;
    mark_written(effects, lot.lot_id);
    repay_debt(member, lot, effects);
  }
}

Points expire_lots(MemberState& member, TimeMs as_of, uint32_t program_version, Effects& effects) {
  Points expired_total = 0;
  for (Lot& lot : member.lots) {
    const Points free = lot.points_remaining - lot.points_held;
    if (lot.expires_at > as_of || free <= 0) continue;
    EntryWriter writer(member, effects, program_version, lot.expires_at, lot.reference);
    lot.points_remaining -= free;
    (lot.pending ? member.balance.pending : member.balance.available) -= free;
    mark_written(effects, lot.lot_id);
    expired_total += free;
    writer.entry(EntryType::expire, -free, "expiry");
    writer.notify("points.expired", -free);
  }
  return expired_total;
}

}  // namespace loyalty
