// The cluster's two outside parts as cluster mode uses them, against the real processes
// scripts/cluster.sh started (LOYALTY_CLUSTER_DIR): etcd's gateway (leases, create-if-absent,
// compare-and-delete) and the JetStream log (de-duplication, per-partition order, reading
// from a sequence, and going on while one NATS server of three is down).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <sstream>
#include <thread>

#include "cluster/cluster_config.hpp"
#include "cluster/etcd_client.hpp"
#include "cluster/identifier_keys.hpp"
#include "cluster/jetstream_log.hpp"
#include "cluster/log_writers.hpp"

namespace loyalty::cluster {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string cluster_dir() {
  const char* dir = std::getenv("LOYALTY_CLUSTER_DIR");
  return dir == nullptr ? std::string() : std::string(dir);
}

std::map<std::string, std::string> ports() {
  std::map<std::string, std::string> out;
  std::ifstream in(cluster_dir() + "/ports");
  std::string name, port;
  while (in >> name >> port) out[name] = port;
  return out;
}

std::vector<std::string> nats_urls() {
  auto p = ports();
  return {"nats://127.0.0.1:" + p["nats-1"], "nats://127.0.0.1:" + p["nats-2"],
          "nats://127.0.0.1:" + p["nats-3"]};
}

std::string etcd_url() { return "http://127.0.0.1:" + ports()["etcd-1"]; }

void script(const std::string& verb, const std::string& name) {
  const std::string command = std::string("'") + std::getenv("LOYALTY_CLUSTER_SCRIPT") + "' " +
                              verb + " --dir '" + cluster_dir() + "' " + name + " >/dev/null";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
}

class ClusterParts : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cluster_dir().empty()) GTEST_SKIP() << "LOYALTY_CLUSTER_DIR not set (run through ctest)";
  }
};

TEST(PartitionOf, IsFnv1a32OfTheMemberIdModuloPartitions) {
  // FNV-1a-32 of "" is the offset basis; of "a" the published test vector 0xe40c292c.
  EXPECT_EQ(partition_of("", 1u << 31), 2166136261u % (1u << 31));
  EXPECT_EQ(partition_of("a", 4096), 0xe40c292cu % 4096);
  EXPECT_EQ(partition_of("m-42", 1), 0u);
}

TEST_F(ClusterParts, EtcdCreatesOnceAndALeaseTakesItsKeysWithIt) {
  EtcdClient etcd({etcd_url()}, 2000ms);
  int64_t lease = 0;
  ASSERT_TRUE(etcd.grant_lease(5, lease).ok());
  bool created = false;
  ASSERT_TRUE(etcd.create("/t/owner/1", "n1", lease, created).ok());
  EXPECT_TRUE(created);
  std::optional<EtcdKeyValue> existing;
  ASSERT_TRUE(etcd.create("/t/owner/1", "n2", 0, created, &existing).ok());
  EXPECT_FALSE(created);
  ASSERT_TRUE(existing.has_value());
  EXPECT_EQ(existing->value, "n1");
  EXPECT_EQ(existing->lease, lease);
  EXPECT_GT(existing->create_revision, 0);

  int64_t ttl = 0;
  ASSERT_TRUE(etcd.keep_alive(lease, ttl).ok());
  EXPECT_EQ(ttl, 5);
  ASSERT_TRUE(etcd.revoke_lease(lease).ok());
  std::optional<EtcdKeyValue> gone;
  ASSERT_TRUE(etcd.get("/t/owner/1", gone).ok());
  EXPECT_FALSE(gone.has_value()) << "a revoked lease's keys are deleted with it";
  ASSERT_TRUE(etcd.keep_alive(lease, ttl).ok());
  EXPECT_EQ(ttl, 0) << "a revoked lease cannot be kept alive";

  // Compare-and-delete: only the holder of the revision it read may delete.
  ASSERT_TRUE(etcd.create("/t/owner/2", "n1", 0, created).ok());
  std::optional<EtcdKeyValue> read;
  ASSERT_TRUE(etcd.get("/t/owner/2", read).ok());
  ASSERT_TRUE(etcd.put("/t/owner/2", "n3").ok());
  bool removed = true;
  ASSERT_TRUE(etcd.remove_if("/t/owner/2", read->mod_revision, removed).ok());
  EXPECT_FALSE(removed);
  std::vector<EtcdKeyValue> all;
  ASSERT_TRUE(etcd.create("/t/owner/3", std::string("\0\xff", 2), 0, created).ok());
  ASSERT_TRUE(etcd.get_prefix("/t/owner/", all).ok());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].key, "/t/owner/2");
  EXPECT_EQ(all[0].value, "n3");
  EXPECT_EQ(all[1].value, std::string("\0\xff", 2)) << "values are bytes";
}

