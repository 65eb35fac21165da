#include "cluster/cluster_config.hpp"

namespace loyalty::cluster {

uint32_t partition_of(std::string_view member_id, uint32_t partitions) {
  uint32_t hash = 2166136261u;  // FNV-1a-32 offset basis and prime
  for (const char c : member_id) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 16777619u;
  }
  return hash % partitions;
}

}  // namespace loyalty::cluster
