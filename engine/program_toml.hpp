// Loading program.toml (config.md) into a Program, and the semantic checks every program
// must pass before it is activated. No clock, and no file I/O of its own (zone names go to the
// database passed in); safe to call from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "engine/decimal.hpp"
#include "engine/program.hpp"
#include "engine/time_zone.hpp"

namespace loyalty {

// What is wrong with a program and where. `key` is the dotted TOML path of the offending value
// ("earning.points_per_unit", "tiers.levels[1].threshold", "campaigns[0].ends_at"); it is empty
// for a TOML syntax error, whose message then carries the source name, line and column.
struct ProgramLoadError {
  std::string key;
  std::string message;
};

// Limits on the text itself, checked before toml11 sees it: toml11 parses nested arrays and inline
// tables recursively, and a few thousand levels would overflow the stack of a server thread.
inline constexpr size_t kProgramTomlBytesMax = size_t{4} << 20;
inline constexpr int kTomlNestingMax = 32;  // [ and { levels; a program needs about 4

// Limits a program must stay within. They bound the work one event does (campaigns and tiers are
// scanned per purchase) and keep every product of the earning arithmetic far from overflow.
inline constexpr size_t kCampaignsMax = 1000;
inline constexpr size_t kMilestonesMax = 1000;
inline constexpr size_t kTierLevelsMax = 100;
inline constexpr size_t kMultiplierEntriesMax = 10000;  // per category / SKU multiplier table
inline constexpr size_t kNameListEntriesMax = 10000;    // excluded categories, campaign stores…
inline constexpr size_t kBenefitsJsonBytesMax = 4096;   // returned to the app with every view
inline constexpr Decimal kMultiplierMax = Decimal::from_integer(1000);
inline constexpr Decimal kPointsPerUnitMax = Decimal::from_integer(1'000'000);
inline constexpr uint32_t kPendingDaysMax = 3650;
inline constexpr uint32_t kWindowMonthsMax = 120;
inline constexpr uint32_t kRetainMonthsMax = 120;
inline constexpr uint32_t kReferralWindowDaysMax = 3650;
inline constexpr uint32_t kHoldTtlSecondsMax = 86'400 * 30;
inline constexpr uint32_t kExpiryDaysMax = 36'500;
inline constexpr uint32_t kExpiryMonthsMax = 1200;
inline constexpr size_t kStoresMax = 10000;           // [[stores]] with a zone of their own
inline constexpr size_t kCampaignHoursMax = 24;       // spans in one campaign's `hours`
inline constexpr size_t kTimeZoneNameLengthMax = 64;  // the longest IANA name has 32
// The catalog: rewards are listed with every member's catalog view, so it stays a size a
// mini-program can show; stock and limits stay far from the counters' range.
inline constexpr size_t kRewardsMax = 1000;
inline constexpr int64_t kRewardStockMax = 1'000'000'000;
inline constexpr uint32_t kRewardMemberLimitMax = 1'000'000;
inline constexpr uint32_t kCouponValidDaysMax = 3650;

// Parses program.toml text and validates the result (validate_program). `source_name` (usually
// the file path) only appears in messages about the text itself: syntax, size, nesting. Zone
// names (`program.time_zone`, `stores[i].time_zone`) are resolved in `zones`: the programs pass
// the operating system's (engine/tzdb/os_time_zones.hpp). Never throws.
[[nodiscard]] std::variant<Program, ProgramLoadError> parse_program_toml(
    std::string_view text, std::string_view source_name, const TimeZoneDatabase& zones);

// The semantic checks of config.md, for programs from TOML and programs built in code alike.
// Returns the first problem found, checking sections in file order.
[[nodiscard]] std::optional<ProgramLoadError> validate_program(const Program& program);

}  // namespace loyalty
