// The engine's pure core: apply(program, member state, event) → new state, ledger entries,
// notifications and the answer for the client. Staged as validate (no state) → check
// (state read only) → produce (cannot fail), so a refused event changes nothing.
// Thread-safety: free functions over caller-owned data; no shared state.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "engine/earning.hpp"
#include "engine/events.hpp"
#include "engine/ledger.hpp"
#include "engine/member_state.hpp"
#include "engine/outcome.hpp"
#include "engine/program.hpp"

namespace loyalty {

// A change pushed to subscribers of the member's feed once it is durable.
struct Notification {
  uint64_t seq = 0;  // per member, grows by one
  std::string type;  // "points.earned", …
  Points points = 0;
  std::string reference;
  TimeMs at = 0;
  friend bool operator==(const Notification&, const Notification&) = default;
};

struct PurchaseAnswer {
  Points points_earned = 0;
  Points points_redeemed = 0;
  std::vector<BreakdownLine> breakdown;
  Balance balance;
  std::string tier;
  bool tier_changed = false;
  friend bool operator==(const PurchaseAnswer&, const PurchaseAnswer&) = default;
};

// What the client is told; stored with the idempotency record and sent again on a replay.
// Sign-ups answer with the member view, which is read fresh, so they store nothing here.
using Answer = std::variant<std::monostate, PurchaseAnswer>;

struct Effects {
  std::vector<LedgerEntry> entries;
  std::vector<Notification> notifications;
  std::vector<uint64_t> lots_written;  // lot ids of `member.lots` whose records changed
  Answer answer;

  void clear() {
    entries.clear();
    notifications.clear();
    lots_written.clear();
    answer = std::monostate{};
  }
};

struct ApplyContext {
  const ProgramVersion* program = nullptr;
};

inline constexpr TimeMs kFutureToleranceMs = 5 * 60 * kMsPerSecond;  // domain.md: 5 minutes

// Stage 1: everything that can be checked without state: ids, lengths, amounts, times.
// `now` is the receiving server's clock; it is only used to refuse events from the future.
Rejection validate_input(const Event& event, TimeMs now);

// Stages 2 and 3. `member` is the member's current state, nullopt when unknown. On a
// refusal neither `member` nor `effects` is touched.
Rejection apply_event(const ApplyContext& context, std::optional<MemberState>& member,
                      const Event& event, Effects& effects);

// Σ ledger == available + pending + held == Σ lots: the books balance. Checked after every
// applied event by the runtime (an always-on assertion) and by verify over the store.
bool member_invariants_hold(const MemberState& member, Points ledger_sum);
bool lots_match_balance(const MemberState& member);

}  // namespace loyalty