// The secret phones and cards are claimed under (cluster/identifier_keys.hpp) is the cluster's
// first node's, kept in etcd and in every node's folder: a cluster whose etcd was lost gets it
// back from the first node to start, and a folder of another secret is refused.
TEST_F(ClusterParts, TheIdentifierSecretOutlivesALossOfEtcd) {
  EtcdClient etcd({etcd_url()}, 2000ms);
  const fs::path root =
      fs::temp_directory_path() / ("identifier-keys-" + std::to_string(::getpid()));
  fs::remove_all(root);
  const auto open = [&root](const std::string& name) {
    std::unique_ptr<RocksStore> store;
    fs::create_directories(root / name);
    EXPECT_TRUE(
        RocksStore::open({.path = (root / name).string(), .durability = Durability::wal}, store)
            .ok());
    return store;
  };
  std::unique_ptr<RocksStore> first = open("a"), second = open("b");
  std::unique_ptr<IdentifierKeys> a, b, again;
  ASSERT_TRUE(IdentifierKeys::load(etcd, "/keys/", *first, a).ok());
  ASSERT_TRUE(IdentifierKeys::load(etcd, "/keys/", *second, b).ok());
  const std::string phone = "i:1:13800000000";
  EXPECT_EQ(a->protect(phone), b->protect(phone)) << "one secret for the cluster";
  EXPECT_EQ(a->protect(phone).find("13800000000"), std::string::npos);
  EXPECT_TRUE(a->protect(phone).starts_with("i:1#"));
  EXPECT_EQ(a->protect("i:3:REFCODE"), "i:3:REFCODE") << "a referral code is no one's data";
  EXPECT_EQ(a->protect("e:p-1"), "e:p-1");

  ASSERT_TRUE(etcd.remove_prefix("/keys/").ok());  // etcd lost, started empty
  ASSERT_TRUE(IdentifierKeys::load(etcd, "/keys/", *second, again).ok());
  EXPECT_EQ(again->protect(phone), a->protect(phone)) << "put back from the folder";
  std::unique_ptr<RocksStore> fresh = open("c");
  ASSERT_TRUE(IdentifierKeys::load(etcd, "/keys/", *fresh, again).ok());
  EXPECT_EQ(again->protect(phone), a->protect(phone)) << "a new node takes it from etcd";

  ASSERT_TRUE(etcd.put("/keys/identifier_secret", std::string(64, 'f')).ok());
  EXPECT_EQ(IdentifierKeys::load(etcd, "/keys/", *first, again).code(), Status::Code::corruption)
      << "a folder made with another secret";
  first.reset();
  second.reset();
  fresh.reset();
  fs::remove_all(root);
}

TEST_F(ClusterParts, EtcdRefusesAnUnreachableEndpointAndUsesTheNext) {
  EtcdClient etcd({"http://127.0.0.1:1", etcd_url()}, 2000ms);
  std::optional<EtcdKeyValue> out;
  EXPECT_TRUE(etcd.get("/t/none", out).ok());
  EXPECT_EQ(etcd.endpoint(), etcd_url());
  EtcdClient dead({"http://127.0.0.1:1"}, 500ms);
  const Status status = dead.get("/t/none", out);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("connect"), std::string::npos) << status.message();
}

LogOptions log_options(const std::string& stream) {
  LogOptions options;
  options.urls = nats_urls();
  options.stream = stream;
  options.subjects = stream + ".p.>";
  options.replicas = 3;
  options.client_name = "parts-test";
  return options;
}

// Fetches until `count` messages came (a fetch returns what has arrived so far), or 5 s passed.
std::vector<LogMessage> fetch_all(JetStreamLog::Reader& reader, size_t count) {
  std::vector<LogMessage> all, got;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (all.size() < count && std::chrono::steady_clock::now() < deadline) {
    (void)reader.fetch(count - all.size(), 500ms, got);
    all.insert(all.end(), got.begin(), got.end());
  }
  return all;
}

