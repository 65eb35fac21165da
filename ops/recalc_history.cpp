// Rebuilding the history of a range's purchases from the event log; see recalc_history.hpp.
#include "ops/recalc_history.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include "engine/apply.hpp"
#include "engine/check.hpp"
#include "storage/program_versions.hpp"

namespace loyalty::ops {
namespace {

// The scratch state of the members replayed: what the runtime's store would hold for them.
struct Scratch {
  std::unordered_map<std::string, std::optional<MemberState>> members;
  std::unordered_map<std::string, PurchaseRecord> purchases;  // by event id
  std::unordered_map<std::string, Hold> holds;                // by hold id, any state
  std::unordered_map<std::string, size_t> tracked;            // event id → index in `out`
};

const std::string* hold_of(const Event& event) {
  if (const auto* action = std::get_if<HoldActionEvent>(&event.body)) return &action->hold_id;
  if (const auto* purchase = std::get_if<PurchaseEvent>(&event.body)) {
    if (!purchase->hold_id.empty()) return &purchase->hold_id;
  }
  return nullptr;
}

// The purchase a refund or a recalc adjustment names; nullptr for other events.
const std::string* purchase_named_by(const Event& event) {
  if (const auto* refund = std::get_if<RefundEvent>(&event.body)) {
    return &refund->original_event_id;
  }
  if (const auto* recalc = std::get_if<RecalcAdjustmentEvent>(&event.body)) {
    return &recalc->event_id;
  }
  return nullptr;
}

template <typename T>
const T* find_in(const std::unordered_map<std::string, T>& map, const std::string* key) {
  if (key == nullptr) return nullptr;
  const auto it = map.find(*key);
  return it == map.end() ? nullptr : &it->second;
}

// A stop asked for while scanning: `busy`, like the member jobs, so the job runner leaves the
// job to resume at the next start.
Status interrupted(const std::string& where) {
  return Status::error(Status::Code::busy, "recalculation interrupted while " + where);
}

// What points paid of the purchase, in minor units, the way the purchase handler valued it.
AmountMinor paid_by_points(const Program& program, Points points_redeemed) {
  if (points_redeemed <= 0 || !program.redemption) return 0;
  return static_cast<AmountMinor>(Int128{points_redeemed} * program.earning.unit_minor /
                                  program.redemption->points_per_currency_unit);
}

// The event when it is a purchase with occurred_at in [from, to) — what a recalculation re-runs.
const PurchaseEvent* purchase_in_range(const Event& event, TimeMs from, TimeMs to) {
  const auto* purchase = std::get_if<PurchaseEvent>(&event.body);
  return purchase != nullptr && purchase->occurred_at >= from && purchase->occurred_at < to
             ? purchase
             : nullptr;
}

Status replay_one(const StoredPrograms& programs, const StoredEvent& stored, TimeMs from, TimeMs to,
                  Scratch& scratch, JobProgress& progress, HistoryScan& out) {
  const auto version = programs.versions.find(stored.program_version);
  if (version == programs.versions.end()) {
    return Status::error(Status::Code::corruption,
                         "log event " + std::to_string(stored.log_seq) + " names program version " +
                             std::to_string(stored.program_version) + ", which is not stored");
  }
  const Event& event = stored.event;
  std::optional<MemberState>& member = scratch.members[event.member_id()];
  ApplyContext context{version->second.get()};
  context.original_purchase = find_in(scratch.purchases, purchase_named_by(event));
  context.stored_hold = find_in(scratch.holds, hold_of(event));

  const PurchaseEvent* purchase = purchase_in_range(event, from, to);
  RecalcHistory before;
  if (purchase != nullptr && member) {
    before.tier_index = member->tier_index;
    before.tier_name = context.program->program.tier_name(member->tier_index);
    before.purchase_count_before = member->purchase_count;
  }
  std::optional<PurchaseRecord> record_before;
  if (context.original_purchase != nullptr) record_before = *context.original_purchase;

  Effects effects;
  const Rejection rejection = apply_event(context, member, event, effects);
  if (!rejection.ok()) {
    return Status::error(Status::Code::corruption, "log event " + std::to_string(stored.log_seq) +
                                                       " does not replay: " + rejection.message);
  }
  for (const Hold& hold : effects.holds_written) scratch.holds[hold.hold_id] = hold;
  if (!effects.purchase) return Status::ok_status();
  const PurchaseRecord& record = *effects.purchase;
  scratch.purchases[record.event_id] = record;
  const auto tracked = scratch.tracked.find(record.event_id);

  if (purchase != nullptr) {
    PurchaseHistory history;
    history.purchase = *purchase;
    history.history = std::move(before);
    history.history.paid_by_points_minor =
        paid_by_points(context.program->program, record.points_redeemed);
    for (const Lot& lot : member->lots) {
      if (lot.lot_id == record.lot_id && record.lot_id != 0) {
        history.had_lot = true;
        history.lot_expires_at = lot.expires_at;
      }
    }
    history.record = record;
    scratch.tracked[record.event_id] = out.purchases.size();
    out.purchases.push_back(std::move(history));
    ++progress.done;
  } else if (tracked != scratch.tracked.end()) {
    PurchaseHistory& history = out.purchases[tracked->second];
    if (std::holds_alternative<RefundEvent>(event.body) && record_before) {
      // What this refund took of each line: the same refund, re-run under the new rules.
      std::vector<AmountMinor> per_line(record.lines.size());
      for (size_t i = 0; i < record.lines.size(); ++i) {
        per_line[i] = record.lines[i].refunded_minor - record_before->lines[i].refunded_minor;
      }
      history.history.refunds.push_back(std::move(per_line));
    } else if (const auto* recalc = std::get_if<RecalcAdjustmentEvent>(&event.body)) {
      history.adjusted_by_jobs.push_back(recalc->job_id);
    }
    history.record = record;
  }
  return Status::ok_status();
}

}  // namespace

bool MemberSlice::contains(std::string_view member_id) const {
  // FNV-1a: the same slice for a member in every pass of one run.
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : member_id) {
    hash ^= static_cast<uint8_t>(c);
    hash *= 0x100000001b3ULL;
  }
  if (include && !include(member_id)) return false;
  return count <= 1 || hash % count == index;
}

