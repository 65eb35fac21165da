// Batch recalculation (domain.md "Recalculation") on a real RocksDB and a real runtime: a known
// history under program A re-run under program B. The dry run reports exactly the deltas worked
// out by hand below and changes nothing; apply writes exactly those adjust entries; applying
// again, or as another job with the same rules, changes nothing more; a purchase committed
// while it runs is not part of it; the books balance after and the event log replays to the
// same state.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <future>
#include <map>
#include <thread>
#include <tuple>

#include "engine/program_toml.hpp"
#include "engine/runtime/runtime.hpp"
#include "engine/tzdb/os_time_zones.hpp"
#include "ops/recalculation.hpp"
#include "storage/program_versions.hpp"
#include "storage/record_codec.hpp"
#include "storage/records_generated.h"
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
            ("loyalty-recalc-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

// Program A: 1 point per 1.00 CNY, beverages ×2, 30 points on the 3rd purchase, gold (×1.5)
// from 300.00 CNY of spend, points expire after 365 days.
constexpr std::string_view kProgramA = R"(
[program]
id = "recalc-club"
currency = "CNY"

[earning]
points_per_unit = 1
unit_minor = 100

[earning.category_multipliers]
beverage = 2.0

[[milestones]]
purchase_count = 3
bonus_points = 30

[tiers]
metric = "spend"
window = "rolling"
window_months = 12
retain_months = 12

[[tiers.levels]]
name = "green"
threshold = 0
multiplier = 1.0

[[tiers.levels]]
name = "gold"
threshold = 30000
multiplier = 1.5

[redemption]
points_per_currency_unit = 100
min_points = 1
max_redeem_fraction = 1.0

[expiry]
mode = "days"
days = 365
)";

// Program B: the same, but beverages ×3 and food ×0.5.
std::string program_b_source() {
  std::string source(kProgramA);
  const std::string from = "beverage = 2.0\n";
  source.replace(source.find(from), from.size(), "beverage = 3.0\nfood = 0.5\n");
  return source;
}

Program parse(std::string_view source) {
  auto parsed = parse_program_toml(source, "test", os_time_zones());
  EXPECT_TRUE(std::holds_alternative<Program>(parsed));
  return std::get<Program>(std::move(parsed));
}

const TimeMs kFrom = at("2026-03-01T00:00:00Z");
const TimeMs kTo = at("2026-04-01T00:00:00Z");
const TimeMs kNow = at("2026-06-01T00:00:00Z");

EventResult submit(Runtime& runtime, Event event) {
  std::promise<EventResult> answer;
  runtime.submit(std::move(event), [&](EventResult&& r) { answer.set_value(std::move(r)); });
  return answer.get_future().get();
}

PurchaseEvent purchase(std::string event_id, std::string member_id, std::string_view occurred_at,
                       std::vector<PurchaseLine> lines) {
  PurchaseEvent p;
  p.event_id = std::move(event_id);
  p.member_id = std::move(member_id);
  p.store_id = "s-1";
  p.occurred_at = at(occurred_at);
  p.currency = "CNY";
  p.lines = std::move(lines);
  return p;
}

