// Races inside one process: many threads submit purchases, refunds, redemptions, holds and
// hold captures/voids for the same few members at once through the embedded Runtime, over the
// in-memory store. The model is built only from what was acknowledged, and the end state must
// match it: no redemption or hold overspent, no update lost, nothing applied twice, the books
// balance. Built and run under ThreadSanitizer too (preset "tsan", CTest label tsan), which is
// what finds the data races this test cannot see by its results alone.
// LOYALTY_RACE_SEED, LOYALTY_RACE_THREADS and LOYALTY_RACE_OPERATIONS change the run.
#include <gtest/gtest.h>

#include <cstdlib>
#include <future>
#include <latch>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "engine/runtime/runtime.hpp"
#include "tests/support/memory_store.hpp"
#include "tests/support/scenario.hpp"

namespace loyalty {
namespace {

using testing::at;
using testing::basic_program;
using testing::line;
using testing::MemoryStore;

// The clock stands still, so no hold times out behind the model's back.
const TimeMs kNow = at("2026-11-20T12:00:00Z");
const TimeMs kPurchaseTime = at("2026-11-20T10:00:00Z");
constexpr int kMembers = 3;

uint64_t env_number(const char* name, uint64_t fallback) {
  const char* text = std::getenv(name);
  return text == nullptr || *text == '\0' ? fallback : std::strtoull(text, nullptr, 10);
}

std::string member_name(size_t index) { return "m" + std::to_string(index); }

// What one thread saw acknowledged for one member. Threads keep their own tallies (no shared
// state beside the runtime) and the test adds them up at the end.
struct Tally {
  Points credited = 0;   // earned − reversed + restored
  Points spent = 0;      // redemptions and captured holds
  Points held_open = 0;  // holds neither captured nor voided
};

struct OwnPurchase {
  std::string event_id;
  size_t member = 0;
  AmountMinor remaining_minor = 0;
  int refunds = 0;
};

struct OwnHold {
  std::string hold_id;
  size_t member = 0;
  Points points = 0;
};

// An event this thread saw applied (not replayed), kept to be sent again.
struct Applied {
  Event event;
  Answer answer;
};

// One client thread: submits, waits for the answer, checks it and updates its tally.
class Client {
 public:
  Client(Runtime& runtime, int index, uint64_t seed)
      : runtime_(runtime), index_(index), random_(seed), tallies_(kMembers) {}

  void run(int operations) {
    for (int i = 0; i < operations; ++i) step(i);
  }

  const std::vector<Tally>& tallies() const { return tallies_; }
  const std::vector<std::string>& failures() const { return failures_; }
  // Idempotency keys of the events this thread saw applied.
  const std::vector<std::string>& applied_keys() const { return applied_keys_; }
  size_t acknowledged() const { return acknowledged_; }

 private:
  void step(int i) {
    const std::string id = "t" + std::to_string(index_) + "-" + std::to_string(i);
    const auto dice = pick(0, 99);
    if (dice < 35 || (dice < 50 && purchases_.empty())) {
      purchase(id);
    } else if (dice < 50) {
      refund(id);
    } else if (dice < 65) {
      redeem(id);
    } else if (dice < 80 || (dice < 95 && holds_.empty())) {
      hold(id);
    } else if (dice < 95) {
      settle();
    } else if (!applied_.empty()) {
      resend();
    }
  }

  void purchase(const std::string& id) {
    PurchaseEvent p;
    p.event_id = id;
    const size_t member = pick(0, kMembers - 1);
    p.member_id = member_name(member);
    p.store_id = "s-1";
    p.occurred_at = kPurchaseTime;
    p.currency = "CNY";
    const AmountMinor amount = pick(100, 5000);
    p.lines = {line("latte", "beverage", amount)};
    Event event{p};
    // One purchase in eight is sent twice at once, as a POS retrying on a timeout would:
    // exactly one copy applies, the other is answered as its replay.
    std::vector<EventResult> results =
        pick(0, 7) == 0 ? submit_together({event, event}) : submit_together({event});
    int applied = 0;
    for (EventResult& r : results) {
      if (!r.rejection.ok()) return fail("purchase " + id + " refused: " + r.rejection.message);
      if (!r.replayed) ++applied;
    }
    if (applied != 1) return fail("purchase " + id + " applied " + std::to_string(applied) + "×");
    if (results.size() == 2 && results[0].answer != results[1].answer) {
      return fail("purchase " + id + ": the replay answered differently");
    }
    const auto* answer = std::get_if<PurchaseAnswer>(&results[0].answer);
    if (answer == nullptr) return fail("purchase " + id + " answered without a purchase answer");
    tallies_[member].credited += answer->points_earned;
    purchases_.push_back({id, member, amount, 0});
    record(event, results[0]);
  }

