// Fuzz target: the program.toml loader (engine/program_toml.hpp: parse_program_toml, which ends
// in validate_program). Properties of every program it accepts: validate_program accepts it
// again; tier thresholds start at 0 and strictly ascend; milestone counts strictly ascend;
// campaigns end after they start; the limits hold; tier benefits are a JSON object; every zone
// (the program's, each store's) resolves again by its name and converts consistently; campaign
// hours are spans inside one day; and the earning arithmetic on extreme baskets stays exact
// (UBSan stops on any overflow) with the breakdown adding up to the points.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/earning.hpp"
#include "engine/program_toml.hpp"
#include "engine/tzdb/os_time_zones.hpp"
#include "fuzz/property.hpp"

namespace {
using namespace loyalty;

// A zone the loader accepted: its name resolves again, and local time round-trips (the instant of
// an instant's local time shows the same local time; in an overlap it may be the other one).
void check_zone(const TimeZonePtr& zone) {
  FUZZ_PROPERTY(zone != nullptr, "an accepted program's zones are resolved");
  FUZZ_PROPERTY(os_time_zones().find(zone->name()) != nullptr, "a zone resolves by its name");
  for (const TimeMs instant : {TimeMs{0}, TimeMs{1'790'000'000'000}, TimeMs{2'240'000'000'000}}) {
    const TimeMs local = zone->local_of(instant);
    FUZZ_PROPERTY(zone->local_of(zone->instant_of(local)) == local,
                  "local time round-trips through its instant");
  }
}

void check_shape(const Program& program) {
  check_zone(program.time_zone);
  FUZZ_PROPERTY(program.store_time_zones.size() <= kStoresMax, "store limit");
  for (const auto& [store, zone] : program.store_time_zones) check_zone(zone);
  FUZZ_PROPERTY(!validate_program(program).has_value(), "an accepted program validates again");
  FUZZ_PROPERTY(program.campaigns.size() <= kCampaignsMax, "campaign limit");
  FUZZ_PROPERTY(program.milestones.size() <= kMilestonesMax, "milestone limit");
  for (const Campaign& campaign : program.campaigns) {
    FUZZ_PROPERTY(campaign.starts_at < campaign.ends_at, "a campaign ends after it starts");
    FUZZ_PROPERTY(campaign.multiplier.has_value() != campaign.bonus_points.has_value(),
                  "a campaign has exactly one of multiplier and bonus_points");
    FUZZ_PROPERTY(campaign.hours.size() <= kCampaignHoursMax, "hours limit");
    for (const LocalHours& span : campaign.hours) {
      FUZZ_PROPERTY(span.start_minute < span.end_minute && span.end_minute <= 24 * 60,
                    "campaign hours are a span inside one day");
    }
  }
  for (size_t i = 1; i < program.milestones.size(); ++i) {
    FUZZ_PROPERTY(program.milestones[i - 1].purchase_count < program.milestones[i].purchase_count,
                  "milestone counts strictly ascend");
  }
  if (!program.tiers) return;
  const std::vector<TierLevel>& levels = program.tiers->levels;
  FUZZ_PROPERTY(!levels.empty() && levels.size() <= kTierLevelsMax, "1 to 100 tier levels");
  FUZZ_PROPERTY(levels.front().threshold == 0, "the first tier's threshold is 0");
  for (size_t i = 0; i < levels.size(); ++i) {
    if (i > 0) {
      FUZZ_PROPERTY(levels[i - 1].threshold < levels[i].threshold,
                    "tier thresholds strictly ascend");
    }
    FUZZ_PROPERTY(levels[i].benefits_json.size() <= kBenefitsJsonBytesMax, "benefits limit");
    boost::system::error_code error;
    const boost::json::value benefits = boost::json::parse(levels[i].benefits_json, error);
    if (error) std::fprintf(stderr, "benefits: %s\n", levels[i].benefits_json.c_str());
    FUZZ_PROPERTY(!error && benefits.is_object(), "tier benefits are a JSON object");
    // The member view embeds them: what the API writes must be JSON again.
    boost::system::error_code again;
    boost::json::parse(boost::json::serialize(benefits), again);
    FUZZ_PROPERTY(!again, "tier benefits stay JSON when written back");
  }
}

// The largest basket the API accepts (10^12 minor units), spread over the program's own
// categories and SKUs, at a time when `campaign` (if any) runs, at the highest tier, just
// before the last milestone.
void check_earning(const Program& program, const Campaign* campaign) {
  PurchaseEvent purchase;
  purchase.event_id = "e-fuzz";
  purchase.member_id = "m-fuzz";
  purchase.store_id = campaign && !campaign->stores.empty() ? *campaign->stores.begin() : "s-1";
  purchase.occurred_at = campaign ? campaign->starts_at : 1'790'000'000'000;
  purchase.currency = program.currency;
  std::vector<std::pair<std::string, std::string>> kinds;  // sku, category
  for (const auto& [category, multiplier] : program.earning.category_multipliers) {
    kinds.emplace_back("sku-any", category);
    if (kinds.size() == 3) break;
  }
  for (const auto& [sku, multiplier] : program.earning.sku_multipliers) {
    kinds.emplace_back(sku, "category-any");
    if (kinds.size() == 6) break;
  }
  if (campaign && !campaign->categories.empty()) {
    kinds.emplace_back("sku-any", *campaign->categories.begin());
  }
  if (kinds.empty()) kinds.emplace_back("sku-any", "category-any");
  for (const auto& [sku, category] : kinds) {
    purchase.lines.push_back(
        {sku, category, 1, kAmountMax / static_cast<AmountMinor>(kinds.size())});
  }
  EarningInput input;
  input.purchase = &purchase;
  input.tier_index =
      program.tiers ? static_cast<uint32_t>(program.tiers->levels.size() - 1) : uint32_t{0};
  input.purchase_count_before =
      program.milestones.empty() ? 0 : program.milestones.back().purchase_count - 1;
  const std::optional<EarningResult> result = compute_earning(program, input);
  if (!result) return;  // refused as too large for exact arithmetic: allowed, never wrong
  Points sum = 0;
  for (const BreakdownLine& line : result->breakdown) sum += line.points;
  FUZZ_PROPERTY(sum == result->points, "the breakdown adds up to the points");
  FUZZ_PROPERTY(result->points >= 0, "a purchase never earns negative points");
  AmountMinor total = 0;
  for (const PurchaseLine& line : purchase.lines) total += line.amount_minor;
  FUZZ_PROPERTY(result->order_total_minor == total, "the order total is the lines' sum");
  FUZZ_PROPERTY(result->eligible_minor >= 0 && result->eligible_minor <= total,
                "the eligible amount is part of the order");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = parse_program_toml(text, "fuzz.toml", os_time_zones());
  if (const auto* error = std::get_if<ProgramLoadError>(&parsed)) {
    FUZZ_PROPERTY(!error->message.empty(), "a refused program is told why");
    return 0;
  }
  const Program& program = std::get<Program>(parsed);
  check_shape(program);
  check_earning(program, nullptr);
  if (!program.campaigns.empty()) check_earning(program, &program.campaigns.front());
  if (program.campaigns.size() > 1) check_earning(program, &program.campaigns.back());
  return 0;
}