// A refusing reader answers its fetches with an error, but a fetch that finds nothing before its
// wait ends is "nothing new": on a loaded machine the first fetches may be that. Fetches until an
// error or `within`; every message delivered meanwhile is a failure of the caller's test.
Status fetch_until_refused(JetStreamLog::Reader& reader, std::vector<LogMessage>& delivered,
                           std::chrono::milliseconds within = 10s) {
  std::vector<LogMessage> got;
  const auto deadline = std::chrono::steady_clock::now() + within;
  Status status;
  while (status.ok() && std::chrono::steady_clock::now() < deadline) {
    status = reader.fetch(10, 500ms, got);
    delivered.insert(delivered.end(), got.begin(), got.end());
  }
  return status;
}

TEST_F(ClusterParts, TheLogKeepsEachPartitionsOrderAndDropsARetrysCopy) {
  std::unique_ptr<JetStreamLog> log;
  Status opened = JetStreamLog::open(log_options("orders"), log);
  ASSERT_TRUE(opened.ok()) << opened.message();
  uint64_t first = 0, again = 0, other = 0;
  bool duplicate = true;
  ASSERT_TRUE(log->publish("orders.p.1", "e-1", "one", first, duplicate).ok());
  EXPECT_FALSE(duplicate);
  ASSERT_TRUE(log->publish("orders.p.2", "e-2", "two", other, duplicate).ok());
  ASSERT_TRUE(log->publish("orders.p.1", "e-1", "one", again, duplicate).ok());
  EXPECT_TRUE(duplicate);
  EXPECT_EQ(again, first) << "a retry inside the window lands where its first copy did";
  uint64_t third = 0;
  ASSERT_TRUE(log->publish("orders.p.1", "e-3", "three", third, duplicate).ok());
  uint64_t last = 0;
  ASSERT_TRUE(log->last_sequence("orders.p.1", last).ok());
  EXPECT_EQ(last, third);
  ASSERT_TRUE(log->last_sequence("orders.p.9", last).ok());
  EXPECT_EQ(last, 0u);

  std::unique_ptr<JetStreamLog::Reader> reader;
  Status opened_reader = log->read("orders.p.1", 0, reader);
  ASSERT_TRUE(opened_reader.ok()) << opened_reader.message();
  std::vector<LogMessage> got = fetch_all(*reader, 3);
  ASSERT_EQ(got.size(), 2u) << "partition 1 only, without the copy";
  EXPECT_EQ(got[0].data, "one");
  EXPECT_EQ(got[0].msg_id, "e-1");
  EXPECT_EQ(got[0].sequence, first);
  EXPECT_EQ(got[1].data, "three");
  EXPECT_EQ(reader->next_sequence(), third + 1);

  // From a sequence on, as a restarted applier reads from its committed checkpoint.
  ASSERT_TRUE(log->read("orders.p.1", first + 1, reader).ok());
  ASSERT_TRUE(reader->fetch(10, 2000ms, got).ok());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].data, "three");
  ASSERT_TRUE(reader->fetch(10, 200ms, got).ok());
  EXPECT_TRUE(got.empty()) << "nothing new: an empty fetch, not an error";
}

// nats-server 2.9's replicas can drift apart after a crash: the same message at another
// sequence on the replica that serves a new consumer (seen in the long nemesis run: an applier
// resumed at its committed sequence on such a replica and skipped one message). A reader checks
// the last message it applied is where it expects it, finds it nearby when it moved, and
// refuses to guess when it is gone.
TEST_F(ClusterParts, AReaderGoesOnAfterItsLastMessageWhereverTheStreamHasItNow) {
  std::unique_ptr<JetStreamLog> log;
  ASSERT_TRUE(JetStreamLog::open(log_options("drift"), log).ok());
  std::vector<uint64_t> at(5);
  bool duplicate = false;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(log->publish("drift.p.1", "m-" + std::to_string(i), "data-" + std::to_string(i),
                             at[i], duplicate)
                    .ok());
    uint64_t between = 0;  // another partition's message between each two
    ASSERT_TRUE(log->publish("drift.p.2", "x-" + std::to_string(i), "x", between, duplicate).ok());
  }
  std::unique_ptr<JetStreamLog::Reader> reader;
  std::vector<LogMessage> got;
  // Where it was: m-1 at at[1], so the reader goes on with m-2.
  ASSERT_TRUE(log->read("drift.p.1", at[1] + 1, reader, "m-1").ok());
  got = fetch_all(*reader, 4);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].msg_id, "m-2");
  // The position says at[2], but the message applied last was m-1 (the numbering moved by
  // one): the reader finds m-1 and goes on from m-2, skipping nothing.
  ASSERT_TRUE(log->read("drift.p.1", at[2] + 1, reader, "m-1").ok());
  got = fetch_all(*reader, 4);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].msg_id, "m-2");
  EXPECT_EQ(got[0].sequence, at[2]);
  // A last message the stream does not have: no guess, an error, again and again.
  ASSERT_TRUE(log->read("drift.p.1", at[2] + 1, reader, "m-gone").ok());
  std::vector<LogMessage> delivered;
  Status status = fetch_until_refused(*reader, delivered);
  EXPECT_EQ(status.code(), Status::Code::corruption) << status.message();
  status = fetch_until_refused(*reader, delivered);
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(delivered.empty());
}

