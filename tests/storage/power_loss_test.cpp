// Power cuts while a Runtime over a RocksStore acknowledges batches. The file system of
// fault_fs.hpp drops everything not synced at the cut (or a random part of it: a torn tail).
// Under Durability::fsync every acknowledged event is there after the cut and answers as a replay
// with the same answer; an unacknowledged one is either wholly there or not at all; the books
// balance and the event log rebuilds the same state. Under Durability::wal acknowledged batches
// can be lost: that mode promises to survive a process crash, not a power cut.
// LOYALTY_POWER_LOSS_ROUNDS and LOYALTY_POWER_LOSS_SEED (printed) set the run.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

#include "tests/storage/durability_support.hpp"
#include "tests/storage/fault_fs.hpp"
#include "tests/support/scenario.hpp"

namespace loyalty {
namespace {

using durability::expect_consistent;
using durability::log_key;
using durability::TempDir;
using faults::FaultFileSystem;
using faults::PowerLoss;
using testing::at;
using testing::line;

constexpr size_t kInFlightMax = 64;
constexpr size_t kEventsPerRoundMax = 160;

uint64_t env_number(const char* name, uint64_t fallback) {
  const char* text = std::getenv(name);
  return text != nullptr && *text != '\0' ? std::strtoull(text, nullptr, 10) : fallback;
}

// One request as the client built it (before submit() stamped anything) and what it was told.
struct Sent {
  explicit Sent(Event sent) : event(std::move(sent)) {}
  Event event;
  bool answered = false;
  EventResult result;
  bool acknowledged() const { return answered && result.rejection.ok(); }
  bool worth_retrying() const {
    return !answered || result.rejection.code == ErrorCode::unavailable;
  }
};

// Submits asynchronously, at most kInFlightMax at once, and records every answer in `log`.
class Sender {
 public:
  Sender(Runtime& runtime, std::deque<Sent>& log) : runtime_(runtime), log_(log) {}
  ~Sender() { wait_idle(); }

  // Appends a new request to the log (under the lock: answers are written into it meanwhile).
  size_t add(Event event) {
    std::lock_guard lock(mutex_);
    log_.emplace_back(std::move(event));
    return log_.size() - 1;
  }
  void send(size_t index) {
    Event event;
    {
      std::unique_lock lock(mutex_);
      event = log_[index].event;
      changed_.wait(lock, [&] { return in_flight_ < kInFlightMax; });
      ++in_flight_;
    }
    runtime_.submit(std::move(event), [this, index](EventResult&& result) {
      std::lock_guard lock(mutex_);
      log_[index].result = std::move(result);
      log_[index].answered = true;
      if (log_[index].result.rejection.ok()) ++acknowledged_;
      answered_.push_back(index);
      --in_flight_;
      changed_.notify_all();
    });
  }
  void wait_idle() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return in_flight_ == 0; });
  }
  size_t acknowledged() {
    std::lock_guard lock(mutex_);
    return acknowledged_;
  }
  // The requests answered since the last call, in answer order.
  std::vector<size_t> take_answered() {
    std::lock_guard lock(mutex_);
    return std::exchange(answered_, {});
  }

 private:
  Runtime& runtime_;
  std::deque<Sent>& log_;
  std::mutex mutex_;
  std::condition_variable changed_;
  size_t in_flight_ = 0;
  size_t acknowledged_ = 0;
  std::vector<size_t> answered_;
};

// A client's stream of events, each built from what was acknowledged before it: sign-ups (half
// of them with a referral code), purchases, refunds (some in full, which claws referral rewards
// back), redemptions, holds and their capture or void.
class Client {
 public:
  explicit Client(uint64_t seed) : random_(seed) {}