Status count_purchases_in_range(RocksStore& store, const ReadSnapshot& snapshot, TimeMs from,
                                TimeMs to, JobProgress& progress, uint64_t& purchases,
                                uint64_t& log_seq,
                                const std::function<bool(std::string_view)>& include) {
  purchases = 0;
  log_seq = 0;
  bool stopped = false;
  Status status = store.scan_events(
      1,
      [&](const StoredEvent& stored) {
        stopped = stopped || progress.stop_requested.load(std::memory_order_relaxed);
        if (stopped) return false;
        log_seq = std::max(log_seq, stored.log_seq);
        const PurchaseEvent* p = purchase_in_range(stored.event, from, to);
        if (p != nullptr && (!include || include(p->member_id))) ++purchases;
        return true;
      },
      &snapshot);
  if (!status.ok()) return status;
  if (stopped) return interrupted("counting the purchases in range");
  return Status::ok_status();
}

Status scan_history(RocksStore& store, const ReadSnapshot& snapshot, TimeMs from, TimeMs to,
                    const MemberSlice& slice, JobProgress& progress, HistoryScan& out) {
  out = HistoryScan{};
  StoredPrograms programs;
  if (Status status = load_stored_programs(store, programs); !status.ok()) return status;

  // Both passes read the whole log, which is most of a recalculation's time, so a stop asked
  // for (loyaltyd shutting down) is honoured between events: nothing is written here.
  bool stopped = false;
  const auto stop_now = [&] {
    stopped = stopped || progress.stop_requested.load(std::memory_order_relaxed);
    return stopped;
  };

  // Pass 1: who of the slice has purchases in range (only their events need replaying).
  std::set<std::string> members;
  uint64_t in_range = 0;
  Status status = store.scan_events(
      1,
      [&](const StoredEvent& stored) {
        if (stop_now()) return false;
        out.log_seq = std::max(out.log_seq, stored.log_seq);
        const PurchaseEvent* p = purchase_in_range(stored.event, from, to);
        if (p != nullptr && slice.contains(p->member_id)) {
          members.insert(p->member_id);
          ++in_range;
        }
        return true;
      },
      &snapshot);
  if (!status.ok()) return status;
  if (stopped) return interrupted("finding the purchases in range");

  // Pass 2: replay those members from empty, in log order (a member's events are in the
  // order they were applied), over the same snapshot.
  Scratch scratch;
  Status replayed = Status::ok_status();
  status = store.scan_events(
      1,
      [&](const StoredEvent& stored) {
        if (stop_now()) return false;
        if (!members.contains(stored.event.member_id())) return true;
        replayed = replay_one(programs, stored, from, to, scratch, progress, out);
        return replayed.ok();
      },
      &snapshot);
  if (!status.ok()) return status;
  if (!replayed.ok()) return replayed;
  if (stopped) {
    return interrupted("replaying, " + std::to_string(progress.done.load()) + " of " +
                       std::to_string(progress.total.load()) + " purchases reached");
  }
  LOYALTY_CHECK(out.purchases.size() == in_range);

  std::stable_sort(out.purchases.begin(), out.purchases.end(),
                   [](const PurchaseHistory& a, const PurchaseHistory& b) {
                     return a.purchase.member_id < b.purchase.member_id;
                   });
  for (PurchaseHistory& history : out.purchases) history.history.purchase = &history.purchase;
  return Status::ok_status();
}

}  // namespace loyalty::ops