  void refund(const std::string& id) {
    const size_t chosen = pick(0, purchases_.size() - 1);
    OwnPurchase& original = purchases_[chosen];
    RefundEvent r;
    r.event_id = id;
    r.original_event_id = original.event_id;
    r.occurred_at = kPurchaseTime + 60 * kMsPerSecond;
    // Every third refund completes the purchase: it takes exactly what is left.
    r.amount_minor =
        original.refunds == 2 ? original.remaining_minor : pick(1, original.remaining_minor);
    Event event{r};
    EventResult result = submit_together({event}).front();
    if (!result.rejection.ok())
      return fail("refund " + id + " refused: " + result.rejection.message);
    const auto* answer = std::get_if<RefundAnswer>(&result.answer);
    if (answer == nullptr) return fail("refund " + id + " answered without a refund answer");
    tallies_[original.member].credited += answer->points_restored - answer->points_reversed;
    original.remaining_minor -= *r.amount_minor;
    ++original.refunds;
    if (answer->remaining_minor != original.remaining_minor) {
      fail("refund " + id + ": remaining " + std::to_string(answer->remaining_minor) +
           ", expected " + std::to_string(original.remaining_minor));
    }
    if (original.remaining_minor == 0) purchases_.erase(purchases_.begin() + chosen);
    record(event, result);
  }

  void redeem(const std::string& id) {
    RedemptionEvent r;
    r.redemption_id = id;
    const size_t member = pick(0, kMembers - 1);
    r.member_id = member_name(member);
    r.points = pick(10, 120);
    Event event{r};
    EventResult result = submit_together({event}).front();
    if (result.rejection.code == ErrorCode::insufficient_points) return;
    if (!result.rejection.ok()) return fail("redemption " + id + ": " + result.rejection.message);
    const auto* answer = std::get_if<PointsAnswer>(&result.answer);
    if (answer == nullptr) return fail("redemption " + id + " answered without points");
    if (answer->balance.available < 0) fail("redemption " + id + " overspent");
    tallies_[member].spent += r.points;
    record(event, result);
  }

  void hold(const std::string& id) {
    HoldEvent h;
    h.hold_id = "h-" + id;
    const size_t member = pick(0, kMembers - 1);
    h.member_id = member_name(member);
    h.points = pick(10, 120);
    Event event{h};
    EventResult result = submit_together({event}).front();
    if (result.rejection.code == ErrorCode::insufficient_points) return;
    if (!result.rejection.ok()) return fail("hold " + h.hold_id + ": " + result.rejection.message);
    const auto* answer = std::get_if<HoldAnswer>(&result.answer);
    if (answer == nullptr) return fail("hold " + h.hold_id + " answered without a hold");
    if (answer->balance.available < 0) fail("hold " + h.hold_id + " overspent");
    tallies_[member].held_open += h.points;
    holds_.push_back({h.hold_id, member, h.points});
    record(event, result);
  }

