// A small scenario language over the pure engine, so tests read like the spec:
//   Scenario s(program);  s.member("m1");  s.purchase("e1", "m1", {line("latte", "beverage",
//   6400)}); EXPECT_EQ(s.last().points_earned, 128);
// Every applied event also checks the books-balance invariants.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "engine/apply.hpp"
#include "engine/time.hpp"

namespace loyalty::testing {

inline TimeMs at(std::string_view rfc3339) {
  auto parsed = parse_rfc3339(rfc3339);
  EXPECT_TRUE(parsed.has_value()) << rfc3339;
  return parsed.value_or(0);
}

inline PurchaseLine line(std::string sku, std::string category, AmountMinor amount,
                         int64_t quantity = 1) {
  return PurchaseLine{std::move(sku), std::move(category), quantity, amount};
}

// A program with the spec's base numbers: 1 point per 100 minor units of CNY.
inline Program basic_program() {
  Program program;
  program.id = "test-club";
  program.currency = "CNY";
  program.earning.points_per_unit = Decimal::from_integer(1);
  program.earning.unit_minor = 100;
  return program;
}

class Scenario {
 public:
  explicit Scenario(Program program, uint32_t version = 1) {
    version_.number = version;
    version_.program = std::move(program);
  }

  ProgramVersion& program() { return version_; }

  Rejection member(const std::string& member_id, TimeMs joined_at = at("2026-01-01T00:00:00Z")) {
    SignupEvent signup;
    signup.member_id = member_id;
    signup.joined_at = joined_at;
    signup.assigned_referral_code = "CODE" + std::to_string(members_.size());
    return apply(Event{signup});
  }

  Rejection purchase(const std::string& event_id, const std::string& member_id,
                     std::vector<PurchaseLine> lines,
                     TimeMs occurred_at = at("2026-11-20T10:00:00Z"),
                     std::string store_id = "s-1") {
    PurchaseEvent p;
    p.event_id = event_id;
    p.member_id = member_id;
    p.store_id = std::move(store_id);
    p.occurred_at = occurred_at;
    p.currency = version_.program.currency;
    p.lines = std::move(lines);
    return apply(Event{std::move(p)});
  }

  Rejection apply(const Event& event) {
    std::optional<MemberState>& slot = members_[event.member_id()];
    const std::optional<MemberState> before = slot;
    Effects effects;
    const Rejection rejection = apply_event(ApplyContext{&version_}, slot, event, effects);
    if (!rejection.ok()) {
      EXPECT_EQ(slot, before) << "a refused event changed the member";
      EXPECT_TRUE(effects.entries.empty()) << "a refused event produced entries";
      return rejection;
    }
    auto& ledger = ledgers_[event.member_id()];
    ledger.insert(ledger.end(), effects.entries.begin(), effects.entries.end());
    Points sum = 0;
    for (const LedgerEntry& entry : ledger) sum += entry.points;
    EXPECT_TRUE(member_invariants_hold(*slot, sum)) << "books do not balance";
    if (auto* answer = std::get_if<PurchaseAnswer>(&effects.answer)) last_ = *answer;
    last_effects_ = std::move(effects);
    return rejection;
  }

  const PurchaseAnswer& last() const { return last_; }
  const Effects& last_effects() const { return last_effects_; }
  const MemberState& state(const std::string& member_id) { return *members_.at(member_id); }
  const std::vector<LedgerEntry>& ledger(const std::string& member_id) {
    return ledgers_[member_id];
  }

 private:
  ProgramVersion version_;
  std::map<std::string, std::optional<MemberState>> members_;
  std::map<std::string, std::vector<LedgerEntry>> ledgers_;
  PurchaseAnswer last_;
  Effects last_effects_;
};

}  // namespace loyalty::testing