// The history, with what A gave (the figures B gives are worked out in the expectations):
//   m1 p0 2026-02-15  food 100.00                   out of range              100
//      p1 2026-03-02  beverage 250.00, green        250 × 2 = 500      (then gold)
//      p2 2026-03-05  beverage 40.00 + food 60.00, gold, 3rd purchase:
//                     (4000 × 2 + 6000) / 100 = 140 × 1.5 = 210 + 30 = 240
//         refunded 50.00 on 2026-03-06: floor(240 × 5000 / 10000) = 120 reversed
//   m2 p3 2026-03-10  beverage 100.00               200, refunded in full on 2026-04-05
//      p4 2026-03-20  food 50.00                    50
//      p5 2026-04-01T00:00:00Z beverage 10.00      out of range (the end is exclusive);
//                     m2's 3rd purchase: 20 + 30 = 50
//   m3 p6 2026-03-31T23:59:59Z beverage 30.00       60, then all 60 redeemed
void write_history(Runtime& runtime) {
  for (const char* member : {"m1", "m2", "m3"}) {
    SignupEvent signup;
    signup.member_id = member;
    signup.joined_at = at("2026-01-01T00:00:00Z");
    ASSERT_TRUE(submit(runtime, Event{signup}).rejection.ok());
  }
  const std::vector<PurchaseEvent> purchases = {
      purchase("p0", "m1", "2026-02-15T10:00:00Z", {line("bagel", "food", 10000)}),
      purchase("p1", "m1", "2026-03-02T10:00:00Z", {line("latte", "beverage", 25000)}),
      purchase("p2", "m1", "2026-03-05T10:00:00Z",
               {line("latte", "beverage", 4000), line("bagel", "food", 6000)}),
      purchase("p3", "m2", "2026-03-10T10:00:00Z", {line("latte", "beverage", 10000)}),
      purchase("p4", "m2", "2026-03-20T10:00:00Z", {line("bagel", "food", 5000)}),
      purchase("p5", "m2", "2026-04-01T00:00:00Z", {line("latte", "beverage", 1000)}),
      purchase("p6", "m3", "2026-03-31T23:59:59Z", {line("latte", "beverage", 3000)}),
  };
  const std::map<std::string, Points> earned = {{"p0", 100}, {"p1", 500}, {"p2", 240}, {"p3", 200},
                                                {"p4", 50},  {"p5", 50},  {"p6", 60}};
  for (const PurchaseEvent& p : purchases) {
    EventResult r = submit(runtime, Event{p});
    ASSERT_TRUE(r.rejection.ok()) << p.event_id << ": " << r.rejection.message;
    ASSERT_EQ(std::get<PurchaseAnswer>(r.answer).points_earned, earned.at(p.event_id))
        << p.event_id;
  }
  RefundEvent partial;
  partial.event_id = "r1";
  partial.original_event_id = "p2";
  partial.occurred_at = at("2026-03-06T10:00:00Z");
  partial.amount_minor = 5000;
  EventResult r1 = submit(runtime, Event{partial});
  ASSERT_TRUE(r1.rejection.ok());
  ASSERT_EQ(std::get<RefundAnswer>(r1.answer).points_reversed, 120);
  RefundEvent full;
  full.event_id = "r2";
  full.original_event_id = "p3";
  full.occurred_at = at("2026-04-05T10:00:00Z");
  full.amount_minor = 10000;
  EventResult r2 = submit(runtime, Event{full});
  ASSERT_TRUE(r2.rejection.ok());
  ASSERT_EQ(std::get<RefundAnswer>(r2.answer).points_reversed, 200);
  RedemptionEvent redeem;
  redeem.redemption_id = "x1";
  redeem.member_id = "m3";
  redeem.points = 60;
  redeem.at = at("2026-04-02T10:00:00Z");
  ASSERT_TRUE(submit(runtime, Event{redeem}).rejection.ok());
}

// Under B (beverages ×3, food ×0.5; tier and purchase count as they were):
//   p1 green: 250 × 3 = 750                                         500 → 750   +250
//   p2 gold, 3rd: (4000 × 3 + 6000 × 0.5) / 100 = 150 × 1.5 = 225 + 30 = 255;
//      the same refund reverses floor(255 × 5000 / 10000) = 127: 255 − 127 = 128;
//      as recorded 240 − 120 = 120                                  120 → 128     +8
//   p3 300, refunded in full                                          0 → 0   unchanged
//   p4 5000 × 0.5 / 100 = 25                                         50 → 25     −25
//   p6 3000 × 3 / 100 = 90                                           60 → 90     +30
struct Expected {
  std::string member_id, event_id;
  Points old_points, new_points, delta;
};
const std::vector<Expected> kExpected = {{"m1", "p1", 500, 750, 250},
                                         {"m1", "p2", 120, 128, 8},
                                         {"m2", "p4", 50, 25, -25},
                                         {"m3", "p6", 60, 90, 30}};

