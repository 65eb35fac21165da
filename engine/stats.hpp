// The program's figures for the operator's overview (api.md "Operator console", GET /v1/stats):
// counters every applied event moves by what it changed, so that reading them never walks the
// members. Each event's change is computed here, from the member before and after it; storage
// adds the changes up per partition in the commit that writes the event.
// Thread-safety: free functions over caller-owned data.
#pragma once

#include <compare>
#include <cstdint>
#include <limits>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/ledger.hpp"
#include "engine/member_state.hpp"
#include "engine/program.hpp"

namespace loyalty {

// What one counter counts. The values are stored (storage keys): only ever append.
enum class StatKind : uint8_t {
  members = 1,            // members signed up (erased ones stay: their books do)
  tier = 2,               // members at tier `bucket` (a tier index)
  day_points = 3,         // Σ points of `detail` entries (an EntryType) made on local day `bucket`
  liability = 4,          // Σ points left in open lots expiring in local month `bucket`
  last_purchase_day = 5,  // members whose last purchase was on local day `bucket`
  debt = 6,               // Σ points owed by members (refunds of spent points)
  coupons_active = 7,     // coupons issued and not yet used, cancelled or expired
  coupon_points = 8,      // Σ points spent on those coupons
  // Coupons of reward `bucket` (reward_bucket) now in state `detail` (a CouponState): issued is
  // the sum over the states.
  reward_coupons = 9,
};

// The bucket of a reward's coupon counters: a 64-bit digest of its id (FNV-1a), since a reward
// is named by text and a counter's key by a number. The API maps the catalog's ids back.
int64_t reward_bucket(std::string_view reward_id);

// Liability of lots that never expire.
inline constexpr int64_t kNeverExpiresMonth = std::numeric_limits<int64_t>::max();

struct StatKey {
  StatKind kind = StatKind::members;
  // Day number (local days since 1970-01-01), month_index(), or tier index; 0 when unused.
  int64_t bucket = 0;
  uint8_t detail = 0;  // day_points: the entry type
  friend auto operator<=>(const StatKey&, const StatKey&) = default;
};

// The counters an event (or a batch of events) moves, and by how much. Small: an event moves a
// handful, so a linear merge beats a map.
struct StatsChange {
  std::vector<std::pair<StatKey, int64_t>> deltas;  // no key twice, none zero

  void add(StatKey key, int64_t delta);
  void add(const StatsChange& other);
  bool empty() const { return deltas.empty(); }
  void clear() { deltas.clear(); }
  friend bool operator==(const StatsChange&, const StatsChange&) = default;
};

// The local day number of `instant` in `zone` (days since 1970-01-01 on its calendar).
int64_t local_day_number(const TimeZone& zone, TimeMs instant);
// The local month whose end lots expiring at `expires_at` do not outlive (their last month),
// kNeverExpiresMonth for kTimeNever: what finance calls the month the points lapse in.
int64_t expiry_month(const TimeZone& zone, TimeMs expires_at);

// What applying one event changed, added to `out`. `before` is the member before it (nullptr
// for a sign-up), without its lots: `lots_before` are those the event changed as they were;
// lots with ids from `first_new_lot` on are new. `after` is the member as the event left it
// (lots sorted by id). `coupons_active`/`coupon_points` are the event's CouponsChange.
struct EventStatsInput {
  const MemberState* before = nullptr;
  std::span<const Lot> lots_before{};
  uint64_t first_new_lot = 1;
  const MemberState* after = nullptr;
  std::span<const LedgerEntry> entries{};
  std::span<const Coupon> coupons_written{};  // issued, used, expired, cancelled or restored
  int64_t coupons_active = 0;
  Points coupon_points = 0;
};
void count_event_stats(const Program& program, const EventStatsInput& input, StatsChange& out);

}  // namespace loyalty
