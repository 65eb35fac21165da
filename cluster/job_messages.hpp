// Cluster mode's job messages (api.md "Webhooks": job.succeeded and job.failed, also in cluster
// mode). A cluster job ends when etcd holds the result of its last partition, written by
// whichever node ran it; the job record as it ended is then put in etcd once per run
// ("/<name>/job-messages/<job id>/<run>", run: the newest revision of the run's parts), numbered
// from a counter in etcd ("/<name>/job-messages-count"). Every node's job loop makes sure of it
// for the jobs it sees ended (create-if-absent: the first wins), so a node that stops right after
// the last part leaves the message to the next poll of another. The owner of partition 0
// delivers them (cluster/webhook_lanes.hpp), in number order.
// Thread-safety: free functions over a thread-safe EtcdClient.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "cluster/etcd_client.hpp"
#include "storage/job_record.hpp"

namespace loyalty::cluster {

struct ClusterJobMessage {
  uint64_t number = 0;
  JobRecord job;  // as it ended
};

// Every job message's key ("<job id>/<run>", what ensure_job_message is given), for a poll.
Status job_message_runs(EtcdClient& etcd, const std::string& cluster_name,
                        std::set<std::string>& out);
// Puts the job message of `job` (ended) for its run `run`, unless there is one.
Status ensure_job_message(EtcdClient& etcd, const std::string& cluster_name, const JobRecord& job,
                          int64_t run);
// Every job message, in number order.
Status list_job_messages(EtcdClient& etcd, const std::string& cluster_name,
                         std::vector<ClusterJobMessage>& out);
// The number the next job message will have (1 when there was none).
Status next_job_message_number(EtcdClient& etcd, const std::string& cluster_name, uint64_t& out);

}  // namespace loyalty::cluster
