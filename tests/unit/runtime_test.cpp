// The runtime over an in-memory store: group commit, idempotency, ordering, claims that
// span partitions, what a failed commit or a full queue answers, follow-ups delivered across
// partitions exactly once (also from the outbox after a crash), and the events whose member
// the runtime finds (refunds, hold actions).
#include "engine/runtime/runtime.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <latch>
#include <thread>

#include "engine/claim_keys.hpp"
#include "engine/coupon_code.hpp"
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
  EXPECT_FALSE(failed.storage.ok()) << "a storage failure is a status, not only a refusal";
  store_.fail_commits(false);
  EXPECT_TRUE(submit(purchase("e0", "m-nobody", 100)).storage.ok())
      << "a business refusal is not a storage failure";
  EXPECT_EQ(store_.member("m1")->balance.available, 0);
  // The client's retry of the same event succeeds once storage is back.
  EventResult retried = submit(purchase("e1", "m1", 6400));
  ASSERT_TRUE(retried.rejection.ok());
  EXPECT_FALSE(retried.replayed);
  EXPECT_EQ(store_.member("m1")->balance.available, 64);
}

// A retry queued in the same batch as its original is answered from the batch. When the batch
// then fails to commit, that answer must not stand: the original and the retry are both told
// `unavailable`, and nothing was applied.
TEST_F(RuntimeTest, AFailedBatchAcknowledgesNothingItDecided) {
  start({.partitions = 1});
  ASSERT_TRUE(submit(signup("m1")).rejection.ok());
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> commits{0};
  // The first commit waits until both copies of e1 are queued behind it; every later one fails.
  store_.fail_commits_if([&](const CommitBatch&) {
    if (commits.fetch_add(1) > 0) return true;
    released.wait();
    return false;
  });
  std::promise<EventResult> blocker, original, retry;
  auto answer_to = [](std::promise<EventResult>& p) {
    return [&p](EventResult&& r) { p.set_value(std::move(r)); };
  };
  runtime_->submit(purchase("e0", "m1", 100), answer_to(blocker));
  while (commits.load() == 0) std::this_thread::yield();
  runtime_->submit(purchase("e1", "m1", 6400), answer_to(original));
  runtime_->submit(purchase("e1", "m1", 6400), answer_to(retry));
  release.set_value();
  EXPECT_TRUE(blocker.get_future().get().rejection.ok());
  const EventResult first = original.get_future().get();
  const EventResult second = retry.get_future().get();
  EXPECT_EQ(first.rejection.code, ErrorCode::unavailable);
  EXPECT_EQ(second.rejection.code, ErrorCode::unavailable);
  EXPECT_FALSE(second.replayed);
  store_.fail_commits_if(nullptr);
  EXPECT_EQ(store_.member("m1")->balance.available, 1);
  const EventResult again = submit(purchase("e1", "m1", 6400));
  ASSERT_TRUE(again.rejection.ok());
  EXPECT_FALSE(again.replayed) << "e1 was never applied";
}

TEST_F(RuntimeTest, ABusyMemberIsReadFromStorageOnce) {
  start();
  ASSERT_TRUE(submit(signup("m1")).rejection.ok());
  const size_t loads_before = store_.member_loads();
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(submit(purchase("e" + std::to_string(i), "m1", 1000)).rejection.ok());
  }
  EXPECT_EQ(store_.member_loads(), loads_before) << "the writer kept m1 after its sign-up";
  EXPECT_EQ(store_.member("m1")->balance.available, 200);
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

