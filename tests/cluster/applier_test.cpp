// Two nodes applying the same partition logs (real NATS, a RocksDB each) end with the same
// state: members, ledgers, idempotency records; a referral reward made on both is applied
// once; a node stopped midway and started again continues from what it committed, applying
// nothing twice. This is what lets a standby take over without a rebuild (cluster.md).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "cluster/follow_up_publisher.hpp"
#include "cluster/log_codec.hpp"
#include "cluster/log_writers.hpp"
#include "cluster/partition_applier.hpp"
#include "cluster/program_activations.hpp"
#include "engine/program_toml.hpp"
#include "engine/runtime/program_registry.hpp"
#include "engine/tzdb/os_time_zones.hpp"
#include "storage/record_codec.hpp"
#include "tests/support/scenario.hpp"

namespace loyalty::cluster {
namespace {

using namespace std::chrono_literals;
using testing::at;
using testing::basic_program;
using testing::line;
namespace fs = std::filesystem;

constexpr uint32_t kPartitions = 4;
constexpr Points kReferrerPoints = 500;

std::map<std::string, std::string> ports() {
  const char* dir = std::getenv("LOYALTY_CLUSTER_DIR");
  std::ifstream in(std::string(dir == nullptr ? "" : dir) + "/ports");
  std::map<std::string, std::string> ports;
  std::string name, port;
  while (in >> name >> port) ports[name] = port;
  return ports;
}

std::vector<std::string> nats_urls() {
  std::map<std::string, std::string> found = ports();
  return {"nats://127.0.0.1:" + found["nats-1"], "nats://127.0.0.1:" + found["nats-2"],
          "nats://127.0.0.1:" + found["nats-3"]};
}

// Two versions of one program for the activation test: 1 point per yuan, then 3.
constexpr const char* kEarnOnce =
    "[program]\nid = \"t\"\ncurrency = \"CNY\"\n"
    "[earning]\npoints_per_unit = 1\nunit_minor = 100\n";
constexpr const char* kEarnThrice =
    "[program]\nid = \"t\"\ncurrency = \"CNY\"\n"
    "[earning]\npoints_per_unit = 3\nunit_minor = 100\n";

Program parsed(const std::string& toml) {
  auto program = parse_program_toml(toml, "test", os_time_zones());
  EXPECT_TRUE(std::holds_alternative<Program>(program));
  return std::get<Program>(std::move(program));
}

Program referral_program() {
  Program program = basic_program();
  ReferralRules referral;
  referral.referrer_points = kReferrerPoints;
  referral.referee_first_purchase_points = 200;
  referral.qualifying_min_amount_minor = 1000;
  referral.window_days = 30;
  program.referral = referral;
  program.redemption = RedemptionRules{};
  return program;
}

// One node's applying half: its RocksDB, a log-driven runtime, an applier per partition and
// the publisher of its follow-ups. Given a program's TOML, it also follows the cluster's
// program activations (etcd and the logs) from that first version, as loyaltyd does.
class Node {
 public:
  Node(const std::string& stream, const fs::path& folder, const std::string& program_toml = "")
      : stream_(stream),
        programs_(std::make_shared<ProgramVersion>(ProgramVersion{
            1, program_toml.empty() ? referral_program() : parsed(program_toml), program_toml})) {
    fs::create_directories(folder);
    EXPECT_TRUE(
        RocksStore::open({.path = folder.string(), .durability = Durability::wal}, store_).ok());
    if (!program_toml.empty()) {
      std::vector<StoredProgramVersion> stored;
      EXPECT_TRUE(store_->load_program_versions(stored).ok());
      if (stored.empty()) {
        EXPECT_TRUE(store_->save_program_version({1, program_toml, 0}, true).ok());
      }
      config_.name = stream;
      config_.partitions = kPartitions;
      etcd_ = std::make_unique<EtcdClient>(
          std::vector<std::string>{"http://127.0.0.1:" + ports()["etcd-1"]}, 2s);
    }
    LogOptions options;
    options.urls = nats_urls();
    options.stream = stream;
    options.subjects = stream + ".p.>";
    options.client_name = folder.filename().string();
    const Status opened = JetStreamLog::open(options, log_);
    EXPECT_TRUE(opened.ok()) << opened.message();
    // Both nodes of a test write every partition: their writers take turns by the chain
    // (a node finds the other's message in its place, learns the log's end and goes on).
    writers_ = std::make_unique<LogWriters>(
        *log_, [stream](uint32_t p) { return partition_subject(stream, p); },
        [this](uint32_t p) -> std::optional<std::string> {
          if (p >= appliers_.size()) return std::nullopt;
          return appliers_[p]->last_applied_id();
        });
    const LogAppend append = [this](uint32_t partition, LogPayload payload) {
      std::string id;
      if (const auto* event = std::get_if<Event>(&payload)) {
        id = storage::follow_up_id(*event);
      } else if (const auto* stock = std::get_if<StockAsk>(&payload)) {
        id = "sg:" + stock->unit.code;
      } else if (const auto* claim = std::get_if<ClaimAsk>(&payload)) {
        id = "cr:" + claim->key + "#" + std::to_string(claim->grant);
      } else {
        id = "program-" + std::to_string(std::get<ProgramActivation>(payload).activation) + "-" +
             std::to_string(partition);
      }
      return append_and_wait(partition, id, encode_log_payload(payload));
    };
    publisher_ = std::make_unique<FollowUpPublisher>(kPartitions, append, *store_);
    if (etcd_)
      activations_ = std::make_unique<ProgramActivations>(config_, *etcd_, append, *store_);
    RuntimeOptions runtime{
        .partitions = kPartitions, .queue_capacity = 4096, .batch_events_max = 64};
    runtime.log_driven = true;
    runtime.follow_up_sink = [this](const Event& follow_up) { publisher_->publish(follow_up); };
    runtime.give_back_sink = [this](const StockUnit& unit) { publisher_->publish(unit); };
    runtime.claim_release_sink = [this](const ClaimRelease& r) { publisher_->publish(r); };
    runtime.protect_claim_key = [](const std::string& key) { return key; };
    runtime.publish = [](Event&&, uint64_t, Completion&& done) { done(EventResult{}); };
    if (activations_) {
      runtime.partition_program = [this](uint32_t p) { return activations_->partition_program(p); };
      const Status joined = activations_->join(programs_);
      EXPECT_TRUE(joined.ok()) << joined.message();
    }
    runtime_ = std::make_unique<Runtime>(runtime, *store_, programs_,
                                         [] { return at("2026-11-20T12:00:00Z"); });
    for (uint32_t p = 0; p < kPartitions; ++p) {
      appliers_.push_back(std::make_unique<PartitionApplier>(
          PartitionApplier::Options{.cluster_name = stream, .partition = p}, *log_, *runtime_,
          *store_,
          [this](const LogMessage&, EventResult&& result) {
            if (result.rejection.ok() && !result.replayed) applied_.fetch_add(1);
            if (result.replayed) replayed_.fetch_add(1);
          },
          [this, p](const ProgramActivation& activation, PartitionProgram& out) {
            if (!activations_) {
              return Status::error(Status::Code::invalid_argument, "no programs in this test");
            }
            return activations_->prepare(p, activation, out);
          }));
    }
  }
  ~Node() {
    appliers_.clear();
    runtime_->stop();
    runtime_.reset();
    activations_.reset();
    publisher_.reset();
    writers_.reset();
  }

