// The member as the app and POS see it (api.md "Member view"): balances, tier progress and
// points expiring soon, computed from the state at a given instant.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/member_state.hpp"
#include "engine/program.hpp"

namespace loyalty {

inline constexpr int64_t kExpiringWindowDays = 30;  // domain.md: "expiring in the next 30 days"

struct ExpiringPoints {
  Points points = 0;
  TimeMs expires_at = 0;
};

struct QualifyingProgress {
  std::string metric;  // "spend" | "points" | "purchases"
  int64_t value = 0;
  std::string window;                    // "12 months" | "calendar year"
  std::optional<std::string> next_tier;  // none at the top tier
  int64_t needed = 0;                    // still needed for next_tier
};

struct MemberView {
  const MemberState* member = nullptr;
  std::string tier;
  std::string tier_benefits_json = "{}";
  std::optional<QualifyingProgress> qualifying;  // only when the program has tiers
  std::vector<ExpiringPoints> expiring;          // by date, one row per date
  std::string program_version;
};

MemberView build_member_view(const ProgramVersion& program, const MemberState& member, TimeMs now);

}  // namespace loyalty
