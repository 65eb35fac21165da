// This node's place in the cluster, kept in etcd (docs/decisions.md "Cluster mode"): one lease
// per node, a registration under it, and partition owners as keys created only when absent,
// under the owner's lease (their create_revision is the owner's epoch). A thread keeps the
// lease alive, reads the nodes and owners every tick, takes the partitions this node should
// own, gives up the ones a better-placed node is ready for, and tells which partitions this
// node applies, as owner or standby.
// A node acts for a partition only while its lease is live by its own clock: the start of the
// last successful keep-alive plus the lease, less a margin. So a node paused past its lease
// stops answering the moment it runs again, before it hears anything from etcd.
// Thread-safety: every public method from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cluster/cluster_config.hpp"
#include "cluster/etcd_client.hpp"
#include "engine/status.hpp"

namespace loyalty::cluster {

enum class Role : uint8_t { none = 0, standby = 1, owner = 2 };
const char* role_name(Role role);

struct ClusterView {
  struct Node {
    std::string node_id;
    std::string url;
    std::set<uint32_t> caught_up;  // partitions it applies and has applied to the end
  };
  struct Partition {
    std::string owner;  // "" when none
    int64_t epoch = 0;  // the owner key's create_revision
    std::vector<std::string> standbys;
  };
  std::vector<Node> nodes;            // live ones, by id
  std::vector<Partition> partitions;  // by partition number
  bool etcd_ok = false;               // the last tick read etcd
};

class Ownership {
 public:
  struct Options {
    ClusterConfig cluster;
    std::string url;  // where this node's API answers (for forwarding)
    std::chrono::milliseconds tick{200};
    // A partition without an owner this long may be taken by any node that applies it, not
    // only its preferred node (which may be alive but unable to take it).
    std::chrono::milliseconds unowned_grace{0};  // 0: lease_seconds
  };
  // Told, on the ownership thread, every change of this node's role for a partition.
  using Listener = std::function<void(uint32_t partition, Role role, int64_t epoch)>;

  // Checks the cluster's partition count (created by the first node; another count is refused
  // naming cluster.partitions), takes a lease, registers, and starts the thread.
  static Status start(EtcdClient& etcd, Options options, Listener listener,
                      std::unique_ptr<Ownership>& out);
  // Stops the thread and revokes the lease, so the partitions move at once (a clean leave).
  ~Ownership();
  // The same, keeping the object: every role is none from here on. Idempotent.
  void leave();
  Ownership(const Ownership&) = delete;
  Ownership& operator=(const Ownership&) = delete;

  // This node's role for the partition now; none while its lease is not live by its clock.
  Role role(uint32_t partition, int64_t* epoch = nullptr) const;
  // The owner's API URL, if the partition has a live owner other than this node.
  std::optional<std::string> owner_url(uint32_t partition) const;
  // The applier says whether this node has applied the partition to the end of its log.
  void set_caught_up(uint32_t partition, bool caught_up);
  ClusterView view() const;
  uint64_t failovers() const { return failovers_.load(); }  // partitions taken from a dead owner

  // For tests: stop the thread without revoking (as SIGKILL would), or hold it (SIGSTOP).
  void abandon_for_test();
  void pause_for_test(bool paused);

 private:
  Ownership(EtcdClient& etcd, Options options, Listener listener);
  Status join();  // grant a lease, register
  void run();
  void tick();
  // Every role to none (told to the listener): the lease is not live, or is gone.
  void drop_roles(bool clear_caught_up);
  bool lease_live() const;
  std::string node_key(const std::string& node) const;
  std::string owner_key(uint32_t partition) const;
  std::string registration() const;

  EtcdClient& etcd_;
  const Options options_;
  const Listener listener_;
  const std::string prefix_;  // "/<name>/"

  mutable std::mutex mutex_;
  int64_t lease_ = 0;
  std::chrono::steady_clock::time_point lease_live_until_{};
  std::chrono::steady_clock::time_point last_keep_alive_{};
  ClusterView view_;
  std::vector<Role> roles_;
  std::vector<int64_t> epochs_;
  std::set<uint32_t> caught_up_;
  std::string registered_;  // the registration last written under the current lease
  // The ownership thread's own: since when a partition has had no owner, its last known owner.
  std::map<uint32_t, std::chrono::steady_clock::time_point> unowned_since_;
  std::vector<std::string> last_owner_;
  std::atomic<uint64_t> failovers_{0};

  std::condition_variable wake_;
  bool stopping_ = false;
  bool paused_ = false;
  bool abandoned_ = false;
  std::thread thread_;
};

}  // namespace loyalty::cluster