  // As the accepting node does: intake, then publish to the member's partition's log.
  // `copy` marks a second copy put in under its own id (as the submit path does when the
  // first was applied already), which the engine answers as a replay.
  void publish(Event event, bool copy = false) {
    uint64_t fingerprint = 0;
    const EventResult accepted = runtime_->accept(event, fingerprint);
    ASSERT_TRUE(accepted.rejection.ok()) << accepted.rejection.message;
    const uint32_t partition = member_partition(event.member_id(), kPartitions);
    const std::string id =
        event.idempotency_key() + "#" + std::to_string(fingerprint) + (copy ? "#copy" : "");
    const Status appended = append_and_wait(partition, id, encode_log_payload(event));
    ASSERT_TRUE(appended.ok()) << appended.message();
  }

  // Through this node's writer of the partition, until the servers took it.
  Status append_and_wait(uint32_t partition, const std::string& id, std::string data) {
    auto taken = std::make_shared<std::promise<Status>>();
    std::future<Status> answer = taken->get_future();
    writers_->append(partition, id, std::make_shared<const std::string>(std::move(data)),
                     [taken](Status status, uint64_t, bool) { taken->set_value(status); });
    if (answer.wait_for(20s) != std::future_status::ready) {
      return Status::error(Status::Code::busy, "partition " + std::to_string(partition) + ": " +
                                                   writers_->waiting(partition));
    }
    return answer.get();
  }

