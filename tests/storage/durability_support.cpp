// Helpers of the power-loss and write-fault tests (durability_support.hpp).
#include "tests/storage/durability_support.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <map>
#include <set>
#include <variant>

#include "engine/program_toml.hpp"
#include "engine/tzdb/os_time_zones.hpp"

namespace loyalty::durability {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kProgramToml = R"(
[program]
id = "durability-club"
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
window_months = 12
retain_months = 12

[[tiers.levels]]
name = "green"
threshold = 0

[[tiers.levels]]
name = "gold"
threshold = 20000
multiplier = 1.5

[referral]
referee_first_purchase_points = 50
referrer_points = 200
qualifying_min_amount_minor = 1000
window_days = 3650
max_rewarded_referrals = 1000

[redemption]
points_per_currency_unit = 100
min_points = 10
hold_ttl_seconds = 2592000
)";

std::vector<LedgerEntry> read_whole_ledger(RocksStore& store, const std::string& member_id) {
  std::vector<LedgerEntry> ledger;
  std::optional<LedgerCursor> cursor;
  do {
    LedgerPage page;
    const Status read = store.read_ledger(member_id, cursor, 500, page);
    EXPECT_TRUE(read.ok()) << read.message();
    if (!read.ok()) break;
    ledger.insert(ledger.end(), page.entries.begin(), page.entries.end());
    cursor = page.next_cursor;
  } while (cursor);
  return ledger;
}

}  // namespace

TempDir::TempDir(const std::string& prefix) {
  static std::atomic<int> counter{0};
  path_ = fs::temp_directory_path() /
          (prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  fs::remove_all(path_);
}

TempDir::~TempDir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

ProgramVersion program_version() {
  auto parsed = parse_program_toml(kProgramToml, "durability program", os_time_zones());
  if (const auto* error = std::get_if<ProgramLoadError>(&parsed)) {
    ADD_FAILURE() << error->key << ": " << error->message;
    return {};
  }
  return ProgramVersion{1, std::get<Program>(std::move(parsed)), std::string(kProgramToml)};
}

EventResult submit_and_wait(Runtime& runtime, Event event) {
  std::promise<EventResult> answer;
  runtime.submit(std::move(event),
                 [&](EventResult&& result) { answer.set_value(std::move(result)); });
  return answer.get_future().get();
}

std::string log_key(const Event& event) {
  return event.type() == EventType::signup ? "signup:" + event.member_id()
                                           : event.idempotency_key();
}

std::set<std::string> expect_consistent(RocksStore& store, const std::string& context) {
  std::map<std::string, MemberState> members;
  const Status scanned = store.scan_members([&](const MemberState& member) {
    members.emplace(member.member_id, member);
    return true;
  });
  EXPECT_TRUE(scanned.ok()) << context << ": " << scanned.message();

  for (const auto& [id, member] : members) {
    EXPECT_TRUE(lots_match_balance(member)) << context << ": lots of " << id;
    const std::vector<LedgerEntry> ledger = read_whole_ledger(store, id);
    Points sum = 0;
    for (size_t i = 0; i < ledger.size(); ++i) {
      // Newest first: seq n, n-1, …, 1.
      EXPECT_EQ(ledger[i].seq, ledger.size() - i) << context << ": ledger gap at " << id;
      sum += ledger[i].points;
    }
    EXPECT_EQ(ledger.size() + 1, member.next_ledger_seq) << context << ": ledger of " << id;
    EXPECT_EQ(sum, member.balance.total()) << context << ": Σ ledger of " << id;
    if (!ledger.empty()) {
      EXPECT_EQ(ledger.front().balance_after, member.balance.total()) << context << ": " << id;
    }
  }

  std::set<std::string> keys;
  size_t rewards = 0, reversals = 0;
  std::vector<std::string> logged_purchases;
  const Status log_read = store.scan_events(1, [&](const StoredEvent& stored) {
    const Event& event = stored.event;
    const std::string key = log_key(event);
    EXPECT_TRUE(keys.insert(key).second) << context << ": applied twice: " << key;
    if (event.type() == EventType::signup) {
      EXPECT_TRUE(members.contains(event.member_id())) << context << ": no member " << key;
    } else {
      std::optional<IdempotencyRecord> record;
      EXPECT_TRUE(store.load_idempotency(key, record).ok());
      EXPECT_TRUE(record.has_value()) << context << ": logged without its record: " << key;
    }
    if (event.type() == EventType::purchase) {
      logged_purchases.push_back(std::get<PurchaseEvent>(event.body).event_id);
    }
    rewards += event.type() == EventType::referral_reward;
    reversals += event.type() == EventType::referral_reversal;
    return true;
  });
  EXPECT_TRUE(log_read.ok()) << context << ": " << log_read.message();

  size_t triggers = 0, clawed_back = 0;
  for (const std::string& event_id : logged_purchases) {
    std::optional<PurchaseRecord> purchase;
    EXPECT_TRUE(store.load_purchase(event_id, purchase).ok());
    EXPECT_TRUE(purchase.has_value()) << context << ": logged purchase without record " << event_id;
    if (!purchase) continue;
    triggers += purchase->referral_trigger;
    clawed_back += purchase->referral_reversed;
  }
  EXPECT_EQ(rewards, triggers) << context << ": referral rewards ≠ qualifying purchases";
  EXPECT_EQ(reversals, clawed_back) << context << ": referral reversals ≠ clawed-back purchases";
  std::vector<Event> outbox;
  EXPECT_TRUE(store.load_outbox(outbox).ok());
  EXPECT_TRUE(outbox.empty()) << context << ": " << outbox.size() << " follow-ups left";
  return keys;
}

}  // namespace loyalty::durability