struct StoreState {
  std::vector<MemberState> members;
  std::map<std::string, std::vector<LedgerEntry>> ledgers;
  std::map<std::string, std::optional<PurchaseRecord>> purchases;
  size_t events = 0;
  size_t program_versions = 0;
  friend bool operator==(const StoreState&, const StoreState&) = default;
};

StoreState read_state(RocksStore& store) {
  StoreState out;
  testing::StoreBooks books = testing::read_books(store);
  out.members = std::move(books.members);
  for (size_t i = 0; i < out.members.size(); ++i) {
    out.ledgers[out.members[i].member_id] = std::move(books.ledgers[i]);
  }
  for (const char* id : {"p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7"}) {
    EXPECT_TRUE(store.load_purchase(id, out.purchases[id]).ok());
  }
  EXPECT_TRUE(store
                  .scan_events(1,
                               [&](const StoredEvent&) {
                                 ++out.events;
                                 return true;
                               })
                  .ok());
  std::vector<StoredProgramVersion> versions;
  EXPECT_TRUE(store.load_program_versions(versions).ok());
  out.program_versions = versions.size();
  return out;
}

// What `loyaltyctl verify` checks: Σ ledger = available + pending + held = Σ lots − debt.
void expect_books_balance(const StoreState& state) {
  for (const MemberState& m : state.members) {
    Points sum = 0;
    for (const LedgerEntry& entry : state.ledgers.at(m.member_id)) sum += entry.points;
    EXPECT_TRUE(member_invariants_hold(m, sum)) << m.member_id;
  }
}

// The adjust entries of a member's ledger, oldest first, as (reference, points).
std::vector<std::pair<std::string, Points>> adjustments(const StoreState& state,
                                                        const std::string& member_id) {
  std::vector<std::pair<std::string, Points>> out;
  const auto& ledger = state.ledgers.at(member_id);
  for (auto it = ledger.rbegin(); it != ledger.rend(); ++it) {
    if (it->type == EntryType::adjust) out.emplace_back(it->reference, it->points);
  }
  return out;
}

void expect_report_matches(const ops::RecalcReport& report) {
  EXPECT_EQ(report.events_examined, 5u) << "p1, p2, p3, p4, p6";
  EXPECT_EQ(report.events_changed, 4u);
  EXPECT_EQ(report.members_affected, 3u);
  EXPECT_EQ(report.total_delta, 263);
  EXPECT_EQ(report.total_positive, 288);
  EXPECT_EQ(report.total_negative, -25);
  ASSERT_EQ(report.changes.size(), kExpected.size());
  for (size_t i = 0; i < kExpected.size(); ++i) {
    const ops::RecalcChange& c = report.changes[i];
    EXPECT_EQ(c.member_id, kExpected[i].member_id);
    EXPECT_EQ(c.event_id, kExpected[i].event_id);
    EXPECT_EQ(c.old_points, kExpected[i].old_points) << c.event_id;
    EXPECT_EQ(c.new_points, kExpected[i].new_points) << c.event_id;
    EXPECT_EQ(c.delta, kExpected[i].delta) << c.event_id;
  }
  ASSERT_EQ(report.largest.size(), 4u);
  EXPECT_EQ(report.largest[0].event_id, "p1");  // by |delta|: 250, 30, 25, 8
  EXPECT_EQ(report.largest[1].event_id, "p6");
  EXPECT_EQ(report.largest[2].event_id, "p4");
  EXPECT_EQ(report.largest[3].event_id, "p2");
  std::map<std::string, uint64_t> histogram;
  for (const ops::RecalcBucket& bucket : report.histogram) {
    if (bucket.count > 0) histogram[bucket.label] = bucket.count;
  }
  EXPECT_EQ(histogram, (std::map<std::string, uint64_t>{
                           {"100..999", 1}, {"10..99", 1}, {"-99..-10", 1}, {"1..9", 1}}));
}

class RecalcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const Status opened =
        RocksStore::open({.path = dir_.path(), .durability = Durability::wal}, store_);
    ASSERT_TRUE(opened.ok()) << opened.message();
    std::shared_ptr<const ProgramVersion> a;
    ASSERT_TRUE(
        add_program_version(*store_, parse(kProgramA), std::string(kProgramA), kFrom, true, a)
            .ok());
    registry_ = std::make_unique<ProgramRegistry>(a);
    runtime_ = std::make_unique<Runtime>(RuntimeOptions{.partitions = 2}, *store_, *registry_,
                                         [] { return kNow; });
    write_history(*runtime_);
  }

  // Program B as a request: stored (not active) when applying, unsaved for a dry run.
  ops::RecalcRequest request_b(bool apply) {
    ops::RecalcRequest request;
    const std::string source = program_b_source();
    request.job_id = ops::recalc_job_id(source, kFrom, kTo);
    request.from = kFrom;
    request.to = kTo;
    request.apply = apply;
    if (apply) {
      EXPECT_TRUE(
          add_program_version(*store_, parse(source), source, kNow, false, request.program).ok());
    } else {
      request.program =
          std::make_shared<const ProgramVersion>(ProgramVersion{0, parse(source), source});
    }
    return request;
  }

  ops::RecalcReport run(const ops::RecalcRequest& request) {
    ops::JobProgress progress;
    ops::RecalcReport report;
    const Status status = ops::run_recalculation(*store_, request.apply ? runtime_.get() : nullptr,
                                                 request, progress, report);
    EXPECT_TRUE(status.ok()) << status.message();
    EXPECT_EQ(progress.done.load(), progress.total.load());
    return report;
  }

  TempDir dir_;
  std::unique_ptr<RocksStore> store_;
  std::unique_ptr<ProgramRegistry> registry_;
  std::unique_ptr<Runtime> runtime_;
};

TEST_F(RecalcTest, DryRunReportsTheExactDeltasAndChangesNothing) {
  const StoreState before = read_state(*store_);
  const ops::RecalcReport report = run(request_b(false));
  expect_report_matches(report);
  EXPECT_FALSE(report.applied);
  EXPECT_EQ(report.job_id, ops::recalc_job_id(program_b_source(), kFrom, kTo));
  EXPECT_EQ(report.program_label, "recalc-club@unsaved");
  EXPECT_EQ(read_state(*store_), before) << "a dry run writes nothing";

  // The JSON and CSV say the same.
  const std::string json = ops::recalc_report_json(report);
  EXPECT_NE(json.find("\"events_changed\":4"), std::string::npos) << json;
  EXPECT_NE(json.find("\"total_delta\":263"), std::string::npos) << json;
  EXPECT_NE(json.find("\"mode\":\"dry_run\""), std::string::npos) << json;
  const std::string csv = ops::recalc_report_csv(report);
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "job_id,member_id,event_id,occurred_at,old_points,new_points,delta,adjustment_id");
  EXPECT_NE(csv.find(",m1,p2,2026-03-05T10:00:00Z,120,128,8,recalc:" + report.job_id + ":p2\n"),
            std::string::npos)
      << csv;
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 5);
}