TEST_F(RuntimeTest, OneEventIdSentForManyMembersAppliesOnce) {
  start({.partitions = 4, .queue_capacity = 1024, .batch_events_max = 64});
  constexpr int kMembers = 16;
  for (int i = 0; i < kMembers; ++i) {
    ASSERT_TRUE(submit(signup("m" + std::to_string(i))).rejection.ok());
  }
  // The first writer to read an id waits (up to 300 ms) for another writer to commit it: a
  // writer that read before claiming would then apply it a second time.
  std::atomic<bool> first{true};
  store_.after_idempotency_read([&](std::string_view key) {
    if (!first.exchange(false)) return;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
    while (!store_.idempotency(std::string(key)) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  for (int round = 0; round < 5; ++round) {
    first = true;
    const std::string event_id = "shared-" + std::to_string(round);
    std::vector<std::promise<EventResult>> promises(kMembers);
    for (int i = 0; i < kMembers; ++i) {
      runtime_->submit(purchase(event_id, "m" + std::to_string(i), 1000),
                       [&promises, i](EventResult&& r) { promises[i].set_value(std::move(r)); });
    }
    int applied = 0;
    for (auto& p : promises) {
      EventResult r = p.get_future().get();
      if (r.rejection.ok()) {
        ++applied;
      } else {
        EXPECT_EQ(r.rejection.code, ErrorCode::idempotency_conflict);
      }
    }
    EXPECT_EQ(applied, 1) << event_id << " belongs to one member only";
  }
  store_.after_idempotency_read(nullptr);
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

// A program with referrals and redemption on, for the domain's cross-member flows.
class RuntimeDomainTest : public RuntimeTest {
 protected:
  static constexpr Points kReferrerPoints = 500;
  static constexpr Points kRefereeFirstPurchasePoints = 200;

  RuntimeDomainTest() {
    Program program = basic_program();
    ReferralRules referral;
    referral.referrer_points = kReferrerPoints;
    referral.referee_first_purchase_points = kRefereeFirstPurchasePoints;
    referral.qualifying_min_amount_minor = 1000;
    referral.window_days = 30;
    program.referral = referral;
    program.redemption = RedemptionRules{};
    programs_.activate(std::make_shared<ProgramVersion>(ProgramVersion{2, program, ""}));
  }

  // A member id that lives in `partition` (of the running runtime).
  std::string member_in(uint32_t partition, const std::string& prefix) const {
    for (int i = 0;; ++i) {
      std::string id = prefix + std::to_string(i);
      if (runtime_->partition_of(id) == partition) return id;
    }
  }

  static Event referee_signup(std::string member_id, std::string code) {
    SignupEvent s;
    s.member_id = std::move(member_id);
    s.referral_code = std::move(code);
    s.joined_at = at("2026-11-10T00:00:00Z");  // the purchases on 11-20 are within 30 days
    return Event{s};
  }

  static Event refund(std::string event_id, std::string original_event_id, AmountMinor amount,
                      std::string member_id = "") {
    RefundEvent r;
    r.event_id = std::move(event_id);
    r.original_event_id = std::move(original_event_id);
    r.member_id = std::move(member_id);
    r.occurred_at = at("2026-11-20T11:00:00Z");
    r.amount_minor = amount;
    return Event{r};
  }

  static Event hold_action(EventType kind, std::string hold_id) {
    HoldActionEvent action;
    action.hold_id = std::move(hold_id);
    return Event(kind, action);
  }

  // Referrer and referee in different partitions; the referee's qualifying purchase "e1".
  void refer_and_buy(const std::string& referrer, const std::string& referee) {
    ASSERT_NE(runtime_->partition_of(referrer), runtime_->partition_of(referee));
    EventResult joined = submit(signup(referrer));
    ASSERT_TRUE(joined.rejection.ok()) << joined.rejection.message;
    EventResult referred = submit(referee_signup(referee, joined.member->referral_code));
    ASSERT_TRUE(referred.rejection.ok()) << referred.rejection.message;
    EventResult bought = submit(purchase("e1", referee, 6400));
    ASSERT_TRUE(bought.rejection.ok()) << bought.rejection.message;
    EXPECT_EQ(std::get<PurchaseAnswer>(bought.answer).points_earned,
              64 + kRefereeFirstPurchasePoints);
  }

  size_t entries_of_type(const std::string& member_id, EntryType type) const {
    const auto ledger = store_.ledger(member_id);
    return static_cast<size_t>(std::count_if(
        ledger.begin(), ledger.end(), [type](const LedgerEntry& e) { return e.type == type; }));
  }

  size_t logged(EventType type) const {
    const auto events = store_.events();
    return static_cast<size_t>(std::count_if(events.begin(), events.end(),
                                             [type](const Event& e) { return e.type() == type; }));
  }

  static inline const RuntimeOptions kFourPartitions{
      .partitions = 4, .queue_capacity = 1024, .batch_events_max = 64};
};

// Cluster mode's runtime: events come from each partition's log in its order, each batch
// commits how far it applied that log, and follow-ups leave through the sink (to be published
// to their own partition's log) instead of being applied here.
class LogDrivenRuntimeTest : public RuntimeDomainTest {
 protected:
  void start_log_driven() {
    RuntimeOptions options{.partitions = 4, .queue_capacity = 1024, .batch_events_max = 64};
    options.log_driven = true;
    options.follow_up_sink = [this](const Event& follow_up) {
      const std::lock_guard lock(sink_mutex_);
      published_.push_back(follow_up);
    };
    options.give_back_sink = [this](const StockUnit& unit) {
      const std::lock_guard lock(sink_mutex_);
      given_back_.push_back(unit);
    };
    options.claim_release_sink = [this](const ClaimRelease& release) {
      const std::lock_guard lock(sink_mutex_);
      released_.push_back(release);
    };
    options.protect_claim_key = [](const std::string& key) { return "protected " + key; };
    options.publish = [this](Event&& event, uint64_t, Completion&& done) {
      const std::lock_guard lock(sink_mutex_);
      submitted_.push_back(std::move(event));
      done(EventResult{});
    };
    start(options);
  }

  // As the accepting node does before it publishes; then as every applier applies it.
  EventResult apply(uint32_t partition, Event event, uint64_t sequence) {
    uint64_t fingerprint = 0;
    EventResult accepted = runtime_->accept(event, fingerprint);
    if (!accepted.rejection.ok()) return accepted;
    std::promise<EventResult> promise;
    auto future = promise.get_future();
    runtime_->apply_logged(partition, std::move(event), sequence,
                           [&promise](EventResult&& r) { promise.set_value(std::move(r)); });
    return future.get();
  }

  EventResult claim(uint32_t partition, std::string key, std::string member, uint64_t sequence,
                    bool release = false, uint64_t grant = 0, std::string request = "") {
    return ask(partition,
               ClaimAsk{std::move(key), std::move(member), release, grant, std::move(request)},
               sequence);
  }

  EventResult ask(uint32_t partition, ClaimAsk claim, uint64_t sequence) {
    std::promise<EventResult> promise;
    auto future = promise.get_future();
    runtime_->apply_logged_claim(partition, std::move(claim), sequence,
                                 [&promise](EventResult&& r) { promise.set_value(std::move(r)); });
    return future.get();
  }

  std::vector<ClaimRelease> released() {
    const std::lock_guard lock(sink_mutex_);
    return released_;
  }

  std::string owner_of(const std::string& key) {
    ClaimState state;
    EXPECT_TRUE(store_.find_claim(key, state).ok());
    return state.member_id;
  }

  std::vector<Event> published() {
    const std::lock_guard lock(sink_mutex_);
    return published_;
  }

  std::mutex sink_mutex_;
  std::vector<Event> published_;
  std::vector<StockUnit> given_back_;
  std::vector<ClaimRelease> released_;
  std::vector<Event> submitted_;
};

TEST_F(LogDrivenRuntimeTest, SubmitAcceptsThenHandsTheEventToThePublisher) {
  start_log_driven();
  EventResult refused = submit(purchase("", "m1", 6400));
  EXPECT_EQ(refused.rejection.code, ErrorCode::invalid_request) << "intake still refuses";
  EXPECT_TRUE(submit(signup("m1")).rejection.ok());
  const std::lock_guard lock(sink_mutex_);
  ASSERT_EQ(submitted_.size(), 1u);
  const auto& signup = std::get<SignupEvent>(submitted_[0].body);
  EXPECT_NE(signup.request_fingerprint, 0u) << "stamped before it is published";
  EXPECT_TRUE(signup.joined_at.has_value());
  EXPECT_FALSE(store_.member("m1").has_value()) << "applied only when its log brings it back";
}

TEST_F(LogDrivenRuntimeTest, AppliesEachLogInOrderAndCommitsHowFar) {
  start_log_driven();
  const std::string referrer = member_in(1, "referrer-");
  const std::string referee = member_in(2, "referee-");
  EXPECT_EQ(runtime_->partition_of(referrer), member_partition(referrer, 4))
      << "the cluster's FNV-1a-32 partitioning";
  EventResult joined = apply(1, signup(referrer), 3);
  ASSERT_TRUE(joined.rejection.ok()) << joined.rejection.message;
  EXPECT_EQ(store_.applied(1), 3u);
  // As the accepting node logs it: the referrer already resolved through the code's claim.
  Event referred = referee_signup(referee, joined.member->referral_code);
  std::get<SignupEvent>(referred.body).referrer_member_id = referrer;
  ASSERT_TRUE(apply(2, std::move(referred), 4).rejection.ok());
  EventResult bought = apply(2, purchase("e1", referee, 6400), 9);
  ASSERT_TRUE(bought.rejection.ok()) << bought.rejection.message;
  EXPECT_EQ(store_.applied(2), 9u);
  EXPECT_EQ(store_.applied(1), 3u) << "each partition's position is its own";

  // The referrer's reward went to the sink, not to partition 1's queue here.
  const std::vector<Event> follow_ups = published();
  ASSERT_EQ(follow_ups.size(), 1u);
  EXPECT_EQ(follow_ups[0].type(), EventType::referral_reward);
  EXPECT_EQ(follow_ups[0].member_id(), referrer);
  EXPECT_EQ(store_.member(referrer)->balance.available, 0);
  EXPECT_EQ(store_.outbox_ids().size(), 1u) << "in the outbox until its publisher removes it";

  // Applied when it comes back through the referrer's log; a second copy changes nothing.
  ASSERT_TRUE(apply(1, follow_ups[0], 12).rejection.ok());
  EXPECT_EQ(store_.member(referrer)->balance.available, kReferrerPoints);
  EventResult again = apply(1, follow_ups[0], 13);
  EXPECT_TRUE(again.replayed);
  EXPECT_EQ(store_.member(referrer)->balance.available, kReferrerPoints);
  EXPECT_EQ(store_.applied(1), 13u) << "a copy still moves the position";
}

// A key's home partition grants it to the first member its log brings, and tells every later
// claimant (or anyone asking) whose it is; the grant commits with the log position.
TEST_F(LogDrivenRuntimeTest, ClaimsAreGrantedInLogOrderToOneMember) {
  start_log_driven();
  EXPECT_EQ(claim(3, "e:x", "m-a", 1).claim_owner, "m-a");
  EXPECT_EQ(claim(3, "e:x", "m-b", 2).claim_owner, "m-a") << "taken: the claimant is refused";
  EXPECT_EQ(claim(3, "e:x", "m-a", 3).claim_owner, "m-a") << "a retry is granted again";
  EXPECT_EQ(claim(3, "e:x", "", 4).claim_owner, "m-a") << "asking whose it is";
  EXPECT_EQ(claim(3, "e:nobody", "", 5).claim_owner, "") << "asking writes nothing";
  EXPECT_EQ(store_.applied(3), 5u);
  EXPECT_EQ(owner_of("e:x"), "m-a");
  EXPECT_EQ(owner_of("e:nobody"), "");

  // Two claims of one key in one batch: the first in the log wins.
  std::promise<EventResult> first, second;
  runtime_->apply_logged_claim(2, {"i:1:13800000000", "m-c"}, 1,
                               [&first](EventResult&& r) { first.set_value(std::move(r)); });
  runtime_->apply_logged_claim(2, {"i:1:13800000000", "m-d"}, 2,
                               [&second](EventResult&& r) { second.set_value(std::move(r)); });
  EXPECT_EQ(first.get_future().get().claim_owner, "m-c");
  EXPECT_EQ(second.get_future().get().claim_owner, "m-c");
}

// An erased member gives its phone up: the key is free for the next member, and a release by
// anyone but its owner (a late copy after another member took it) changes nothing.
TEST_F(LogDrivenRuntimeTest, AClaimGivenUpByItsMemberIsFreeForTheNext) {
  start_log_driven();
  EXPECT_EQ(claim(3, "i:1#aa", "m-a", 1).claim_owner, "m-a");
  EXPECT_EQ(claim(3, "i:1#aa", "m-b", 2, /*release=*/true).claim_owner, "m-a")
      << "only its member gives a key up";
  EXPECT_EQ(claim(3, "i:1#aa", "m-a", 3, /*release=*/true).claim_owner, "");
  EXPECT_EQ(owner_of("i:1#aa"), "") << "free in the store";
  EXPECT_EQ(claim(3, "i:1#aa", "m-b", 4).claim_owner, "m-b") << "free for the next member";
  EXPECT_EQ(claim(3, "i:1#aa", "m-a", 5, /*release=*/true).claim_owner, "m-b")
      << "a late copy of the release changes nothing";
  EXPECT_EQ(store_.applied(3), 5u);
}

// A changed phone is given up in its claim's home partition by the grant the member held it
// by, so that a second change that took the old phone back before the first was applied keeps
// it taken (docs/decisions.md "Changed identifiers in cluster mode").
TEST_F(LogDrivenRuntimeTest, AChangeGivesUpItsOldPhoneUnlessTakenAgainSince) {
  start_log_driven();
  const std::string member = member_in(1, "changer-");
  const auto key = [](const std::string& phone) {
    return "protected " + identifier_claim_key(IdentifierKind::phone, phone);
  };
  const auto change = [&member](std::string phone, uint64_t grant) {
    MemberUpdateEvent update;
    update.member_id = member;
    update.phone = std::move(phone);
    update.phone_grant = grant;
    update.changed_by = "key:desk";
    return Event{update};
  };
  const std::string a = key("13800000001"), b = key("13800000002");
  EventResult granted = claim(3, a, member, 1, false, 0, "m:" + member);
  ASSERT_EQ(granted.claim_owner, member);
  EXPECT_EQ(granted.claim_grant, 1u);
  EXPECT_EQ(claim(3, a, member, 2, false, 0, "m:" + member).claim_grant, 1u)
      << "a copy of the same request is the same grant";
  Event joined = signup(member, "13800000001");
  std::get<SignupEvent>(joined.body).phone_grant = 1;
  ASSERT_TRUE(apply(1, joined, 1).rejection.ok());
  EXPECT_EQ(store_.member(member)->phone_grant, 1u);

  // Two changes, to B and back to A, claimed before either is applied.
  EXPECT_EQ(claim(3, b, member, 3, false, 0, "mu:upd-1").claim_grant, 1u);
  EXPECT_EQ(claim(3, a, member, 4, false, 0, "mu:upd-2").claim_grant, 2u);
  const EventResult first = apply(1, change("13800000002", 1), 2);
  ASSERT_TRUE(first.rejection.ok());
  std::vector<ClaimRelease> releases = released();
  ASSERT_EQ(releases.size(), 1u);
  EXPECT_EQ(releases[0], (ClaimRelease{a, member, 1})) << "A, by the sign-up's grant";
  EXPECT_EQ(first.claim_releases, releases) << "and in the answer, for the accepting node";
  std::vector<ClaimRelease> outbox;
  ASSERT_TRUE(store_.load_claim_releases(outbox).ok());
  EXPECT_EQ(outbox, releases) << "in the outbox until sent";
  EXPECT_EQ(ask(3, ClaimAsk{a, member, true, 1, ""}, 5).claim_owner, member)
      << "granted again since: the release is too late";

  ASSERT_TRUE(apply(1, change("13800000001", 2), 3).rejection.ok());
  EXPECT_EQ(store_.member(member)->phone, "13800000001");
  EXPECT_EQ(store_.member(member)->phone_grant, 2u);
  releases = released();
  ASSERT_EQ(releases.size(), 2u);
  EXPECT_EQ(releases[1], (ClaimRelease{b, member, 1}));
  EXPECT_EQ(ask(3, ClaimAsk{b, member, true, 1, ""}, 6).claim_owner, "") << "B is free";
  const EventResult taken = claim(3, b, "someone-else", 7, false, 0, "m:someone-else");
  EXPECT_EQ(taken.claim_owner, "someone-else");
  EXPECT_EQ(taken.claim_grant, 2u) << "the count goes on across a release";
  EXPECT_EQ(claim(3, a, "someone-else", 8, false, 0, "m:someone-else").claim_owner, member)
      << "A is still the member's";
  EXPECT_EQ(ask(3, ClaimAsk{b, "someone-else", true, 2, ""}, 9).claim_owner, "");
  const EventResult unnamed = claim(3, b, "third", 10);  // no request (a node of an older version)
  EXPECT_EQ(unnamed.claim_owner, "third");
  EXPECT_EQ(unnamed.claim_grant, 3u) << "a freed counted key is counted again, whoever asks";
  EXPECT_EQ(ask(3, ClaimAsk{b, "third", true, 2, ""}, 11).claim_owner, "third")
      << "so a late release of grant 2 frees nothing";
}

// What a node decides for a partition must not depend on which other partitions it applies:
// a client id, a phone, a purchase or a hold of a member of another partition is invisible
// here (the claims settled before logging keep such keys to one member).
TEST_F(LogDrivenRuntimeTest, DecisionsNeverReadAnotherPartitionsRecords) {
  start_log_driven();
  const std::string here = member_in(0, "here-");
  const std::string there = member_in(1, "there-");
  Event signed_up = signup(there, "13900000000");
  ASSERT_TRUE(apply(1, signed_up, 1).rejection.ok());
  ASSERT_TRUE(apply(1, purchase("e-shared", there, 6400), 2).rejection.ok());
  ASSERT_TRUE(apply(1, purchase("e-there", there, 6400), 3).rejection.ok());

  // A node holding both partitions decides partition 0 as one holding only partition 0 does.
  EventResult joined = apply(0, signup(here, "13900000000"), 1);
  EXPECT_TRUE(joined.rejection.ok()) << "the phone's claim, not partition 1's record, decides";
  EventResult bought = apply(0, purchase("e-shared", here, 6400), 2);
  EXPECT_TRUE(bought.rejection.ok()) << bought.rejection.message;
  EventResult refunded = apply(0, refund("r-1", "e-shared", 100, here), 3);
  EXPECT_TRUE(refunded.rejection.ok()) << "its own purchase, not partition 1's";
  EventResult foreign = apply(0, refund("r-2", "e-there", 100, here), 4);
  EXPECT_EQ(foreign.rejection.code, ErrorCode::not_found) << "another member's purchase";
}

TEST_F(LogDrivenRuntimeTest, AfterAFailedCommitNothingQueuedBehindItIsApplied) {
  start_log_driven();
  const std::string member = member_in(0, "m-");
  ASSERT_TRUE(apply(0, signup(member), 1).rejection.ok());
  store_.fail_commits(true);
  EventResult failed = apply(0, purchase("e1", member, 6400), 2);
  EXPECT_FALSE(failed.storage.ok());
  store_.fail_commits(false);
  // Storage is back, but e2 was read after e1, which is not applied: it must wait for the log
  // to be read again from the committed position, or e1 would be skipped for good.
  EventResult skipped = apply(0, purchase("e2", member, 6400), 3);
  EXPECT_FALSE(skipped.storage.ok());
  EXPECT_EQ(store_.applied(0), 1u);
  runtime_->resume_log(0);
  ASSERT_TRUE(apply(0, purchase("e1", member, 6400), 2).rejection.ok());
  ASSERT_TRUE(apply(0, purchase("e2", member, 6400), 3).rejection.ok());
  EXPECT_EQ(store_.applied(0), 3u);
  EXPECT_EQ(store_.member(member)->balance.available, 128);
}

// Cluster mode's stock (docs/decisions.md "Stock in cluster mode"): a reward with two units,
// counted in the home partition of its stock key.
class LogDrivenStockTest : public LogDrivenRuntimeTest {
 protected:
  static constexpr Points kCost = 50;

  LogDrivenStockTest() {
    Program program = basic_program();
    Reward tumbler;
    tumbler.id = "tumbler";
    tumbler.name = "Tumbler";
    tumbler.cost_points = kCost;
    tumbler.benefit_json = "{}";
    tumbler.coupon_valid_days = 30;
    tumbler.stock = 2;
    program.rewards.push_back(tumbler);
    programs_.activate(std::make_shared<ProgramVersion>(ProgramVersion{3, program, ""}));
  }

  uint32_t home() const { return member_partition(stock_key("tumbler"), 4); }

  // As the home partition's log brings a stock ask, at the next place of that log.
  EventResult stock(StockMove move, std::string code) {
    std::promise<EventResult> promise;
    auto future = promise.get_future();
    runtime_->apply_logged_stock(home(), StockAsk{move, StockUnit{"tumbler", std::move(code)}},
                                 ++sequences_[home()],
                                 [&promise](EventResult&& r) { promise.set_value(std::move(r)); });
    return future.get();
  }
  std::optional<int64_t> left() { return stock(StockMove::count, "").stock_left; }

  // A redemption as the accepting node logs it: with its code and the home's decision.
  EventResult redeem(uint32_t partition, const std::string& member_id, std::string redemption_id,
                     std::string code, bool granted) {
    RewardRedeemEvent redeem;
    redeem.redemption_id = std::move(redemption_id);
    redeem.member_id = member_id;
    redeem.reward_id = "tumbler";
    redeem.code = std::move(code);
    redeem.stock_granted = granted;
    return apply(partition, Event{redeem}, ++sequences_[partition]);
  }

  std::vector<StockUnit> given_back() {
    const std::lock_guard lock(sink_mutex_);
    return given_back_;
  }

  std::map<uint32_t, uint64_t> sequences_;
};

TEST_F(LogDrivenStockTest, TheHomePartitionTakesOneUnitPerCodeUntilNoneIsLeft) {
  start_log_driven();
  EXPECT_EQ(left(), 2);
  EXPECT_TRUE(stock(StockMove::take, "CODE-A").stock_granted);
  EXPECT_TRUE(stock(StockMove::take, "CODE-A").stock_granted) << "a copy: the code's unit still";
  EXPECT_EQ(left(), 1) << "a copy takes no second unit";
  EXPECT_TRUE(stock(StockMove::take, "CODE-B").stock_granted);
  EXPECT_FALSE(stock(StockMove::take, "CODE-C").stock_granted) << "none left";
  EXPECT_EQ(left(), 0);

  stock(StockMove::give_back, "CODE-B");
  EXPECT_EQ(left(), 1);
  stock(StockMove::give_back, "CODE-B");
  stock(StockMove::give_back, "CODE-Z");
  EXPECT_EQ(left(), 1) << "a unit not out (a copy, a code never given one) changes nothing";
  EXPECT_TRUE(stock(StockMove::take, "CODE-C").stock_granted) << "the unit given back";
  EXPECT_EQ(left(), 0);

  // Committed with the log position: a restart counts from the store.
  std::string reward_id;
  ASSERT_TRUE(store_.find_stock_unit("CODE-A", reward_id).ok());
  EXPECT_EQ(reward_id, "tumbler");
  ASSERT_TRUE(store_.find_stock_unit("CODE-B", reward_id).ok());
  EXPECT_EQ(reward_id, "");
  std::map<std::string, int64_t, std::less<>> counts;
  ASSERT_TRUE(store_.load_stock_counts(counts).ok());
  EXPECT_EQ(counts["tumbler"], 2);
  EXPECT_EQ(store_.applied(home()), sequences_[home()]);
}

TEST_F(LogDrivenStockTest, AMembersPartitionGivesBackEveryUnitItsCouponDoesNotHold) {
  start_log_driven();
  const uint32_t partition = (home() + 1) % 4;
  const std::string rich = member_in(partition, "rich-");
  const std::string poor = member_in(partition, "poor-");
  ASSERT_TRUE(apply(partition, signup(rich), ++sequences_[partition]).rejection.ok());
  ASSERT_TRUE(apply(partition, signup(poor), ++sequences_[partition]).rejection.ok());
  ASSERT_TRUE(
      apply(partition, purchase("e1", rich, 20000), ++sequences_[partition]).rejection.ok());

  const std::string first = coupon_code_from_bits(1), retry = coupon_code_from_bits(2),
                    refused = coupon_code_from_bits(3);
  EventResult issued = redeem(partition, rich, "r1", first, true);
  ASSERT_TRUE(issued.rejection.ok()) << issued.rejection.message;
  EXPECT_TRUE(given_back().empty()) << "the coupon holds its unit";
  EXPECT_TRUE(redeem(partition, rich, "r1", first, true).replayed);
  EXPECT_TRUE(given_back().empty()) << "a copy of the message that issued the coupon";

  // A retry drew another code and took another unit: it answers with the first coupon.
  EXPECT_TRUE(redeem(partition, rich, "r1", retry, true).replayed);
  EventResult broke = redeem(partition, poor, "r2", refused, true);
  EXPECT_EQ(broke.rejection.code, ErrorCode::insufficient_points);
  EXPECT_EQ(redeem(partition, rich, "r3", coupon_code_from_bits(4), false).rejection.code,
            ErrorCode::out_of_stock)
      << "logged without a unit";

  CouponCancelEvent cancel;
  cancel.code = first;
  cancel.member_id = rich;
  ASSERT_TRUE(apply(partition, Event{cancel}, ++sequences_[partition]).rejection.ok());

  const std::vector<StockUnit> units = given_back();
  ASSERT_EQ(units.size(), 3u);
  EXPECT_EQ(units[0].code, retry);
  EXPECT_EQ(units[1].code, refused);
  EXPECT_EQ(units[2].code, first) << "the cancelled coupon's";
  for (const StockUnit& unit : units) EXPECT_EQ(unit.reward_id, "tumbler");
  std::vector<StockUnit> kept;
  ASSERT_TRUE(store_.load_give_backs(kept).ok());
  EXPECT_EQ(kept.size(), 3u) << "in the store's outbox until the node has sent them";
  std::map<std::string, int64_t, std::less<>> counts;
  ASSERT_TRUE(store_.load_stock_counts(counts).ok());
  EXPECT_EQ(counts.count("tumbler"), 0u) << "units are counted in the home partition only";
}

TEST_F(RuntimeDomainTest, ReferralRewardReachesAReferrerInAnotherPartitionOnce) {
  start(kFourPartitions);
  const std::string referrer = member_in(0, "referrer-");
  const std::string referee = member_in(3, "referee-");
  refer_and_buy(referrer, referee);
  runtime_->stop();  // returns once every follow-up of what was accepted is applied

  EXPECT_EQ(store_.member(referrer)->balance.available, kReferrerPoints);
  EXPECT_EQ(entries_of_type(referrer, EntryType::referral_bonus), 1u);
  const auto notifications = store_.notifications(referrer);
  ASSERT_EQ(notifications.size(), 1u);
  EXPECT_EQ(notifications[0].type, "referral.rewarded");
  EXPECT_EQ(notifications[0].points, kReferrerPoints);
  EXPECT_TRUE(store_.outbox_ids().empty()) << "applied follow-ups leave the outbox";
  EXPECT_EQ(logged(EventType::referral_reward), 1u);
  const auto record = store_.idempotency("f:referral:e1");
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->member_id, referrer);
  const auto links = store_.referrals(referrer);
  ASSERT_EQ(links.size(), 1u);
  EXPECT_EQ(links[0].referee_id, referee);
  EXPECT_EQ(links[0].status, ReferralStatus::rewarded);

  // A second copy of the follow-up (say, redelivered from the outbox) changes nothing.
  const auto events = store_.events();
  const auto follow_up = std::find_if(events.begin(), events.end(), [](const Event& e) {
    return e.type() == EventType::referral_reward;
  });
  ASSERT_NE(follow_up, events.end());
  store_.put_outbox(*follow_up);
  runtime_.reset();
  start(kFourPartitions);
  runtime_->stop();
  EXPECT_EQ(store_.member(referrer)->balance.available, kReferrerPoints);
  EXPECT_EQ(entries_of_type(referrer, EntryType::referral_bonus), 1u);
  EXPECT_TRUE(store_.outbox_ids().empty()) << "a replayed follow-up leaves the outbox too";

  // The client's retry of the trigger is a replay: no second follow-up.
  runtime_.reset();
  start(kFourPartitions);
  EventResult again = submit(purchase("e1", referee, 6400));
  ASSERT_TRUE(again.rejection.ok());
  EXPECT_TRUE(again.replayed);
  runtime_->stop();
  EXPECT_EQ(store_.member(referrer)->balance.available, kReferrerPoints);
  EXPECT_EQ(logged(EventType::referral_reward), 1u);
}

// A follow-up whose own commit failed (a full disk) is applied once storage works again, without
// a restart: after the next commit of its partition that succeeds.
TEST_F(RuntimeDomainTest, AFollowUpWhoseCommitFailedIsAppliedWhenStorageIsBack) {
  store_.fail_commits_if([](const CommitBatch& batch) { return !batch.outbox_deletes.empty(); });
  start(kFourPartitions);
  const std::string referrer = member_in(1, "referrer-");
  const std::string referee = member_in(2, "referee-");
  refer_and_buy(referrer, referee);
  while (store_.failed_commits() == 0) std::this_thread::yield();
  store_.fail_commits_if(nullptr);
  EXPECT_EQ(store_.member(referrer)->balance.available, 0);

  ASSERT_TRUE(submit(purchase("e2", referrer, 100)).rejection.ok());
  runtime_->stop();
  EXPECT_EQ(store_.member(referrer)->balance.available, kReferrerPoints + 1);
  EXPECT_EQ(entries_of_type(referrer, EntryType::referral_bonus), 1u);
  EXPECT_TRUE(store_.outbox_ids().empty());
}

// The crash between trigger and delivery: the trigger (and its outbox record) is committed,
// the follow-up's own commit never happens. The next runtime delivers it from the outbox.
TEST_F(RuntimeDomainTest, OutboxRedeliversAFollowUpLostInACrashExactlyOnce) {
  store_.fail_commits_if([](const CommitBatch& batch) { return !batch.outbox_deletes.empty(); });
  start(kFourPartitions);
  const std::string referrer = member_in(1, "referrer-");
  const std::string referee = member_in(2, "referee-");
  refer_and_buy(referrer, referee);
  runtime_->stop();
  runtime_.reset();
  EXPECT_GE(store_.failed_commits(), 1u);
  EXPECT_EQ(store_.outbox_ids(), std::vector<std::string>{"referral:e1"});
  EXPECT_EQ(store_.member(referrer)->balance.available, 0);

  store_.fail_commits_if(nullptr);
  start(kFourPartitions);
  runtime_->stop();
  runtime_.reset();
  EXPECT_EQ(store_.member(referrer)->balance.available, kReferrerPoints);
  EXPECT_EQ(entries_of_type(referrer, EntryType::referral_bonus), 1u);
  EXPECT_TRUE(store_.outbox_ids().empty());

  start(kFourPartitions);  // nothing left to deliver
  runtime_->stop();
  EXPECT_EQ(store_.member(referrer)->balance.available, kReferrerPoints);
  EXPECT_EQ(logged(EventType::referral_reward), 1u);
}

TEST_F(RuntimeDomainTest, RefundFindsItsMemberFromThePurchase) {
  start();
  ASSERT_TRUE(submit(signup("m1")).rejection.ok());
  ASSERT_TRUE(submit(purchase("e1", "m1", 6400)).rejection.ok());
  const size_t commits = store_.commits();

  EventResult unknown = submit(refund("r0", "no-such-purchase", 100));
  EXPECT_EQ(unknown.rejection.code, ErrorCode::not_found);
  EXPECT_EQ(unknown.rejection.field, "original_event_id");
  EXPECT_EQ(store_.commits(), commits) << "refused before it reached a partition";

  EventResult refunded = submit(refund("r1", "e1", 6400));
  ASSERT_TRUE(refunded.rejection.ok()) << refunded.rejection.message;
  const auto& answer = std::get<RefundAnswer>(refunded.answer);
  EXPECT_EQ(answer.points_reversed, 64);
  EXPECT_EQ(answer.remaining_minor, 0);
  EXPECT_EQ(store_.member("m1")->balance.available, 0);
  EXPECT_EQ(store_.purchase("e1")->refunded_minor, 6400);
  const auto events = store_.events();
  ASSERT_EQ(events.back().type(), EventType::refund);
  EXPECT_EQ(events.back().member_id(), "m1") << "the log holds the resolved member";

  EventResult again = submit(refund("r1", "e1", 6400));
  ASSERT_TRUE(again.rejection.ok());
  EXPECT_TRUE(again.replayed);
  EXPECT_EQ(again.answer, refunded.answer);
  EXPECT_EQ(submit(refund("r2", "e1", 1)).rejection.code, ErrorCode::refund_exceeds_purchase);

  // A member named by the caller does not let one member refund another's purchase.
  ASSERT_TRUE(submit(signup("m2")).rejection.ok());
  ASSERT_TRUE(submit(purchase("e2", "m2", 5000)).rejection.ok());
  EventResult other = submit(refund("r3", "e2", 100, "m1"));
  ASSERT_TRUE(other.rejection.ok()) << "the purchase's member wins over the one named";
  EXPECT_EQ(store_.events().back().member_id(), "m2");
}

// A refund queued right behind its purchase, before that purchase is committed, sees it
// through the batch's overlay (the caller named the member, as a batch upload can).
TEST_F(RuntimeDomainTest, RefundInTheSameBatchAsItsPurchase) {
  start({.partitions = 1, .queue_capacity = 64, .batch_events_max = 64});
  ASSERT_TRUE(submit(signup("m1")).rejection.ok());
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<EventResult> first;
  runtime_->submit(purchase("e0", "m1", 100), [&](EventResult&& r) {
    entered.set_value();
    released.wait();  // the writer waits here: what follows queues up for one batch
    first.set_value(std::move(r));
  });
  entered.get_future().wait();
  std::promise<EventResult> bought;
  std::promise<EventResult> refunded;
  runtime_->submit(purchase("e1", "m1", 6400),
                   [&](EventResult&& r) { bought.set_value(std::move(r)); });
  runtime_->submit(refund("r1", "e1", 3200, "m1"),
                   [&](EventResult&& r) { refunded.set_value(std::move(r)); });
  release.set_value();
  ASSERT_TRUE(first.get_future().get().rejection.ok());
  ASSERT_TRUE(bought.get_future().get().rejection.ok());
  EventResult result = refunded.get_future().get();
  ASSERT_TRUE(result.rejection.ok()) << result.rejection.message;
  EXPECT_EQ(std::get<RefundAnswer>(result.answer).points_reversed, 32);
  EXPECT_EQ(store_.purchase("e1")->refunded_minor, 3200) << "the batch's latest record is stored";
  EXPECT_EQ(store_.member("m1")->balance.available, 1 + 64 - 32);
}

TEST_F(RuntimeDomainTest, HoldActionsFindTheirMemberAndRepeatTheirAnswer) {
  start(kFourPartitions);
  ASSERT_TRUE(submit(signup("m1")).rejection.ok());
  ASSERT_TRUE(submit(signup("m2")).rejection.ok());
  ASSERT_TRUE(submit(purchase("e1", "m1", 64000)).rejection.ok());

  HoldEvent h;
  h.hold_id = "h1";
  h.member_id = "m1";
  h.points = 300;
  EventResult held = submit(Event{h});
  ASSERT_TRUE(held.rejection.ok()) << held.rejection.message;
  const auto& hold = std::get<HoldAnswer>(held.answer);
  EXPECT_EQ(hold.hold.created_at, kNow) << "the server's time where the client sent none";
  EXPECT_EQ(hold.balance.held, 300);
  ASSERT_TRUE(store_.hold("h1").has_value());
  EXPECT_EQ(store_.hold("h1")->member_id, "m1");

  EventResult unknown = submit(hold_action(EventType::hold_capture, "no-such-hold"));
  EXPECT_EQ(unknown.rejection.code, ErrorCode::not_found);
  EXPECT_EQ(unknown.rejection.field, "hold_id");

  // Another member's purchase cannot capture m1's hold.
  PurchaseEvent p;
  p.event_id = "e2";
  p.member_id = "m2";
  p.store_id = "s-1";
  p.occurred_at = at("2026-11-20T11:00:00Z");
  p.currency = "CNY";
  p.lines = {line("a", "food", 5000)};
  p.hold_id = "h1";
  EventResult foreign = submit(Event{p});
  EXPECT_EQ(foreign.rejection.code, ErrorCode::not_found);
  EXPECT_EQ(foreign.rejection.field, "hold_id");

  EventResult captured = submit(hold_action(EventType::hold_capture, "h1"));
  ASSERT_TRUE(captured.rejection.ok()) << captured.rejection.message;
  EXPECT_EQ(std::get<HoldAnswer>(captured.answer).hold.state, HoldState::captured);
  EventResult again = submit(hold_action(EventType::hold_capture, "h1"));
  ASSERT_TRUE(again.rejection.ok());
  EXPECT_TRUE(again.replayed);
  EXPECT_EQ(again.answer, captured.answer);
  EXPECT_EQ(submit(hold_action(EventType::hold_void, "h1")).rejection.code,
            ErrorCode::hold_not_active);

  EXPECT_EQ(store_.hold("h1")->hold.state, HoldState::captured);
  const MemberState m1 = *store_.member("m1");
  EXPECT_EQ(m1.balance.available, 640 - 300);
  EXPECT_EQ(m1.balance.held, 0);
  EXPECT_TRUE(m1.holds.empty());
}

TEST_F(RuntimeDomainTest, ServerTimeIsStampedAfterTheFingerprint) {
  start();
  ASSERT_TRUE(submit(signup("m1")).rejection.ok());
  ASSERT_TRUE(submit(purchase("e1", "m1", 64000)).rejection.ok());
  RedemptionEvent r;
  r.redemption_id = "rd1";
  r.member_id = "m1";
  r.points = 100;
  EventResult redeemed = submit(Event{r});
  ASSERT_TRUE(redeemed.rejection.ok()) << redeemed.rejection.message;
  const Event logged_redemption = store_.events().back();
  EXPECT_EQ(std::get<RedemptionEvent>(logged_redemption.body).at, kNow);
  EventResult retried = submit(Event{r});
  ASSERT_TRUE(retried.rejection.ok());
  EXPECT_TRUE(retried.replayed) << "a retry without `at` is the same request";
  r.points = 200;
  EventResult conflict = submit(Event{r});
  EXPECT_EQ(conflict.rejection.code, ErrorCode::idempotency_conflict);
  EXPECT_EQ(conflict.rejection.field, "redemption_id");
  EXPECT_EQ(store_.member("m1")->balance.available, 640 - 100);
}

}  // namespace
}  // namespace loyalty
