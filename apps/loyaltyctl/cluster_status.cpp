// loyaltyctl cluster status --server URL --key KEY [--json]: GET /v1/cluster of one node, as a
// short report: the nodes, then one line per partition (owner, epoch, standbys, how far that
// node applied it), then what is wrong (a partition without an owner, the log or etcd down).
// Exit 0 when every partition has an owner and the log and etcd answer, 1 otherwise.
#include <boost/json.hpp>
#include <iostream>

#include "apps/loyaltyctl/commands.hpp"
#include "apps/loyaltyctl/remote.hpp"

namespace loyalty::ctl {
namespace {

namespace json = boost::json;

std::string text_at(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : std::string();
}

int64_t int_at(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value != nullptr && value->is_int64() ? value->as_int64() : 0;
}

bool flag_at(const json::object& object, std::string_view outer, std::string_view key) {
  const json::value* value = object.if_contains(outer);
  if (value == nullptr || !value->is_object()) return false;
  const json::value* flag = value->as_object().if_contains(key);
  return flag != nullptr && flag->is_bool() && flag->as_bool();
}

}  // namespace

int run_cluster_status(const Target& target) {
  const std::optional<Remote> remote = remote_of(target);
  if (!remote) return kExitUsage;
  std::string error;
  RemoteResponse response;
  if (!remote->request("GET", "/v1/cluster", "", "", "application/json", response, error)) {
    std::cerr << "loyaltyctl: " << remote->base() << ": " << error << "\n";
    return kExitProblemFound;
  }
  boost::system::error_code parse_error;
  const json::value document = json::parse(response.body, parse_error);
  if (response.status != 200 || parse_error || !document.is_object()) {
    std::cerr << "loyaltyctl: " << remote->base() << " answered " << response.status << ": "
              << response.body << "\n";
    return kExitProblemFound;
  }
  const json::object& cluster = document.as_object();
  std::vector<std::string> problems;
  if (!flag_at(cluster, "stream", "connected"))
    problems.push_back("the log (NATS) is not connected");
  if (!flag_at(cluster, "etcd", "ok")) problems.push_back("etcd did not answer the last read");
  const json::value* partitions = cluster.if_contains("partitions");
  size_t owned = 0, total = 0;
  if (partitions != nullptr && partitions->is_array()) {
    for (const json::value& item : partitions->as_array()) {
      if (!item.is_object()) continue;
      ++total;
      const json::value* owner = item.as_object().if_contains("owner");
      if (owner != nullptr && owner->is_string()) {
        ++owned;
      } else {
        problems.push_back("partition " + std::to_string(int_at(item.as_object(), "partition")) +
                           " has no owner (it moves, or no node can take it)");
      }
    }
  }
  if (target.json) {
    std::cout << json::serialize(cluster) << "\n";
    return problems.empty() ? kExitOk : kExitProblemFound;
  }
  std::cout << "cluster " << text_at(cluster, "name") << ", seen from node "
            << text_at(cluster, "node_id") << ": " << owned << " of " << total
            << " partitions owned, " << int_at(cluster, "failovers") << " failovers here\n";
  if (const json::value* nodes = cluster.if_contains("nodes");
      nodes != nullptr && nodes->is_array()) {
    for (const json::value& item : nodes->as_array()) {
      if (!item.is_object()) continue;
      const json::object& node = item.as_object();
      std::cout << "node " << text_at(node, "node_id") << " " << text_at(node, "url") << " alive, "
                << int_at(node, "caught_up_partitions") << " partitions caught up\n";
    }
  }
  if (partitions != nullptr && partitions->is_array()) {
    for (const json::value& item : partitions->as_array()) {
      if (!item.is_object()) continue;
      const json::object& p = item.as_object();
      std::string standbys;
      if (const json::value* list = p.if_contains("standbys");
          list != nullptr && list->is_array()) {
        for (const json::value& s : list->as_array()) {
          if (!s.is_string()) continue;
          if (!standbys.empty()) standbys += ",";
          standbys += std::string(s.as_string());
        }
      }
      const std::string owner = text_at(p, "owner");
      std::cout << "partition " << int_at(p, "partition") << " owner "
                << (owner.empty() ? std::string("-") : owner) << " epoch " << int_at(p, "epoch")
                << " standbys " << (standbys.empty() ? std::string("-") : standbys);
      if (p.contains("applied_sequence_here")) {
        std::cout << " applied here " << int_at(p, "applied_sequence_here") << " ("
                  << text_at(p, "role_here") << ")";
      }
      std::cout << "\n";
    }
  }
  for (const std::string& problem : problems) std::cout << "problem: " << problem << "\n";
  return problems.empty() ? kExitOk : kExitProblemFound;
}

}  // namespace loyalty::ctl
