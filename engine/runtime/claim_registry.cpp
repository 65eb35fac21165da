// Sharded claim table: one small lock per shard keeps partitions from contending.
#include "engine/runtime/claim_registry.hpp"

#include <functional>

namespace loyalty {

ClaimTable::Shard& ClaimTable::shard_for(const std::string& key) {
  return shards_[std::hash<std::string>{}(key) % shards_.size()];
}

bool ClaimTable::claim(const std::string& key, std::string_view owner) {
  Shard& shard = shard_for(key);
  std::lock_guard lock(shard.mutex);
  auto [it, inserted] = shard.owners.try_emplace(key, owner);
  return inserted || it->second == owner;
}

void ClaimTable::release(const std::string& key, std::string_view owner) {
  Shard& shard = shard_for(key);
  std::lock_guard lock(shard.mutex);
  auto it = shard.owners.find(key);
  if (it != shard.owners.end() && it->second == owner) shard.owners.erase(it);
}

}  // namespace loyalty
