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

}  // namespace loyalty
