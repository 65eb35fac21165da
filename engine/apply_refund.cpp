// Refunds (domain.md "Refunds and cancellations"): proportional reversal rounded down, the
// refund that completes the purchase reverses exactly what is left; points that paid for the
// refunded part come back as a new lot; a full refund claws back a referral reward.
#include <algorithm>

#include "engine/entry_writer.hpp"
#include "engine/handlers.hpp"
#include "engine/lots.hpp"
#include "engine/refund_math.hpp"
#include "engine/tiers.hpp"

namespace loyalty::handlers {
namespace {

// value × part / whole, rounded down; `whole` > 0.
int64_t share(int64_t value, int64_t part, int64_t whole) {
  return static_cast<int64_t>(Int128{value} * part / whole);
}

// How much of each line this refund takes. By amount: pro rata over what is left of each line
// (the last line with something left absorbs the remainder). By lines: as given, per SKU.
Rejection allocate(const RefundEvent& e, const PurchaseRecord& record,
                   std::vector<AmountMinor>& per_line) {
  per_line.assign(record.lines.size(), 0);
  if (e.amount_minor) {
    const AmountMinor left_total = record.order_total_minor - record.refunded_minor;
    if (*e.amount_minor > left_total) {
      return {ErrorCode::refund_exceeds_purchase, "amount_minor",
              "only " + std::to_string(left_total) + " of the purchase is left to refund"};
    }
    // Rounded-down shares of the other lines; the last line with something left takes the
    // remainder as far as it can, and what it cannot take goes to the earlier lines in order
    // (Σ room == left_total ≥ amount, so it all fits and no line is over-refunded).
    size_t last = record.lines.size();
    for (size_t i = 0; i < record.lines.size(); ++i) {
      if (record.lines[i].amount_minor > record.lines[i].refunded_minor) last = i;
    }
    AmountMinor left = *e.amount_minor;
    for (size_t i = 0; i < record.lines.size(); ++i) {
      const AmountMinor line_left = record.lines[i].amount_minor - record.lines[i].refunded_minor;
      if (i == last || line_left <= 0) continue;
      per_line[i] = share(*e.amount_minor, line_left, left_total);
      left -= per_line[i];
    }
    if (last < record.lines.size()) {
      const AmountMinor last_left =
          record.lines[last].amount_minor - record.lines[last].refunded_minor;
      per_line[last] = std::min(left, last_left);
      left -= per_line[last];
    }
    for (size_t i = 0; i < record.lines.size() && left > 0; ++i) {
      const AmountMinor room =
          record.lines[i].amount_minor - record.lines[i].refunded_minor - per_line[i];
      const AmountMinor extra = std::min(room, left);
      per_line[i] += extra;
      left -= extra;
    }
    return Rejection::none();
  }
  for (size_t k = 0; k < e.lines.size(); ++k) {
    const std::string field = "lines[" + std::to_string(k) + "].amount_minor";
    AmountMinor wanted = e.lines[k].amount_minor;
    bool found = false;
    for (size_t i = 0; i < record.lines.size() && wanted > 0; ++i) {
      if (record.lines[i].sku != e.lines[k].sku) continue;
      found = true;
      const AmountMinor line_left =
          record.lines[i].amount_minor - record.lines[i].refunded_minor - per_line[i];
      const AmountMinor taken = std::min(wanted, line_left);
      per_line[i] += taken;
      wanted -= taken;
    }
    if (!found) {
      return invalid("lines[" + std::to_string(k) + "].sku",
                     "the purchase has no line with this sku");
    }
    if (wanted > 0) {
      return {ErrorCode::refund_exceeds_purchase, field, "more than is left of this sku to refund"};
    }
  }
  return Rejection::none();
}

}  // namespace

Rejection refund(const ApplyContext& context, MemberState& member, const RefundEvent& e,
                 Effects& effects) {
  const ProgramVersion& version = *context.program;
  const Program& program = version.program;
  if (context.original_purchase == nullptr ||
      context.original_purchase->member_id != member.member_id) {
    return {ErrorCode::not_found, "original_event_id", "no purchase with this event_id"};
  }
  PurchaseRecord record = *context.original_purchase;
  std::vector<AmountMinor> per_line;
  if (Rejection r = allocate(e, record, per_line); !r.ok()) return r;

  const RefundFigures figures = refund_record(record, per_line);
  const AmountMinor eligible = figures.eligible;
  const bool completes = figures.completes;
  const Points reversed = figures.reversed;
  const Points restored = figures.restored;

  EntryWriter writer(member, effects, version.number, e.occurred_at, e.event_id);
  if (reversed > 0) {
    debit_points(member, reversed, record.lot_id != 0 ? std::optional(record.lot_id) : std::nullopt,
                 true, effects);
    writer.entry(EntryType::reverse, -reversed, "refund:" + record.event_id);
    writer.notify("points.reversed", -reversed);
    member.lifetime_points -= reversed;
  }
  if (restored > 0) {
    credit_lot(program, member, restored, e.event_id, e.occurred_at, effects);
    writer.entry(EntryType::restore, restored, "refund:" + record.event_id);
  }
  Points answer_restored_by_coupons = 0;
  Points referral_reversed = 0;
  if (completes && record.referral_trigger && !record.referral_reversed) {
    record.referral_reversed = true;
    referral_reversed = record.referee_reward_points;
    if (referral_reversed > 0) {
      debit_points(member, referral_reversed, std::nullopt, true, effects);
      writer.entry(EntryType::referral_reversal, -referral_reversed, "referral:first_purchase");
      writer.notify("points.reversed", -referral_reversed);
      member.lifetime_points -= referral_reversed;
    }
    if (!member.referred_by.empty()) {
      ReferralFollowUp follow_up{"referral-reversal:" + record.event_id, member.referred_by,
                                 member.member_id, record.event_id, e.occurred_at};
      effects.follow_ups.emplace_back(EventType::referral_reversal, std::move(follow_up));
    }
  }
  if (completes && !record.coupons.empty()) {
    answer_restored_by_coupons = settle_refunded_coupons(
        program, member, record.coupons, e.occurred_at, e.event_id, writer, effects);
  }
  if (program.tiers) {
    // Qualifying activity is reduced in the purchase's own month, the one it was recorded in
    // (UTC's for purchases from before local time); tiers change only at the next evaluation.
    record_activity(*program.tiers, member,
                    record.activity_month.value_or(month_index(record.occurred_at)),
                    {-eligible, -figures.base_back, completes ? -1 : 0});
  }

  RefundAnswer answer;
  answer.points_reversed = reversed;
  answer.points_restored = restored + answer_restored_by_coupons;
  answer.referral_reversed = referral_reversed;
  answer.refunded_minor = figures.amount;
  answer.remaining_minor = record.order_total_minor - record.refunded_minor;
  answer.balance = member.balance;
  effects.purchase = std::move(record);
  effects.answer = std::move(answer);
  return Rejection::none();
}

}  // namespace loyalty::handlers
