// Shared by the power-loss and write-fault tests: a temporary folder, a program that uses every
// feature the checks look at, a blocking submit, and the check that a store agrees with itself.
#pragma once

#include <filesystem>
#include <set>
#include <string>

#include "engine/runtime/runtime.hpp"
#include "storage/rocks_store.hpp"

namespace loyalty::durability {

// A folder of its own, removed with everything in it at the end.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// Referrals (both rewards), milestones, two tiers, redemption and holds; points never expire
// and are never pending, so nothing depends on the clock.
ProgramVersion program_version();

EventResult submit_and_wait(Runtime& runtime, Event event);

// What the store holds after its runtime stopped, checked against itself (gtest expectations,
// each naming `context`):
// - every member's books balance: Σ ledger = available + pending + held = Σ lots − debt, the
//   ledger numbered 1..n without a gap, the newest entry's balance_after the total;
// - every event in the log once: no client id twice, no member signed up twice, no follow-up
//   twice; each logged event has its idempotency record (a sign-up: its member);
// - referral follow-ups exactly once: one reward per purchase that earned a referee's reward,
//   one reversal per purchase whose completing refund clawed it back, none left in the outbox.
// Returns the keys of the logged events: Event::idempotency_key(), "signup:<member id>" for
// sign-ups.
std::set<std::string> expect_consistent(RocksStore& store, const std::string& context);

// The key expect_consistent() lists `event` under.
std::string log_key(const Event& event);

}  // namespace loyalty::durability