  // Captures or voids one of this thread's holds; one time in five sends both at once, and
  // exactly one of them may win.
  void settle() {
    const size_t chosen = pick(0, holds_.size() - 1);
    const OwnHold settled = holds_[chosen];
    holds_.erase(holds_.begin() + chosen);
    const bool both = pick(0, 4) == 0;
    const bool capture_first = pick(0, 1) == 0;
    std::vector<Event> events;
    for (EventType kind : {EventType::hold_capture, EventType::hold_void}) {
      if (both || (kind == EventType::hold_capture) == capture_first) {
        events.push_back(Event{kind, HoldActionEvent{settled.hold_id, "", 0}});
      }
    }
    std::vector<EventResult> results = submit_together(events);
    int winners = 0;
    for (size_t k = 0; k < results.size(); ++k) {
      const EventResult& r = results[k];
      if (r.rejection.code == ErrorCode::hold_not_active && both) continue;
      if (!r.rejection.ok()) return fail(settled.hold_id + ": " + r.rejection.message);
      ++winners;
      tallies_[settled.member].held_open -= settled.points;
      if (events[k].type() == EventType::hold_capture) {
        tallies_[settled.member].spent += settled.points;
      }
      record(events[k], r);
    }
    if (winners != 1) fail(settled.hold_id + " settled " + std::to_string(winners) + "×");
  }

  // An applied event sent again must be answered as a replay, with the first answer.
  void resend() {
    const Applied& earlier = applied_[pick(0, applied_.size() - 1)];
    EventResult again = submit_together({earlier.event}).front();
    const std::string key = earlier.event.idempotency_key();
    if (!again.rejection.ok())
      return fail("resent " + key + " refused: " + again.rejection.message);
    if (!again.replayed) fail("resent " + key + " applied again");
    if (again.answer != earlier.answer) fail("resent " + key + " answered differently");
  }

  // Submits the events without waiting in between, then waits for all their answers.
  std::vector<EventResult> submit_together(const std::vector<Event>& events) {
    std::vector<std::promise<EventResult>> promises(events.size());
    std::vector<std::future<EventResult>> futures;
    for (size_t k = 0; k < events.size(); ++k) {
      futures.push_back(promises[k].get_future());
      runtime_.submit(events[k], [promise = &promises[k]](EventResult&& r) {
        promise->set_value(std::move(r));
      });
    }
    std::vector<EventResult> results;
    for (auto& future : futures) results.push_back(future.get());
    acknowledged_ += results.size();
    return results;
  }

  void record(const Event& event, const EventResult& result) {
    applied_keys_.push_back(event.idempotency_key());
    applied_.push_back({event, result.answer});
  }

  void fail(std::string what) {
    failures_.push_back("thread " + std::to_string(index_) + ": " + what);
  }

  int64_t pick(int64_t low, int64_t high) {
    return std::uniform_int_distribution<int64_t>(low, high)(random_);
  }