TEST_F(RecalcTest, ApplyWritesExactlyTheAdjustmentsOnceAndReplaysToTheSameState) {
  const ops::RecalcRequest request = request_b(true);
  ASSERT_EQ(request.program->number, 2u);
  const ops::RecalcReport report = run(request);
  expect_report_matches(report);
  EXPECT_EQ(report.adjustments_applied, 4u);
  EXPECT_EQ(report.adjustments_failed, 0u) << report.first_failure;
  EXPECT_EQ(report.program_label, "recalc-club@2");

  const StoreState applied = read_state(*store_);
  const std::string prefix = "recalc:" + request.job_id + ":";
  using Adjustments = std::vector<std::pair<std::string, Points>>;
  EXPECT_EQ(adjustments(applied, "m1"), (Adjustments{{prefix + "p1", 250}, {prefix + "p2", 8}}));
  EXPECT_EQ(adjustments(applied, "m2"), (Adjustments{{prefix + "p4", -25}}));
  EXPECT_EQ(adjustments(applied, "m3"), (Adjustments{{prefix + "p6", 30}}));
  for (const auto& [member, ledger] : applied.ledgers) {
    for (const LedgerEntry& entry : ledger) {
      if (entry.type == EntryType::adjust) {
        EXPECT_EQ(entry.program_version, 2u);
      }
    }
  }
  EXPECT_EQ(applied.purchases.at("p2")->points_adjusted, 8);
  EXPECT_EQ(applied.purchases.at("p2")->points_recalculated, 255);
  // m2's −25 came from p4's own lot; m3's +30 went to a new lot expiring with p6's points.
  const MemberState& m2 = applied.members[1];
  const MemberState& m3 = applied.members[2];
  ASSERT_EQ(m2.member_id, "m2");
  ASSERT_EQ(m2.lots.size(), 2u);  // p4's and p5's (p3's was refunded)
  EXPECT_EQ(m2.lots[0].reference, "p4");
  EXPECT_EQ(m2.lots[0].points_remaining, 25);
  EXPECT_EQ(m2.lots[1].points_remaining, 50);
  ASSERT_EQ(m3.lots.size(), 1u);
  EXPECT_EQ(m3.lots[0].reference, prefix + "p6");
  EXPECT_EQ(m3.lots[0].expires_at, at("2027-03-31T23:59:59Z"));
  EXPECT_EQ(m3.balance.available, 30);
  expect_books_balance(applied);

  // The same job again, and another job with the same rules: nothing more to do.
  const ops::RecalcReport again = run(request);
  EXPECT_EQ(again.events_examined, 5u);
  EXPECT_EQ(again.events_changed, 0u);
  EXPECT_EQ(again.adjustments_applied, 0u);
  ops::RecalcRequest other = request;
  other.job_id = "recalc-another-job";
  const ops::RecalcReport other_report = run(other);
  EXPECT_EQ(other_report.events_changed, 0u);
  EXPECT_EQ(other_report.total_delta, 0);
  const StoreState after = read_state(*store_);
  EXPECT_EQ(after.ledgers, applied.ledgers);
  EXPECT_EQ(after.members, applied.members);

  // A refund after the recalculation reverses its share of B's figure, and B still agrees.
  RefundEvent refund;
  refund.event_id = "r3";
  refund.original_event_id = "p2";
  refund.occurred_at = at("2026-05-01T10:00:00Z");
  refund.amount_minor = 3000;  // 1200 beverage, 1800 food: floor(255 × 3000 / 10000) = 76
  EventResult refunded = submit(*runtime_, Event{refund});
  ASSERT_TRUE(refunded.rejection.ok());
  EXPECT_EQ(std::get<RefundAnswer>(refunded.answer).points_reversed, 76);
  EXPECT_EQ(run(other).events_changed, 0u);

  // The event log rebuilds the very same members, ledgers and purchase records.
  runtime_->stop();
  const StoreState original = read_state(*store_);
  std::vector<StoredEvent> log;
  ASSERT_TRUE(store_
                  ->scan_events(1,
                                [&](const StoredEvent& e) {
                                  log.push_back(e);
                                  return true;
                                })
                  .ok());
  TempDir replay_dir;
  std::unique_ptr<RocksStore> rebuilt;
  ASSERT_TRUE(
      RocksStore::open({.path = replay_dir.path(), .durability = Durability::wal}, rebuilt).ok());
  std::vector<StoredProgramVersion> versions;
  ASSERT_TRUE(store_->load_program_versions(versions).ok());
  for (const StoredProgramVersion& version : versions) {
    ASSERT_TRUE(rebuilt->save_program_version(version, version.number == 1).ok());
  }
  size_t recalc_events = 0;
  {
    Runtime replay({.partitions = 1, .deliver_follow_ups = false}, *rebuilt, *registry_,
                   [] { return kNow; });
    for (const StoredEvent& e : log) {
      ASSERT_EQ(e.program_version, 1u) << "events run under the active version";
      if (e.event.type() == EventType::recalc_adjustment) ++recalc_events;
      EventResult r = submit(replay, e.event);
      ASSERT_TRUE(r.rejection.ok()) << "log event " << e.log_seq << ": " << r.rejection.message;
      ASSERT_FALSE(r.replayed) << "log event " << e.log_seq << " was applied twice";
    }
  }
  EXPECT_EQ(recalc_events, 4u);
  const StoreState rebuilt_state = read_state(*rebuilt);
  EXPECT_EQ(rebuilt_state.members, original.members);
  EXPECT_EQ(rebuilt_state.ledgers, original.ledgers);
  EXPECT_EQ(rebuilt_state.purchases, original.purchases);
}

