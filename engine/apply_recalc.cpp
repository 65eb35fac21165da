// A recalculation's correction of one purchase (domain.md "Recalculation"): an `adjust` entry
// that belongs to the purchase. Added points live in a lot that expires with the purchase's
// own lot; taken points come from that lot first, then the member's other lots, then debt.
#include "engine/entry_writer.hpp"
#include "engine/handlers.hpp"
#include "engine/lots.hpp"

namespace loyalty::handlers {
namespace {

// The purchase's lot while it has points. An emptied lot counts as gone: whether the member
// state still lists it depends on when it was last loaded, and replay must not.
const Lot* open_lot(const MemberState& member, uint64_t lot_id) {
  if (lot_id == 0) return nullptr;
  for (const Lot& lot : member.lots) {
    if (lot.lot_id == lot_id && lot.points_remaining != 0) return &lot;
  }
  return nullptr;
}

}  // namespace

Rejection recalc_adjustment(const ApplyContext& context, MemberState& member,
                            const RecalcAdjustmentEvent& e, Effects& effects) {
  const PurchaseRecord* original = context.original_purchase;
  if (original == nullptr || original->event_id != e.event_id ||
      original->member_id != member.member_id) {
    return {ErrorCode::not_found, "event_id", "this member has no purchase with this event_id"};
  }
  PurchaseRecord record = *original;
  const std::string id = e.adjustment_id();
  const std::string rule = "recalc:" + record.event_id;
  // The entries name the version whose rules gave the new figure, not the active one.
  EntryWriter writer(member, effects, e.program_version, e.at, id);
  const Lot* own = open_lot(member, record.lot_id);
  if (e.points > 0) {
    // The purchase's lot still open: its dates. Gone (spent, reversed or expired: its points
    // were available): available now, expiring when the purchase's lot did.
    const LotDates dates = own != nullptr
                               ? LotDates{e.at, own->available_at, own->expires_at, own->pending}
                               : LotDates{e.at, e.at, e.expires_at, false};
    credit_lot_dated(member, e.points, id, dates, effects);
    member.lifetime_points += e.points;
    writer.entry(EntryType::adjust, e.points, rule);
    writer.notify("points.earned", e.points);
    // Points added to a purchase whose points have expired expire with them, at once.
    if (dates.expires_at <= e.at) expire_lots(member, e.at, e.program_version, effects);
  } else {
    const std::optional<uint64_t> first =
        own != nullptr ? std::optional(own->lot_id) : std::nullopt;
    debit_points(member, -e.points, first, true, effects);
    member.lifetime_points += e.points;
    writer.entry(EntryType::adjust, e.points, rule);
    writer.notify("points.reversed", e.points);
  }
  record.points_adjusted += e.points;
  record.points_recalculated = e.points_recalculated;
  effects.purchase = std::move(record);
  effects.answer = PointsAnswer{e.points, member.balance};
  return Rejection::none();
}

}  // namespace loyalty::handlers
