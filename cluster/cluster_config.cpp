#include "cluster/cluster_config.hpp"

#include "engine/runtime/runtime.hpp"

namespace loyalty::cluster {

uint32_t partition_of(std::string_view member_id, uint32_t partitions) {
  return member_partition(member_id, partitions);  // the runtime's own, in log-driven mode
}

}  // namespace loyalty::cluster
