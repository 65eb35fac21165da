// Determinism (domain.md "Ledger and invariants"): replaying the stored input events from
// empty, with the same program version, gives the same member states and ledgers.
#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <random>

#include "engine/runtime/runtime.hpp"
#include "storage/rocks_store.hpp"
#include "tests/support/scenario.hpp"
#include "tests/support/store_books.hpp"

namespace loyalty {
namespace {

namespace fs = std::filesystem;
using testing::at;
using testing::line;

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("loyalty-replay-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

Program replay_program() {
  Program p = testing::basic_program();
  p.earning.category_multipliers["beverage"] = *Decimal::parse("2");
  p.milestones = {{3, 30}};
  TierRules tiers;
  tiers.levels = {{"green", 0, Decimal::from_integer(1), "{}"},
                  {"gold", 30000, *Decimal::parse("1.25"), "{}"}};
  p.tiers = tiers;
  p.referral = ReferralRules{.referee_signup_points = 10,
                             .referee_first_purchase_points = 100,
                             .referrer_points = 200,
                             .qualifying_min_amount_minor = 1000,
                             .window_days = 60,
                             .max_rewarded_referrals = 5};
  p.redemption = RedemptionRules{.points_per_currency_unit = 100,
                                 .min_points = 10,
                                 .step_points = 1,
                                 .max_redeem_fraction = *Decimal::parse("0.5"),
                                 .hold_ttl_seconds = 600};
  p.expiry.mode = ExpiryMode::days;
  p.expiry.days = 30;
  return p;
}

std::unique_ptr<RocksStore> open_store(const std::string& path) {
  std::unique_ptr<RocksStore> store;
  const Status status = RocksStore::open({.path = path, .durability = Durability::wal}, store);
  EXPECT_TRUE(status.ok()) << status.message();
  return store;
}

// Submits and waits, so the test controls the order of every member's events.
EventResult submit(Runtime& runtime, Event event) {
  std::promise<EventResult> answer;
  runtime.submit(std::move(event), [&](EventResult&& r) { answer.set_value(std::move(r)); });
  return answer.get_future().get();
}

// A mixed, seeded workload: sign-ups with referrals, purchases (some paid partly with points),
// refunds in parts, redemptions, holds captured or voided, adjustments, and expiry job steps.
void run_workload(Runtime& runtime, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::vector<std::string> members;
  std::vector<std::string> purchases;
  TimeMs now = at("2026-06-01T00:00:00Z");
  int next_id = 0;
  auto id = [&next_id](const char* prefix) { return prefix + std::to_string(next_id++); };
  for (int step = 0; step < 600; ++step) {
    now += static_cast<TimeMs>(random() % (6 * 3600 * 1000));
    const uint64_t kind = members.size() < 4 ? 0 : random() % 10;
    if (kind == 0) {
      SignupEvent s;
      s.member_id = id("m");
      s.joined_at = now;
      EventResult r = submit(runtime, Event{s});
      if (r.rejection.ok()) members.push_back(s.member_id);
      if (members.size() >= 2 && random() % 2 == 0) {
        SignupEvent referred;
        referred.member_id = id("m");
        referred.joined_at = now;
        referred.referral_code = r.member ? r.member->referral_code : "";  // refers s
        if (submit(runtime, Event{referred}).rejection.ok()) members.push_back(referred.member_id);
      }
      continue;
    }
    const std::string& member = members[random() % members.size()];
    if (kind <= 4) {
      PurchaseEvent p;
      p.event_id = id("p");
      p.member_id = member;
      p.store_id = "s-1";
      p.occurred_at = now;
      p.currency = "CNY";
      p.lines = {line("latte", "beverage", static_cast<AmountMinor>(500 + random() % 5000)),
                 line("bagel", "food", static_cast<AmountMinor>(random() % 3000))};
      if (random() % 4 == 0) p.redeem_points = 10 + static_cast<Points>(random() % 20);
      if (submit(runtime, Event{p}).rejection.ok()) purchases.push_back(p.event_id);
    } else if (kind == 5 && !purchases.empty()) {
      RefundEvent r;
      r.event_id = id("r");
      r.original_event_id = purchases[random() % purchases.size()];
      r.occurred_at = now;
      r.amount_minor = 1 + static_cast<AmountMinor>(random() % 3000);
      submit(runtime, Event{r});
    } else if (kind == 6) {
      RedemptionEvent r;
      r.redemption_id = id("x");
      r.member_id = member;
      r.points = 10 + static_cast<Points>(random() % 100);
      r.at = now;
      submit(runtime, Event{r});
    } else if (kind == 7) {
      HoldEvent h;
      h.hold_id = id("h");
      h.member_id = member;
      h.points = 10 + static_cast<Points>(random() % 50);
      h.at = now;
      if (submit(runtime, Event{h}).rejection.ok()) {
        HoldActionEvent a;
        a.hold_id = h.hold_id;
        a.at = now + 1000;
        const uint64_t what = random() % 3;  // capture, void, or let it time out
        if (what < 2) {
          submit(runtime, Event{what == 0 ? EventType::hold_capture : EventType::hold_void, a});
        }
      }
    } else if (kind == 8) {
      AdjustmentEvent a;
      a.adjustment_id = id("a");
      a.member_id = member;
      a.points = static_cast<Points>(random() % 200) - 50;
      if (a.points == 0) a.points = 1;
      a.reason = "goodwill";
      a.at = now;
      submit(runtime, Event{a});
    } else {
      JobStepEvent j;
      j.job_id = id("j");
      j.member_id = member;
      j.as_of = now;
      submit(runtime, Event{random() % 2 ? EventType::expire_points : EventType::evaluate_tier, j});
    }
  }
}

TEST(Replay, TheEventLogRebuildsIdenticalMembersAndLedgers) {
  TempDir original_dir;
  TempDir replay_dir;
  ProgramRegistry programs(
      std::make_shared<ProgramVersion>(ProgramVersion{1, replay_program(), ""}));
  const auto clock = [] { return at("2027-06-01T00:00:00Z"); };

  std::vector<StoredEvent> log;
  testing::StoreBooks original;
  {
    auto store = open_store(original_dir.path());
    {
      Runtime runtime({.partitions = 2}, *store, programs, clock);
      run_workload(runtime, 20261123);
    }
    original = testing::read_books(*store);
    ASSERT_TRUE(store
                    ->scan_events(1,
                                  [&](const StoredEvent& e) {
                                    log.push_back(e);
                                    return true;
                                  })
                    .ok());
  }
  ASSERT_GT(original.members.size(), 10u);
  size_t follow_ups = 0;
  for (const StoredEvent& e : log) {
    if (e.event.type() == EventType::referral_reward) ++follow_ups;
  }
  ASSERT_GT(follow_ups, 0u) << "the workload should exercise referral follow-ups";

  auto store = open_store(replay_dir.path());
  {
    Runtime runtime({.partitions = 1, .deliver_follow_ups = false}, *store, programs, clock);
    for (const StoredEvent& e : log) {
      ASSERT_EQ(e.program_version, 1u);
      EventResult r = submit(runtime, e.event);
      ASSERT_TRUE(r.rejection.ok()) << "log event " << e.log_seq << ": " << r.rejection.message;
      ASSERT_FALSE(r.replayed) << "log event " << e.log_seq << " was applied twice";
    }
  }
  const testing::StoreBooks replayed = testing::read_books(*store);
  ASSERT_EQ(replayed.members.size(), original.members.size());
  for (size_t i = 0; i < original.members.size(); ++i) {
    EXPECT_EQ(replayed.members[i], original.members[i]) << original.members[i].member_id;
    EXPECT_EQ(replayed.ledgers[i], original.ledgers[i]) << original.members[i].member_id;
  }
}

}  // namespace
}  // namespace loyalty