// A long range is replayed in slices of its members to bound memory: with one purchase per
// pass the 5 purchases of 3 members take 5 slices (some of them empty), and the report and the
// adjustments must be exactly those of one pass.
TEST_F(RecalcTest, ReplayingInSlicesOfMembersGivesTheSameReportAndAdjustments) {
  ops::RecalcRequest dry = request_b(false);
  dry.purchases_per_pass = 1;
  const ops::RecalcReport sliced = run(dry);
  EXPECT_EQ(sliced.passes, 5u);
  expect_report_matches(sliced);
  EXPECT_EQ(run(request_b(false)).passes, 1u);

  ops::RecalcRequest apply = request_b(true);
  apply.purchases_per_pass = 2;
  const ops::RecalcReport applied = run(apply);
  EXPECT_EQ(applied.passes, 3u);
  expect_report_matches(applied);
  EXPECT_EQ(applied.adjustments_applied, 4u);
  const StoreState state = read_state(*store_);
  const std::string prefix = "recalc:" + apply.job_id + ":";
  using Adjustments = std::vector<std::pair<std::string, Points>>;
  EXPECT_EQ(adjustments(state, "m1"), (Adjustments{{prefix + "p1", 250}, {prefix + "p2", 8}}));
  EXPECT_EQ(adjustments(state, "m2"), (Adjustments{{prefix + "p4", -25}}));
  EXPECT_EQ(adjustments(state, "m3"), (Adjustments{{prefix + "p6", 30}}));
  expect_books_balance(state);
}

TEST_F(RecalcTest, APurchaseCommittedWhileItRunsIsAppliedNormallyAndNotPartOfIt) {
  const ops::RecalcRequest request = request_b(true);
  ops::JobProgress progress;
  ops::RecalcReport report;
  Status status;
  std::atomic<bool> finished{false};
  std::thread worker([&] {
    status = ops::run_recalculation(*store_, runtime_.get(), request, progress, report);
    finished = true;
  });
  // progress.total is set once the snapshot's purchases are counted: from then on, whatever
  // is committed is after the snapshot, whether the run is still going or not.
  while (progress.total.load() == 0 && !finished.load()) std::this_thread::yield();
  // m1 is gold, past the milestone: 2000 × 2 / 100 × 1.5 = 60 under A (90 under B).
  EventResult concurrent = submit(*runtime_, Event{purchase("p7", "m1", "2026-03-15T10:00:00Z",
                                                            {line("latte", "beverage", 2000)})});
  worker.join();
  ASSERT_TRUE(status.ok()) << status.message();
  ASSERT_TRUE(concurrent.rejection.ok()) << concurrent.rejection.message;
  EXPECT_EQ(std::get<PurchaseAnswer>(concurrent.answer).points_earned, 60);
  expect_report_matches(report);
  EXPECT_EQ(report.adjustments_applied, 4u);

  // Run again: p7 is now history, and only p7 changes.
  const ops::RecalcReport again = run(request);
  EXPECT_EQ(again.events_examined, 6u);
  ASSERT_EQ(again.changes.size(), 1u);
  EXPECT_EQ(again.changes[0].event_id, "p7");
  EXPECT_EQ(again.changes[0].old_points, 60);
  EXPECT_EQ(again.changes[0].new_points, 90);
  EXPECT_EQ(again.adjustments_applied, 1u);
  expect_books_balance(read_state(*store_));
}

