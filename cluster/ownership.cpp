#include "cluster/ownership.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>

#include "cluster/assignment.hpp"

namespace loyalty::cluster {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

std::chrono::milliseconds lease_duration(const ClusterConfig& cluster) {
  return std::chrono::seconds(cluster.lease_seconds);
}

// How much earlier than etcd this node stops trusting its lease: a fifth of it (1 s of 5 s),
// for the time a keep-alive's answer takes and for clocks that run at slightly other rates.
std::chrono::milliseconds lease_margin(const ClusterConfig& cluster) {
  return lease_duration(cluster) / 5;
}

bool parse_partition(std::string_view text, uint32_t& out) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size();
}

void read_registration(const std::string& text, ClusterView::Node& node) {
  boost::system::error_code error;
  const json::value value = json::parse(text, error);
  if (error || !value.is_object()) return;  // another version's form: the node still counts
  const json::object& object = value.as_object();
  if (const json::value* url = object.if_contains("url"); url != nullptr && url->is_string()) {
    node.url = std::string(url->as_string());
  }
  if (const json::value* list = object.if_contains("caught_up");
      list != nullptr && list->is_array()) {
    for (const json::value& item : list->as_array()) {
      if (item.is_int64() && item.as_int64() >= 0) {
        node.caught_up.insert(static_cast<uint32_t>(item.as_int64()));
      }
    }
  }
}

}  // namespace

const char* role_name(Role role) {
  switch (role) {
    case Role::owner:
      return "owner";
    case Role::standby:
      return "standby";
    case Role::none:
      return "none";
  }
  return "none";
}

Ownership::Ownership(EtcdClient& etcd, Options options, Listener listener)
    : etcd_(etcd),
      options_(std::move(options)),
      listener_(std::move(listener)),
      prefix_("/" + options_.cluster.name + "/") {
  roles_.assign(options_.cluster.partitions, Role::none);
  last_owner_.assign(options_.cluster.partitions, std::string());
  epochs_.assign(options_.cluster.partitions, 0);
  view_.partitions.resize(options_.cluster.partitions);
}

Status Ownership::start(EtcdClient& etcd, Options options, Listener listener,
                        std::unique_ptr<Ownership>& out) {
  std::unique_ptr<Ownership> ownership(
      new Ownership(etcd, std::move(options), std::move(listener)));
  const ClusterConfig& cluster = ownership->options_.cluster;
  // The partition count is fixed when the cluster is made: members are hashed by it.
  const std::string count_key = ownership->prefix_ + "partitions";
  const std::string count = std::to_string(cluster.partitions);
  bool created = false;
  std::optional<EtcdKeyValue> existing;
  if (Status s = etcd.create(count_key, count, 0, created, &existing); !s.ok()) return s;
  if (!created && existing.has_value() && existing->value != count) {
    return Status::error(Status::Code::invalid_argument,
                         "cluster.partitions: the cluster " + cluster.name + " has " +
                             existing->value + " partitions; this node is configured with " +
                             count);
  }
  if (Status s = ownership->join(); !s.ok()) return s;
  ownership->thread_ = std::thread([raw = ownership.get()] { raw->run(); });
  out = std::move(ownership);
  return Status::ok_status();
}

Ownership::~Ownership() { leave(); }

void Ownership::leave() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  int64_t lease = 0;
  {
    const std::lock_guard lock(mutex_);
    lease_live_until_ = Clock::time_point{};  // role() is none from now on
    if (!abandoned_) lease = lease_;
    abandoned_ = true;  // revoked once
  }
  if (lease != 0) (void)etcd_.revoke_lease(lease);
}

std::string Ownership::node_key(const std::string& node) const { return prefix_ + "nodes/" + node; }

std::string Ownership::owner_key(uint32_t partition) const {
  return prefix_ + "owners/" + std::to_string(partition);
}

std::string Ownership::registration() const {
  json::object object;
  object["url"] = options_.url;
  json::array caught_up;
  for (const uint32_t partition : caught_up_) caught_up.push_back(partition);
  object["caught_up"] = std::move(caught_up);
  return json::serialize(object);
}

Status Ownership::join() {
  const Clock::time_point sent = Clock::now();
  int64_t lease = 0;
  if (Status s = etcd_.grant_lease(options_.cluster.lease_seconds, lease); !s.ok()) return s;
  std::string text;
  {
    const std::lock_guard lock(mutex_);
    lease_ = lease;
    lease_live_until_ = sent + lease_duration(options_.cluster) - lease_margin(options_.cluster);
    last_keep_alive_ = sent;
    text = registration();
    registered_.clear();  // until the put below succeeds: the next tick writes it otherwise
  }
  if (Status s = etcd_.put(node_key(options_.cluster.node_id), text, lease); !s.ok()) return s;
  const std::lock_guard lock(mutex_);
  registered_ = text;
  return Status::ok_status();
}

