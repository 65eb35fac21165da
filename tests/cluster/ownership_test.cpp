// Partition ownership in etcd (cluster/ownership.hpp) with real etcd: every partition gets one
// owner, spread over the nodes once they are caught up; a node that vanishes (as SIGKILL
// leaves it) loses its partitions to the others within its lease plus a tick or two; a node
// paused past its lease stops acting before it hears from etcd, and comes back as a standby;
// a node with another partition count is refused.
#include "cluster/ownership.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <thread>

#include "cluster/assignment.hpp"

namespace loyalty::cluster {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

std::string etcd_url() {
  const char* dir = std::getenv("LOYALTY_CLUSTER_DIR");
  std::ifstream in(std::string(dir == nullptr ? "" : dir) + "/ports");
  std::string name, port;
  while (in >> name >> port) {
    if (name == "etcd-1") return "http://127.0.0.1:" + port;
  }
  return "";
}

TEST(Assignment, RanksTheSameEverywhereAndMovesLittleWhenANodeJoins) {
  const std::vector<std::string> three = {"n1", "n2", "n3"};
  const std::vector<std::string> four = {"n4", "n3", "n2", "n1"};
  int moved = 0;
  std::map<std::string, int> first;
  for (uint32_t p = 0; p < 256; ++p) {
    const auto a = rank_nodes(p, three);
    EXPECT_EQ(a, rank_nodes(p, {"n3", "n1", "n2"})) << "the order of the input does not matter";
    const auto b = rank_nodes(p, four);
    if (b.front() != a.front()) {
      EXPECT_EQ(b.front(), "n4") << "a partition moves only to the node that joined";
      ++moved;
    }
    ++first[a.front()];
  }
  EXPECT_GT(moved, 30);
  EXPECT_LT(moved, 100);  // about a quarter of 256
  for (const auto& [node, count] : first) EXPECT_GT(count, 50) << node;
  const auto set = apply_set(7, three, "n2", 1);
  ASSERT_EQ(set.size(), 2u);
  EXPECT_EQ(set[0], "n2");
  EXPECT_NE(set[1], "n2");
  EXPECT_EQ(apply_set(7, three, "", 1).size(), 2u) << "with no owner, the next owner applies too";
  EXPECT_EQ(apply_set(7, three, "n1", 5).size(), 3u);
  // With no standbys the preferred node still applies while another owns: it must catch up
  // before the owner hands it over.
  const std::string preferred = rank_nodes(7, three).front();
  const std::string other = preferred == "n1" ? "n2" : "n1";
  EXPECT_EQ(apply_set(7, three, other, 0), (std::vector<std::string>{other, preferred}));
  EXPECT_EQ(apply_set(7, three, preferred, 0), std::vector<std::string>{preferred});
}

class OwnershipTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (etcd_url().empty()) GTEST_SKIP() << "LOYALTY_CLUSTER_DIR not set (run through ctest)";
    name_ = std::string("own-") + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    name_ = name_.substr(0, 32);
  }

  Ownership::Options options(const std::string& node, uint32_t partitions = 8) {
    Ownership::Options o;
    o.cluster.name = name_;
    o.cluster.node_id = node;
    o.cluster.partitions = partitions;
    o.cluster.standbys = 1;
    o.cluster.lease_seconds = 3;
    o.url = "http://" + node + ".test";
    o.tick = 100ms;
    return o;
  }

  static void start(EtcdClient& etcd, const Ownership::Options& options,
                    std::unique_ptr<Ownership>& out) {
    const Status s = Ownership::start(etcd, options, {}, out);
    ASSERT_TRUE(s.ok()) << s.message();
  }

  // Waits until `done` holds, up to `limit`; how long it took.
  template <class Done>
  static std::chrono::milliseconds wait_until(Done done, std::chrono::milliseconds limit) {
    const auto start = SteadyClock::now();
    while (!done() && SteadyClock::now() - start < limit) std::this_thread::sleep_for(20ms);
    return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start);
  }

  static int owned(const Ownership& node, uint32_t partitions = 8) {
    int count = 0;
    for (uint32_t p = 0; p < partitions; ++p) count += node.role(p) == Role::owner;
    return count;
  }

  std::string name_;
};