// A chained message names its predecessor; a chained reader applies a message only after the
// one it names. A replica whose copy lacks a message, or holds another in its place (what
// nats-server 2.9 replicas did in the long nemesis), is refused rather than read through.
TEST_F(ClusterParts, AChainedReaderRefusesAMessageThatDoesNotFollowTheLastOne) {
  std::unique_ptr<JetStreamLog> log;
  ASSERT_TRUE(JetStreamLog::open(log_options("chain"), log).ok());
  const auto append = [&](const std::string& id, const JetStreamLog::Chain& after) {
    std::promise<std::pair<Status, uint64_t>> taken;
    log->publish_async(
        "chain.p.1", id, "data-" + id,
        [&taken](Status s, uint64_t sequence, bool) {
          taken.set_value({s, sequence});
        },
        &after);
    return taken.get_future().get();
  };
  const auto [first, at_first] = append("m-1", {0, ""});
  ASSERT_TRUE(first.ok()) << first.message();
  const auto [refused, nowhere] = append("m-x", {0, ""});
  EXPECT_EQ(refused.code(), Status::Code::busy) << "m-1 is where m-x expected nothing";
  const auto [second, at_second] = append("m-2", {at_first, "m-1"});
  ASSERT_TRUE(second.ok()) << second.message();
  // In the right place, but naming a predecessor the log does not have there.
  const auto [stray, at_stray] = append("m-3", {at_second, "m-elsewhere"});
  ASSERT_TRUE(stray.ok()) << stray.message();

  std::unique_ptr<JetStreamLog::Reader> reader;
  ASSERT_TRUE(log->read("chain.p.1", 0, reader, "", /*chained=*/true).ok());
  std::vector<LogMessage> got = fetch_all(*reader, 3);
  ASSERT_EQ(got.size(), 2u) << "m-1 and m-2, never m-3";
  EXPECT_EQ(got[1].msg_id, "m-2");
  std::vector<LogMessage> delivered;
  Status status = fetch_until_refused(*reader, delivered);
  EXPECT_EQ(status.code(), Status::Code::corruption) << status.message();
  EXPECT_NE(status.message().find("m-elsewhere"), std::string::npos) << status.message();
  // The same again from a new consumer: never read through.
  ASSERT_TRUE(log->read("chain.p.1", at_second + 1, reader, "m-2", true).ok());
  status = fetch_until_refused(*reader, delivered);
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(delivered.empty()) << "m-3 follows m-elsewhere, not m-2";
}

