// Small queries over a program.
#include "engine/program.hpp"

namespace loyalty {

Decimal Program::tier_multiplier(uint32_t tier_index) const {
  if (!tiers || tier_index >= tiers->levels.size()) return Decimal::from_integer(1);
  return tiers->levels[tier_index].multiplier;
}

std::string Program::tier_name(uint32_t tier_index) const {
  if (!tiers || tier_index >= tiers->levels.size()) return "member";
  return tiers->levels[tier_index].name;
}

const Reward* Program::reward(std::string_view reward_id) const {
  for (const Reward& reward : rewards) {
    if (reward.id == reward_id) return &reward;
  }
  return nullptr;
}

const TimeZone& Program::zone_of_store(std::string_view store_id) const {
  if (!store_time_zones.empty()) {
    if (const auto it = store_time_zones.find(store_id); it != store_time_zones.end()) {
      return *it->second;
    }
  }
  return *time_zone;
}

}  // namespace loyalty