TEST_F(OwnershipTest, EveryPartitionGetsOneOwnerSpreadOverCaughtUpNodes) {
  EtcdClient etcd_a({etcd_url()}, 500ms), etcd_b({etcd_url()}, 500ms);
  std::unique_ptr<Ownership> a, b;
  ASSERT_NO_FATAL_FAILURE(start(etcd_a, options("a"), a));
  wait_until([&] { return owned(*a) == 8; }, 3000ms);
  EXPECT_EQ(owned(*a), 8) << "alone, a node owns everything";
  ASSERT_NO_FATAL_FAILURE(start(etcd_b, options("b"), b));
  // b applies its preferred partitions as a standby first; once it says it has caught up, a
  // hands them over, one a tick.
  wait_until(
      [&] {
        for (uint32_t p = 0; p < 8; ++p) {
          if (b->role(p) == Role::standby) b->set_caught_up(p, true);
        }
        return owned(*b) > 0 && owned(*a) + owned(*b) == 8 && owned(*b) == [&] {
          int preferred = 0;
          for (uint32_t p = 0; p < 8; ++p) preferred += rank_nodes(p, {"a", "b"}).front() == "b";
          return preferred;
        }();
      },
      8000ms);
  EXPECT_GT(owned(*b), 0);
  EXPECT_EQ(owned(*a) + owned(*b), 8);
  for (uint32_t p = 0; p < 8; ++p) {
    EXPECT_NE(a->role(p) == Role::owner, b->role(p) == Role::owner) << "partition " << p;
    EXPECT_NE(a->role(p), Role::none) << "with one standby, both nodes apply every partition";
  }
  const ClusterView view = a->view();
  ASSERT_EQ(view.nodes.size(), 2u);
  EXPECT_EQ(view.nodes[1].url, "http://b.test");
  // a sees b's partitions as b's one tick later.
  for (uint32_t p = 0; p < 8; ++p) {
    if (b->role(p) != Role::owner) continue;
    wait_until([&] { return a->owner_url(p).has_value(); }, 1000ms);
    EXPECT_EQ(a->owner_url(p), "http://b.test");
  }
}

TEST_F(OwnershipTest, AVanishedNodesPartitionsMoveWithinItsLease) {
  EtcdClient etcd_a({etcd_url()}, 500ms), etcd_b({etcd_url()}, 500ms);
  std::unique_ptr<Ownership> a, b;
  ASSERT_NO_FATAL_FAILURE(start(etcd_a, options("a"), a));
  ASSERT_NO_FATAL_FAILURE(start(etcd_b, options("b"), b));
  wait_until(
      [&] {
        for (uint32_t p = 0; p < 8; ++p) {
          if (a->role(p) == Role::standby) a->set_caught_up(p, true);
          if (b->role(p) == Role::standby) b->set_caught_up(p, true);
        }
        return owned(*a) > 0 && owned(*b) > 0 && owned(*a) + owned(*b) == 8;
      },
      8000ms);
  ASSERT_GT(owned(*b), 0);
  ASSERT_EQ(owned(*a) + owned(*b), 8);
  EXPECT_EQ(a->failovers() + b->failovers(), 0u) << "hand-overs are not failovers";
  std::vector<int64_t> epochs(8);
  for (uint32_t p = 0; p < 8; ++p) (void)b->role(p, &epochs[p]);
  b->abandon_for_test();  // no revoke: etcd learns only when the lease runs out
  const auto took = wait_until([&] { return owned(*a) == 8; }, 6000ms);
  EXPECT_EQ(owned(*a), 8);
  EXPECT_LE(took, 3000ms + 2000ms) << "within the lease plus 2 s (the spec's failover target)";
  EXPECT_GE(a->failovers(), 1u);
  for (uint32_t p = 0; p < 8; ++p) {
    int64_t epoch = 0;
    (void)a->role(p, &epoch);
    EXPECT_GT(epoch, epochs[p]) << "a new owner has a newer epoch, partition " << p;
  }
}

TEST_F(OwnershipTest, APausedNodeStopsActingBeforeEtcdTellsIt) {
  EtcdClient etcd_a({etcd_url()}, 500ms), etcd_b({etcd_url()}, 500ms);
  std::unique_ptr<Ownership> a, b;
  ASSERT_NO_FATAL_FAILURE(start(etcd_a, options("a"), a));
  wait_until([&] { return owned(*a) == 8; }, 3000ms);
  ASSERT_EQ(owned(*a), 8);
  ASSERT_NO_FATAL_FAILURE(start(etcd_b, options("b"), b));
  a->pause_for_test(true);  // its thread stops: no keep-alives, no reads
  // By its own clock, a stops owning before its lease ends in etcd (3 s less a fifth).
  const auto stopped = wait_until([&] { return owned(*a) == 0; }, 6000ms);
  EXPECT_EQ(owned(*a), 0);
  EXPECT_LT(stopped, 3000ms);
  wait_until([&] { return owned(*b) == 8; }, 5000ms);
  EXPECT_EQ(owned(*b), 8) << "b takes every partition once a's lease is gone";
  a->pause_for_test(false);
  // a joins again with a new lease: it applies as a standby, owns nothing.
  wait_until(
      [&] {
        for (uint32_t p = 0; p < 8; ++p) {
          if (a->role(p) == Role::standby) return true;
        }
        return false;
      },
      3000ms);
  EXPECT_EQ(owned(*a), 0);
  EXPECT_EQ(owned(*b), 8);
}

TEST_F(OwnershipTest, ANodeWithAnotherPartitionCountIsRefused) {
  EtcdClient etcd({etcd_url()}, 500ms);
  std::unique_ptr<Ownership> a;
  ASSERT_NO_FATAL_FAILURE(start(etcd, options("a"), a));
  std::unique_ptr<Ownership> other;
  const Status refused = Ownership::start(etcd, options("b", 16), {}, other);
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("cluster.partitions"), std::string::npos) << refused.message();
  EXPECT_NE(refused.message().find("8"), std::string::npos) << refused.message();
}

}  // namespace
}  // namespace loyalty::cluster