  Runtime& runtime_;
  int index_;
  std::mt19937_64 random_;
  std::vector<Tally> tallies_;
  std::vector<OwnPurchase> purchases_;
  std::vector<OwnHold> holds_;
  std::vector<Applied> applied_;
  std::vector<std::string> applied_keys_;
  std::vector<std::string> failures_;
  size_t acknowledged_ = 0;
};

struct RaceConfig {
  RuntimeOptions runtime;
  const char* name;
};

class RuntimeRace : public ::testing::TestWithParam<RaceConfig> {};

TEST_P(RuntimeRace, ConcurrentClientsMatchTheModelOfTheirAcknowledgedAnswers) {
  const uint64_t seed = env_number("LOYALTY_RACE_SEED", std::random_device{}());
  const int threads = static_cast<int>(env_number("LOYALTY_RACE_THREADS", 8));
  const int operations = static_cast<int>(env_number("LOYALTY_RACE_OPERATIONS", 1000));
  std::printf("LOYALTY_RACE_SEED=%llu: %d threads × %d operations, %s\n",
              static_cast<unsigned long long>(seed), threads, operations, GetParam().name);

  MemoryStore store;
  Program program = basic_program();
  program.redemption = RedemptionRules{};
  ProgramRegistry programs(std::make_shared<ProgramVersion>(ProgramVersion{1, program, ""}));
  Runtime runtime(GetParam().runtime, store, programs, [] { return kNow; });

  // Sign the members up from every thread at once: each is created once, the others replay.
  std::vector<Client> clients;
  for (int t = 0; t < threads; ++t) clients.emplace_back(runtime, t, seed * 1000 + t);
  std::latch go(threads);
  std::vector<std::thread> workers;
  std::vector<int> signups_applied(threads, 0);
  std::vector<std::string> signup_refusals(threads);
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      go.arrive_and_wait();
      for (size_t m = 0; m < kMembers; ++m) {
        SignupEvent signup;
        signup.member_id = member_name(m);
        std::promise<EventResult> promise;
        runtime.submit(Event{signup},
                       [&promise](EventResult&& r) { promise.set_value(std::move(r)); });
        EventResult r = promise.get_future().get();
        if (r.rejection.ok() && !r.replayed) ++signups_applied[t];
        if (!r.rejection.ok()) signup_refusals[t] += signup.member_id + ": " + r.rejection.message;
      }
      clients[t].run(operations);
    });
  }
  for (std::thread& worker : workers) worker.join();
  runtime.stop();

  int signups = 0;
  for (int applied : signups_applied) signups += applied;
  EXPECT_EQ(signups, kMembers) << "each sign-up applies once";
  for (const std::string& refusal : signup_refusals) EXPECT_EQ(refusal, "");

  std::vector<Tally> model(kMembers);
  std::map<std::string, int> applied_keys;
  size_t acknowledged = 0;
  for (const Client& client : clients) {
    for (const std::string& failure : client.failures()) ADD_FAILURE() << failure;
    for (size_t m = 0; m < kMembers; ++m) {
      model[m].credited += client.tallies()[m].credited;
      model[m].spent += client.tallies()[m].spent;
      model[m].held_open += client.tallies()[m].held_open;
    }
    for (const std::string& key : client.applied_keys()) ++applied_keys[key];
    acknowledged += client.acknowledged();
  }
  std::printf("%zu client events acknowledged, %zu applied, %zu commits\n", acknowledged,
              applied_keys.size(), store.commits());

  // Every event applied is in the log exactly once, and only the acknowledged ones are.
  std::map<std::string, int> logged;
  for (const Event& event : store.events()) {
    if (event.type() != EventType::signup) ++logged[event.idempotency_key()];
  }
  EXPECT_EQ(logged, applied_keys) << "the event log holds each acknowledged event once";

  for (size_t m = 0; m < kMembers; ++m) {
    const std::string id = member_name(m);
    SCOPED_TRACE(id);
    std::optional<MemberState> member = store.member(id);
    ASSERT_TRUE(member.has_value());
    std::vector<LedgerEntry> ledger = store.ledger(id);
    Points sum = 0;
    std::set<std::tuple<EntryType, std::string, std::string>> seen;
    for (size_t k = 0; k < ledger.size(); ++k) {
      const LedgerEntry& entry = ledger[k];
      sum += entry.points;
      EXPECT_EQ(entry.seq, k + 1) << "ledger sequence numbers have no gap";
      EXPECT_EQ(entry.balance_after, sum) << "entry " << entry.seq;
      EXPECT_TRUE(seen.insert({entry.type, entry.reference, entry.rule}).second)
          << "entry " << entry.seq << " (" << entry_type_name(entry.type) << " " << entry.reference
          << ") written twice";
    }
    EXPECT_EQ(sum, model[m].credited - model[m].spent) << "Σ ledger = credited − spent";
    EXPECT_EQ(member->balance.total(), model[m].credited - model[m].spent);
    EXPECT_EQ(member->balance.held, model[m].held_open) << "held = open holds";
    EXPECT_EQ(member->holds.size() > 0, model[m].held_open > 0);
    EXPECT_TRUE(member_invariants_hold(*member, sum));
    EXPECT_TRUE(lots_match_balance(*member));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Configurations, RuntimeRace,
    ::testing::Values(
        // Two writers, small batches: many commits interleave with the claims.
        RaceConfig{{.partitions = 2, .queue_capacity = 4096, .batch_events_max = 8},
                   "2 partitions, batches of 8"},
        // Three writers with the member cache off: every batch reads the store.
        RaceConfig{{.partitions = 3,
                    .queue_capacity = 4096,
                    .batch_events_max = 64,
                    .member_cache_members = 0},
                   "3 partitions, no member cache"}),
    [](const ::testing::TestParamInfo<RaceConfig>& param) {
      return param.index == 0 ? std::string("small_batches") : std::string("no_member_cache");
    });

}  // namespace
}  // namespace loyalty
