// The runtime over an in-memory store: group commit, idempotency, ordering, claims that
// span partitions, and what a failed commit or a full queue answers.
#include "engine/runtime/runtime.hpp"

#include <gtest/gtest.h>

#include <future>
#include <latch>
#include <thread>

#include "tests/support/memory_store.hpp"
#include "tests/support/scenario.hpp"

namespace loyalty {
namespace {

using testing::at;
using testing::basic_program;
using testing::line;
using testing::MemoryStore;

const TimeMs kNow = at("2026-11-20T12:00:00Z");

class RuntimeTest : public ::testing::Test {
 protected:
  RuntimeTest()
      : programs_(std::make_shared<ProgramVersion>(ProgramVersion{1, basic_program(), ""})) {}

  void start(RuntimeOptions options = {}) {
    runtime_ = std::make_unique<Runtime>(options, store_, programs_, [] { return kNow; });
  }

  EventResult submit(Event event) {
    std::promise<EventResult> promise;
    auto future = promise.get_future();
    runtime_->submit(std::move(event),
                     [&promise](EventResult&& result) { promise.set_value(std::move(result)); });
    return future.get();
  }

  static Event signup(std::string member_id, std::string phone = "") {
    SignupEvent s;
    s.member_id = std::move(member_id);
    s.phone = std::move(phone);
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

  MemoryStore store_;
  ProgramRegistry programs_;
  std::unique_ptr<Runtime> runtime_;
};

TEST_F(RuntimeTest, SignupThenPurchaseIsDurableBeforeTheAnswer) {
  start();
  EventResult joined = submit(signup("m1"));
  ASSERT_TRUE(joined.rejection.ok()) << joined.rejection.message;
  ASSERT_TRUE(joined.member.has_value());
  EXPECT_EQ(joined.member->joined_at, kNow) << "a sign-up without joined_at is stamped now";
  EXPECT_EQ(joined.member->referral_code.size(), 8u);

  EventResult bought = submit(purchase("e1", "m1", 6400));
  ASSERT_TRUE(bought.rejection.ok()) << bought.rejection.message;
  EXPECT_EQ(std::get<PurchaseAnswer>(bought.answer).points_earned, 64);
  // Acknowledged means committed: the store already has it.
  EXPECT_EQ(store_.member("m1")->balance.available, 64);
  EXPECT_EQ(store_.ledger("m1").size(), 1u);
}

TEST_F(RuntimeTest, SameIdSamePayloadReplaysDifferentPayloadConflicts) {
  start();
  ASSERT_TRUE(submit(signup("m1")).rejection.ok());
  EventResult first = submit(purchase("e1", "m1", 6400));
  EventResult again = submit(purchase("e1", "m1", 6400));
  ASSERT_TRUE(again.rejection.ok());
  EXPECT_TRUE(again.replayed);
  EXPECT_EQ(again.answer, first.answer);
  EXPECT_EQ(store_.member("m1")->balance.available, 64) << "a replay applies nothing";

  EventResult other = submit(purchase("e1", "m1", 100));
  EXPECT_EQ(other.rejection.code, ErrorCode::idempotency_conflict);
  ASSERT_TRUE(submit(signup("m2")).rejection.ok());
  EXPECT_EQ(submit(purchase("e1", "m2", 6400)).rejection.code, ErrorCode::idempotency_conflict)
      << "an event id belongs to one member";

  EXPECT_TRUE(submit(signup("m1")).replayed);
  EXPECT_EQ(submit(signup("m1", "+86-1")).rejection.code, ErrorCode::member_exists);
}

TEST_F(RuntimeTest, ConcurrentCopiesOfOnePurchaseApplyOnce) {
  start({.partitions = 2, .queue_capacity = 1024, .batch_events_max = 8});
  ASSERT_TRUE(submit(signup("m1")).rejection.ok());
  constexpr int kCopies = 20;
  std::vector<std::future<EventResult>> results;
  std::latch go(kCopies);
  std::vector<std::thread> threads;
  std::vector<std::promise<EventResult>> promises(kCopies);
  for (int i = 0; i < kCopies; ++i) {
    results.push_back(promises[i].get_future());
    threads.emplace_back([&, i] {
      go.arrive_and_wait();
      runtime_->submit(purchase("dup", "m1", 5000),
                       [&promises, i](EventResult&& r) { promises[i].set_value(std::move(r)); });
    });
  }
  for (auto& t : threads) t.join();
  int applied = 0;
  for (auto& f : results) {
    EventResult r = f.get();
    ASSERT_TRUE(r.rejection.ok());
    if (!r.replayed) ++applied;
  }
  EXPECT_EQ(applied, 1);
  EXPECT_EQ(store_.member("m1")->balance.available, 50);
}

TEST_F(RuntimeTest, ManyEventsShareFewCommits) {
  start({.partitions = 1, .queue_capacity = 4096, .batch_events_max = 512});
  ASSERT_TRUE(submit(signup("m1")).rejection.ok());
  const size_t commits_before = store_.commits();
  constexpr int kEvents = 2000;
  std::vector<std::promise<EventResult>> promises(kEvents);
  for (int i = 0; i < kEvents; ++i) {
    runtime_->submit(purchase("e" + std::to_string(i), "m1", 100),
                     [&promises, i](EventResult&& r) { promises[i].set_value(std::move(r)); });
  }
  for (auto& p : promises) ASSERT_TRUE(p.get_future().get().rejection.ok());
  EXPECT_EQ(store_.member("m1")->balance.available, kEvents);
  EXPECT_LT(store_.commits() - commits_before, static_cast<size_t>(kEvents))
      << "events queued together are committed together";
  // Order of acceptance is the order of application: ledger seqs follow submission order.
  const auto ledger = store_.ledger("m1");
  ASSERT_EQ(ledger.size(), static_cast<size_t>(kEvents));
  for (int i = 0; i < kEvents; ++i) EXPECT_EQ(ledger[i].reference, "e" + std::to_string(i));
}

TEST_F(RuntimeTest, FailedCommitAnswersUnavailableAndChangesNothing) {
  start();
  ASSERT_TRUE(submit(signup("m1")).rejection.ok());
  store_.fail_commits(true);
  EventResult failed = submit(purchase("e1", "m1", 6400));
  EXPECT_EQ(failed.rejection.code, ErrorCode::unavailable);
  store_.fail_commits(false);
  EXPECT_EQ(store_.member("m1")->balance.available, 0);
  // The client's retry of the same event succeeds once storage is back.
  EventResult retried = submit(purchase("e1", "m1", 6400));
  ASSERT_TRUE(retried.rejection.ok());
  EXPECT_FALSE(retried.replayed);
  EXPECT_EQ(store_.member("m1")->balance.available, 64);
}

TEST_F(RuntimeTest, ValidationRefusalsNeverReachTheQueue) {
  start();
  EventResult r = submit(purchase("", "m1", 100));
  EXPECT_EQ(r.rejection.code, ErrorCode::invalid_request);
  EXPECT_EQ(r.rejection.field, "event_id");
  EXPECT_EQ(store_.commits(), 0u);
}

TEST_F(RuntimeTest, PhoneNumbersAreUniqueAcrossPartitions) {
  start({.partitions = 4, .queue_capacity = 1024, .batch_events_max = 64});
  constexpr int kMembers = 16;
  std::vector<std::promise<EventResult>> promises(kMembers);
  for (int i = 0; i < kMembers; ++i) {
    runtime_->submit(signup("m" + std::to_string(i), "+86-555"),
                     [&promises, i](EventResult&& r) { promises[i].set_value(std::move(r)); });
  }
  int joined = 0;
  for (auto& p : promises) {
    EventResult r = p.get_future().get();
    if (r.rejection.ok())
      ++joined;
    else
      EXPECT_EQ(r.rejection.field, "phone");
  }
  EXPECT_EQ(joined, 1);
}

TEST_F(RuntimeTest, ReferralCodeLinksTheReferrer) {
  start();
  EventResult referrer = submit(signup("m1"));
  ASSERT_TRUE(referrer.rejection.ok());
  SignupEvent s;
  s.member_id = "m2";
  s.referral_code = referrer.member->referral_code;
  EventResult referee = submit(Event{s});
  ASSERT_TRUE(referee.rejection.ok()) << referee.rejection.message;
  EXPECT_EQ(referee.member->referred_by, "m1");
  s.member_id = "m3";
  s.referral_code = "QQQQQQQQ";
  EXPECT_EQ(submit(Event{s}).rejection.code, ErrorCode::unknown_referral_code);
}

TEST_F(RuntimeTest, FullQueueRefusesWithUnavailable) {
  // One partition whose writer is stuck in a completion: the queue fills up.
  start({.partitions = 1, .queue_capacity = 4, .batch_events_max = 1});
  ASSERT_TRUE(submit(signup("m1")).rejection.ok());
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> unavailable{0};
  std::atomic<int> finished{0};
  constexpr int kEvents = 20;
  for (int i = 0; i < kEvents; ++i) {
    runtime_->submit(purchase("e" + std::to_string(i), "m1", 100), [&, i](EventResult&& r) {
      if (r.rejection.code == ErrorCode::unavailable) ++unavailable;
      if (i == 0) released.wait();
      ++finished;
    });
  }
  EXPECT_GT(unavailable.load(), 0);
  release.set_value();
  runtime_->stop();
  EXPECT_EQ(finished.load(), kEvents) << "every completion runs exactly once";
}

}  // namespace
}  // namespace loyalty
