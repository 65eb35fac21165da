// The micro-benchmarks' program and realistic member (see micro_fixtures.hpp).
#include "bench/micro_fixtures.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "engine/program_toml.hpp"
#include "engine/referral_code.hpp"
#include "engine/tzdb/os_time_zones.hpp"

namespace loyalty::bench {
namespace {

constexpr int kWeeks = 52;

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "micro bench fixtures: %s\n", message.c_str());
  std::abort();
}

ProgramVersion load_shipped() {
  const std::string path = std::string(LOYALTY_SOURCE_DIR) + "/config/program.toml";
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  auto parsed = parse_program_toml(text.str(), path, os_time_zones());
  if (auto* error = std::get_if<ProgramLoadError>(&parsed)) die(path + ": " + error->message);
  return ProgramVersion{1, std::get<Program>(std::move(parsed)), text.str()};
}

struct Realistic {
  MemberState member;
  Effects last_effects;
};

Realistic build_realistic() {
  const ProgramVersion& program = shipped_program();
  const TimeMs start = micro_now() - kWeeks * 7 * kMsPerDay;
  std::optional<MemberState> member;
  Effects effects;
  SignupEvent signup;
  signup.member_id = "m-271828";
  signup.phone = "+8613800271828";
  signup.joined_at = start - kMsPerDay;
  signup.assigned_referral_code = referral_code_for(signup.member_id, 0);
  signup.referrer_member_id = "m-314159";
  if (Rejection r = apply_event({&program}, member, Event{signup}, effects); !r.ok()) {
    die("sign-up: " + r.message);
  }
  for (int week = 0; week < kWeeks; ++week) {
    effects.clear();
    PurchaseEvent purchase = micro_basket(3, "pos-" + std::to_string(week), signup.member_id);
    purchase.occurred_at = start + week * 7 * kMsPerDay;
    if (Rejection r = apply_event({&program}, member, Event{purchase}, effects); !r.ok()) {
      die("purchase: " + r.message);
    }
  }
  return {std::move(*member), std::move(effects)};
}

const Realistic& realistic() {
  static const Realistic built = build_realistic();
  return built;
}

}  // namespace

TimeMs micro_now() {
  static const TimeMs now = *parse_rfc3339("2026-11-20T10:15:00Z");
  return now;
}

const ProgramVersion& shipped_program() {
  static const ProgramVersion program = load_shipped();
  return program;
}

PurchaseEvent micro_basket(size_t lines, std::string event_id, std::string member_id) {
  static const char* const kCategories[] = {"beverage", "food", "merch", "gift-card"};
  PurchaseEvent purchase;
  purchase.event_id = std::move(event_id);
  purchase.member_id = std::move(member_id);
  purchase.store_id = "s-1";
  purchase.occurred_at = micro_now();
  purchase.currency = "CNY";
  for (size_t i = 0; i < lines; ++i) {
    purchase.lines.push_back({i % 7 == 0 ? "latte-l" : "sku-" + std::to_string(i),
                              kCategories[i % 4], 1 + static_cast<int64_t>(i % 2),
                              static_cast<AmountMinor>(1200 + 170 * i)});
  }
  return purchase;
}

const MemberState& realistic_member(Effects* last_effects) {
  if (last_effects != nullptr) *last_effects = realistic().last_effects;
  return realistic().member;
}

}  // namespace loyalty::bench