  // Until every partition is applied to the end of its log as it is now.
  void wait_caught_up() {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    for (uint32_t p = 0; p < kPartitions; ++p) {
      uint64_t last = 0;
      ASSERT_TRUE(log_->last_sequence(partition_subject(stream_, p), last).ok());
      while (appliers_[p]->applied_through() < last && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(10ms);
      ASSERT_GE(appliers_[p]->applied_through(), last) << "partition " << p;
    }
  }

  // PUT /v1/program on this node.
  uint32_t activate(const std::string& toml) {
    std::shared_ptr<const ProgramVersion> version;
    TimeMs activated_at = 0;
    const Status status = activations_->activate(parsed(toml), toml, at("2026-11-20T11:00:00Z"),
                                                 version, activated_at);
    EXPECT_TRUE(status.ok()) << status.message();
    return version ? version->number : 0;
  }
  uint32_t active_version() const { return programs_.active()->number; }
  // The housekeeping of a node that owns every partition and has applied their logs.
  void reconcile() { activations_->reconcile({0, 1, 2, 3}); }

  RocksStore& store() { return *store_; }
  uint64_t applied() const { return applied_.load(); }
  uint64_t replayed() const { return replayed_.load(); }

 private:
  std::string stream_;
  ProgramRegistry programs_;
  ClusterConfig config_;
  std::unique_ptr<RocksStore> store_;
  std::unique_ptr<EtcdClient> etcd_;
  std::unique_ptr<JetStreamLog> log_;
  std::unique_ptr<LogWriters> writers_;
  std::unique_ptr<FollowUpPublisher> publisher_;
  std::unique_ptr<ProgramActivations> activations_;
  std::unique_ptr<Runtime> runtime_;
  std::vector<std::unique_ptr<PartitionApplier>> appliers_;
  std::atomic<uint64_t> applied_{0};
  std::atomic<uint64_t> replayed_{0};
};

class ApplierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::getenv("LOYALTY_CLUSTER_DIR") == nullptr)
      GTEST_SKIP() << "LOYALTY_CLUSTER_DIR not set (run through ctest: its fixture starts NATS)";
    folder_ = fs::temp_directory_path() / ("applier-test-" + std::to_string(::getpid()));
    fs::remove_all(folder_);
  }
  void TearDown() override { fs::remove_all(folder_); }

  // A sign-up as a node logs it: the referrer its code names already resolved through the
  // code's claim (cluster/event_claims.hpp), which these tests leave out.
  static Event signup(std::string member_id, std::string referral_code = "",
                      std::string referrer = "") {
    SignupEvent s;
    s.member_id = std::move(member_id);
    s.referral_code = std::move(referral_code);
    s.referrer_member_id = std::move(referrer);
    s.joined_at = at("2026-11-10T00:00:00Z");
    return Event{s};
  }
  static Event purchase(std::string event_id, std::string member_id, AmountMinor amount) {
    PurchaseEvent p;
    p.event_id = std::move(event_id);
    p.member_id = std::move(member_id);
    p.store_id = "s-1";
    p.occurred_at = at("2026-11-20T10:00:00Z");
    p.currency = "CNY";
    p.lines = {line("a", "food", amount)};
    return Event{p};
  }

  // Every member's state and whole ledger, as both nodes hold them, must be the same.
  static void expect_same(RocksStore& a, RocksStore& b, const std::vector<std::string>& members) {
    for (const std::string& id : members) {
      std::optional<MemberState> left, right;
      ASSERT_TRUE(a.load_member(id, left).ok());
      ASSERT_TRUE(b.load_member(id, right).ok());
      ASSERT_TRUE(left.has_value()) << id;
      EXPECT_EQ(left, right) << id;
      LedgerPage left_ledger, right_ledger;
      ASSERT_TRUE(a.read_ledger(id, std::nullopt, 500, left_ledger).ok());
      ASSERT_TRUE(b.read_ledger(id, std::nullopt, 500, right_ledger).ok());
      EXPECT_EQ(left_ledger.entries, right_ledger.entries) << id;
      EXPECT_FALSE(left_ledger.entries.empty()) << id;
    }
  }