// loyaltyd's SIGTERM asks the running job to stop (JobProgress::stop_requested): a
// recalculation must end early, having written nothing half-way, and the same job run again
// later must do the whole work exactly once.
TEST_F(RecalcTest, AStopAskedForEndsTheRunEarlyAndTheJobFinishesItLater) {
  const ops::RecalcRequest dry = request_b(false);
  const ops::RecalcRequest apply = request_b(true);
  const StoreState before = read_state(*store_);
  for (const ops::RecalcRequest* request : {&dry, &apply}) {
    ops::JobProgress progress;
    progress.stop_requested = true;
    ops::RecalcReport report;
    const Status status = ops::run_recalculation(*store_, request->apply ? runtime_.get() : nullptr,
                                                 *request, progress, report);
    EXPECT_EQ(status.code(), Status::Code::busy)
        << (request->apply ? "apply" : "dry run") << ": " << status.message();
    EXPECT_EQ(report.adjustments_applied, 0u);
  }
  EXPECT_EQ(read_state(*store_), before) << "a stopped run writes nothing";

  const ops::RecalcReport resumed = run(apply);
  expect_report_matches(resumed);
  EXPECT_EQ(resumed.adjustments_applied, 4u);
  EXPECT_EQ(resumed.adjustments_replayed, 0u);
  const ops::RecalcReport again = run(apply);
  EXPECT_EQ(again.events_changed, 0u);
  EXPECT_EQ(again.events_already_adjusted, 0u) << "delta 0: nothing left to adjust";
  expect_books_balance(read_state(*store_));
}

TEST_F(RecalcTest, TheSnapshotHidesLaterCommits) {
  const std::unique_ptr<ReadSnapshot> snapshot = store_->snapshot();
  size_t before = 0;
  ASSERT_TRUE(store_
                  ->scan_events(
                      1,
                      [&](const StoredEvent&) {
                        ++before;
                        return true;
                      },
                      snapshot.get())
                  .ok());
  ASSERT_TRUE(submit(*runtime_, Event{purchase("p7", "m1", "2026-03-15T10:00:00Z",
                                               {line("latte", "beverage", 2000)})})
                  .rejection.ok());
  size_t through_snapshot = 0, now = 0;
  ASSERT_TRUE(store_
                  ->scan_events(
                      1,
                      [&](const StoredEvent&) {
                        ++through_snapshot;
                        return true;
                      },
                      snapshot.get())
                  .ok());
  ASSERT_TRUE(store_
                  ->scan_events(1,
                                [&](const StoredEvent&) {
                                  ++now;
                                  return true;
                                })
                  .ok());
  EXPECT_EQ(through_snapshot, before);
  EXPECT_EQ(now, before + 1);
}

TEST_F(RecalcTest, RefusesABadRequest) {
  ops::JobProgress progress;
  ops::RecalcReport report;
  ops::RecalcRequest unsaved = request_b(false);
  unsaved.apply = true;
  EXPECT_EQ(ops::run_recalculation(*store_, runtime_.get(), unsaved, progress, report).code(),
            Status::Code::invalid_argument)
      << "applying needs a stored version, so the entries can name it";
  ops::RecalcRequest backwards = request_b(false);
  backwards.from = kTo;
  backwards.to = kFrom;
  EXPECT_EQ(ops::run_recalculation(*store_, nullptr, backwards, progress, report).code(),
            Status::Code::invalid_argument);
  ops::RecalcRequest no_runtime = request_b(true);
  EXPECT_EQ(ops::run_recalculation(*store_, nullptr, no_runtime, progress, report).code(),
            Status::Code::invalid_argument);
  ops::RecalcRequest dollars = request_b(false);
  Program in_dollars = dollars.program->program;
  in_dollars.currency = "USD";
  dollars.program = std::make_shared<const ProgramVersion>(ProgramVersion{0, in_dollars, "usd"});
  EXPECT_EQ(ops::run_recalculation(*store_, nullptr, dollars, progress, report).code(),
            Status::Code::invalid_argument)
      << "amounts in CNY cannot be re-run under rules in USD";
  // The job id is a function of the rules and the range.
  EXPECT_EQ(ops::recalc_job_id("a", 1, 2), ops::recalc_job_id("a", 1, 2));
  EXPECT_NE(ops::recalc_job_id("a", 1, 2), ops::recalc_job_id("a", 1, 3));
  EXPECT_NE(ops::recalc_job_id("a", 1, 2), ops::recalc_job_id("b", 1, 2));
  EXPECT_EQ(ops::recalc_job_id("a", 1, 2).size(), std::string("recalc-").size() + 16);
}