bool Ownership::lease_live() const { return Clock::now() < lease_live_until_; }

Role Ownership::role(uint32_t partition, int64_t* epoch) const {
  const std::lock_guard lock(mutex_);
  if (partition >= roles_.size() || !lease_live()) return Role::none;
  if (epoch != nullptr) *epoch = epochs_[partition];
  return roles_[partition];
}

std::optional<std::string> Ownership::owner_url(uint32_t partition) const {
  const std::lock_guard lock(mutex_);
  if (partition >= view_.partitions.size()) return std::nullopt;
  const std::string& owner = view_.partitions[partition].owner;
  if (owner.empty() || owner == options_.cluster.node_id) return std::nullopt;
  for (const ClusterView::Node& node : view_.nodes) {
    if (node.node_id == owner && !node.url.empty()) return node.url;
  }
  return std::nullopt;
}

void Ownership::set_caught_up(uint32_t partition, bool caught_up) {
  const std::lock_guard lock(mutex_);
  if (caught_up)
    caught_up_.insert(partition);
  else
    caught_up_.erase(partition);
}

ClusterView Ownership::view() const {
  const std::lock_guard lock(mutex_);
  return view_;
}

void Ownership::abandon_for_test() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
    abandoned_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Ownership::pause_for_test(bool paused) {
  {
    const std::lock_guard lock(mutex_);
    paused_ = paused;
  }
  wake_.notify_all();
}

void Ownership::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (!paused_) {
      lock.unlock();
      tick();
      lock.lock();
    }
    wake_.wait_for(lock, options_.tick, [this] { return stopping_; });
  }
}

void Ownership::drop_roles(bool clear_caught_up) {
  std::vector<uint32_t> dropped;
  {
    const std::lock_guard lock(mutex_);
    for (uint32_t p = 0; p < roles_.size(); ++p) {
      if (roles_[p] != Role::none) dropped.push_back(p);
      roles_[p] = Role::none;
      epochs_[p] = 0;
    }
    if (clear_caught_up) caught_up_.clear();
  }
  if (listener_) {
    for (const uint32_t p : dropped) listener_(p, Role::none, 0);
  }
}

