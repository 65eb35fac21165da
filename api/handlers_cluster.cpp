// GET /v1/cluster (admin, cluster.md): this node's view of the cluster: the nodes alive, each
// partition's owner, epoch and standbys, how far this node applied the ones it applies, and
// whether the log and etcd answer. In single mode there is no cluster: 404.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <map>

#include "api/handlers.hpp"
#include "api/problem.hpp"
#include "cluster/node.hpp"

namespace loyalty::api {

HttpResponse handle_get_cluster(const ApiContext& context) {
  if (context.cluster == nullptr) {
    return problem_response(ErrorCode::not_found, "this server runs alone, not in a cluster");
  }
  const cluster::ClusterNode& node = *context.cluster;
  const cluster::ClusterView view = node.view();
  boost::json::array nodes;
  for (const cluster::ClusterView::Node& n : view.nodes) {
    nodes.push_back(boost::json::object{{"node_id", n.node_id},
                                        {"url", n.url},
                                        {"alive", true},
                                        {"caught_up_partitions", n.caught_up.size()}});
  }
  std::map<uint32_t, uint64_t> lag;  // of the partitions this node applies
  for (const cluster::ClusterNode::Applying& applying : node.applying()) {
    lag[applying.partition] = applying.lag;
  }
  boost::json::array partitions;
  for (uint32_t p = 0; p < view.partitions.size(); ++p) {
    const cluster::ClusterView::Partition& partition = view.partitions[p];
    boost::json::array standbys;
    for (const std::string& standby : partition.standbys)
      standbys.push_back(boost::json::string(standby));
    boost::json::object item{
        {"partition", p},
        {"owner", partition.owner.empty() ? boost::json::value(nullptr)
                                          : boost::json::value(partition.owner)},
        {"epoch", partition.epoch},
        {"standbys", std::move(standbys)},
        {"role_here", cluster::role_name(node.role(p))}};
    if (node.role(p) != cluster::Role::none) {
      item["applied_sequence_here"] = node.applied_through(p);
      if (const auto it = lag.find(p); it != lag.end()) item["lag_here"] = it->second;
      if (std::string problem = node.problem(p); !problem.empty()) {
        item["last_error"] = std::move(problem);
      }
    }
    partitions.push_back(std::move(item));
  }
  const cluster::NodeMetrics& metrics = node.metrics();
  return json_response(
      http::status::ok,
      boost::json::object{
          {"name", node.config().name},
          {"node_id", node.config().node_id},
          {"nodes", std::move(nodes)},
          {"partitions", std::move(partitions)},
          {"stream", boost::json::object{{"connected", node.log_connected()},
                                         {"replicas", node.config().stream_replicas}}},
          {"etcd", boost::json::object{{"ok", view.etcd_ok}}},
          {"failovers", node.failovers()},
          {"events", boost::json::object{{"published", metrics.published.load()},
                                         {"forwarded", metrics.forwarded.load()},
                                         {"timed_out", metrics.timed_out.load()}}}});
}

}  // namespace loyalty::api