// The event log and the purchase records keep every figure; a record without the
// recalculation fields reads as never recalculated.
TEST(RecalcCodec, AdjustmentsAndRecalculatedPurchasesRoundTrip) {
  storage::RecordEncoder encoder;
  const RecalcAdjustmentEvent adjustment{"recalc-0123456789abcdef",  "p1", "m1", -25, 75,
                                         at("2027-03-31T23:59:59Z"), 2,    kNow};
  StoredEvent decoded;
  ASSERT_TRUE(storage::decode_event(9, encoder.event(Event{adjustment}, 1), decoded).ok());
  EXPECT_EQ(decoded.event.type(), EventType::recalc_adjustment);
  EXPECT_EQ(decoded.program_version, 1u);
  const auto& back = std::get<RecalcAdjustmentEvent>(decoded.event.body);
  EXPECT_EQ(std::tie(back.job_id, back.event_id, back.member_id, back.points,
                     back.points_recalculated, back.expires_at, back.program_version, back.at),
            std::tie(adjustment.job_id, adjustment.event_id, adjustment.member_id,
                     adjustment.points, adjustment.points_recalculated, adjustment.expires_at,
                     adjustment.program_version, adjustment.at));
  EXPECT_EQ(fingerprint(decoded.event), fingerprint(Event{adjustment}));

  PurchaseEvent purchase;
  purchase.event_id = "p1";
  purchase.member_id = "m1";
  const StoredEvent purchase_event{9, 1, Event{purchase}};
  PurchaseRecord record;
  record.event_id = "p1";
  record.member_id = "m1";
  record.points_earned = 100;
  record.answer.points_earned = 100;
  record.log_seq = 9;  // where its event is (the record keeps nothing the event holds)
  for (const std::optional<Points> recalculated :
       {std::optional<Points>(), std::optional<Points>(0), std::optional<Points>(75)}) {
    record.points_adjusted = recalculated ? -25 : 0;
    record.points_recalculated = recalculated;
    PurchaseRecord read;
    ASSERT_TRUE(
        storage::decode_purchase("p1", encoder.purchase(record, 9), purchase_event, read).ok());
    EXPECT_EQ(read, record);
  }

  // A record with none of the optional fields reads as never recalculated.
  flatbuffers::FlatBufferBuilder builder;
  storage::fb::PurchaseStateRecordBuilder bare(builder);
  bare.add_points_earned(100);
  bare.add_event_log_seq(9);
  builder.Finish(bare.Finish());
  PurchaseRecord read;
  ASSERT_TRUE(storage::decode_purchase(
                  "p1",
                  std::string_view(reinterpret_cast<const char*>(builder.GetBufferPointer()),
                                   builder.GetSize()),
                  purchase_event, read)
                  .ok());
  EXPECT_EQ(read.points_earned, 100);
  EXPECT_EQ(read.answer.points_earned, 100) << "the answer's points are the record's when absent";
  EXPECT_EQ(read.points_adjusted, 0);
  EXPECT_FALSE(read.points_recalculated.has_value());
  EXPECT_FALSE(read.activity_month.has_value());
}

}  // namespace
}  // namespace loyalty