  fs::path folder_;
};

TEST_F(ApplierTest, TwoNodesApplyingTheSameLogsHoldTheSameState) {
  const std::string stream = "det" + std::to_string(::getpid() % 100000);
  Node a(stream, folder_ / "a");
  Node b(stream, folder_ / "b");
  std::vector<std::string> members;
  // Referrers, then referees signing up with their codes and buying (one reward each), spread
  // over the partitions; both nodes publish, as any node of a cluster accepts requests.
  for (int i = 0; i < 12; ++i) {
    members.push_back("referrer-" + std::to_string(i));
    a.publish(signup(members.back()));
  }
  a.wait_caught_up();
  for (int i = 0; i < 12; ++i) {
    std::optional<MemberState> referrer;
    ASSERT_TRUE(a.store().load_member("referrer-" + std::to_string(i), referrer).ok());
    ASSERT_TRUE(referrer.has_value());
    const std::string referee = "referee-" + std::to_string(i);
    members.push_back(referee);
    Node& by = i % 2 == 0 ? a : b;
    by.publish(signup(referee, referrer->referral_code, referrer->member_id));
    for (int k = 0; k < 5; ++k) {
      by.publish(purchase("e-" + std::to_string(i) + "-" + std::to_string(k), referee, 6400));
    }
    by.publish(purchase("e-" + std::to_string(i) + "-0", referee, 6400), true);  // a retry
  }
  // The rewards are published by both nodes' publishers after the triggers commit.
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  auto rewarded = [&](Node& node) {
    int count = 0;
    for (int i = 0; i < 12; ++i) {
      std::optional<MemberState> referrer;
      EXPECT_TRUE(node.store().load_member("referrer-" + std::to_string(i), referrer).ok());
      count += referrer && referrer->balance.available == kReferrerPoints;
    }
    return count;
  };
  while ((rewarded(a) < 12 || rewarded(b) < 12) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  a.wait_caught_up();
  b.wait_caught_up();
  EXPECT_EQ(rewarded(a), 12) << "each referrer rewarded once, not twice for two publishers";
  EXPECT_EQ(rewarded(b), 12);
  expect_same(a.store(), b.store(), members);
  std::optional<IdempotencyRecord> left, right;
  ASSERT_TRUE(a.store().load_idempotency("e:e-3-2", left).ok());
  ASSERT_TRUE(b.store().load_idempotency("e:e-3-2", right).ok());
  ASSERT_TRUE(left.has_value());
  EXPECT_EQ(left->answer, right->answer);
  EXPECT_EQ(a.applied(), b.applied()) << "the same messages applied, the same copies replayed";
  EXPECT_EQ(a.replayed(), 12u) << "each retry's copy answered as a replay";
  EXPECT_EQ(b.replayed(), 12u);
  // Published follow-ups leave the outbox (once the publisher's delete has committed).
  std::vector<Event> outbox;
  const auto outbox_deadline = std::chrono::steady_clock::now() + 10s;
  do {
    ASSERT_TRUE(a.store().load_outbox(outbox).ok());
    if (!outbox.empty()) std::this_thread::sleep_for(20ms);
  } while (!outbox.empty() && std::chrono::steady_clock::now() < outbox_deadline);
  EXPECT_TRUE(outbox.empty());
}

TEST_F(ApplierTest, ANodeStartedAgainContinuesFromWhatItCommitted) {
  const std::string stream = "restart" + std::to_string(::getpid() % 100000);
  std::vector<std::string> members;
  {
    Node a(stream, folder_ / "a");
    for (int i = 0; i < 8; ++i) {
      members.push_back("m-" + std::to_string(i));
      a.publish(signup(members.back()));
      a.publish(purchase("first-" + std::to_string(i), members.back(), 6400));
    }
    a.wait_caught_up();
  }
  Node a(stream, folder_ / "a");          // the same folder: continues after its applied positions
  Node fresh(stream, folder_ / "fresh");  // from nothing: replays the logs from the start
  for (int i = 0; i < 8; ++i) a.publish(purchase("second-" + std::to_string(i), members[i], 6400));
  a.wait_caught_up();
  fresh.wait_caught_up();
  EXPECT_EQ(a.applied(), 8u) << "only what came after the restart";
  EXPECT_EQ(fresh.applied(), 24u);
  for (const std::string& id : members) {
    std::optional<MemberState> member;
    ASSERT_TRUE(a.store().load_member(id, member).ok());
    EXPECT_EQ(member->balance.available, 128) << id << ": two purchases, each once";
  }
  expect_same(a.store(), fresh.store(), members);
}

TEST_F(ApplierTest, AProgramActivationTakesEveryPartitionAtItsPointOfTheLog) {
  const std::string stream = "prog" + std::to_string(::getpid() % 100000);
  const auto balance = [](RocksStore& store, const std::string& id) {
    std::optional<MemberState> member;
    EXPECT_TRUE(store.load_member(id, member).ok());
    return member ? member->balance.available : -1;
  };
  std::vector<std::string> members;
  {
    Node a(stream, folder_ / "a", kEarnOnce);
    Node b(stream, folder_ / "b", kEarnOnce);
    for (int i = 0; i < 8; ++i) {  // spread over the 4 partitions
      members.push_back("m-" + std::to_string(i));
      a.publish(signup(members.back()));
      a.publish(purchase("before-" + std::to_string(i), members.back(), 6400));
    }
    EXPECT_EQ(a.activate(kEarnThrice), 2u) << "the next number in etcd";
    // Accepted after the activation answered: decided under version 2 on every partition,
    // whichever node accepts them.
    for (int i = 0; i < 8; ++i) b.publish(purchase("after-" + std::to_string(i), members[i], 6400));
    a.wait_caught_up();
    b.wait_caught_up();
    for (const std::string& id : members) {
      EXPECT_EQ(balance(a.store(), id), 64 + 192) << id << ": 1 point a yuan, then 3";
    }
    expect_same(a.store(), b.store(), members);
    EXPECT_EQ(b.active_version(), 2u) << "b learnt the version from the logs alone";
    EXPECT_EQ(a.activate(kEarnThrice), 2u) << "the same text again is the same version";
  }
  // Started again, a node decides the rest of each log under the version it had reached; a
  // node with an empty folder replays the logs through the activation to the same state.
  Node a(stream, folder_ / "a", kEarnOnce);
  EXPECT_EQ(a.active_version(), 2u);
  for (int i = 0; i < 8; ++i) a.publish(purchase("later-" + std::to_string(i), members[i], 6400));
  a.wait_caught_up();
  Node fresh(stream, folder_ / "fresh", kEarnOnce);
  fresh.wait_caught_up();
  for (const std::string& id : members) EXPECT_EQ(balance(a.store(), id), 64 + 192 + 192) << id;
  expect_same(a.store(), fresh.store(), members);
  EXPECT_EQ(fresh.active_version(), 2u);

  // An activation etcd recorded but no log got (its node died before publishing: here,
  // version 1 again): the partitions' owners publish it when they find their logs behind.
  EtcdClient etcd({"http://127.0.0.1:" + ports()["etcd-1"]}, 2s);
  std::optional<EtcdKeyValue> active;
  ASSERT_TRUE(etcd.get("/" + stream + "/program/active", active).ok());
  ASSERT_TRUE(active.has_value());
  EXPECT_EQ(active->value.substr(0, 4), "1 2 ") << "activation 1 made version 2 active";
  bool put = false;
  ASSERT_TRUE(
      etcd.put_if("/" + stream + "/program/active", "2 1 0", active->mod_revision, put).ok());
  ASSERT_TRUE(put);
  a.reconcile();
  a.wait_caught_up();
  EXPECT_EQ(a.active_version(), 1u);
  for (int i = 0; i < 8; ++i) a.publish(purchase("back-" + std::to_string(i), members[i], 6400));
  a.wait_caught_up();
  for (const std::string& id : members) {
    EXPECT_EQ(balance(a.store(), id), 64 + 192 + 192 + 64) << id << ": version 1 again";
  }
}

}  // namespace
}  // namespace loyalty::cluster
