#include "cluster/assignment.hpp"

#include <algorithm>

namespace loyalty::cluster {
namespace {

// A 64-bit mix of (node, partition): FNV-1a over the id, then the partition, finished with
// splitmix64 so that nearby partitions rank nodes independently.
uint64_t weight(const std::string& node, uint32_t partition) {
  uint64_t hash = 14695981039346656037ull;
  for (const char c : node) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  hash ^= partition;
  hash += 0x9e3779b97f4a7c15ull;
  hash = (hash ^ (hash >> 30)) * 0xbf58476d1ce4e5b9ull;
  hash = (hash ^ (hash >> 27)) * 0x94d049bb133111ebull;
  return hash ^ (hash >> 31);
}

}  // namespace

std::vector<std::string> rank_nodes(uint32_t partition, std::vector<std::string> nodes) {
  std::sort(nodes.begin(), nodes.end(), [partition](const std::string& a, const std::string& b) {
    const uint64_t wa = weight(a, partition), wb = weight(b, partition);
    return wa != wb ? wa > wb : a < b;
  });
  return nodes;
}

std::vector<std::string> apply_set(uint32_t partition, const std::vector<std::string>& nodes,
                                   const std::string& owner, uint32_t standbys) {
  std::vector<std::string> set;
  if (!owner.empty()) set.push_back(owner);
  // The preferred node (the first) always applies, to be caught up when it takes the partition
  // (it has no owner, or the owner hands it over): with standbys = 0 it is one more.
  const std::vector<std::string> ranking = rank_nodes(partition, nodes);
  const bool preferred_extra = standbys == 0 && !ranking.empty() && ranking.front() != owner;
  const uint32_t wanted = standbys + (owner.empty() || preferred_extra ? 1 : 0);
  uint32_t taken = 0;
  for (const std::string& node : ranking) {
    if (taken == wanted) break;
    if (node == owner) continue;
    set.push_back(node);
    ++taken;
  }
  return set;
}

}  // namespace loyalty::cluster
