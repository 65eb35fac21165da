// An event's change of the program's figures (see stats.hpp).
#include "engine/stats.hpp"

#include <algorithm>

#include "engine/check.hpp"

namespace loyalty {
namespace {

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

const Lot* find_lot(const MemberState& member, uint64_t lot_id) {
  const auto it = std::lower_bound(member.lots.begin(), member.lots.end(), lot_id,
                                   [](const Lot& lot, uint64_t id) { return lot.lot_id < id; });
  return it != member.lots.end() && it->lot_id == lot_id ? &*it : nullptr;
}

void count_liability(const TimeZone& zone, const EventStatsInput& in, StatsChange& out) {
  const MemberState& after = *in.after;
  for (const Lot& was : in.lots_before) {
    out.add({StatKind::liability, expiry_month(zone, was.expires_at)}, -was.points_remaining);
    if (const Lot* now = find_lot(after, was.lot_id)) {
      out.add({StatKind::liability, expiry_month(zone, now->expires_at)}, now->points_remaining);
    }
  }
  // New lots have the highest ids: they are at the end of the sorted lots.
  const auto first_new =
      std::lower_bound(after.lots.begin(), after.lots.end(), in.first_new_lot,
                       [](const Lot& lot, uint64_t id) { return lot.lot_id < id; });
  for (auto it = first_new; it != after.lots.end(); ++it) {
    out.add({StatKind::liability, expiry_month(zone, it->expires_at)}, it->points_remaining);
  }
}

// A written coupon leaves the state it was in: active when the member had it (only active
// coupons are kept with the member), used when the event restored it, none when it is new.
void count_coupons(const EventStatsInput& in, StatsChange& out) {
  for (const Coupon& coupon : in.coupons_written) {
    std::optional<CouponState> was;
    if (in.before != nullptr) {
      for (const Coupon& held : in.before->coupons) {
        if (held.code == coupon.code) was = held.state;
      }
    }
    if (!was) {
      const std::string rule = "coupon:" + coupon.code;
      for (const LedgerEntry& entry : in.entries) {
        if (entry.type == EntryType::coupon_restore && entry.rule == rule) was = CouponState::used;
      }
    }
    if (was == coupon.state) continue;
    const int64_t bucket = reward_bucket(coupon.reward_id);
    if (was) out.add({StatKind::reward_coupons, bucket, static_cast<uint8_t>(*was)}, -1);
    out.add({StatKind::reward_coupons, bucket, static_cast<uint8_t>(coupon.state)}, 1);
  }
}

}  // namespace

int64_t reward_bucket(std::string_view reward_id) {
  uint64_t digest = 0xcbf29ce484222325ULL;
  for (const char c : reward_id) {
    digest ^= static_cast<uint8_t>(c);
    digest *= 0x100000001b3ULL;
  }
  return static_cast<int64_t>(digest);
}

void StatsChange::add(StatKey key, int64_t delta) {
  if (delta == 0) return;
  for (auto it = deltas.begin(); it != deltas.end(); ++it) {
    if (it->first != key) continue;
    it->second += delta;
    if (it->second == 0) deltas.erase(it);
    return;
  }
  deltas.emplace_back(key, delta);
}

void StatsChange::add(const StatsChange& other) {
  for (const auto& [key, delta] : other.deltas) add(key, delta);
}

int64_t local_day_number(const TimeZone& zone, TimeMs instant) {
  return floor_div(zone.local_of(instant), kMsPerDay);
}

int64_t expiry_month(const TimeZone& zone, TimeMs expires_at) {
  if (expires_at == kTimeNever) return kNeverExpiresMonth;
  // Lots expire at a midnight: the instant before it is still in their last month.
  return local_month_index(zone, expires_at - 1);
}

void count_event_stats(const Program& program, const EventStatsInput& in, StatsChange& out) {
  LOYALTY_CHECK(in.after != nullptr);
  const TimeZone& zone = *program.time_zone;
  const MemberState& after = *in.after;
  const MemberState* before = in.before;
  if (before == nullptr) {
    out.add({StatKind::members}, 1);
    out.add({StatKind::tier, after.tier_index}, 1);
  } else if (before->tier_index != after.tier_index) {
    out.add({StatKind::tier, before->tier_index}, -1);
    out.add({StatKind::tier, after.tier_index}, 1);
  }
  for (const LedgerEntry& entry : in.entries) {
    out.add(
        {StatKind::day_points, local_day_number(zone, entry.at), static_cast<uint8_t>(entry.type)},
        entry.points);
  }
  const std::optional<int64_t> last_before =
      before != nullptr ? before->last_purchase_day : std::nullopt;
  if (last_before != after.last_purchase_day) {
    if (last_before) out.add({StatKind::last_purchase_day, *last_before}, -1);
    if (after.last_purchase_day)
      out.add({StatKind::last_purchase_day, *after.last_purchase_day}, 1);
  }
  out.add({StatKind::debt}, after.debt - (before != nullptr ? before->debt : 0));
  count_liability(zone, in, out);
  count_coupons(in, out);
  out.add({StatKind::coupons_active}, in.coupons_active);
  out.add({StatKind::coupon_points}, in.coupon_points);
}

}  // namespace loyalty
