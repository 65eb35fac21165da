// One refund's figures; see refund_math.hpp.
#include "engine/refund_math.hpp"

#include <algorithm>

#include "engine/check.hpp"
#include "engine/rational.hpp"

namespace loyalty {
namespace {

// value × part / whole, rounded down; `whole` > 0.
int64_t share(int64_t value, int64_t part, int64_t whole) {
  return static_cast<int64_t>(Int128{value} * part / whole);
}

}  // namespace

RefundFigures refund_record(PurchaseRecord& record, const std::vector<AmountMinor>& per_line) {
  LOYALTY_CHECK(per_line.size() == record.lines.size());
  RefundFigures f;
  // A line's refunded eligible amount is floor(eligible × refunded / amount) of its cumulative
  // refunded amount, so the refunds of a line add up to exactly its eligible amount.
  for (size_t i = 0; i < record.lines.size(); ++i) {
    if (per_line[i] == 0) continue;
    PurchaseLineRecord& line = record.lines[i];
    const AmountMinor before = share(line.eligible_minor, line.refunded_minor, line.amount_minor);
    line.refunded_minor += per_line[i];
    f.eligible += share(line.eligible_minor, line.refunded_minor, line.amount_minor) - before;
    f.amount += per_line[i];
  }
  f.completes = record.refunded_minor + f.amount == record.order_total_minor;
  const Points left = std::max<Points>(points_left(record), 0);
  if (f.completes) {
    f.reversed = left;
  } else if (record.eligible_minor > 0) {
    // Without a recalculation the share never exceeds what is left (the shares of the
    // refunds so far add up to at most the earned points); after one, the share of the new
    // figure is what the new rules would have reversed, kept within what the purchase gives.
    const Points earned = record.points_recalculated.value_or(record.points_earned);
    f.reversed = std::min(share(earned, f.eligible, record.eligible_minor), left);
  }
  f.restored = f.completes ? record.points_redeemed - record.points_restored
               : record.order_total_minor > 0
                   ? share(record.points_redeemed, f.amount, record.order_total_minor)
                   : 0;
  // Base points leave the tier activity the same cumulative way.
  const auto base_taken = [&record](AmountMinor refunded_eligible) {
    return record.eligible_minor > 0
               ? share(record.base_points, refunded_eligible, record.eligible_minor)
               : 0;
  };
  f.base_back = base_taken(record.refunded_eligible_minor + f.eligible) -
                base_taken(record.refunded_eligible_minor);

  record.refunded_minor += f.amount;
  record.refunded_eligible_minor += f.eligible;
  record.points_reversed += f.reversed;
  record.points_restored += f.restored;
  return f;
}

}  // namespace loyalty