void Ownership::tick() {
  const ClusterConfig& cluster = options_.cluster;
  const std::string& me = cluster.node_id;
  // 1. The lease: kept alive every third of it. Without a live lease by this node's clock it
  //    acts for nothing, and says so at once; when etcd says the lease is gone (this node was
  //    paused or cut off past it), join again with a new one, owning nothing.
  int64_t lease = 0;
  bool keep_alive_due = false;
  bool live_now = false;
  {
    const std::lock_guard lock(mutex_);
    lease = lease_;
    keep_alive_due = Clock::now() - last_keep_alive_ >= lease_duration(cluster) / 3;
    live_now = lease_live();
  }
  if (!live_now) drop_roles(false);
  if (keep_alive_due || !live_now) {
    const Clock::time_point sent = Clock::now();
    int64_t ttl = 0;
    if (etcd_.keep_alive(lease, ttl).ok()) {
      if (ttl > 0) {
        const std::lock_guard lock(mutex_);
        last_keep_alive_ = sent;
        lease_live_until_ = sent + lease_duration(cluster) - lease_margin(cluster);
      } else {
        drop_roles(true);
        if (!join().ok()) return;  // etcd answered but the new lease failed: next tick
      }
    }
  }

  // 2. What etcd holds now.
  std::vector<EtcdKeyValue> node_keys, owner_keys;
  if (!etcd_.get_prefix(prefix_ + "nodes/", node_keys).ok() ||
      !etcd_.get_prefix(prefix_ + "owners/", owner_keys).ok()) {
    const std::lock_guard lock(mutex_);
    view_.etcd_ok = false;
    return;  // the roles stand only as long as the lease does (role() checks it)
  }
  {
    const std::lock_guard lock(mutex_);
    if (!lease_live()) return;  // nothing is taken or given without a live lease
    lease = lease_;
  }
  ClusterView view;
  view.etcd_ok = true;
  view.partitions.resize(cluster.partitions);
  std::vector<std::string> live;
  bool registered = false;
  for (const EtcdKeyValue& kv : node_keys) {
    ClusterView::Node node;
    node.node_id = kv.key.substr(prefix_.size() + 6);  // after "nodes/"
    read_registration(kv.value, node);
    if (node.node_id == me) registered = kv.lease == lease;
    live.push_back(node.node_id);
    view.nodes.push_back(std::move(node));
  }
  if (!registered) registered_.clear();  // written again below
  std::vector<int64_t> owner_revision(cluster.partitions, 0);
  for (const EtcdKeyValue& kv : owner_keys) {
    uint32_t partition = 0;
    if (!parse_partition(std::string_view(kv.key).substr(prefix_.size() + 7), partition) ||
        partition >= cluster.partitions) {
      continue;
    }
    // A key of this node's id under another lease is a previous run's (killed and started
    // again within its lease): not this run's to act on; it goes when that lease ends.
    view.partitions[partition].owner =
        kv.value == me && kv.lease != lease ? me + " (previous run)" : kv.value;
    view.partitions[partition].epoch = kv.create_revision;
    owner_revision[partition] = kv.mod_revision;
  }

  // 3. Take what this node should own, give up one partition a better-placed node is ready
  //    for (one a tick, so that a node joining does not make every partition move at once).
  const auto caught_up_on = [&view](const std::string& node, uint32_t partition) {
    for (const ClusterView::Node& n : view.nodes) {
      if (n.node_id == node) return n.caught_up.count(partition) != 0;
    }
    return false;
  };
  const auto is_live = [&live](const std::string& node) {
    return std::find(live.begin(), live.end(), node) != live.end();
  };
  const std::chrono::milliseconds grace =
      options_.unowned_grace.count() > 0 ? options_.unowned_grace : lease_duration(cluster);
  bool released = false;
  const Clock::time_point now = Clock::now();
  for (uint32_t p = 0; p < cluster.partitions; ++p) {
    ClusterView::Partition& partition = view.partitions[p];
    const std::vector<std::string> ranking = rank_nodes(p, live);
    if (partition.owner.empty()) {
      auto [since, fresh] = unowned_since_.try_emplace(p, now);
      const std::vector<std::string> appliers = apply_set(p, live, "", cluster.standbys);
      const bool preferred = !ranking.empty() && ranking.front() == me;
      const bool applies = std::find(appliers.begin(), appliers.end(), me) != appliers.end();
      if (preferred || (applies && now - since->second >= grace)) {
        bool created = false;
        std::optional<EtcdKeyValue> taken;
        if (etcd_.create(owner_key(p), me, lease, created).ok() && created &&
            etcd_.get(owner_key(p), taken).ok() && taken.has_value() && taken->value == me &&
            taken->lease == lease) {
          partition.owner = me;
          partition.epoch = taken->create_revision;
          // Taken from a node that is gone (not handed over, not left cleanly: those delete
          // their keys while still registered, or revoke with their registration).
          if (!last_owner_[p].empty() && last_owner_[p] != me && !is_live(last_owner_[p])) {
            failovers_.fetch_add(1);
          }
        }
      }
      continue;
    }
    unowned_since_.erase(p);
    last_owner_[p] = partition.owner;
    if (partition.owner == me && !released && !ranking.empty() && ranking.front() != me &&
        caught_up_on(ranking.front(), p)) {
      // Stop acting as owner before the key goes: the next owner may take it at once.
      {
        const std::lock_guard lock(mutex_);
        roles_[p] = Role::standby;
        epochs_[p] = 0;
      }
      if (listener_) listener_(p, Role::standby, 0);
      bool removed = false;
      const Status status = etcd_.remove_if(owner_key(p), owner_revision[p], removed);
      // Removed, or unknown (the answer was lost): not the owner until a read says so again.
      if (!status.ok() || removed) {
        partition.owner.clear();
        partition.epoch = 0;
      }
      released = true;
    }
  }
  for (uint32_t p = 0; p < cluster.partitions; ++p) {
    ClusterView::Partition& partition = view.partitions[p];
    for (std::string& node : apply_set(p, live, partition.owner, cluster.standbys)) {
      if (node != partition.owner) partition.standbys.push_back(std::move(node));
    }
  }

  // 4. This node's roles, its registration, and the changes told to the listener.
  std::vector<std::tuple<uint32_t, Role, int64_t>> changes;
  std::string text;
  {
    const std::lock_guard lock(mutex_);
    for (uint32_t p = 0; p < cluster.partitions; ++p) {
      const ClusterView::Partition& partition = view.partitions[p];
      Role role = Role::none;
      if (partition.owner == me)
        role = Role::owner;
      else if (std::find(partition.standbys.begin(), partition.standbys.end(), me) !=
               partition.standbys.end())
        role = Role::standby;
      const int64_t epoch = role == Role::owner ? partition.epoch : 0;
      if (role != roles_[p] || epoch != epochs_[p]) changes.emplace_back(p, role, epoch);
      roles_[p] = role;
      epochs_[p] = epoch;
      if (role == Role::none) caught_up_.erase(p);
    }
    view_ = std::move(view);
    text = registration();
  }
  if (text != registered_) {
    registered_.clear();
    if (etcd_.put(node_key(me), text, lease).ok()) registered_ = text;
  }
  if (listener_) {
    for (const auto& [partition, role, epoch] : changes) listener_(partition, role, epoch);
  }
}

}  // namespace loyalty::cluster
