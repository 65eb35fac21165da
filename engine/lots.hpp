// Lots: where a member's points live. Crediting, spending (earliest-expiring first),
// reserving for holds, maturing pending points and expiring old ones all go through here, so
// that after every step Σ lots − debt == available + pending + held.
#pragma once

#include <optional>
#include <vector>

#include "engine/member_state.hpp"
#include "engine/program.hpp"

namespace loyalty {

struct Effects;

// When points earned at `earned_at` expire: `days` 24-hour days later, or at local midnight
// after the last day of the month `months` on (the program's zone), or never.
TimeMs lot_expiry(const Program& program, TimeMs earned_at);

// Adds a lot of `points` (> 0) earned at `earned_at` by `reference`. Available lots repay debt
// first. Returns the lot id.
uint64_t credit_lot(const Program& program, MemberState& member, Points points,
                    const std::string& reference, TimeMs earned_at, Effects& effects);

// The dates of a lot to credit: pending until available_at when `pending`.
struct LotDates {
  TimeMs earned_at = 0;
  TimeMs available_at = 0;
  TimeMs expires_at = kTimeNever;
  bool pending = false;
};
// Adds a lot with the dates given (a recalculation's points live as long as the purchase's
// own). Available lots repay debt first. Returns the lot id.
uint64_t credit_lot_dated(MemberState& member, Points points, const std::string& reference,
                          const LotDates& dates, Effects& effects);

// Takes `points` (> 0) from free points: `first_lot` first when given (a refund reverses its own
// lot first, pending or not), then available lots earliest-expiring first. What the lots cannot
// cover becomes debt when `allow_debt`; the caller has checked the balance otherwise.
void debit_points(MemberState& member, Points points, std::optional<uint64_t> first_lot,
                  bool allow_debt, Effects& effects);

// Points that can be spent now: available lots' free points, less debt.
Points spendable_points(const MemberState& member);

// Moves `hold.points` from available to held, reserving them in lots earliest-expiring first.
void reserve_for_hold(MemberState& member, Hold& hold, Effects& effects);
// Gives a hold's reserved points back to available.
void release_hold(MemberState& member, const Hold& hold, Effects& effects);
// Spends a hold's reserved points.
void spend_hold(MemberState& member, const Hold& hold, Effects& effects);

// Matures and expires what is due at `as_of` (mature_lots, then expire_lots), looking at the
// lots only when member.lot_deadline says something may be due; then brings the deadline up
// to date.
void advance_lots(MemberState& member, TimeMs as_of, uint32_t program_version,
                  Effects& effects);
// Pending lots whose available_at has passed become available (repaying debt first).
void mature_lots(MemberState& member, TimeMs as_of, Effects& effects);
// Free points of lots past their expiry date expire (held points never do). Returns the points
// expired; writes an `expire` entry per lot.
Points expire_lots(MemberState& member, TimeMs as_of, uint32_t program_version, Effects& effects);

}  // namespace loyalty
