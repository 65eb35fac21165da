// The history a recalculation re-runs: every purchase of a time range with what the member
// was just before it (tier, purchase count), what points paid of it, its refunds line by line,
// and its record as the store has it now. Rebuilt from the event log of one snapshot by
// replaying the affected members' events through the pure engine, each under the program
// version it ran with, in a scratch state of our own: the store is only read.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/events.hpp"
#include "engine/purchase_record.hpp"
#include "engine/recalc.hpp"
#include "ops/job_progress.hpp"
#include "storage/rocks_store.hpp"

namespace loyalty::ops {

struct PurchaseHistory {
  PurchaseEvent purchase;
  RecalcHistory history;               // history.purchase points at `purchase`
  PurchaseRecord record;               // as of the snapshot: earned, reversed, adjusted
  TimeMs lot_expires_at = kTimeNever;  // of the purchase's lot when it was earned
  bool had_lot = false;
  std::vector<std::string> adjusted_by_jobs;  // recalc job ids that adjusted it
};

// The members one pass replays: those whose id hashes to `index` of `count` slices. A long
// history is replayed one slice at a time, so the memory a pass needs follows its slice.
struct MemberSlice {
  uint32_t index = 0;
  uint32_t count = 1;
  std::function<bool(std::string_view member_id)> include;  // optional: of these members only
  bool contains(std::string_view member_id) const;
};

struct HistoryScan {
  uint64_t log_seq = 0;  // the newest event of the snapshot
  // By member id, then log order. Not to be resized: each history points into its element.
  std::vector<PurchaseHistory> purchases;
};

// Counts the purchases with occurred_at in [from, to) as of `snapshot`, and the newest log_seq.
// `include` (optional): of these members only.
Status count_purchases_in_range(RocksStore& store, const ReadSnapshot& snapshot, TimeMs from,
                                TimeMs to, JobProgress& progress, uint64_t& purchases,
                                uint64_t& log_seq,
                                const std::function<bool(std::string_view)>& include = {});

// The purchases of `slice`'s members with occurred_at in [from, to) as of `snapshot`.
// `progress.done` grows as each is reached in the replay. A stop asked for ends it early with
// Status busy.
Status scan_history(RocksStore& store, const ReadSnapshot& snapshot, TimeMs from, TimeMs to,
                    const MemberSlice& slice, JobProgress& progress, HistoryScan& out);

}  // namespace loyalty::ops