// An erasure replaces messages of a chain (cluster/log_erasures.hpp): the message's bytes are
// gone from the stream, and a reader from the start, one that had read up to the message
// before, and one that had read an erased message itself all read the stand-ins in their
// places and go on along the chain. A retry logged after JetStream's window of ids is a second
// copy under the same id: one stand-in names both places.
TEST_F(ClusterParts, AnErasedMessageIsReadAsItsStandIn) {
  LogOptions options = log_options("erase");
  options.duplicate_window = 1s;
  std::unique_ptr<JetStreamLog> log;
  ASSERT_TRUE(JetStreamLog::open(options, log).ok());
  ASSERT_TRUE(log->erasable());
  std::vector<std::pair<std::string, uint64_t>> chain;  // (id, sequence) in log order
  for (const std::string id : {"e-1", "e-2", "e-3", "e-2", "e-4"}) {
    if (chain.size() == 3) std::this_thread::sleep_for(1500ms);  // past the window: a copy
    std::promise<std::pair<Status, uint64_t>> taken;
    const JetStreamLog::Chain after{chain.empty() ? 0 : chain.back().second,
                                    chain.empty() ? "" : chain.back().first};
    log->publish_async(
        "erase.p.1", id, "secret-" + id,
        [&taken](Status s, uint64_t sequence, bool) {
          taken.set_value({s, sequence});
        },
        &after);
    const auto [status, sequence] = taken.get_future().get();
    ASSERT_TRUE(status.ok()) << status.message();
    chain.emplace_back(id, sequence);
  }
  // Both copies of e-2, and e-3 between them.
  std::map<std::string, std::vector<JetStreamLog::Place>> places;
  for (size_t i : {1u, 2u, 3u}) {
    LogMessage message;
    JetStreamLog::Place place{chain[i].second, ""};
    bool found = false;
    ASSERT_TRUE(log->get_message(place.sequence, found, message, place.prev_id).ok());
    ASSERT_TRUE(found);
    EXPECT_EQ(message.msg_id, chain[i].first);
    EXPECT_EQ(place.prev_id, chain[i - 1].first);
    places[message.msg_id].push_back(place);
  }
  for (const auto& [id, where] : places) {
    ASSERT_TRUE(log->put_stand_in("erase.p.1", id, where, "blank-" + id).ok());
    for (const JetStreamLog::Place& place : where) {
      ASSERT_TRUE(log->erase(place.sequence).ok());
      ASSERT_TRUE(log->erase(place.sequence).ok()) << "erasing again is done already";
      LogMessage message;
      std::string prev;
      bool found = true;
      ASSERT_TRUE(log->get_message(place.sequence, found, message, prev).ok());
      EXPECT_FALSE(found) << "its bytes are gone from the stream";
    }
  }
  const auto read_from = [&](size_t after, size_t count) {
    std::unique_ptr<JetStreamLog::Reader> reader;
    const uint64_t from = after == 0 ? 0 : chain[after - 1].second + 1;
    EXPECT_TRUE(log->read("erase.p.1", from, reader, after == 0 ? "" : chain[after - 1].first,
                          /*chained=*/true)
                    .ok());
    std::vector<std::string> seen;
    for (const LogMessage& message : fetch_all(*reader, count)) {
      const bool in_place = std::any_of(chain.begin(), chain.end(), [&](const auto& entry) {
        return entry.first == message.msg_id && entry.second == message.sequence;
      });
      seen.push_back(message.msg_id + "=" + message.data + (in_place ? "" : "@elsewhere"));
    }
    return seen;
  };
  // An erasure reaches each replica of the stream through its Raft log: a consumer served by
  // one a moment behind may still deliver the original, so each read is tried for a while.
  const auto read_eventually = [&](size_t after, size_t count) {
    std::vector<std::string> seen;
    for (int attempt = 0; attempt < 50; ++attempt) {
      seen = read_from(after, count);
      if (std::none_of(seen.begin(), seen.end(), [](const std::string& text) {
            return text.find("secret-e-2") != std::string::npos ||
                   text.find("secret-e-3") != std::string::npos;
          })) {
        break;
      }
      std::this_thread::sleep_for(100ms);
    }
    return seen;
  };
  const std::vector<std::string> whole{"e-1=secret-e-1", "e-2=blank-e-2", "e-3=blank-e-3",
                                       "e-2=blank-e-2", "e-4=secret-e-4"};
  EXPECT_EQ(read_eventually(0, 5), whole) << "from the start";
  EXPECT_EQ(read_eventually(1, 4), std::vector<std::string>(whole.begin() + 1, whole.end()))
      << "from after the message before";
  EXPECT_EQ(read_eventually(3, 2), std::vector<std::string>(whole.begin() + 3, whole.end()))
      << "from after an erased message it had read";
}