  Event next() {
    now_ += static_cast<TimeMs>(1 + random_() % 3'600'000);
    const uint64_t kind = members_.size() < 3 ? 0 : random_() % 20;
    if (kind < 3) {
      SignupEvent signup;
      signup.member_id = id("m");
      signup.joined_at = now_;
      if (!codes_.empty() && random_() % 2 == 0) signup.referral_code = pick(codes_);
      return Event{signup};
    }
    if (kind < 10) {
      PurchaseEvent purchase;
      purchase.event_id = id("p");
      purchase.member_id = pick(members_);
      purchase.store_id = "s-1";
      purchase.occurred_at = now_;
      purchase.currency = "CNY";
      purchase.lines = {line("latte", "beverage", amount(400, 4000)),
                        line("bagel", "food", amount(0, 3000))};
      if (random_() % 5 == 0) purchase.redeem_points = 10;
      return Event{purchase};
    }
    if (kind < 12 && !purchases_.empty()) {
      const auto& [original, total] = purchases_[random_() % purchases_.size()];
      RefundEvent refund;
      refund.event_id = id("r");
      refund.original_event_id = original;
      refund.occurred_at = now_;
      refund.amount_minor = random_() % 2 == 0 ? total : amount(1, total);
      return Event{refund};
    }
    if (kind < 14) {
      RedemptionEvent redemption;
      redemption.redemption_id = id("x");
      redemption.member_id = pick(members_);
      redemption.points = static_cast<Points>(10 + random_() % 60);
      redemption.at = now_;
      return Event{redemption};
    }
    if (kind < 17 || holds_.empty()) {
      HoldEvent hold;
      hold.hold_id = id("h");
      hold.member_id = pick(members_);
      hold.points = static_cast<Points>(10 + random_() % 40);
      hold.at = now_;
      return Event{hold};
    }
    HoldActionEvent action;
    action.hold_id = pick(holds_);
    action.at = now_;
    return Event{random_() % 2 == 0 ? EventType::hold_capture : EventType::hold_void, action};
  }

  void learn(const Sent& sent) {
    if (!sent.acknowledged()) return;
    const Event& event = sent.event;
    switch (event.type()) {
      case EventType::signup:
        members_.push_back(event.member_id());
        if (sent.result.member) codes_.push_back(sent.result.member->referral_code);
        break;
      case EventType::purchase: {
        const auto& purchase = std::get<PurchaseEvent>(event.body);
        AmountMinor total = 0;
        for (const PurchaseLine& l : purchase.lines) total += l.amount_minor;
        purchases_.emplace_back(purchase.event_id, total);
        break;
      }
      case EventType::hold:
        holds_.push_back(std::get<HoldEvent>(event.body).hold_id);
        break;
      case EventType::hold_capture:
      case EventType::hold_void:
        std::erase(holds_, std::get<HoldActionEvent>(event.body).hold_id);
        break;
      default:
        break;
    }
  }

 private:
  std::string id(const char* prefix) { return prefix + std::to_string(next_id_++); }
  const std::string& pick(const std::vector<std::string>& from) {
    return from[random_() % from.size()];
  }
  AmountMinor amount(AmountMinor low, AmountMinor high) {
    return low + static_cast<AmountMinor>(random_() % static_cast<uint64_t>(high - low + 1));
  }

  std::mt19937_64 random_;
  TimeMs now_ = at("2026-06-01T00:00:00Z");
  uint64_t next_id_ = 0;
  std::vector<std::string> members_;
  std::vector<std::string> codes_;
  std::vector<std::pair<std::string, AmountMinor>> purchases_;
  std::vector<std::string> holds_;
};

class PowerLossTest : public ::testing::Test {
 protected:
  std::unique_ptr<RocksStore> open(Durability durability, rocksdb::Env* env) {
    std::unique_ptr<RocksStore> store;
    const Status opened =
        RocksStore::open({.path = dir_.path(), .durability = durability, .env = env}, store);
    EXPECT_TRUE(opened.ok()) << opened.message();
    return store;
  }
  std::unique_ptr<Runtime> runtime(RocksStore& store) {
    return std::make_unique<Runtime>(RuntimeOptions{.partitions = 2, .batch_events_max = 16}, store,
                                     programs_, clock_);
  }

