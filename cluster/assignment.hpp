// Who should apply a partition: a rendezvous (highest random weight) ranking of the live nodes
// per partition. Every node computes the same ranking from the same set of nodes, and a node
// joining or leaving moves only the partitions it ranks first on (about 1/N of them).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace loyalty::cluster {

// `nodes` in the order of preference for `partition`: the first is its preferred owner.
std::vector<std::string> rank_nodes(uint32_t partition, std::vector<std::string> nodes);

// The nodes that apply `partition`: its owner and the first `standbys` other nodes of the
// ranking; with no owner ("") the first `standbys` + 1. The first of the ranking is always in
// it (with standbys = 0 as one more), so that it is caught up when it takes the partition.
std::vector<std::string> apply_set(uint32_t partition, const std::vector<std::string>& nodes,
                                   const std::string& owner, uint32_t standbys);

}  // namespace loyalty::cluster
