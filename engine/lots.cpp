// Lot arithmetic. Every function keeps the balance in step with the lots it changes.
#include "engine/lots.hpp"

#include <algorithm>

#include "engine/apply.hpp"
#include "engine/check.hpp"
#include "engine/entry_writer.hpp"

namespace loyalty {
namespace {

// Called before `lot` changes: the first change of an event keeps the lot as it was, so that
// apply_event can undo a refused event without copying every lot of the member.
void before_change(Effects& effects, const Lot& lot) {
  if (std::find(effects.lots_written.begin(), effects.lots_written.end(), lot.lot_id) !=
      effects.lots_written.end()) {
    return;
  }
  effects.lots_written.push_back(lot.lot_id);
  effects.lots_before.push_back(lot);
}

// Lots are kept in lot_id order (credited in that order, read back by key in that order).
Lot* find_lot(MemberState& member, uint64_t lot_id) {
  const auto it = std::lower_bound(
      member.lots.begin(), member.lots.end(), lot_id,
      [](const Lot& lot, uint64_t id) { return lot.lot_id < id; });
  return it != member.lots.end() && it->lot_id == lot_id ? &*it : nullptr;
}

// Available lots in spending order: earliest expiry first, then oldest.
std::vector<Lot*> spending_order(MemberState& member) {
  std::vector<Lot*> order;
  for (Lot& lot : member.lots) {
    if (!lot.pending && lot.points_remaining > lot.points_held) order.push_back(&lot);
  }
  const auto earlier = [](const Lot* a, const Lot* b) {
    return a->expires_at != b->expires_at ? a->expires_at < b->expires_at : a->lot_id < b->lot_id;
  };
  // Lots are credited in time order, so they are usually in spending order already.
  if (!std::is_sorted(order.begin(), order.end(), earlier)) {
    std::sort(order.begin(), order.end(), earlier);
  }
  return order;
}

// Takes up to `wanted` free points from `lot`, keeping the balance in step; returns the taken.
Points take_from(MemberState& member, Lot& lot, Points wanted, Effects& effects) {
  const Points taken = std::min(wanted, lot.points_remaining - lot.points_held);
  if (taken <= 0) return 0;
  before_change(effects, lot);
  lot.points_remaining -= taken;
  (lot.pending ? member.balance.pending : member.balance.available) -= taken;
  return taken;
}

// Repays debt from an available lot's free points; available is unchanged (debt was in it).
void repay_debt(MemberState& member, Lot& lot, Effects& effects) {
  const Points repaid = std::min(member.debt, lot.points_remaining - lot.points_held);
  if (repaid <= 0) return;
  before_change(effects, lot);
  lot.points_remaining -= repaid;
  member.debt -= repaid;
}

// When the clock next has to look at an open lot: it matures or expires.
TimeMs due_at(const Lot& lot) {
  return lot.pending ? std::min(lot.available_at, lot.expires_at) : lot.expires_at;
}

}  // namespace

TimeMs lot_expiry(const Program& program, TimeMs earned_at) {
  const ExpiryRules& rules = program.expiry;
  switch (rules.mode) {
    case ExpiryMode::never:
      return kTimeNever;
    case ExpiryMode::days:
      return add_days(earned_at, rules.days);
    case ExpiryMode::end_of_month:
      return local_end_of_month_after(*program.time_zone, earned_at,
                                      static_cast<int>(rules.months));
  }
  return kTimeNever;
}

uint64_t credit_lot(const Program& program, MemberState& member, Points points,
                    const std::string& reference, TimeMs earned_at, Effects& effects) {
  const LotDates dates{earned_at, add_days(earned_at, program.earning.pending_days),
                       lot_expiry(program, earned_at), program.earning.pending_days > 0};
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
  LOYALTY_CHECK(member.lots.empty() || member.lots.back().lot_id < lot.lot_id);
  if (member.lot_deadline.at != 0) {
    member.lot_deadline.at = std::min(member.lot_deadline.at, due_at(lot));
  }
  member.lots.push_back(lot);
  effects.lots_written.push_back(lot.lot_id);  // new: undone by dropping it, no pre-image
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
    before_change(effects, *lot);
    lot->points_held += reserved;
    hold.takes.push_back({lot->lot_id, reserved});
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
    before_change(effects, *lot);
    lot->points_held -= take.points;
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
    before_change(effects, *lot);
    lot->points_held -= take.points;
    lot->points_remaining -= take.points;
  }
  member.balance.held -= hold.points;
}

void advance_lots(MemberState& member, TimeMs as_of, uint32_t program_version,
                  Effects& effects) {
  if (member.lot_deadline.at != 0 && as_of < member.lot_deadline.at) return;
  mature_lots(member, as_of, effects);
  expire_lots(member, as_of, program_version, effects);
  // A lot whose free points are all held stays due (it expires once released): the deadline
  // may then be in the past, which only costs a look at the lots.
  TimeMs next = kTimeNever;
  for (const Lot& lot : member.lots) next = std::min(next, due_at(lot));
  member.lot_deadline.at = std::max<TimeMs>(next, 1);
}

void mature_lots(MemberState& member, TimeMs as_of, Effects& effects) {
  for (Lot& lot : member.lots) {
    if (!lot.pending || lot.available_at > as_of) continue;
    before_change(effects, lot);
    lot.pending = false;
    member.balance.pending -= lot.points_remaining;
    member.balance.available += lot.points_remaining;
    repay_debt(member, lot, effects);
  }
}

Points expire_lots(MemberState& member, TimeMs as_of, uint32_t program_version, Effects& effects) {
  Points expired_total = 0;
  for (Lot& lot : member.lots) {
    const Points free = lot.points_remaining - lot.points_held;
    if (lot.expires_at > as_of || free <= 0) continue;
    EntryWriter writer(member, effects, program_version, lot.expires_at, lot.reference);
    before_change(effects, lot);
    lot.points_remaining -= free;
    (lot.pending ? member.balance.pending : member.balance.available) -= free;
    expired_total += free;
    writer.entry(EntryType::expire, -free, "expiry");
    writer.notify("points.expired", -free);
  }
  return expired_total;
}

}  // namespace loyalty