  // After the power came back: every acknowledged event answers as a replay with its answer,
  // the requests never answered are sent again (a client's retry), and the store agrees with
  // itself and with what the client was told.
  void check_and_retry(RocksStore& store, std::deque<Sent>& sent, Client& client,
                       const std::string& context) {
    {
      std::unique_ptr<Runtime> rt = runtime(store);  // delivers the follow-ups of the outbox
      std::deque<Sent> again;
      std::vector<size_t> acknowledged;
      for (size_t i = 0; i < sent.size(); ++i) {
        if (sent[i].acknowledged()) {
          again.push_back(Sent{sent[i].event});
          acknowledged.push_back(i);
        }
      }
      {
        Sender sender(*rt, again);
        for (size_t i = 0; i < again.size(); ++i) sender.send(i);
        sender.wait_idle();
      }
      for (size_t i = 0; i < again.size(); ++i) {
        const Sent& first = sent[acknowledged[i]];
        const EventResult& replay = again[i].result;
        const std::string key = log_key(first.event);
        ASSERT_TRUE(replay.rejection.ok())
            << context << ": acknowledged " << key << " now refused: " << replay.rejection.message;
        EXPECT_TRUE(replay.replayed) << context << ": acknowledged " << key << " was lost";
        if (first.event.type() == EventType::signup) {
          ASSERT_TRUE(replay.member && first.result.member) << context << ": " << key;
          EXPECT_EQ(replay.member->referral_code, first.result.member->referral_code) << key;
        } else {
          EXPECT_EQ(replay.answer, first.result.answer) << context << ": answer of " << key;
        }
      }
      Sender sender(*rt, sent);
      for (size_t i = 0; i < sent.size(); ++i) {
        if (sent[i].worth_retrying()) sender.send(i);
      }
      sender.wait_idle();
      for (size_t index : sender.take_answered()) client.learn(sent[index]);
    }  // the runtime stops: every follow-up is applied

    const std::set<std::string> logged = expect_consistent(store, context);
    for (const Sent& s : sent) {
      const std::string key = log_key(s.event);
      if (s.acknowledged()) {
        EXPECT_TRUE(logged.contains(key)) << context << ": lost " << key;
      }
      // Nothing half there: an event's record and its place in the log come together.
      bool recorded = false;
      if (s.event.type() == EventType::signup) {
        std::optional<MemberState> member;
        EXPECT_TRUE(store.load_member(s.event.member_id(), member).ok());
        recorded = member.has_value();
      } else {
        std::optional<IdempotencyRecord> record;
        EXPECT_TRUE(store.load_idempotency(key, record).ok());
        recorded = record.has_value();
      }
      EXPECT_EQ(recorded, logged.contains(key)) << context << ": half applied: " << key;
    }
  }

  TempDir dir_{"loyalty-power-loss"};
  ProgramRegistry programs_{std::make_shared<ProgramVersion>(durability::program_version())};
  Clock clock_ = [] { return at("2027-06-01T00:00:00Z"); };
};

TEST_F(PowerLossTest, EveryAcknowledgedEventSurvivesPowerCutsUnderFsync) {
  const uint64_t rounds = env_number("LOYALTY_POWER_LOSS_ROUNDS", 40);
  const uint64_t seed = env_number("LOYALTY_POWER_LOSS_SEED", 20261123);
  std::printf("power loss: %llu rounds, seed %llu (LOYALTY_POWER_LOSS_SEED)\n",
              static_cast<unsigned long long>(rounds), static_cast<unsigned long long>(seed));
  std::mt19937_64 random(seed);
  Client client(seed);
  std::deque<Sent> sent;
  size_t interrupted = 0, torn_rounds = 0, cuts_in_append = 0;
  PowerLoss lost;

  for (uint64_t round = 0; round < rounds; ++round) {
    const std::string context = "round " + std::to_string(round);
    auto fs = std::make_shared<FaultFileSystem>();
    std::unique_ptr<rocksdb::Env> env = faults::make_env(fs);
    std::unique_ptr<RocksStore> store = open(Durability::fsync, env.get());
    ASSERT_NE(store, nullptr);
    check_and_retry(*store, sent, client, context);
    if (HasFatalFailure()) return;

    // New events until the power goes off: in half the rounds in the middle of a random file
    // append (part of its data written, nothing synced after), in the others from outside once a
    // random number of events are acknowledged, with requests in flight. When the client runs
    // out first, the power goes off with none.
    const bool cut_in_append = random() % 2 == 0;
    size_t cut_after = kEventsPerRoundMax;
    if (cut_in_append) {
      fs->cut_power_at_append(1 + random() % 12, static_cast<uint32_t>(random() % 101));
    } else {
      cut_after = random() % 120;
    }
    {
      std::unique_ptr<Runtime> rt = runtime(*store);
      Sender sender(*rt, sent);
      for (size_t n = 0;
           n < kEventsPerRoundMax && sender.acknowledged() < cut_after && fs->powered(); ++n) {
        for (size_t index : sender.take_answered()) client.learn(sent[index]);
        sender.send(sender.add(client.next()));
        if (random() % 16 == 0)
          std::this_thread::sleep_for(std::chrono::microseconds(random() % 500));
      }
      cuts_in_append += cut_in_append && !fs->powered();
      fs->cut_power();
      sender.wait_idle();
      for (size_t index : sender.take_answered()) {
        client.learn(sent[index]);
        interrupted += sent[index].result.rejection.code == ErrorCode::unavailable;
      }
    }
    store.reset();  // its close writes nothing: the power is off
    const bool torn = random() % 2 == 0;
    torn_rounds += torn;
    const PowerLoss loss = fs->power_on(torn ? &random : nullptr);
    lost.files_truncated += loss.files_truncated;
    lost.files_removed += loss.files_removed;
    lost.bytes_dropped += loss.bytes_dropped;
  }

  auto fs = std::make_shared<FaultFileSystem>();
  std::unique_ptr<rocksdb::Env> env = faults::make_env(fs);
  std::unique_ptr<RocksStore> store = open(Durability::fsync, env.get());
  ASSERT_NE(store, nullptr);
  check_and_retry(*store, sent, client, "after the last cut");
  size_t acknowledged = 0;
  for (const Sent& s : sent) acknowledged += s.acknowledged();
  std::printf(
      "power loss: %zu events sent, %zu acknowledged, %zu interrupted by a cut; %zu cuts inside "
      "an append, %zu torn rounds; %zu files cut back (%llu bytes), %zu files removed\n",
      sent.size(), acknowledged, interrupted, cuts_in_append, torn_rounds, lost.files_truncated,
      static_cast<unsigned long long>(lost.bytes_dropped), lost.files_removed);
  EXPECT_GT(interrupted, 0u) << "no cut came while requests were in flight";
  EXPECT_GT(lost.bytes_dropped, 0u) << "no cut took unsynced data";
  EXPECT_GT(acknowledged, rounds * 10) << "the workload should acknowledge events every round";

  // The log alone rebuilds the same members and ledgers: nothing is in the state that the log
  // does not explain.
  TempDir rebuilt_dir("loyalty-power-loss-replay");
  std::unique_ptr<RocksStore> rebuilt;
  ASSERT_TRUE(
      RocksStore::open({.path = rebuilt_dir.path(), .durability = Durability::wal}, rebuilt).ok());
  std::vector<StoredEvent> log;
  ASSERT_TRUE(store
                  ->scan_events(1,
                                [&](const StoredEvent& e) {
                                  log.push_back(e);
                                  return true;
                                })
                  .ok());
  {
    Runtime replay({.partitions = 1, .deliver_follow_ups = false}, *rebuilt, programs_, clock_);
    for (const StoredEvent& e : log) {
      const EventResult r = durability::submit_and_wait(replay, e.event);
      ASSERT_TRUE(r.rejection.ok() && !r.replayed) << "log event " << e.log_seq;
    }
  }
  std::vector<MemberState> original, replayed;
  ASSERT_TRUE(store
                  ->scan_members([&](const MemberState& m) {
                    original.push_back(m);
                    return true;
                  })
                  .ok());
  ASSERT_TRUE(rebuilt
                  ->scan_members([&](const MemberState& m) {
                    replayed.push_back(m);
                    return true;
                  })
                  .ok());
  EXPECT_EQ(replayed, original);
}

