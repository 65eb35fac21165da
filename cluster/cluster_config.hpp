// [cluster] of server.toml (../shared/spec/cluster.md "server.toml"): absent, loyaltyd runs
// alone; present, it is one node of a cluster whose log is a JetStream stream and whose shared
// facts (partition count, owners, leases) live in etcd.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace loyalty::cluster {

struct ClusterConfig {
  std::string name = "loyalty";  // prefix of every subject, stream and etcd key
  std::string node_id;           // unique in the cluster: [a-z0-9-]{1,32}
  std::vector<std::string> nats_urls;
  std::vector<std::string> etcd_endpoints;  // http://HOST:PORT of etcd's JSON gateway
  uint32_t partitions = 32;                 // fixed at the cluster's creation (1..4096)
  uint32_t stream_replicas = 3;             // 1 with a single NATS server
  uint32_t standbys = 1;                    // per partition, where there are enough nodes
  uint32_t lease_seconds = 5;               // 2..60
};

// The logical partition of a member: FNV-1a-32 of its id modulo `partitions` (cluster.md).
uint32_t partition_of(std::string_view member_id, uint32_t partitions);

}  // namespace loyalty::cluster