// A writer of a partition that another one wrote after (the owner a moment ago, or the new
// owner) is refused in place of that message by the servers, learns the log's end once its node
// has applied it, and goes on after it: every message lands once, in one chain. (The servers'
// check is against what they stored, so two writers sending at the same instant could both
// pass it; one writer per partition, by the leases, is what keeps that from happening.)
TEST_F(ClusterParts, WritersThatTakeTurnsOnOnePartitionMakeOneChain) {
  std::unique_ptr<JetStreamLog> log;
  ASSERT_TRUE(JetStreamLog::open(log_options("turns"), log).ok());
  // What "this node" has applied: a chained reader of the partition, as an applier reads it.
  std::mutex mutex;
  std::string applied_last;
  std::vector<std::string> applied;
  Status reader_status;
  std::atomic<bool> stop{false};
  std::thread applier([&] {
    std::unique_ptr<JetStreamLog::Reader> reader;
    ASSERT_TRUE(log->read("turns.p.7", 0, reader, "", true).ok());
    std::vector<LogMessage> got;
    while (!stop.load()) {
      const Status s = reader->fetch(64, 50ms, got);
      const std::lock_guard lock(mutex);
      if (!s.ok()) reader_status = s;
      for (const LogMessage& message : got) {
        applied.push_back(message.msg_id);
        applied_last = message.msg_id;
      }
    }
  });
  struct Joined {
    std::atomic<bool>& stop;
    std::thread& thread;
    ~Joined() {
      stop.store(true);
      if (thread.joinable()) thread.join();
    }
  } joined{stop, applier};
  const auto last_applied = [&](uint32_t) -> std::optional<std::string> {
    const std::lock_guard lock(mutex);
    return applied_last;
  };
  const auto subject = [](uint32_t p) { return "turns.p." + std::to_string(p); };
  LogWriters a(*log, subject, last_applied), b(*log, subject, last_applied);
  // Turns of a few messages each (sent together, acknowledged before the other's turn).
  std::vector<std::string> sent;
  for (int turn = 0; turn < 8; ++turn) {
    LogWriters& writer = turn % 2 == 0 ? a : b;
    std::vector<std::future<Status>> taken;
    for (int i = 0; i < 5; ++i) {
      auto promise = std::make_shared<std::promise<Status>>();
      taken.push_back(promise->get_future());
      sent.push_back((turn % 2 == 0 ? "a-" : "b-") + std::to_string(turn) + "-" +
                     std::to_string(i));
      writer.append(7, sent.back(), std::make_shared<const std::string>("x"),
                    [promise](Status s, uint64_t, bool) { promise->set_value(s); });
    }
    for (std::future<Status>& each : taken) {
      ASSERT_EQ(each.wait_for(20s), std::future_status::ready)
          << "a: " << a.waiting(7) << "; b: " << b.waiting(7);
      const Status s = each.get();
      EXPECT_TRUE(s.ok()) << s.message();
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    const std::lock_guard lock(mutex);
    if (applied.size() >= sent.size()) break;
  }
  std::this_thread::sleep_for(300ms);  // anything more would show now
  stop.store(true);
  applier.join();
  const std::lock_guard lock(mutex);
  EXPECT_TRUE(reader_status.ok()) << reader_status.message();
  EXPECT_EQ(applied, sent) << "once each, in the order given, in one chain";
}

TEST_F(ClusterParts, ANodeOfTheSameStreamWithOtherReplicasIsRefused) {
  std::unique_ptr<JetStreamLog> log;
  ASSERT_TRUE(JetStreamLog::open(log_options("shape"), log).ok());
  LogOptions other = log_options("shape");
  other.replicas = 1;
  const Status refused = JetStreamLog::open(other, log);
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("replicas"), std::string::npos) << refused.message();
}

TEST_F(ClusterParts, TheLogGoesOnWithOneServerOfThreeDown) {
  std::unique_ptr<JetStreamLog> log;
  ASSERT_TRUE(JetStreamLog::open(log_options("survive"), log).ok());
  std::unique_ptr<JetStreamLog::Reader> reader;
  ASSERT_TRUE(log->read("survive.p.0", 0, reader).ok());
  uint64_t sequence = 0;
  bool duplicate = false;
  ASSERT_TRUE(log->publish("survive.p.0", "a", "a", sequence, duplicate).ok());
  script("stop", "nats-1");
  // Publishes may fail while the client moves to another server and the stream's leader is
  // elected again; a caller retries with the same id, as the cluster's submit path does.
  int published = 0;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  for (int i = 0; i < 20 && std::chrono::steady_clock::now() < deadline;) {
    if (log->publish("survive.p.0", "b-" + std::to_string(i), "b", sequence, duplicate).ok()) {
      ++published;
      ++i;
    } else {
      std::this_thread::sleep_for(100ms);
    }
  }
  EXPECT_EQ(published, 20);
  std::vector<LogMessage> all, got;
  std::string last_error;
  while (std::chrono::steady_clock::now() < deadline && all.size() < 21) {
    if (Status s = reader->fetch(50, 1000ms, got); !s.ok()) {
      last_error = s.message();  // the consumer is made again on the next call
      std::this_thread::sleep_for(100ms);
      continue;
    }
    all.insert(all.end(), got.begin(), got.end());
  }
  script("start", "nats-1");
  ASSERT_EQ(all.size(), 21u) << last_error;
  EXPECT_EQ(all[0].msg_id, "a");
  for (size_t i = 1; i < all.size(); ++i) {
    EXPECT_EQ(all[i].msg_id, "b-" + std::to_string(i - 1));
    EXPECT_GT(all[i].sequence, all[i - 1].sequence);
  }
}

}  // namespace
}  // namespace loyalty::cluster