TEST_F(PowerLossTest, WalDurabilityCanLoseAcknowledgedBatchesToAPowerCut) {
  auto fs = std::make_shared<FaultFileSystem>();
  std::unique_ptr<rocksdb::Env> env = faults::make_env(fs);
  std::unique_ptr<RocksStore> store = open(Durability::wal, env.get());
  ASSERT_NE(store, nullptr);
  Client client(7);
  std::deque<Sent> sent;
  {
    std::unique_ptr<Runtime> rt = runtime(*store);
    for (int i = 0; i < 40; ++i) {
      sent.push_back(Sent{client.next()});
      sent.back().result = durability::submit_and_wait(*rt, sent.back().event);
      sent.back().answered = true;
      client.learn(sent.back());
    }
    fs->cut_power();
  }
  store.reset();
  fs->power_on();

  store = open(Durability::wal, env.get());
  ASSERT_NE(store, nullptr);
  size_t acknowledged = 0, lost = 0;
  for (const Sent& s : sent) {
    if (!s.acknowledged()) continue;
    ++acknowledged;
    std::optional<MemberState> member;
    std::optional<IdempotencyRecord> record;
    if (s.event.type() == EventType::signup) {
      ASSERT_TRUE(store->load_member(s.event.member_id(), member).ok());
      lost += !member.has_value();
    } else {
      ASSERT_TRUE(store->load_idempotency(s.event.idempotency_key(), record).ok());
      lost += !record.has_value();
    }
  }
  std::printf("wal durability: %zu of %zu acknowledged events lost to the power cut\n", lost,
              acknowledged);
  EXPECT_GT(acknowledged, 20u);
  // The WAL was written but never synced: the cut takes the acknowledged batches with it.
  EXPECT_GT(lost, 0u);
  // What is left is still whole.
  expect_consistent(*store, "wal after the cut");
}

}  // namespace
}  // namespace loyalty
