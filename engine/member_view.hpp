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
  friend bool operator==(const ExpiringPoints&, const ExpiringPoints&) = default;
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

// The free points of a member's lots at each of their earliest expiry dates: what the view's
// "expiring" needs, without the lots (a busy member has thousands; storage keeps this beside
// the member instead of reading them all for a view).
inline constexpr size_t kExpiryScheduleDates = 8;
struct ExpirySchedule {
  std::vector<ExpiringPoints> dates;  // ascending, at most kExpiryScheduleDates, points > 0
  // Every date up to this one is in `dates`; a later one may be missing (kTimeNever: none is).
  TimeMs complete_through = kTimeNever;
  friend bool operator==(const ExpirySchedule&, const ExpirySchedule&) = default;
};
ExpirySchedule expiry_schedule(const MemberState& member);  // from member.lots

// The view with "expiring" taken from the schedule instead of member.lots; nullopt when the
// schedule ends before the view's horizon (read the lots then).
std::optional<MemberView> build_member_view(const ProgramVersion& program,
                                            const MemberState& member,
                                            const ExpirySchedule& schedule, TimeMs now);

}  // namespace loyalty
