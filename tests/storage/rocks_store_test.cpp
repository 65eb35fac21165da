// RocksStore against a real RocksDB in a fresh temporary folder per test: every record kind
// round trips, survives a restart, corrupt bytes read as corruption, and a commit is all or
// nothing when the process is killed mid-stream.
#include "storage/rocks_store.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <rocksdb/db.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "cluster/log_codec.hpp"
#include "cluster/result_codec.hpp"
#include "storage/keys.hpp"
#include "storage/record_codec.hpp"
#include "storage/records_generated.h"

extern char** environ;

namespace loyalty {
namespace {

namespace fs = std::filesystem;
using Code = Status::Code;

// A folder of its own, removed with everything in it when the test ends.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            ("rocks_store_test_" + std::to_string(::getpid()) + "_" +
             std::to_string(counter.fetch_add(1)) + "_" + (test ? test->name() : "unknown"));
    fs::remove_all(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

std::unique_ptr<RocksStore> open_store(const std::string& path,
                                       Durability durability = Durability::wal) {
  RocksStoreOptions options;
  options.path = path;
  options.durability = durability;
  options.block_cache_bytes = size_t{8} << 20;
  std::unique_ptr<RocksStore> store;
  const Status status = RocksStore::open(options, store);
  EXPECT_TRUE(status.ok()) << status.message();
  return store;
}

void expect_ok(const Status& status) { EXPECT_TRUE(status.ok()) << status.message(); }

Hold hold(const std::string& hold_id, Points points, HoldState state = HoldState::active) {
  Hold h;
  h.hold_id = hold_id;
  h.points = points;
  h.created_at = 1'700'000'000'500;
  h.expires_at = 1'700'000'900'500;
  h.state = state;
  if (state != HoldState::active) h.settled_at = 1'700'000'100'000;
  if (state == HoldState::captured) h.captured_by = "e-capture";
  h.takes = {{1, points - 10}, {7, 10}};
  return h;
}

// A coupon with every field set; `with_limit` both ways.
Coupon coupon(const std::string& code, CouponState state, bool with_limit = true) {
  Coupon c;
  c.code = code;
  c.reward_id = "free-drink";
  c.reward_name = "Any drink";
  c.kind = RewardKind::product;
  c.benefit_json = R"({"free_item_category":"beverage"})";
  c.on_refund = CouponRefund::refund_points;
  c.redemption_id = "rr-" + code;
  c.points = 200;
  c.issued_at = 1'700'000'000'500;
  c.valid_until = 1'702'592'000'500;
  c.state = state;
  if (state != CouponState::active) {
    c.settled_at = 1'700'000'900'000;
    c.used_by = "use-1";
    c.store_id = "store-9";
  }
  c.limit_period = LimitPeriod::week;
  if (with_limit) c.limit_period_index = 2'812;
  return c;
}

MemberState full_member(const std::string& member_id) {
  MemberState member;
  member.member_id = member_id;
  member.joined_at = 1'700'000'000'123;
  member.phone = "+8613800000000";
  member.card_no = "CARD-0001";
  member.profile_json = R"({"name":"Li","lang":"zh"})";
  member.referral_code = "REF" + member_id;
  member.referred_by = "m-referrer";
  member.signup_fingerprint = 0xfeedfacecafebeefULL;
  member.phone_grant = 3;
  member.card_grant = 0x1'0000'0001ULL;
  member.tier_index = 2;
  member.tier_since = 1'700'000'500'000;
  member.balance = Balance{1200, 300, 50};
  member.lifetime_points = 4000;
  member.purchase_count = 17;
  member.last_purchase_day = 20'420;
  member.program_version = 3;
  member.next_ledger_seq = 42;
  member.next_lot_id = 9;
  member.next_notification_seq = 12;
  member.activity = {{24'321, 640'000, 6'400, 3}, {24'322, 0, 0, 0}, {24'323, -1'800, -18, 1}};
  member.debt = 25;
  member.holds = {hold("h-1", 300), hold("h-2", 75)};
  member.referee_reward_trigger = "e-first";
  member.referee_reward_points = 200;
  member.referral_rewards = {{"m-a", "e-a", 500, 1'700'000'600'000, false},
                             {"m-b", "e-b", 500, 1'700'000'700'000, true}};
  member.coupons = {coupon("0000000001AB", CouponState::active),
                    coupon("0000000002CD", CouponState::active, false)};
  member.reward_limits = {{"free-drink", LimitPeriod::week, 2'812, 2},
                          {"mug", LimitPeriod::lifetime, 0, 1}};
  return member;
}

Lot lot(uint64_t lot_id, Points remaining) {
  Lot l;
  l.lot_id = lot_id;
  l.reference = "e:purchase-" + std::to_string(lot_id);
  l.earned_at = 1000 + static_cast<TimeMs>(lot_id);
  l.available_at = 2000;
  l.expires_at = lot_id % 2 == 0 ? kTimeNever : 90'000;
  l.points_initial = 500;
  l.points_remaining = remaining;
  l.points_held = remaining > 0 ? remaining / 2 : 0;
  l.pending = lot_id % 3 == 0;
  return l;
}

LedgerEntry entry(uint64_t seq, std::string reference = "e1") {
  return LedgerEntry{seq,
                     seq % 2 == 0 ? EntryType::redeem : EntryType::earn,
                     seq % 2 == 0 ? -static_cast<Points>(seq) : static_cast<Points>(seq) * 10,
                     static_cast<TimeMs>(seq) * 1000,
                     std::move(reference),
                     "base",
                     4,
                     static_cast<Points>(seq) * 7};
}

// Stored with the ledger entry `entry_seq` (by default its own seq). Every third has a type
// storage does not number (stored as text).
Notification notification(uint64_t seq, uint64_t entry_seq = 0) {
  return Notification{
      seq,
      seq % 3 == 0 ? "custom.type" : (seq % 2 == 0 ? "tier.changed" : "points.earned"),
      static_cast<Points>(seq) * 3,
      "e" + std::to_string(seq),
      static_cast<TimeMs>(seq) * 100,
      entry_seq == 0 ? seq : entry_seq};
}

// Writes ledger entries and notifications as the runtime does: inside events (adjustments of
// their member), one commit at a time, moving each member's history head after its commit.
struct HistoryWriter {
  struct Logged {
    std::string member_id;
    Event event;
    std::vector<LedgerEntry> entries;
    std::vector<Notification> notes;
  };
  std::map<std::string, MemberState> members;
  std::vector<Logged> pending;
  size_t events_made = 0;

  // An event of `member_id` that wrote these entries and notifications.
  void event(const std::string& member_id, std::vector<LedgerEntry> entries,
             std::vector<Notification> notes = {}) {
    AdjustmentEvent adjustment;
    adjustment.adjustment_id = "adj-" + std::to_string(++events_made);
    adjustment.member_id = member_id;
    pending.push_back({member_id, Event{adjustment}, std::move(entries), std::move(notes)});
  }
  // One event with these notifications and the entries they are stored with (entry(seq) for
  // each entry_seq named).
  void notes(const std::string& member_id, std::vector<Notification> notes) {
    std::vector<LedgerEntry> entries;
    for (const Notification& note : notes) {
      if (entries.empty() || entries.back().seq != note.entry_seq) {
        entries.push_back(entry(note.entry_seq));
      }
    }
    event(member_id, std::move(entries), std::move(notes));
  }
  Status commit(RocksStore& store) {
    CommitBatch batch;
    for (const Logged& logged : pending) {
      MemberState& member = members[logged.member_id];
      member.member_id = logged.member_id;
      for (const LedgerEntry& e : logged.entries) {
        member.next_ledger_seq = std::max(member.next_ledger_seq, e.seq + 1);
      }
      for (const Notification& n : logged.notes) {
        member.next_notification_seq = std::max(member.next_notification_seq, n.seq + 1);
      }
    }
    for (const Logged& logged : pending) {
      const MemberState* member = &members[logged.member_id];
      if (std::find(batch.members.begin(), batch.members.end(), member) == batch.members.end()) {
        batch.members.push_back(member);
      }
      batch.events.push_back({&logged.event, 1, member, logged.entries, logged.notes});
    }
    uint64_t first_log_seq = 0;
    const Status status = store.commit(batch, first_log_seq);
    if (status.ok()) {
      for (size_t i = 0; i < pending.size(); ++i) {
        if (!pending[i].entries.empty()) {
          members[pending[i].member_id].history_head.log_seq = first_log_seq + i;
        }
      }
    }
    pending.clear();
    return status;
  }
};

PurchaseAnswer purchase_answer() {
  PurchaseAnswer answer;
  answer.points_earned = 130;
  answer.points_redeemed = 20;
  answer.breakdown = {{"base", 100}, {"category:beverage", 20}, {"milestone:3", 10}};
  answer.balance = Balance{900, 130, 0};
  answer.tier = "gold";
  answer.tier_changed = true;
  return answer;
}

Event signup_event(const std::string& member_id, bool with_joined_at) {
  SignupEvent signup;
  signup.member_id = member_id;
  signup.referral_code = "FRIEND1";
  if (with_joined_at) signup.joined_at = 1'700'000'000'000;
  signup.phone = "+15550001";
  signup.card_no = "C-9";
  signup.profile_json = R"({"k":1})";
  signup.assigned_referral_code = "ASSIGNED";
  signup.referrer_member_id = "m-friend";
  signup.request_fingerprint = 0x1234567890abcdefULL;
  signup.phone_grant = 7;
  signup.card_grant = 0x2'0000'0002ULL;
  return Event{signup};
}

Event purchase_event(const std::string& event_id, const std::string& member_id) {
  PurchaseEvent purchase;
  purchase.event_id = event_id;
  purchase.member_id = member_id;
  purchase.store_id = "store-7";
  purchase.occurred_at = 1'700'000'100'000;
  purchase.currency = "CNY";
  purchase.lines = {{"latte-l", "beverage", 2, 6400}, {"bagel", "food", 1, 1800}};
  purchase.redeem_points = 50;
  purchase.hold_id = "h-1";
  purchase.coupons = {"0000000001AB", "0000000002CD"};
  return Event{purchase};
}

// One answer of every kind the idempotency record stores, every field set.
std::vector<Answer> every_answer() {
  PurchaseAnswer empty_purchase;
  empty_purchase.tier = "base";
  return {std::monostate{},
          purchase_answer(),
          empty_purchase,
          RefundAnswer{-120, 40, -200, 3000, 1400, Balance{-50, 0, 10}},
          PointsAnswer{-400, Balance{100, 20, 0}},
          PointsAnswer{},
          HoldAnswer{hold("h-9", 250, HoldState::captured), Balance{10, 0, 0}},
          HoldAnswer{hold("h-10", 50), Balance{}},
          JobStepAnswer{75, true, "silver"},
          JobStepAnswer{},
          CouponAnswer{coupon("0000000003EF", CouponState::used), 200, Balance{800, 0, 0}},
          CouponAnswer{coupon("0000000004GH", CouponState::active, false), 0, Balance{}}};
}

// One event of every kind, every field set (optional ones both ways where they exist).
std::vector<Event> every_event_kind() {
  std::vector<Event> events;
  events.push_back(signup_event("m1", true));
  events.push_back(purchase_event("p1", "m1"));
  RefundEvent by_amount{"r1", "p1", "m1", 1'700'000'200'000, 2500, {}};
  events.push_back(Event{by_amount});
  RefundEvent by_lines{
      "r2", "p1", "m1", 1'700'000'300'000, std::nullopt, {{"latte-l", 3200}, {"bagel", 1800}}};
  events.push_back(Event{by_lines});
  events.push_back(
      Event{RedemptionEvent{"rd1", "m1", 400, "reward-7", "a note", 1'700'000'400'000}});
  events.push_back(Event{HoldEvent{"h1", "m1", 300, 600, 1'700'000'500'000}});
  events.push_back(Event{HoldEvent{"h2", "m1", 300, std::nullopt, 1'700'000'500'001}});
  events.push_back(Event(EventType::hold_capture, HoldActionEvent{"h1", "m1", 1'700'000'600'000}));
  events.push_back(Event(EventType::hold_void, HoldActionEvent{"h2", "m1", 1'700'000'600'001}));
  events.push_back(
      Event{AdjustmentEvent{"a1", "m1", -75, "goodwill", 1'700'000'700'000, "dev-admin"}});
  events.push_back(Event(EventType::referral_reward,
                         ReferralFollowUp{"referral:p1", "m-ref", "m1", "p1", 1'700'000'100'000}));
  events.push_back(
      Event(EventType::referral_reversal,
            ReferralFollowUp{"referral-reversal:r1", "m-ref", "m1", "r1", 1'700'000'200'000}));
  events.push_back(Event(EventType::expire_points, JobStepEvent{"job-1", "m1", 1'700'001'000'000}));
  events.push_back(Event(EventType::evaluate_tier, JobStepEvent{"job-2", "m1", 1'700'002'000'000}));
  events.push_back(
      Event{RewardRedeemEvent{"rr1", "m1", "free-drink", 1'700'003'000'000, "0000000001AB", true}});
  events.push_back(
      Event{CouponUseEvent{"u1", "0000000001AB", "m1", "store-3", "p1", 1'700'003'100'000}});
  events.push_back(Event{CouponCancelEvent{"0000000002CD", "m1", 1'700'003'200'000}});
  return events;
}

// Two events are the same when they encode to the same bytes: the encoder writes every field.
std::string encoded(const Event& event) {
  storage::RecordEncoder encoder;
  return std::string(encoder.event(event, 1));
}

PurchaseRecord refundable_purchase(const std::string& event_id, const std::string& member_id) {
  PurchaseRecord record;
  record.event_id = event_id;
  record.member_id = member_id;
  record.store_id = "store-7";
  record.occurred_at = 1'700'000'100'000;
  record.lot_id = 4;
  record.points_earned = 82;
  record.order_total_minor = 8200;
  record.eligible_minor = 8200;
  record.refunded_minor = 1800;
  record.refunded_eligible_minor = 1800;
  record.points_reversed = 18;
  record.points_redeemed = 50;
  record.points_restored = 10;
  record.base_points = 82;
  record.lines = {{"latte-l", 6400, 6400, 0}, {"bagel", 1800, 1800, 1800}};
  record.coupons = {coupon("0000000005JK", CouponState::used)};
  record.referral_trigger = true;
  record.referee_reward_points = 200;
  record.referral_reversed = false;
  record.activity_month = 2023 * 12 + 10;
  record.answer = purchase_answer();  // as FullBatch's idempotency record "e:p1" says
  record.request_fingerprint = 77;
  return record;
}

Event follow_up(const std::string& trigger, const std::string& referrer = "m-ref") {
  return Event(EventType::referral_reward,
               ReferralFollowUp{"referral:" + trigger, referrer, "m1", trigger, 1'700'000'100'000});
}

std::vector<std::string> ids(const std::vector<Event>& events) {
  std::vector<std::string> out;
  for (const Event& event : events) out.push_back(std::get<ReferralFollowUp>(event.body).id);
  return out;
}

std::vector<uint64_t> seqs(const std::vector<LedgerEntry>& entries) {
  std::vector<uint64_t> out;
  for (const LedgerEntry& e : entries) out.push_back(e.seq);
  return out;
}

std::vector<StoredEvent> all_events(RocksStore& store, uint64_t from = 1) {
  std::vector<StoredEvent> out;
  expect_ok(store.scan_events(from, [&](const StoredEvent& event) {
    out.push_back(event);
    return true;
  }));
  return out;
}

// Everything one "full" commit writes, kept alive for the pointers of the CommitBatch.
struct FullBatch {
  MemberState member = full_member("m1");
  std::vector<Lot> lots = {lot(3, 0), lot(1, 100), lot(5, 250), lot(2, -10)};
  std::vector<LedgerEntry> entries;
  std::vector<Notification> notifications;
  IdempotencyRecord purchase_record{"e:p1", 77, "m1", purchase_answer()};
  IdempotencyRecord signup_record{"m:m1", 78, "m1", std::monostate{}};
  Event signup = signup_event("m1", true);
  Event purchase = purchase_event("p1", "m1");
  PurchaseRecord refundable = refundable_purchase("p1", "m1");
  Hold settled = hold("h-old", 120, HoldState::voided);
  ReferralLink link{"m-ref", "m1", ReferralStatus::rewarded, 1'700'000'000'123, 1'700'000'100'000};
  Event reward = follow_up("p1");
  CommitBatch batch;

  FullBatch() {
    // The member as the runtime hands it over: its lots by id, lot 3 run out in this batch.
    // (next_lot_id 9: its lots live in its record.)
    member.lots = {lots[1], lots[3], lots[0], lots[2]};
    for (uint64_t seq = 1; seq <= 5; ++seq) entries.push_back(entry(seq));
    for (uint64_t seq = 1; seq <= 4; ++seq) notifications.push_back(notification(seq));
    batch.members.push_back(&member);
    for (const Lot& l : lots) batch.lots.push_back({&member.member_id, &l});
    batch.idempotency = {&purchase_record, &signup_record};
    // The sign-up wrote entries 1–2 and the notifications stored with them, the purchase the
    // rest (notification(seq) is stored with entry seq).
    const std::span<const LedgerEntry> all_entries(entries);
    const std::span<const Notification> all_notes(notifications);
    batch.events = {{&signup, 2, &member, all_entries.first(2), all_notes.first(2)},
                    {&purchase, 3, &member, all_entries.subspan(2), all_notes.subspan(2)}};
    batch.identifiers = {{IdentifierKind::phone, member.phone, "m1"},
                         {IdentifierKind::card, member.card_no, "m1"},
                         {IdentifierKind::referral_code, member.referral_code, "m1"}};
    batch.purchases = {&refundable};
    batch.holds = {{&member.member_id, &member.holds[0]}, {&member.member_id, &settled}};
    batch.referral_links = {&link};
    batch.outbox_puts = {&reward};
  }

  // The member as load_member returns it: open lots only, by lot_id.
  MemberState loaded() const {
    MemberState expected = member;
    expected.lots = {lots[1], lots[3], lots[2]};
    return expected;
  }
};

void expect_full_batch_present(RocksStore& store, const FullBatch& full) {
  std::optional<MemberState> member;
  expect_ok(store.load_member("m1", member));
  ASSERT_TRUE(member.has_value());
  EXPECT_EQ(*member, full.loaded());

  LedgerPage page;
  expect_ok(store.read_ledger("m1", std::nullopt, 100, page));
  ASSERT_EQ(page.entries.size(), 5u);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(page.entries[i], full.entries[4 - i]);
  EXPECT_FALSE(page.next_cursor.has_value());

  std::vector<Notification> notifications;
  expect_ok(store.read_notifications("m1", 0, 100, notifications));
  EXPECT_EQ(notifications, full.notifications);

  std::optional<IdempotencyRecord> record;
  expect_ok(store.load_idempotency("e:p1", record));
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->key, "e:p1");
  EXPECT_EQ(record->fingerprint, 77u);
  EXPECT_EQ(record->member_id, "m1");
  ASSERT_TRUE(std::holds_alternative<PurchaseAnswer>(record->answer));
  EXPECT_EQ(std::get<PurchaseAnswer>(record->answer), purchase_answer());

  std::string owner;
  expect_ok(store.find_identifier(IdentifierKind::phone, full.member.phone, owner));
  EXPECT_EQ(owner, "m1");

  std::optional<PurchaseRecord> purchase;
  expect_ok(store.load_purchase("p1", purchase));
  PurchaseRecord refundable = full.refundable;
  refundable.log_seq = 2;  // the purchase is the batch's second event; its lines come from there
  EXPECT_EQ(purchase, std::optional<PurchaseRecord>(refundable));
  for (const Hold* expected : {&full.member.holds[0], &full.settled}) {
    std::optional<StoredHold> hold;
    expect_ok(store.load_hold(expected->hold_id, hold));
    ASSERT_TRUE(hold.has_value()) << expected->hold_id;
    EXPECT_EQ(hold->member_id, "m1");
    EXPECT_EQ(hold->hold, *expected);
  }
  std::vector<ReferralLink> links;
  expect_ok(store.read_referrals("m-ref", links));
  EXPECT_EQ(links, std::vector<ReferralLink>{full.link});
  std::vector<Event> outbox;
  expect_ok(store.load_outbox(outbox));
  ASSERT_EQ(outbox.size(), 1u);
  EXPECT_EQ(outbox[0].type(), EventType::referral_reward);
  EXPECT_EQ(encoded(outbox[0]), encoded(full.reward));
}

TEST(RocksStoreTest, MemberRoundTripKeepsEveryFieldAndOnlyOpenLots) {
  TempDir dir;
  auto store = open_store(dir.path());
  FullBatch full;
  expect_ok(store->commit(full.batch));
  expect_full_batch_present(*store, full);

  std::optional<MemberState> missing = MemberState{};
  expect_ok(store->load_member("m-unknown", missing));
  EXPECT_FALSE(missing.has_value());
}

TEST(RocksStoreTest, MemberWithDefaultsRoundTrips) {
  TempDir dir;
  auto store = open_store(dir.path());
  MemberState member;
  member.member_id = "plain";
  CommitBatch batch;
  batch.members.push_back(&member);
  expect_ok(store->commit(batch));
  std::optional<MemberState> loaded;
  expect_ok(store->load_member("plain", loaded));
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(*loaded, member);
}

// Every entry type the engine writes, and every feed notification type it makes, reads back
// from the member's history: a type the codec does not know reads as corruption, which a read of
// the ledger answers with 503.
TEST(RocksStoreTest, EveryEntryTypeAndNotificationTypeReadsBack) {
  TempDir dir;
  auto store = open_store(dir.path());
  std::vector<LedgerEntry> entries;
  std::vector<Notification> notes;
  const std::vector<std::string> note_types = {
      "points.earned", "points.redeemed",   "points.reversed",  "points.expired",
      "hold.expired",  "referral.rewarded", "tier.changed",     "reward.redeemed",
      "coupon.used",   "coupon.expired",    "coupon.cancelled", "coupon.restored"};
  for (uint8_t type = static_cast<uint8_t>(EntryType::earn);
       type <= static_cast<uint8_t>(EntryType::coupon_restore); ++type) {
    LedgerEntry e = entry(entries.size() + 1);
    e.type = static_cast<EntryType>(type);
    e.rule = std::string(entry_type_name(e.type));
    entries.push_back(e);
  }
  for (size_t i = 0; i < note_types.size(); ++i) {
    notes.push_back(Notification{i + 1, note_types[i], static_cast<Points>(i), "e1", 5000,
                                 entries[i % entries.size()].seq});
  }
  HistoryWriter writer;
  writer.event("m1", entries, notes);
  expect_ok(writer.commit(*store));
  LedgerPage page;
  expect_ok(store->read_ledger("m1", std::nullopt, 100, page));
  std::vector<LedgerEntry> newest_first(entries.rbegin(), entries.rend());
  EXPECT_EQ(page.entries, newest_first);
  std::vector<Notification> read;
  expect_ok(store->read_notifications("m1", 0, 100, read));
  ASSERT_EQ(read.size(), notes.size());
  for (size_t i = 0; i < notes.size(); ++i) EXPECT_EQ(read[i].type, note_types[i]);
}

TEST(RocksStoreTest, LedgerPagesNewestFirstWithCursor) {
  TempDir dir;
  auto store = open_store(dir.path());
  // "m1x" shares the prefix "m1": its entries must never show up in m1's ledger.
  const std::string m1 = "m1";
  const std::string m1x = "m1x";
  std::vector<LedgerEntry> entries;
  for (uint64_t seq = 1; seq <= 25; ++seq) entries.push_back(entry(seq, "r" + std::to_string(seq)));
  std::vector<LedgerEntry> other = {entry(1, "other"), entry(2, "other")};
  // Three entries per event, so that pages end inside events, over two commits, with the other
  // member's event between m1's.
  HistoryWriter writer;
  for (size_t first = 0; first < entries.size(); first += 3) {
    const size_t end = std::min(first + 3, entries.size());
    writer.event(m1, std::vector<LedgerEntry>(entries.begin() + first, entries.begin() + end));
    if (first == 3) writer.event(m1x, other);
    if (first == 12) expect_ok(writer.commit(*store));
  }
  expect_ok(writer.commit(*store));

  LedgerPage page;
  expect_ok(store->read_ledger(m1, std::nullopt, 10, page));
  EXPECT_EQ(seqs(page.entries), (std::vector<uint64_t>{25, 24, 23, 22, 21, 20, 19, 18, 17, 16}));
  EXPECT_EQ(page.entries.front(), entries[24]);
  ASSERT_TRUE(page.next_cursor.has_value());
  EXPECT_EQ(page.next_cursor->before_seq, 16u);
  expect_ok(store->read_ledger(m1, page.next_cursor, 10, page));
  EXPECT_EQ(seqs(page.entries), (std::vector<uint64_t>{15, 14, 13, 12, 11, 10, 9, 8, 7, 6}));
  ASSERT_TRUE(page.next_cursor.has_value());
  EXPECT_EQ(page.next_cursor->before_seq, 6u);
  expect_ok(store->read_ledger(m1, page.next_cursor, 10, page));
  EXPECT_EQ(seqs(page.entries), (std::vector<uint64_t>{5, 4, 3, 2, 1}));
  EXPECT_FALSE(page.next_cursor.has_value());

  // A page that ends exactly at the oldest entry has no next page.
  expect_ok(store->read_ledger(m1, 11, 10, page));
  EXPECT_EQ(seqs(page.entries), (std::vector<uint64_t>{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}));
  EXPECT_FALSE(page.next_cursor.has_value());

  // A cursor past the newest entry starts at the newest.
  expect_ok(store->read_ledger(m1, 1000, 3, page));
  EXPECT_EQ(seqs(page.entries), (std::vector<uint64_t>{25, 24, 23}));

  expect_ok(store->read_ledger(m1, 1, 10, page));
  EXPECT_TRUE(page.entries.empty());
  EXPECT_FALSE(page.next_cursor.has_value());

  expect_ok(store->read_ledger(m1x, std::nullopt, 10, page));
  EXPECT_EQ(page.entries, (std::vector<LedgerEntry>{other[1], other[0]}));
  expect_ok(store->read_ledger("m", std::nullopt, 10, page));
  EXPECT_TRUE(page.entries.empty());

  EXPECT_EQ(store->read_ledger(m1, std::nullopt, 0, page).code(), Code::invalid_argument);
  // A cursor naming an event of another member (log_seq 3 is m1x's), or none, is refused.
  EXPECT_EQ(store->read_ledger(m1, LedgerCursor{5, 3}, 10, page).code(), Code::invalid_argument);
  EXPECT_EQ(store->read_ledger(m1, LedgerCursor{5, 1000}, 10, page).code(), Code::invalid_argument);
  // Nor is an event of the member that wrote no entries (log_seq 11) on its history.
  writer.event(m1, {});
  expect_ok(writer.commit(*store));
  EXPECT_EQ(store->read_ledger(m1, LedgerCursor{5, 11}, 10, page).code(), Code::invalid_argument);
  // The cursor of a page is where the next begins, without a walk from the newest entry.
  expect_ok(store->read_ledger(m1, std::nullopt, 4, page));
  ASSERT_TRUE(page.next_cursor.has_value());
  EXPECT_EQ(*page.next_cursor, (LedgerCursor{22, 8}));  // entries 19–21 are the 8th event's
}

TEST(RocksStoreTest, NotificationsAfterSeqOldestFirst) {
  TempDir dir;
  auto store = open_store(dir.path());
  const std::string member = "m1";
  const std::string neighbour = "m10";
  // Two notifications per ledger entry, as an event with two of them stores them.
  std::vector<Notification> notifications;
  for (uint64_t seq = 1; seq <= 12; ++seq)
    notifications.push_back(notification(seq, (seq + 1) / 2));
  const Notification other = notification(1);
  HistoryWriter writer;
  writer.notes(member, notifications);
  writer.notes(neighbour, {other});
  expect_ok(writer.commit(*store));

  std::vector<Notification> out;
  expect_ok(store->read_notifications(member, 0, 100, out));
  EXPECT_EQ(out, notifications);
  expect_ok(store->read_notifications(member, 9, 100, out));
  EXPECT_EQ(out,
            (std::vector<Notification>{notifications[9], notifications[10], notifications[11]}));
  expect_ok(store->read_notifications(member, 2, 2, out));
  EXPECT_EQ(out, (std::vector<Notification>{notifications[2], notifications[3]}));
  expect_ok(store->read_notifications(member, 3, 2, out));  // from the middle of an entry
  EXPECT_EQ(out, (std::vector<Notification>{notifications[3], notifications[4]}));
  expect_ok(store->read_notifications(member, 12, 100, out));
  EXPECT_TRUE(out.empty());
  expect_ok(store->read_notifications(neighbour, 0, 100, out));
  EXPECT_EQ(out, std::vector<Notification>{other});
  // The ledger entries themselves read as before.
  LedgerPage page;
  expect_ok(store->read_ledger(member, std::nullopt, 100, page));
  EXPECT_EQ(seqs(page.entries), (std::vector<uint64_t>{6, 5, 4, 3, 2, 1}));
}

TEST(RocksStoreTest, NotificationsFollowAnEntryOfTheirEventOrTheCommitStops) {
  TempDir dir;
  auto store = open_store(dir.path());
  GTEST_FLAG_SET(death_test_style, "threadsafe");  // RocksDB runs threads of its own
  HistoryWriter writer;
  writer.event("m1", {entry(6)}, {notification(1, 7)});  // entry 7 is not the event's
  EXPECT_DEATH((void)writer.commit(*store), "note == notes.size");
}

TEST(RocksStoreTest, FeedRetentionKeepsTheNewestPerMember) {
  TempDir dir;
  RocksStoreOptions options;
  options.path = dir.path();
  options.durability = Durability::wal;
  options.block_cache_bytes = size_t{8} << 20;
  options.feed_retention_per_member = 5;
  std::unique_ptr<RocksStore> store;
  expect_ok(RocksStore::open(options, store));
  const std::string member = "m1";
  const std::string neighbour = "m10";
  const std::string prefix = "m";  // a key prefix of both: its range must not reach them
  std::vector<Notification> all;
  for (uint64_t seq = 1; seq <= 12; ++seq) all.push_back(notification(seq));
  // Seqs 1..3 in one commit (under the retention: all answered), then 4..12 one by one.
  HistoryWriter writer;
  writer.notes(member, {all[0], all[1], all[2]});
  writer.notes(neighbour, {all[0]});
  writer.notes(prefix, {all[0]});
  expect_ok(writer.commit(*store));
  std::vector<Notification> out;
  expect_ok(store->read_notifications(member, 0, 100, out));
  EXPECT_EQ(out, (std::vector<Notification>{all[0], all[1], all[2]}));
  for (size_t i = 3; i < all.size(); ++i) {
    writer.notes(member, {all[i]});
    expect_ok(writer.commit(*store));
  }
  expect_ok(store->read_notifications(member, 0, 100, out));
  EXPECT_EQ(out, (std::vector<Notification>(all.begin() + 7, all.end())));  // seqs 8..12
  expect_ok(store->read_notifications(neighbour, 0, 100, out));
  EXPECT_EQ(out, std::vector<Notification>{all[0]});
  expect_ok(store->read_notifications(prefix, 0, 100, out));
  EXPECT_EQ(out, std::vector<Notification>{all[0]});

  // Several of one member's notifications in one commit: trimmed by the newest.
  std::vector<Notification> more;
  for (uint64_t seq = 13; seq <= 20; ++seq) more.push_back(notification(seq));
  writer.notes(member, more);
  expect_ok(writer.commit(*store));
  expect_ok(store->read_notifications(member, 0, 100, out));
  EXPECT_EQ(out, (std::vector<Notification>(more.begin() + 3, more.end())));  // seqs 16..20
}

TEST(RocksStoreTest, IdempotencyRecordsRoundTrip) {
  TempDir dir;
  auto store = open_store(dir.path());
  std::vector<IdempotencyRecord> records;
  std::vector<PurchaseRecord> purchases;
  std::vector<Event> purchase_events;
  purchases.reserve(every_answer().size());  // the batch points into them
  purchase_events.reserve(every_answer().size());
  for (const Answer& answer : every_answer()) {
    const std::string n = std::to_string(records.size());
    records.push_back({"k:" + n, 0xabcdef + records.size(), "m" + n, answer});
    // A purchase's answer travels in its purchase record, under "e:" + event id, beside its
    // event (which says whose purchase it was).
    if (const auto* purchase_answer = std::get_if<PurchaseAnswer>(&answer)) {
      records.back().key = "e:p" + n;
      PurchaseRecord& purchase = purchases.emplace_back(refundable_purchase("p" + n, "m" + n));
      purchase.answer = *purchase_answer;
      purchase.request_fingerprint = records.back().fingerprint;
      purchase_events.push_back(purchase_event("p" + n, "m" + n));
    }
  }
  CommitBatch batch;
  for (const IdempotencyRecord& record : records) batch.idempotency.push_back(&record);
  for (const PurchaseRecord& purchase : purchases) batch.purchases.push_back(&purchase);
  for (const Event& event : purchase_events) batch.events.push_back({&event, 1});
  expect_ok(store->commit(batch));

  for (const IdempotencyRecord* expected : batch.idempotency) {
    std::optional<IdempotencyRecord> loaded;
    expect_ok(store->load_idempotency(expected->key, loaded));
    ASSERT_TRUE(loaded.has_value());
    EXPECT_EQ(loaded->key, expected->key);
    EXPECT_EQ(loaded->fingerprint, expected->fingerprint);
    EXPECT_EQ(loaded->member_id, expected->member_id);
    EXPECT_EQ(loaded->answer, expected->answer);
  }
  std::optional<IdempotencyRecord> missing;
  expect_ok(store->load_idempotency("e:none", missing));
  EXPECT_FALSE(missing.has_value());
}

TEST(RocksStoreTest, APurchaseRetryIsAnsweredFromItsRecordAfterRefundsToo) {
  TempDir dir;
  auto store = open_store(dir.path());
  PurchaseRecord purchase = refundable_purchase("p1", "m1");
  purchase.refunded_minor = 0;
  purchase.lines[1].refunded_minor = 0;
  const Event event = purchase_event("p1", "m1");
  const IdempotencyRecord record{"e:p1", purchase.request_fingerprint, "m1", purchase.answer};
  const IdempotencyRecord refund_record{"e:p1-r", 991, "m1",
                                        RefundAnswer{3, 0, 0, 1800, 6400, Balance{}}};
  CommitBatch first;
  first.purchases = {&purchase};
  first.idempotency = {&record};
  first.events = {{&event, 1}};
  expect_ok(store->commit(first));
  // A refund rewrites the purchase record (as loaded: with its place in the log); its own answer
  // is an idempotency record of its own.
  std::optional<PurchaseRecord> stored;
  expect_ok(store->load_purchase("p1", stored));
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->log_seq, 1u);
  PurchaseRecord refunded = *stored;
  refunded.refunded_minor = 1800;
  refunded.lines[1].refunded_minor = 1800;
  CommitBatch second;
  second.purchases = {&refunded};
  second.idempotency = {&refund_record};
  expect_ok(store->commit(second));

  for (const IdempotencyRecord* expected : {&record, &refund_record}) {
    std::optional<IdempotencyRecord> loaded;
    expect_ok(store->load_idempotency(expected->key, loaded));
    ASSERT_TRUE(loaded.has_value()) << expected->key;
    EXPECT_EQ(loaded->fingerprint, expected->fingerprint);
    EXPECT_EQ(loaded->member_id, expected->member_id);
    EXPECT_EQ(loaded->answer, expected->answer);
  }
  std::optional<PurchaseRecord> loaded;
  expect_ok(store->load_purchase("p1", loaded));
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(*loaded, refunded);
}

TEST(RocksStoreTest, APurchaseAnswerWithoutItsPurchaseStopsTheCommit) {
  TempDir dir;
  auto store = open_store(dir.path());
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const IdempotencyRecord record{"e:p1", 77, "m1", purchase_answer()};
  CommitBatch batch;
  batch.idempotency = {&record};
  EXPECT_DEATH((void)store->commit(batch), "found != batch_purchases.end");
}

TEST(RocksStoreTest, EventsScanInLogOrderWithEveryField) {
  TempDir dir;
  auto store = open_store(dir.path());
  const Event first = signup_event("m1", true);
  const Event second = signup_event("m2", false);
  const Event third = purchase_event("p1", "m1");
  CommitBatch batch;
  batch.events = {{&first, 1}, {&second, 1}};
  expect_ok(store->commit(batch));
  batch.events = {{&third, 2}};
  expect_ok(store->commit(batch));

  const std::vector<StoredEvent> events = all_events(*store);
  ASSERT_EQ(events.size(), 3u);
  const std::vector<const Event*> expected = {&first, &second, &third};
  const std::vector<uint32_t> versions = {1, 1, 2};
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].log_seq, i + 1);
    EXPECT_EQ(events[i].program_version, versions[i]);
    EXPECT_EQ(fingerprint(events[i].event), fingerprint(*expected[i]));
  }
  const auto& signup = std::get<SignupEvent>(events[0].event.body);
  const auto& want = std::get<SignupEvent>(first.body);
  EXPECT_EQ(signup.joined_at, want.joined_at);
  EXPECT_EQ(signup.assigned_referral_code, want.assigned_referral_code);
  EXPECT_EQ(signup.referrer_member_id, want.referrer_member_id);
  EXPECT_EQ(signup.request_fingerprint, want.request_fingerprint);
  EXPECT_FALSE(std::get<SignupEvent>(events[1].event.body).joined_at.has_value());
  const auto& purchase = std::get<PurchaseEvent>(events[2].event.body);
  const auto& want_purchase = std::get<PurchaseEvent>(third.body);
  ASSERT_EQ(purchase.lines.size(), 2u);
  EXPECT_EQ(purchase.lines[1].sku, want_purchase.lines[1].sku);
  EXPECT_EQ(purchase.lines[1].category, want_purchase.lines[1].category);
  EXPECT_EQ(purchase.lines[1].quantity, want_purchase.lines[1].quantity);
  EXPECT_EQ(purchase.lines[1].amount_minor, want_purchase.lines[1].amount_minor);
  EXPECT_EQ(purchase.redeem_points, want_purchase.redeem_points);
  EXPECT_EQ(purchase.hold_id, want_purchase.hold_id);

  const std::vector<StoredEvent> from_three = all_events(*store, 3);
  ASSERT_EQ(from_three.size(), 1u);
  EXPECT_EQ(from_three[0].log_seq, 3u);
  size_t visited = 0;
  expect_ok(store->scan_events(1, [&](const StoredEvent&) { return ++visited < 2; }));
  EXPECT_EQ(visited, 2u);
}

TEST(RocksStoreTest, IdentifiersOfEachKindAreSeparate) {
  TempDir dir;
  auto store = open_store(dir.path());
  CommitBatch batch;
  batch.identifiers = {{IdentifierKind::phone, "12345", "m-phone"},
                       {IdentifierKind::card, "12345", "m-card"},
                       {IdentifierKind::referral_code, "ABC", "m-ref"}};
  expect_ok(store->commit(batch));
  std::string owner;
  expect_ok(store->find_identifier(IdentifierKind::phone, "12345", owner));
  EXPECT_EQ(owner, "m-phone");
  expect_ok(store->find_identifier(IdentifierKind::card, "12345", owner));
  EXPECT_EQ(owner, "m-card");
  expect_ok(store->find_identifier(IdentifierKind::referral_code, "ABC", owner));
  EXPECT_EQ(owner, "m-ref");
  expect_ok(store->find_identifier(IdentifierKind::referral_code, "12345", owner));
  EXPECT_TRUE(owner.empty());
}

TEST(RocksStoreTest, EveryEventKindReplaysExactly) {
  TempDir dir;
  auto store = open_store(dir.path());
  const std::vector<Event> events = every_event_kind();
  CommitBatch batch;
  for (const Event& event : events) batch.events.push_back({&event, 7});
  expect_ok(store->commit(batch));
  const std::vector<StoredEvent> stored = all_events(*store);
  ASSERT_EQ(stored.size(), events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(stored[i].event.type(), events[i].type()) << i;
    EXPECT_EQ(stored[i].event.body.index(), events[i].body.index()) << i;
    EXPECT_EQ(stored[i].event.idempotency_key(), events[i].idempotency_key()) << i;
    EXPECT_EQ(fingerprint(stored[i].event), fingerprint(events[i])) << i;
    EXPECT_EQ(encoded(stored[i].event), encoded(events[i])) << i;
    EXPECT_EQ(stored[i].program_version, 7u);
  }
  // Fields the fingerprint leaves out are kept too.
  EXPECT_EQ(std::get<RedemptionEvent>(stored[4].event.body).at, 1'700'000'400'000);
  EXPECT_EQ(std::get<RefundEvent>(stored[2].event.body).member_id, "m1");
  EXPECT_EQ(std::get<RefundEvent>(stored[2].event.body).amount_minor,
            std::optional<AmountMinor>(2500));
  EXPECT_FALSE(std::get<RefundEvent>(stored[3].event.body).amount_minor.has_value());
  EXPECT_EQ(std::get<HoldEvent>(stored[5].event.body).ttl_seconds, std::optional<uint32_t>(600));
  EXPECT_FALSE(std::get<HoldEvent>(stored[6].event.body).ttl_seconds.has_value());
}

// Cluster mode's log carries events as these records: every kind crosses it exactly, with the
// fields the node that accepted it stamped; bytes that are not a message are refused.
TEST(ClusterLogCodec, EveryEventKindCrossesTheLogExactly) {
  for (const Event& event : every_event_kind()) {
    cluster::LogPayload decoded;
    expect_ok(cluster::decode_log_payload(cluster::encode_log_payload(event), decoded));
    ASSERT_TRUE(std::holds_alternative<Event>(decoded));
    EXPECT_EQ(encoded(std::get<Event>(decoded)), encoded(event));
    EXPECT_EQ(fingerprint(std::get<Event>(decoded)), fingerprint(event));
  }
  const cluster::ProgramActivation sent{7, 12, 1'700'000'000'000, "[program]\nid = \"p\"\n"};
  cluster::LogPayload activation;
  expect_ok(cluster::decode_log_payload(cluster::encode_log_payload(sent), activation));
  EXPECT_EQ(std::get<cluster::ProgramActivation>(activation), sent);
  std::string truncated = cluster::encode_log_payload(sent);
  truncated.pop_back();
  EXPECT_FALSE(cluster::decode_log_payload(truncated, activation).ok());
  for (const ClaimAsk& ask :
       {ClaimAsk{"i:1:13800000000", "m-1"}, ClaimAsk{"e:p-1", ""},
        ClaimAsk{"i:1#00ff", "m-1", /*release=*/true},
        ClaimAsk{"i:1#00ff", "m-1", /*release=*/true, /*grant=*/0x1'0000'0002ULL, ""},
        ClaimAsk{"i:2#00ee", "m-1", /*release=*/false, 0, "mu:upd-1"}}) {
    cluster::LogPayload claim;
    const std::string bytes = cluster::encode_log_payload(ask);
    expect_ok(cluster::decode_log_payload(bytes, claim));
    ASSERT_TRUE(std::holds_alternative<ClaimAsk>(claim));
    EXPECT_EQ(std::get<ClaimAsk>(claim).key, ask.key);
    EXPECT_EQ(std::get<ClaimAsk>(claim).member_id, ask.member_id);
    EXPECT_EQ(std::get<ClaimAsk>(claim).release, ask.release);
    EXPECT_EQ(std::get<ClaimAsk>(claim).grant, ask.grant);
    EXPECT_EQ(std::get<ClaimAsk>(claim).request, ask.request);
    EXPECT_FALSE(cluster::decode_log_payload(bytes + "x", claim).ok()) << ask.key;
  }
  cluster::LogPayload nobody;
  EXPECT_FALSE(cluster::decode_log_payload(
                   cluster::encode_log_payload(ClaimAsk{"i:1#00ff", "", /*release=*/true}), nobody)
                   .ok())
      << "a release names the member giving the key up";

  for (const StockAsk& ask : {StockAsk{StockMove::take, {"mug", "ABCDEFGHJKMN"}},
                              StockAsk{StockMove::give_back, {"mug", "ABCDEFGHJKMN"}},
                              StockAsk{StockMove::count, {"mug", ""}}}) {
    cluster::LogPayload stock;
    expect_ok(cluster::decode_log_payload(cluster::encode_log_payload(ask), stock));
    ASSERT_TRUE(std::holds_alternative<StockAsk>(stock));
    EXPECT_EQ(std::get<StockAsk>(stock).move, ask.move);
    EXPECT_EQ(std::get<StockAsk>(stock).unit.reward_id, "mug");
    EXPECT_EQ(std::get<StockAsk>(stock).unit.code, ask.unit.code);
  }
  EXPECT_EQ(cluster::payload_partition(StockAsk{StockMove::count, {"mug", ""}}, 32),
            member_partition("s:mug", 32))
      << "a reward's units live in its stock key's home";

  const std::string good = cluster::encode_log_payload(every_event_kind().front());
  const std::string claim = cluster::encode_log_payload(ClaimAsk{"e:p-1", "m-1"});
  std::string bad_move = cluster::encode_log_payload(StockAsk{StockMove::take, {"mug", "C"}});
  bad_move[1] = 9;
  for (const std::string& bad :
       {std::string(), std::string("\x09") + "abc", good.substr(0, 9),
        std::string("\x02\x00\x00\x00\x00", 5), claim.substr(0, claim.size() - 1), claim + "x",
        cluster::encode_log_payload(ClaimAsk{"", "m-1"}), bad_move,
        cluster::encode_log_payload(StockAsk{StockMove::take, {"mug", ""}}),
        cluster::encode_log_payload(StockAsk{StockMove::count, {"mug", "C"}}),
        cluster::encode_log_payload(StockAsk{StockMove::take, {"", "C"}})}) {
    cluster::LogPayload out;
    const Status status = cluster::decode_log_payload(bad, out);
    EXPECT_EQ(status.code(), Code::corruption) << bad.size();
  }
}

// An owner's result reaches the node holding the request whole: refusal, flags, answer, a
// sign-up's member; what is not a result is refused.
TEST(ClusterResultCodec, ResultsCrossBetweenNodesWhole) {
  EventResult applied;
  applied.replayed = true;
  applied.answer = PointsAnswer{500, Balance{500, 0, 0}};
  applied.member = full_member("m1");
  EventResult decoded;
  expect_ok(cluster::decode_result(cluster::encode_result(applied), decoded));
  EXPECT_TRUE(decoded.rejection.ok());
  EXPECT_TRUE(decoded.storage.ok());
  EXPECT_TRUE(decoded.replayed);
  EXPECT_EQ(decoded.answer, applied.answer);
  ASSERT_TRUE(decoded.member.has_value());
  EXPECT_EQ(*decoded.member, *applied.member);

  EventResult signed_up;  // a sign-up answers with its member, no answer of its own
  signed_up.member = full_member("m2");
  expect_ok(cluster::decode_result(cluster::encode_result(signed_up), decoded));
  EXPECT_TRUE(std::holds_alternative<std::monostate>(decoded.answer));
  EXPECT_EQ(*decoded.member, *signed_up.member);

  EventResult refused;
  refused.rejection = {ErrorCode::insufficient_points, "points", "only 12 points available"};
  expect_ok(cluster::decode_result(cluster::encode_result(refused), decoded));
  EXPECT_EQ(decoded.rejection.code, ErrorCode::insufficient_points);
  EXPECT_EQ(decoded.rejection.field, "points");
  EXPECT_EQ(decoded.rejection.message, "only 12 points available");
  EXPECT_FALSE(decoded.member.has_value());
  EXPECT_EQ(decoded.claim_owner, "");

  // Every refusal the engine names crosses (the last ones added too).
  for (auto number = static_cast<uint16_t>(ErrorCode::invalid_request);
       error_code_name(static_cast<ErrorCode>(number)) != "unknown"; ++number) {
    EventResult named;
    named.rejection = {static_cast<ErrorCode>(number), "f", "why"};
    expect_ok(cluster::decode_result(cluster::encode_result(named), decoded));
    EXPECT_EQ(decoded.rejection.code, named.rejection.code) << number;
  }

  EventResult claimed;  // a claim's answer: whose the key is
  claimed.claim_owner = "m-7";
  expect_ok(cluster::decode_result(cluster::encode_result(claimed), decoded));
  EXPECT_EQ(decoded.claim_owner, "m-7");
  EXPECT_EQ(decoded.claim_grant, 0u);
  EventResult counted = claimed;  // and by which grant, when the key's grants are counted
  counted.claim_grant = 0x1'0000'0003ULL;
  const std::string with_grant = cluster::encode_result(counted);
  expect_ok(cluster::decode_result(with_grant, decoded));
  EXPECT_EQ(decoded.claim_owner, "m-7");
  EXPECT_EQ(decoded.claim_grant, counted.claim_grant);
  EXPECT_EQ(cluster::decode_result(with_grant.substr(0, with_grant.size() - 8), decoded).code(),
            Code::corruption)
      << "a grant promised and missing";
  EventResult changed;  // a change's answer: the phones and cards it gives up
  changed.answer = PointsAnswer{0, Balance{}};
  changed.claim_releases = {{"i:1#aa", "m-7", 3}, {"i:2#bb", "m-7", 0x1'0000'0001ULL}};
  const std::string with_releases = cluster::encode_result(changed);
  expect_ok(cluster::decode_result(with_releases, decoded));
  EXPECT_EQ(decoded.claim_releases, changed.claim_releases);
  EXPECT_EQ(decoded.claim_grant, 0u);
  EXPECT_EQ(
      cluster::decode_result(with_releases.substr(0, with_releases.size() - 1), decoded).code(),
      Code::corruption);
  EventResult stock;  // a stock ask's answer: granted, and the units left
  stock.stock_granted = true;
  stock.stock_left = 0;
  expect_ok(cluster::decode_result(cluster::encode_result(stock), decoded));
  EXPECT_TRUE(decoded.stock_granted);
  EXPECT_EQ(decoded.stock_left, std::optional<int64_t>(0));
  expect_ok(cluster::decode_result(cluster::encode_result(claimed), decoded));
  EXPECT_FALSE(decoded.stock_granted);
  EXPECT_FALSE(decoded.stock_left.has_value()) << "no stock limit is not 0 left";
  EventResult refunded;  // the member a refund was found to be of
  refunded.member_id = "m-8";
  expect_ok(cluster::decode_result(cluster::encode_result(refunded), decoded));
  EXPECT_EQ(decoded.member_id, "m-8");

  const EventResult failed = storage_failure(Status::error(Code::io_error, "/data/000123.log"));
  expect_ok(cluster::decode_result(cluster::encode_result(failed), decoded));
  EXPECT_FALSE(decoded.storage.ok()) << "a storage failure stays one (503)";
  EXPECT_EQ(decoded.storage.message().find("/data"), std::string::npos) << "no file names";
  EXPECT_EQ(decoded.rejection.message.find("/data"), std::string::npos) << "nor here";

  const std::string good = cluster::encode_result(applied);
  for (const std::string& bad : {std::string(), good.substr(0, good.size() - 1), good + "x",
                                 std::string("\x03") + good.substr(1)}) {
    EXPECT_EQ(cluster::decode_result(bad, decoded).code(), Code::corruption) << bad.size();
  }
}

// Records written before events had a stored kind read with the kind their body implies; a
// stored kind that contradicts the body is corruption.
TEST(RecordCodecTest, EventKindsAreCheckedAgainstTheBody) {
  auto build = [](uint8_t kind, bool signup_body) {
    flatbuffers::FlatBufferBuilder builder;
    flatbuffers::Offset<void> body;
    storage::fb::StoredEventBody type;
    if (signup_body) {
      const auto member_id = builder.CreateString("m1");
      storage::fb::SignupEventRecordBuilder record(builder);
      record.add_member_id(member_id);
      body = record.Finish().Union();
      type = storage::fb::StoredEventBody::SignupEventRecord;
    } else {
      const auto hold_id = builder.CreateString("h1");
      const auto member_id = builder.CreateString("m1");
      storage::fb::HoldActionEventRecordBuilder record(builder);
      record.add_hold_id(hold_id);
      record.add_member_id(member_id);
      body = record.Finish().Union();
      type = storage::fb::StoredEventBody::HoldActionEventRecord;
    }
    storage::fb::EventRecordBuilder record(builder);
    record.add_program_version(1);
    record.add_event_type(type);
    record.add_event(body);
    if (kind != 0) record.add_kind(kind);
    builder.Finish(record.Finish());
    return std::string(reinterpret_cast<const char*>(builder.GetBufferPointer()),
                       builder.GetSize());
  };
  StoredEvent event;
  expect_ok(storage::decode_event(1, build(0, true), event));
  EXPECT_EQ(event.event.type(), EventType::signup);
  EXPECT_EQ(std::get<SignupEvent>(event.event.body).member_id, "m1");
  expect_ok(
      storage::decode_event(1, build(static_cast<uint8_t>(EventType::hold_void), false), event));
  EXPECT_EQ(event.event.type(), EventType::hold_void);
  EXPECT_EQ(storage::decode_event(1, build(0, false), event).code(), Code::corruption)
      << "a hold action needs its kind";
  EXPECT_EQ(
      storage::decode_event(1, build(static_cast<uint8_t>(EventType::hold_capture), true), event)
          .code(),
      Code::corruption);
  EXPECT_EQ(storage::decode_event(1, build(13, false), event).code(), Code::corruption);
  EXPECT_EQ(storage::decode_event(1, build(255, true), event).code(), Code::corruption);
}

// Coupons by code, in any state, with their member; a later version replaces one. Units of
// rewards out are summed over commits (two writers add, neither overwrites) and survive a
// reopen.
TEST(RocksStoreTest, CouponsAndStockCountsRoundTrip) {
  TempDir dir;
  const std::string m1 = "m1";
  const std::string m2 = "m2";
  const Coupon active = coupon("0000000001AB", CouponState::active);
  const Coupon used = coupon("0000000002CD", CouponState::used, false);
  {
    auto store = open_store(dir.path());
    CommitBatch batch;
    batch.coupons = {{&m1, &active}, {&m2, &used}};
    batch.stock_changes = {{"free-drink", 2}, {"mug", 1}};
    expect_ok(store->commit(batch));
    CommitBatch other;  // another partition's batch: a cancellation and an issue
    const Coupon cancelled = [&] {
      Coupon c = active;
      c.state = CouponState::cancelled;
      c.settled_at = 77;
      return c;
    }();
    other.coupons = {{&m1, &cancelled}};
    other.stock_changes = {{"free-drink", -1}, {"tumbler", 1}};
    expect_ok(store->commit(other));
    std::optional<StoredCoupon> loaded;
    expect_ok(store->load_coupon(active.code, loaded));
    ASSERT_TRUE(loaded.has_value());
    EXPECT_EQ(loaded->member_id, "m1");
    EXPECT_EQ(loaded->coupon, cancelled) << "the later version";
  }
  auto store = open_store(dir.path());
  std::optional<StoredCoupon> loaded;
  expect_ok(store->load_coupon(used.code, loaded));
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->member_id, "m2");
  EXPECT_EQ(loaded->coupon, used);
  expect_ok(store->load_coupon("000000000000", loaded));
  EXPECT_FALSE(loaded.has_value());
  std::map<std::string, int64_t, std::less<>> counts;
  expect_ok(store->load_stock_counts(counts));
  EXPECT_EQ(counts, (std::map<std::string, int64_t, std::less<>>{
                        {"free-drink", 1}, {"mug", 1}, {"tumbler", 1}}));
}

// The program's figures: each commit adds its batch's changes under its partition; a read sums
// every partition's or takes one; they survive a reopen and leave the reward counts alone.
TEST(RocksStoreTest, ProgramFiguresAddUpPerPartitionAcrossReopen) {
  TempDir dir;
  const StatKey members{StatKind::members};
  const StatKey earned_today{StatKind::day_points, 20'430, static_cast<uint8_t>(EntryType::earn)};
  const StatKey never{StatKind::liability, kNeverExpiresMonth};
  const StatKey long_ago{StatKind::last_purchase_day, -3};  // before 1970: keys sort by number
  {
    auto store = open_store(dir.path());
    CommitBatch first;
    first.partition = 0;
    first.stats.add(members, 2);
    first.stats.add(earned_today, 150);
    first.stats.add(long_ago, 1);
    first.stock_changes = {{"mug", 1}};
    expect_ok(store->commit(first));
    CommitBatch second;
    second.partition = 255;  // its prefix's last byte is 0xff
    second.stats.add(members, 1);
    second.stats.add(earned_today, -40);
    second.stats.add(never, 9);
    expect_ok(store->commit(second));
    CommitBatch third;
    third.partition = 0;
    third.stats.add(long_ago, -1);
    expect_ok(store->commit(third));
  }
  auto store = open_store(dir.path());
  std::map<StatKey, int64_t> all;
  expect_ok(store->load_stats(std::nullopt, all));
  std::erase_if(all, [](const auto& item) { return item.second == 0; });
  EXPECT_EQ(all, (std::map<StatKey, int64_t>{{members, 3}, {earned_today, 110}, {never, 9}}));
  std::map<StatKey, int64_t> one;
  expect_ok(store->load_stats(255, one));
  EXPECT_EQ(one, (std::map<StatKey, int64_t>{{members, 1}, {earned_today, -40}, {never, 9}}));
  expect_ok(store->load_stats(1, one));
  EXPECT_TRUE(one.empty());
  std::map<std::string, int64_t, std::less<>> counts;
  expect_ok(store->load_stock_counts(counts));
  EXPECT_EQ(counts, (std::map<std::string, int64_t, std::less<>>{{"mug", 1}}));
}

// Cluster mode's units of stock: those a home partition took for a code (until given back),
// and those a member's partition must give back (until sent), across a reopen.
TEST(RocksStoreTest, StockUnitsAndGiveBacksRoundTrip) {
  TempDir dir;
  {
    auto store = open_store(dir.path());
    CommitBatch home;
    home.units_taken = {{"mug", "CODE0000000A"}, {"mug", "CODE0000000B"}};
    home.stock_changes = {{"mug", 2}};
    home.give_backs = {{"mug", "CODE0000000C"}, {"lamp", "CODE0000000D"}};
    expect_ok(store->commit(home));
    CommitBatch later;
    later.units_returned = {{"mug", "CODE0000000B"}};
    later.stock_changes = {{"mug", -1}};
    later.give_backs_sent = {"CODE0000000C"};
    expect_ok(store->commit(later));
  }
  auto store = open_store(dir.path());
  std::string reward_id;
  expect_ok(store->find_stock_unit("CODE0000000A", reward_id));
  EXPECT_EQ(reward_id, "mug");
  expect_ok(store->find_stock_unit("CODE0000000B", reward_id));
  EXPECT_EQ(reward_id, "") << "given back";
  std::vector<StockUnit> give_backs;
  expect_ok(store->load_give_backs(give_backs));
  ASSERT_EQ(give_backs.size(), 1u);
  EXPECT_EQ(give_backs[0].code, "CODE0000000D");
  EXPECT_EQ(give_backs[0].reward_id, "lamp");
  std::map<std::string, int64_t, std::less<>> counts;
  expect_ok(store->load_stock_counts(counts));
  EXPECT_EQ(counts["mug"], 1) << "the records leave the counters alone";
}

// Cluster mode's changed phones and cards to give up (CommitBatch::claim_releases): kept until
// sent, across a reopen; two grants of one key are two releases.
TEST(RocksStoreTest, ClaimReleasesStayUntilSent) {
  TempDir dir;
  const ClaimRelease first{"i:1#aa", "m1", 1};
  const ClaimRelease second{"i:1#aa", "m1", 2};
  const ClaimRelease card{"i:2#bb", "m2", 7};
  {
    auto store = open_store(dir.path());
    CommitBatch changes;
    changes.claim_releases = {first, second, card};
    EXPECT_FALSE(changes.empty());
    expect_ok(store->commit(changes));
    CommitBatch sent;
    sent.claim_releases_sent = {first};
    EXPECT_FALSE(sent.empty());
    expect_ok(store->commit(sent));
  }
  auto store = open_store(dir.path());
  std::vector<ClaimRelease> releases;
  expect_ok(store->load_claim_releases(releases));
  EXPECT_EQ(releases, (std::vector<ClaimRelease>{second, card}));
}

TEST(RocksStoreTest, PurchasesHoldsAndReferralLinksRoundTrip) {
  TempDir dir;
  auto store = open_store(dir.path());
  PurchaseRecord plain;
  plain.event_id = "p-plain";
  plain.member_id = "m2";
  PurchaseRecord full = refundable_purchase("p-full", "m1");
  const std::string m1 = "m1";
  const std::string m2 = "m2";
  const Hold active = hold("h-a", 300);
  const Hold captured = hold("h-c", 200, HoldState::captured);
  Hold bare;
  bare.hold_id = "h-bare";
  const std::vector<ReferralLink> links = {
      {"m1", "z-last", ReferralStatus::signed_up, 5, 0},
      {"m1", "a-first", ReferralStatus::rewarded, 6, 60},
      {"m1", "b", ReferralStatus::not_rewarded, 7, 0},
      {"m1x", "a", ReferralStatus::reversed, 8, 80},  // shares the prefix "m1"
      {"m", "a", ReferralStatus::signed_up, 9, 0},
  };
  // Their events, at log seqs 1 and 2 of this fresh store: the records keep no skus or amounts.
  PurchaseEvent plain_purchase;
  plain_purchase.event_id = "p-plain";
  plain_purchase.member_id = "m2";
  const Event plain_event{plain_purchase};
  const Event full_event = purchase_event("p-full", "m1");
  plain.log_seq = 1;
  full.log_seq = 2;
  CommitBatch batch;
  batch.events = {{&plain_event, 1}, {&full_event, 1}};
  batch.purchases = {&plain, &full};
  batch.holds = {{&m1, &active}, {&m1, &captured}, {&m2, &bare}};
  for (const ReferralLink& link : links) batch.referral_links.push_back(&link);
  expect_ok(store->commit(batch));

  for (const PurchaseRecord* expected :
       std::initializer_list<const PurchaseRecord*>{&plain, &full}) {
    std::optional<PurchaseRecord> loaded;
    expect_ok(store->load_purchase(expected->event_id, loaded));
    EXPECT_EQ(loaded, std::optional<PurchaseRecord>(*expected));
  }
  std::optional<PurchaseRecord> no_purchase = plain;
  expect_ok(store->load_purchase("p-none", no_purchase));
  EXPECT_FALSE(no_purchase.has_value());
  expect_ok(store->load_purchase("", no_purchase));
  EXPECT_FALSE(no_purchase.has_value());

  const std::vector<std::pair<const std::string*, const Hold*>> holds = {
      {&m1, &active}, {&m1, &captured}, {&m2, &bare}};
  for (const auto& [member_id, expected] : holds) {
    std::optional<StoredHold> loaded;
    expect_ok(store->load_hold(expected->hold_id, loaded));
    ASSERT_TRUE(loaded.has_value());
    EXPECT_EQ(loaded->member_id, *member_id);
    EXPECT_EQ(loaded->hold, *expected);
  }
  std::optional<StoredHold> no_hold;
  expect_ok(store->load_hold("h-none", no_hold));
  EXPECT_FALSE(no_hold.has_value());

  // A later version of a record replaces it.
  Hold voided = active;
  voided.state = HoldState::voided;
  voided.settled_at = 99;
  PurchaseRecord refunded = full;
  refunded.refunded_minor = full.order_total_minor;
  ReferralLink rewarded = links[0];
  rewarded.status = ReferralStatus::rewarded;
  rewarded.rewarded_at = 50;
  CommitBatch update;
  update.holds = {{&m1, &voided}};
  update.purchases = {&refunded};
  update.referral_links = {&rewarded};
  expect_ok(store->commit(update));
  std::optional<StoredHold> loaded_hold;
  expect_ok(store->load_hold("h-a", loaded_hold));
  ASSERT_TRUE(loaded_hold.has_value());
  EXPECT_EQ(loaded_hold->hold, voided);
  std::optional<PurchaseRecord> loaded_purchase;
  expect_ok(store->load_purchase("p-full", loaded_purchase));
  EXPECT_EQ(loaded_purchase, std::optional<PurchaseRecord>(refunded));

  std::vector<ReferralLink> out;
  expect_ok(store->read_referrals("m1", out));
  EXPECT_EQ(out, (std::vector<ReferralLink>{links[1], links[2], rewarded}))
      << "a referrer's links in referee order, and no one else's";
  expect_ok(store->read_referrals("m1x", out));
  EXPECT_EQ(out, std::vector<ReferralLink>{links[3]});
  expect_ok(store->read_referrals("nobody", out));
  EXPECT_TRUE(out.empty());
}

TEST(RocksStoreTest, OutboxPutsAndDeletesCommitWithTheirBatch) {
  TempDir dir;
  const Event first = follow_up("p1");
  const Event second = follow_up("p2", "m-other");
  const Event third = follow_up("p3");
  {
    auto store = open_store(dir.path());
    std::vector<Event> outbox;
    expect_ok(store->load_outbox(outbox));
    EXPECT_TRUE(outbox.empty());

    // The trigger's commit writes its follow-ups beside its own records.
    MemberState referee = full_member("m1");
    CommitBatch trigger;
    trigger.members = {&referee};
    trigger.outbox_puts = {&first, &second};
    expect_ok(store->commit(trigger));
    expect_ok(store->load_outbox(outbox));
    EXPECT_EQ(ids(outbox), (std::vector<std::string>{"referral:p1", "referral:p2"}));
    EXPECT_EQ(encoded(outbox[1]), encoded(second));

    // The commit that applies a follow-up removes it, atomically with its effects.
    MemberState referrer = full_member("m-ref");
    const IdempotencyRecord applied{first.idempotency_key(), fingerprint(first), "m-ref",
                                    PointsAnswer{500, Balance{500, 0, 0}}};
    CommitBatch apply;
    apply.members = {&referrer};
    apply.idempotency = {&applied};
    apply.events = {{&first, 1}};
    apply.outbox_deletes = {"referral:p1", "referral:never-written"};
    apply.outbox_puts = {&third};
    expect_ok(store->commit(apply));
    expect_ok(store->load_outbox(outbox));
    EXPECT_EQ(ids(outbox), (std::vector<std::string>{"referral:p2", "referral:p3"}));

    // Deletes win over puts of the same id in one batch.
    CommitBatch both;
    both.outbox_puts = {&third};
    both.outbox_deletes = {"referral:p3"};
    EXPECT_FALSE(both.empty());
    expect_ok(store->commit(both));
    expect_ok(store->load_outbox(outbox));
    EXPECT_EQ(ids(outbox), std::vector<std::string>{"referral:p2"});

    // A batch of nothing but deletes (follow-ups the engine refused) is still committed.
    CommitBatch only_deletes;
    only_deletes.outbox_deletes = {"referral:p2"};
    EXPECT_FALSE(only_deletes.empty()) << "a refused follow-up's delete is worth a commit";
  }
  auto store = open_store(dir.path());
  std::vector<Event> outbox;
  expect_ok(store->load_outbox(outbox));
  EXPECT_EQ(ids(outbox), std::vector<std::string>{"referral:p2"});
  std::optional<IdempotencyRecord> applied;
  expect_ok(store->load_idempotency("f:referral:p1", applied));
  ASSERT_TRUE(applied.has_value());
  EXPECT_EQ(applied->answer, (Answer{PointsAnswer{500, Balance{500, 0, 0}}}));
}

// Cluster mode: where each partition's log was applied through is committed with the state it
// produced, per partition, survives a reopen, and moves with a batch of nothing else.
TEST(RocksStoreTest, AppliedLogPositionsCommitWithTheirBatchPerPartition) {
  TempDir dir;
  {
    auto store = open_store(dir.path());
    uint64_t sequence = 99;
    expect_ok(store->applied_sequence(3, sequence));
    EXPECT_EQ(sequence, 0u) << "nothing applied yet";

    MemberState member = full_member("m1");
    CommitBatch batch;
    batch.members = {&member};
    batch.log_position = CommitBatch::LogPosition{3, 17, "e:a#1"};
    expect_ok(store->commit(batch));
    CommitBatch only_copies;  // messages that were all copies of applied ones
    only_copies.log_position = CommitBatch::LogPosition{5, 40, ""};
    EXPECT_FALSE(only_copies.empty()) << "moving the position alone is worth a commit";
    expect_ok(store->commit(only_copies));
    CommitBatch later;  // with a claim granted in partition 3, its key's home
    later.log_position = CommitBatch::LogPosition{3, 21, "c:e:purchase-1#m1"};
    later.claims.push_back({"e:purchase-1", ClaimState{"m1"}});
    // A phone's claim counts its grants; one given up keeps the count (ClaimState).
    later.claims.push_back({"i:1#aa", ClaimState{"m1", 3, "mu:upd-1"}});
    later.claims.push_back({"i:2#bb", ClaimState{"", 5, ""}});
    expect_ok(store->commit(later));
  }
  auto store = open_store(dir.path());
  ClaimState claim;
  expect_ok(store->find_claim("e:purchase-1", claim));
  EXPECT_EQ(claim, ClaimState{"m1"}) << "a claim is kept with the position that granted it";
  expect_ok(store->find_claim("e:purchase-2", claim));
  EXPECT_EQ(claim, ClaimState{});
  expect_ok(store->find_claim("i:1#aa", claim));
  EXPECT_EQ(claim, (ClaimState{"m1", 3, "mu:upd-1"}));
  expect_ok(store->find_claim("i:2#bb", claim));
  EXPECT_EQ(claim, (ClaimState{"", 5, ""})) << "free, and its next grant is the 6th";
  uint64_t sequence = 0;
  expect_ok(store->applied_sequence(3, sequence));
  EXPECT_EQ(sequence, 21u);
  std::string msg_id;
  expect_ok(store->applied_position(3, sequence, msg_id));
  EXPECT_EQ(msg_id, "c:e:purchase-1#m1") << "the id of the message at the position, to check it";
  expect_ok(store->applied_sequence(5, sequence));
  EXPECT_EQ(sequence, 40u);
  expect_ok(store->applied_sequence(4, sequence));
  EXPECT_EQ(sequence, 0u);
  std::optional<MemberState> member;
  expect_ok(store->load_member("m1", member));
  EXPECT_TRUE(member.has_value()) << "the state committed with the first position";
}

TEST(RocksStoreTest, ProgramVersionsAndActive) {
  TempDir dir;
  auto store = open_store(dir.path());
  std::optional<uint32_t> active = 99;
  expect_ok(store->active_program_version(active));
  EXPECT_FALSE(active.has_value());

  const StoredProgramVersion v1{1, "[earning]\npoints_per_unit = \"1\"\n", 1000};
  const StoredProgramVersion v2{2, "[earning]\npoints_per_unit = \"2\"\n", 2000};
  const StoredProgramVersion v300{300, std::string(100'000, 'x'), 3000};
  expect_ok(store->save_program_version(v2, true));
  expect_ok(store->save_program_version(v1, false));
  expect_ok(store->save_program_version(v300, false));
  expect_ok(store->active_program_version(active));
  EXPECT_EQ(active, std::optional<uint32_t>(2));

  std::vector<StoredProgramVersion> versions;
  expect_ok(store->load_program_versions(versions));
  ASSERT_EQ(versions.size(), 3u);
  EXPECT_EQ(versions[0].number, 1u);
  EXPECT_EQ(versions[0].source_toml, v1.source_toml);
  EXPECT_EQ(versions[0].activated_at, 1000);
  EXPECT_EQ(versions[1].number, 2u);
  EXPECT_EQ(versions[2].number, 300u);
  EXPECT_EQ(versions[2].source_toml, v300.source_toml);

  EXPECT_EQ(store->save_program_version(StoredProgramVersion{}, true).code(),
            Code::invalid_argument);
}

// A member keeps its lots in its record until it makes its first lot beyond kInlineLotsMax;
// from that batch on they are records of their own, every open one of them.
TEST(RocksStoreTest, LotsMoveOutOfTheMemberRecordPastTheFirstFew) {
  TempDir dir;
  auto store = open_store(dir.path());
  MemberState member;
  member.member_id = "m1";
  for (uint64_t id = 1; id <= storage::kInlineLotsMax; ++id) member.lots.push_back(lot(id, 10));
  member.next_lot_id = storage::kInlineLotsMax + 1;
  auto commit_lots = [&](std::vector<uint64_t> written) {
    CommitBatch batch;
    batch.members.push_back(&member);
    for (uint64_t id : written) {
      const auto found = std::find_if(member.lots.begin(), member.lots.end(),
                                      [&](const Lot& l) { return l.lot_id == id; });
      batch.lots.push_back({&member.member_id, &*found});
    }
    expect_ok(store->commit(batch));
    std::erase_if(member.lots, [](const Lot& l) { return l.points_remaining == 0; });
  };
  auto loaded_lots = [&] {
    std::optional<MemberState> loaded;
    expect_ok(store->load_member(member.member_id, loaded));
    return loaded ? loaded->lots : std::vector<Lot>{};
  };
  commit_lots({1, 2, 3, 4, 5, 6, 7, 8});
  EXPECT_TRUE(storage::lots_inline(member));
  EXPECT_EQ(loaded_lots(), member.lots);
  // Lot 2 runs out while the lots are in the record.
  member.lots[1].points_remaining = 0;
  commit_lots({2});
  EXPECT_EQ(loaded_lots(), member.lots);
  // The first lot beyond the few: all seven open ones and the new one are read apart now.
  member.lots.push_back(lot(storage::kInlineLotsMax + 1, 40));
  member.next_lot_id = storage::kInlineLotsMax + 2;
  commit_lots({storage::kInlineLotsMax + 1});
  EXPECT_FALSE(storage::lots_inline(member));
  EXPECT_EQ(loaded_lots(), member.lots);
  ASSERT_EQ(member.lots.size(), storage::kInlineLotsMax);
  // And change as records of their own: lot 1 runs out, lot 3 is held.
  member.lots[0].points_remaining = 0;
  member.lots[1].points_held = 2;
  commit_lots({1, 3});
  EXPECT_EQ(loaded_lots(), member.lots);
  EXPECT_EQ(loaded_lots().size(), storage::kInlineLotsMax - 1);

  // The batch that makes the ninth lot may also spend one of the first eight and the ninth
  // itself: neither is moved out, the others are.
  member = MemberState{};
  member.member_id = "m2";
  for (uint64_t id = 1; id <= storage::kInlineLotsMax; ++id) member.lots.push_back(lot(id, 10));
  member.next_lot_id = storage::kInlineLotsMax + 1;
  commit_lots({1, 2, 3, 4, 5, 6, 7, 8});
  member.lots[1].points_remaining = 0;
  member.lots.push_back(lot(storage::kInlineLotsMax + 1, 0));
  member.next_lot_id = storage::kInlineLotsMax + 2;
  commit_lots({2, storage::kInlineLotsMax + 1});
  EXPECT_EQ(loaded_lots(), member.lots);
  EXPECT_EQ(loaded_lots().size(), storage::kInlineLotsMax - 1);
}

// A view of a member whose lots are apart reads its stored expiry schedule, not its lots; one
// whose lots are in its record reads those.
TEST(RocksStoreTest, AViewReadsTheExpiryScheduleOfAMemberWithManyLots) {
  TempDir dir;
  auto store = open_store(dir.path());
  MemberState busy;
  busy.member_id = "busy";
  for (uint64_t id = 1; id <= 20; ++id) busy.lots.push_back(lot(id, static_cast<Points>(id)));
  busy.next_lot_id = 21;
  MemberState quiet;
  quiet.member_id = "quiet";
  quiet.lots = {lot(1, 10), lot(2, 20)};
  quiet.next_lot_id = 3;
  // Many lots, none of which can expire: an empty schedule, which still answers. (FlatBuffers
  // does not align an empty vector's data: records of several sizes put it at either offset.)
  MemberState lasting;
  lasting.member_id = "lasting";
  for (uint64_t id = 2; id <= 40; id += 2) lasting.lots.push_back(lot(id, 10));
  lasting.next_lot_id = 41;
  std::vector<MemberState> spent(8);
  for (size_t i = 0; i < spent.size(); ++i) {
    spent[i].member_id = "spent-" + std::to_string(i);
    spent[i].profile_json = std::string(i, 'p');
    spent[i].next_lot_id = 41;
  }
  CommitBatch batch;
  for (const MemberState& member : spent) batch.members.push_back(&member);
  for (const MemberState* member : {&busy, &quiet, &lasting}) {
    batch.members.push_back(member);
    for (const Lot& l : member->lots) batch.lots.push_back({&member->member_id, &l});
  }
  expect_ok(store->commit(batch));

  std::optional<MemberState> member;
  std::optional<ExpirySchedule> schedule;
  expect_ok(store->load_member_for_view("busy", member, schedule));
  ASSERT_TRUE(member.has_value());
  EXPECT_TRUE(member->lots.empty()) << "a busy member's lots are not read for a view";
  ASSERT_TRUE(schedule.has_value());
  EXPECT_EQ(*schedule, expiry_schedule(busy));
  expect_ok(store->load_member_for_view("quiet", member, schedule));
  ASSERT_TRUE(member.has_value());
  EXPECT_EQ(member->lots, quiet.lots);
  EXPECT_FALSE(schedule.has_value());
  expect_ok(store->load_member_for_view("lasting", member, schedule));
  ASSERT_TRUE(member.has_value() && schedule.has_value());
  EXPECT_TRUE(schedule->dates.empty());
  EXPECT_EQ(schedule->complete_through, kTimeNever);
  std::optional<MemberState> whole;
  expect_ok(store->load_member("lasting", whole));
  ASSERT_TRUE(whole.has_value());
  EXPECT_EQ(whole->lots, lasting.lots);
  for (const MemberState& m : spent) {
    expect_ok(store->load_member_for_view(m.member_id, member, schedule));
    EXPECT_TRUE(member.has_value() && schedule.has_value() && schedule->dates.empty());
  }
  expect_ok(store->load_member_for_view("nobody", member, schedule));
  EXPECT_FALSE(member.has_value());
}

TEST(RocksStoreTest, ScanMembersInKeyOrderWithTheirOpenLots) {
  TempDir dir;
  auto store = open_store(dir.path());
  const std::vector<Lot> lots = {lot(1, 10), lot(2, 0), lot(3, 30)};
  std::vector<MemberState> members;
  for (const char* id : {"b", "a", "ab", "c"}) {
    MemberState member;
    member.member_id = id;
    // "ab" never had more than a few lots: they live in its record; the others' apart.
    member.next_lot_id = member.member_id == "ab" ? 4 : 20;
    if (member.member_id != "c") member.lots = lots;  // lot 2 ran out in this batch
    members.push_back(member);
  }
  CommitBatch batch;
  for (const MemberState& member : members) {
    batch.members.push_back(&member);
    for (const Lot& l : member.lots) batch.lots.push_back({&member.member_id, &l});
  }
  expect_ok(store->commit(batch));

  std::vector<std::string> ids;
  expect_ok(store->scan_members([&](const MemberState& member) {
    ids.push_back(member.member_id);
    const std::vector<Lot> expected =
        member.member_id == "c" ? std::vector<Lot>{} : std::vector<Lot>{lots[0], lots[2]};
    EXPECT_EQ(member.lots, expected) << member.member_id;
    return true;
  }));
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "ab", "b", "c"}));

  ids.clear();
  expect_ok(store->scan_members([&](const MemberState& member) {
    ids.push_back(member.member_id);
    return false;
  }));
  EXPECT_EQ(ids, std::vector<std::string>{"a"});
}

TEST(RocksStoreTest, RestartKeepsEverythingAndContinuesTheLog) {
  TempDir dir;
  FullBatch full;
  const StoredProgramVersion v1{1, "toml", 5};
  {
    auto store = open_store(dir.path());
    expect_ok(store->save_program_version(v1, true));
    expect_ok(store->commit(full.batch));
  }
  auto store = open_store(dir.path());
  expect_full_batch_present(*store, full);
  std::optional<uint32_t> active;
  expect_ok(store->active_program_version(active));
  EXPECT_EQ(active, std::optional<uint32_t>(1));
  std::vector<StoredProgramVersion> versions;
  expect_ok(store->load_program_versions(versions));
  ASSERT_EQ(versions.size(), 1u);
  EXPECT_EQ(versions[0].source_toml, "toml");

  const Event later = purchase_event("p2", "m1");
  CommitBatch batch;
  batch.events = {{&later, 3}};
  expect_ok(store->commit(batch));
  const std::vector<StoredEvent> events = all_events(*store);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2].log_seq, 3u);
  EXPECT_EQ(std::get<PurchaseEvent>(events[2].event.body).event_id, "p2");
}

TEST(RocksStoreTest, IdempotencyRecordSurvivesRestart) {
  TempDir dir;
  const IdempotencyRecord record{"e:p9", 123456789, "m9", purchase_answer()};
  PurchaseRecord purchase = refundable_purchase("p9", "m9");
  purchase.request_fingerprint = record.fingerprint;
  const Event event = purchase_event("p9", "m9");
  {
    auto store = open_store(dir.path(), Durability::fsync);
    CommitBatch batch;
    batch.idempotency = {&record};
    batch.purchases = {&purchase};
    batch.events = {{&event, 1}};
    expect_ok(store->commit(batch));
  }
  auto store = open_store(dir.path(), Durability::fsync);
  std::optional<IdempotencyRecord> loaded;
  expect_ok(store->load_idempotency("e:p9", loaded));
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->fingerprint, record.fingerprint);
  EXPECT_EQ(loaded->member_id, record.member_id);
  EXPECT_EQ(loaded->answer, record.answer);
}

TEST(RocksStoreTest, ConcurrentCommitsGetDistinctLogSeqs) {
  TempDir dir;
  auto store = open_store(dir.path());
  constexpr int kThreads = 4;
  constexpr int kCommits = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&store, t] {
      for (int i = 0; i < kCommits; ++i) {
        const Event first = purchase_event("t" + std::to_string(t) + "-" + std::to_string(i),
                                           "m" + std::to_string(t));
        const Event second = purchase_event("t" + std::to_string(t) + "-" + std::to_string(i) + "b",
                                            "m" + std::to_string(t));
        CommitBatch batch;
        batch.events = {{&first, 1}, {&second, 1}};
        expect_ok(store->commit(batch));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  const std::vector<StoredEvent> events = all_events(*store);
  ASSERT_EQ(events.size(), size_t{kThreads * kCommits * 2});
  std::vector<int> next_commit(kThreads, 0);
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].log_seq, i + 1);
    // Each thread's events appear in its commit order, a batch's two events side by side.
    const std::string& id = std::get<PurchaseEvent>(events[i].event.body).event_id;
    const int thread = id[1] - '0';
    const std::string expected =
        "t" + std::to_string(thread) + "-" + std::to_string(next_commit[thread]);
    if (id.back() == 'b') {
      EXPECT_EQ(id, expected + "b");
      ++next_commit[thread];
    } else {
      EXPECT_EQ(id, expected);
      ASSERT_LT(i + 1, events.size());
      EXPECT_EQ(std::get<PurchaseEvent>(events[i + 1].event.body).event_id, expected + "b");
    }
  }
}

// Every decoder, fed garbage, truncations and bit flips of valid records, answers ok or
// corruption and never crashes (run under ASan/UBSan to make "never" mean something).
TEST(RecordCodecTest, CorruptBytesDecodeAsCorruption) {
  storage::RecordEncoder encoder;
  FullBatch full;
  std::vector<std::string> valid = {
      std::string(encoder.member(full.member, 7)),
      std::string(encoder.lot(full.lots[1])),
      std::string(encoder.logged_event(full.batch.events[0], 0)),
      std::string(encoder.logged_event(full.batch.events[1], 1)),
      std::string(encoder.program_version(StoredProgramVersion{1, "toml", 9})),
      std::string(encoder.purchase(full.refundable, 2)),
      std::string(encoder.hold("m1", full.member.holds[0])),
      std::string(encoder.referral_link(full.link)),
  };
  for (const Answer& answer : every_answer()) {
    valid.emplace_back(encoder.idempotency(IdempotencyRecord{"k", 1, "m1", answer}));
  }
  for (const Event& event : every_event_kind()) valid.emplace_back(encoder.event(event, 3));
  // The purchase record's event, where the record says it is (log seq 2).
  const StoredEvent purchase_event{2, 1, full.purchase};
  auto decode_all = [&purchase_event](std::string_view bytes) {
    MemberState member;
    Lot l;
    storage::EventHistory history;
    IdempotencyRecord record;
    StoredEvent event;
    StoredProgramVersion version;
    PurchaseRecord purchase;
    StoredHold hold;
    ReferralLink link;
    Event follow_up;
    return std::vector<Status>{storage::decode_member("m", bytes, member),
                               storage::decode_lot(1, bytes, l),
                               storage::decode_event_history(bytes, history),
                               storage::decode_idempotency("k", bytes, record),
                               storage::decode_event(1, bytes, event),
                               storage::decode_program_version(bytes, version),
                               storage::decode_purchase("p1", bytes, purchase_event, purchase),
                               storage::decode_hold("h", bytes, hold),
                               storage::decode_referral_link("a", "b", bytes, link),
                               storage::decode_outbox_event("referral:p1", bytes, follow_up)};
  };
  std::mt19937_64 random(20240611);
  std::vector<std::string> garbage = {"", "x", "abc", std::string(3, '\0'),
                                      std::string("\xff\xff\xff\xff", 4)};
  for (int i = 0; i < 50; ++i) {
    std::string bytes(8 + random() % 120, '\0');
    for (char& c : bytes) c = static_cast<char>(random());
    // A root offset past the end: the Verifier must refuse it whatever follows.
    const uint32_t root = static_cast<uint32_t>(bytes.size() + 1 + random() % 1000);
    std::memcpy(bytes.data(), &root, sizeof(root));
    garbage.push_back(bytes);
  }
  for (const std::string& bytes : garbage) {
    for (const Status& status : decode_all(bytes)) {
      EXPECT_EQ(status.code(), Code::corruption) << status.message();
    }
  }
  for (const std::string& record : valid) {
    for (size_t size = 0; size < 4; ++size) {
      for (const Status& status : decode_all(std::string_view(record).substr(0, size))) {
        EXPECT_EQ(status.code(), Code::corruption);
      }
    }
    for (int i = 0; i < 2000; ++i) {
      std::string bytes = record;
      if (i % 3 == 0) bytes.resize(random() % bytes.size());
      const int flips = 1 + static_cast<int>(random() % 4);
      for (int f = 0; f < flips && !bytes.empty(); ++f) {
        bytes[random() % bytes.size()] ^= static_cast<char>(1 << (random() % 8));
      }
      // Misaligned on purpose: RocksDB hands values out at any address.
      std::string shifted = " " + bytes;
      for (std::string_view view : {std::string_view(bytes), std::string_view(shifted).substr(1)}) {
        for (const Status& status : decode_all(view)) {
          EXPECT_TRUE(status.ok() || status.code() == Code::corruption) << status.message();
        }
      }
    }
  }
}

// A purchase record keeps only what its event does not hold (layout 5) and reads back whole
// from the two, also where nothing can be derived: lines whose eligible amount is not their
// amount, an answer whose figures are not the record's, totals that are not the lines' sums.
TEST(RecordCodecTest, PurchaseRecordReadsBackWholeFromItsEvent) {
  storage::RecordEncoder encoder;
  const StoredEvent stored{5, 1, purchase_event("p1", "m1")};
  PurchaseRecord record = refundable_purchase("p1", "m1");
  record.log_seq = 5;
  auto round_trip = [&](const PurchaseRecord& written) {
    PurchaseRecord read;
    expect_ok(storage::decode_purchase("p1", encoder.purchase(written, 5), stored, read));
    EXPECT_EQ(read, written);
  };
  round_trip(record);
  PurchaseRecord fresh = record;  // as the purchase left it: nothing refunded
  fresh.refunded_minor = fresh.refunded_eligible_minor = 0;
  fresh.points_reversed = fresh.points_restored = 0;
  for (PurchaseLineRecord& line : fresh.lines) line.refunded_minor = 0;
  fresh.referral_trigger = false;
  fresh.referee_reward_points = 0;
  round_trip(fresh);
  // The figures and the answer, nothing the event holds: a bigger basket costs no byte more.
  PurchaseRecord bigger = fresh;
  for (int i = 0; i < 18; ++i) {
    bigger.lines.push_back({"sku-" + std::to_string(i), 100, 100, 0});
    bigger.order_total_minor += 100;
    bigger.eligible_minor += 100;
  }
  const size_t fresh_size = encoder.purchase(fresh, 5).size();
  EXPECT_EQ(encoder.purchase(bigger, 5).size(), fresh_size);

  record.lines[0].eligible_minor = 6000;  // 400 paid by points
  record.lines[1].eligible_minor = 0;     // an excluded category
  record.eligible_minor = 6000;
  record.answer.points_earned = record.points_earned + 200;  // with a referral bonus
  record.answer.points_redeemed = 0;
  record.order_total_minor = 9000;
  round_trip(record);
  record.eligible_minor = 5000;
  round_trip(record);

  // Bytes read beside another event than their purchase's are corruption.
  const std::string bytes(encoder.purchase(record, 5));
  PurchaseRecord read;
  EXPECT_EQ(storage::decode_purchase("p2", bytes, stored, read).code(), Code::corruption)
      << "another purchase's id";
  EXPECT_EQ(storage::decode_purchase("p1", bytes, StoredEvent{6, 1, stored.event}, read).code(),
            Code::corruption)
      << "not where the record says its event is";
  StoredEvent one_line = stored;
  std::get<PurchaseEvent>(one_line.event.body).lines.pop_back();
  EXPECT_EQ(storage::decode_purchase("p1", bytes, one_line, read).code(), Code::corruption)
      << "the lines disagree";
  EXPECT_EQ(storage::decode_purchase("p1", bytes, StoredEvent{5, 1, signup_event("m1", true)}, read)
                .code(),
            Code::corruption)
      << "not a purchase";
  uint64_t log_seq = 0;
  expect_ok(storage::purchase_log_seq(bytes, log_seq));
  EXPECT_EQ(log_seq, 5u);
}

// A purchase's lines are stored as one vector per field (layout 5); events written by layouts
// 1–4, one table per line, still read (migrate replays them).
TEST(RecordCodecTest, PurchaseLinesReadInBothLayouts) {
  storage::RecordEncoder encoder;
  for (Event event : {purchase_event("p1", "m1"), purchase_event("p2", "m1")}) {
    auto& lines = std::get<PurchaseEvent>(event.body).lines;
    if (std::get<PurchaseEvent>(event.body).event_id == "p2") {
      for (PurchaseLine& line : lines) line.quantity = 1;  // no quantities stored
      lines.push_back({"latte-l", "beverage", 1, 0});
    }
    StoredEvent read;
    expect_ok(storage::decode_event(3, encoder.event(event, 1), read));
    EXPECT_EQ(fingerprint(read.event), fingerprint(event));
    const auto& back = std::get<PurchaseEvent>(read.event.body).lines;
    ASSERT_EQ(back.size(), lines.size());
    for (size_t i = 0; i < lines.size(); ++i) {
      EXPECT_EQ(
          std::tie(back[i].sku, back[i].category, back[i].quantity, back[i].amount_minor),
          std::tie(lines[i].sku, lines[i].category, lines[i].quantity, lines[i].amount_minor));
    }
  }
  flatbuffers::FlatBufferBuilder builder;
  const auto sku = builder.CreateString("bagel");
  const auto category = builder.CreateString("food");
  storage::fb::PurchaseLineRecordBuilder line(builder);
  line.add_sku(sku);
  line.add_category(category);
  line.add_quantity(3);
  line.add_amount_minor(1800);
  const std::vector<flatbuffers::Offset<storage::fb::PurchaseLineRecord>> lines{line.Finish()};
  const auto line_vector = builder.CreateVector(lines);
  const auto event_id = builder.CreateString("p9");
  const auto member_id = builder.CreateString("m1");
  storage::fb::PurchaseEventRecordBuilder purchase(builder);
  purchase.add_event_id(event_id);
  purchase.add_member_id(member_id);
  purchase.add_lines(line_vector);
  const auto body = purchase.Finish();
  storage::fb::EventRecordBuilder record(builder);
  record.add_program_version(1);
  record.add_event_type(storage::fb::StoredEventBody::PurchaseEventRecord);
  record.add_event(body.Union());
  builder.Finish(record.Finish());
  StoredEvent read;
  expect_ok(storage::decode_event(
      4,
      std::string_view(reinterpret_cast<const char*>(builder.GetBufferPointer()),
                       builder.GetSize()),
      read));
  const auto& old = std::get<PurchaseEvent>(read.event.body);
  ASSERT_EQ(old.lines.size(), 1u);
  EXPECT_EQ(std::tie(old.lines[0].sku, old.lines[0].category, old.lines[0].quantity,
                     old.lines[0].amount_minor),
            std::tuple("bagel", "food", 3, 1800));
}

// Bytes that are not a record, written under the store's keys behind its back, read as
// corruption through every reading method.
TEST(RocksStoreTest, CorruptValuesInTheDatabaseReadAsCorruption) {
  TempDir dir;
  FullBatch full;
  { expect_ok(open_store(dir.path())->commit(full.batch)); }
  {
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir.path(), &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const std::string& name : names)
      descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(
        rocksdb::DB::Open(rocksdb::DBOptions(), dir.path(), descriptors, &handles, &raw).ok());
    auto handle = [&](std::string_view name) {
      for (size_t i = 0; i < names.size(); ++i) {
        if (names[i] == name) return handles[i];
      }
      return static_cast<rocksdb::ColumnFamilyHandle*>(nullptr);
    };
    const std::string junk = "\x10\x00\x00\x00garbage-bytes";
    rocksdb::WriteOptions write;
    EXPECT_TRUE(raw->Put(write, handle(storage::kMembersFamily), "m1", junk).ok());
    EXPECT_TRUE(raw->Put(write, handle(storage::kIdempotencyFamily), "e:p1", junk).ok());
    EXPECT_TRUE(raw->Put(write, handle(storage::kEventsFamily), storage::event_key(2), junk).ok());
    EXPECT_TRUE(
        raw->Put(write, handle(storage::kLotsFamily), storage::lot_key("m2", 1), junk).ok());
    EXPECT_TRUE(raw->Put(write, handle(storage::kMetaFamily), storage::program_key(1), junk).ok());
    EXPECT_TRUE(
        raw->Put(write, handle(storage::kMetaFamily), storage::kProgramActiveKey, "xy").ok());
    EXPECT_TRUE(raw->Put(write, handle(storage::kIdentifiersFamily),
                         storage::identifier_key(IdentifierKind::phone, "555"), "")
                    .ok());
    EXPECT_TRUE(raw->Put(write, handle(storage::kPurchasesFamily), "p1", junk).ok());
    EXPECT_TRUE(raw->Put(write, handle(storage::kHoldsFamily), "h-1", junk).ok());
    EXPECT_TRUE(raw->Put(write, handle(storage::kReferralsFamily),
                         storage::referral_key("m-ref", "m1"), junk)
                    .ok());
    EXPECT_TRUE(
        raw->Put(write, handle(storage::kReferralsFamily), std::string("m-ref2\0", 7), junk).ok());
    EXPECT_TRUE(raw->Put(write, handle(storage::kOutboxFamily), "referral:p1", junk).ok());
    for (rocksdb::ColumnFamilyHandle* h : handles)
      EXPECT_TRUE(raw->DestroyColumnFamilyHandle(h).ok());
    EXPECT_TRUE(raw->Close().ok());
    delete raw;
  }
  auto store = open_store(dir.path());
  std::optional<MemberState> member;
  EXPECT_EQ(store->load_member("m1", member).code(), Code::corruption);
  EXPECT_FALSE(member.has_value());
  LedgerPage page;
  EXPECT_EQ(store->read_ledger("m1", std::nullopt, 10, page).code(), Code::corruption);
  std::vector<Notification> notifications;
  EXPECT_EQ(store->read_notifications("m1", 0, 10, notifications).code(), Code::corruption);
  std::optional<IdempotencyRecord> record;
  EXPECT_EQ(store->load_idempotency("e:p1", record).code(), Code::corruption);
  EXPECT_EQ(store->scan_events(1, [](const StoredEvent&) { return true; }).code(),
            Code::corruption);
  std::string owner;
  EXPECT_EQ(store->find_identifier(IdentifierKind::phone, "555", owner).code(), Code::corruption);
  std::vector<StoredProgramVersion> versions;
  EXPECT_EQ(store->load_program_versions(versions).code(), Code::corruption);
  std::optional<uint32_t> active;
  EXPECT_EQ(store->active_program_version(active).code(), Code::corruption);
  EXPECT_EQ(store->scan_members([](const MemberState&) { return true; }).code(), Code::corruption);
  std::optional<PurchaseRecord> purchase;
  EXPECT_EQ(store->load_purchase("p1", purchase).code(), Code::corruption);
  std::optional<StoredHold> hold;
  EXPECT_EQ(store->load_hold("h-1", hold).code(), Code::corruption);
  std::vector<ReferralLink> links;
  EXPECT_EQ(store->read_referrals("m-ref", links).code(), Code::corruption);
  EXPECT_EQ(store->read_referrals("m-ref2", links).code(), Code::corruption)
      << "a key without a referee";
  std::vector<Event> outbox;
  EXPECT_EQ(store->load_outbox(outbox).code(), Code::corruption);
}

// An outbox value must be the follow-up its key names.
TEST(RecordCodecTest, OutboxValueMustMatchItsKey) {
  storage::RecordEncoder encoder;
  const std::string bytes(encoder.event(follow_up("p1"), 0));
  Event event;
  expect_ok(storage::decode_outbox_event("referral:p1", bytes, event));
  EXPECT_EQ(event.type(), EventType::referral_reward);
  EXPECT_EQ(storage::decode_outbox_event("referral:p2", bytes, event).code(), Code::corruption);
  const std::string not_follow_up(encoder.event(purchase_event("p1", "m1"), 0));
  EXPECT_EQ(storage::decode_outbox_event("p1", not_follow_up, event).code(), Code::corruption);
}

// The crash test: a child process commits tagged batches as fast as it can and reports each
// acknowledged batch on a pipe; the parent SIGKILLs it, reopens the store and checks that
// batches 0..k-1 are fully present, nothing after them is, and every acknowledged batch is
// among them (durability=wal survives a process crash).
}  // namespace
constexpr const char* kCrashDirEnv = "LOYALTY_ROCKS_CRASH_DIR";
constexpr const char* kCrashFdEnv = "LOYALTY_ROCKS_CRASH_FD";
constexpr int kEntriesPerBatch = 8;

std::string crash_member_id(uint64_t batch) {
  char id[32];
  std::snprintf(id, sizeof(id), "crash-%08llu", static_cast<unsigned long long>(batch));
  return id;
}

std::string crash_event_id(uint64_t batch) { return "batch-" + std::to_string(batch); }

// The crash test's child: commits batches until it is killed. main() runs it instead of
// the tests when the crash test starts this binary with the variables set.
[[noreturn]] void run_crash_child(const char* path, int fd) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  auto store = open_store(path, Durability::wal);
  if (store == nullptr) std::_Exit(3);
  for (uint64_t number = 0;; ++number) {
    MemberState member;
    member.member_id = crash_member_id(number);
    member.profile_json = std::string(512, 'p');  // bigger batches: more torn-write chances
    member.next_ledger_seq = kEntriesPerBatch + 1;
    std::vector<LedgerEntry> entries;
    for (uint64_t seq = 1; seq <= kEntriesPerBatch; ++seq) {
      entries.push_back(entry(seq, crash_event_id(number)));
    }
    const Event event = purchase_event(crash_event_id(number), member.member_id);
    const IdempotencyRecord record{event.idempotency_key(), number, member.member_id,
                                   purchase_answer()};
    PurchaseRecord purchase = refundable_purchase(crash_event_id(number), member.member_id);
    purchase.request_fingerprint = number;  // the record above travels in it
    // Each batch writes a follow-up and removes the one of the batch before: after the crash
    // the outbox holds exactly the last present batch's.
    const Event pending = follow_up(crash_event_id(number));
    CommitBatch batch;
    batch.members.push_back(&member);
    batch.idempotency.push_back(&record);
    batch.purchases.push_back(&purchase);
    batch.events.push_back({&event, 1, &member, entries});
    batch.outbox_puts.push_back(&pending);
    if (number > 0) batch.outbox_deletes.push_back("referral:" + crash_event_id(number - 1));
    if (!store->commit(batch).ok()) std::_Exit(4);
    if (::write(fd, &number, sizeof(number)) != static_cast<ssize_t>(sizeof(number))) {
      std::_Exit(5);
    }
  }
}

namespace {

TEST(RocksStoreRecoveryTest, BatchesAreAllOrNothingAfterSigkill) {
  TempDir dir;
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  // Everything the child needs is prepared before fork(): between fork and exec only
  // async-signal-safe calls are allowed, and RocksDB threads of earlier tests may exist.
  const std::string exe = fs::read_symlink("/proc/self/exe").string();
  const std::string dir_env = std::string(kCrashDirEnv) + "=" + dir.path();
  const std::string fd_env = std::string(kCrashFdEnv) + "=" + std::to_string(fds[1]);
  std::vector<char*> argv = {const_cast<char*>(exe.c_str()), nullptr};
  std::vector<char*> envp;
  for (char** variable = environ; *variable != nullptr; ++variable) envp.push_back(*variable);
  envp.push_back(const_cast<char*>(dir_env.c_str()));
  envp.push_back(const_cast<char*>(fd_env.c_str()));
  envp.push_back(nullptr);

  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    ::execve(exe.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(fds[1]);

  // Acknowledged batches arrive as 8-byte numbers; the kill comes ~200 ms after the first.
  int64_t acknowledged = -1;
  std::string pending;
  auto drain = [&](int timeout_ms) {
    pollfd poll_fd{fds[0], POLLIN, 0};
    if (::poll(&poll_fd, 1, timeout_ms) <= 0) return false;
    char buffer[4096];
    const ssize_t got = ::read(fds[0], buffer, sizeof(buffer));
    if (got <= 0) return false;
    pending.append(buffer, static_cast<size_t>(got));
    while (pending.size() >= sizeof(uint64_t)) {
      uint64_t number = 0;
      std::memcpy(&number, pending.data(), sizeof(number));
      EXPECT_EQ(static_cast<int64_t>(number), acknowledged + 1);
      acknowledged = static_cast<int64_t>(number);
      pending.erase(0, sizeof(number));
    }
    return true;
  };
  using Clock = std::chrono::steady_clock;
  int wait_status = 0;
  bool reaped = false;
  const auto start_deadline = Clock::now() + std::chrono::seconds(60);
  while (acknowledged < 0 && Clock::now() < start_deadline) {
    if (!drain(100) && ::waitpid(child, &wait_status, WNOHANG) == child) {
      reaped = true;  // it died before its first commit: reported below
      break;
    }
  }
  if (!reaped) {
    const auto kill_at = Clock::now() + std::chrono::milliseconds(200);
    for (auto now = Clock::now(); now < kill_at; now = Clock::now()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(kill_at - now);
      drain(static_cast<int>(left.count()) + 1);
    }
    ::kill(child, SIGKILL);
    ASSERT_EQ(::waitpid(child, &wait_status, 0), child);
  }
  while (drain(0)) {
  }
  ::close(fds[0]);
  ASSERT_TRUE(WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGKILL)
      << "the child ended on its own, status " << wait_status;
  ASSERT_GE(acknowledged, 0) << "the child acknowledged no batch";

  auto store = open_store(dir.path(), Durability::wal);
  ASSERT_NE(store, nullptr);
  std::set<uint64_t> present;
  expect_ok(store->scan_members([&](const MemberState& member) {
    present.insert(std::stoull(member.member_id.substr(std::strlen("crash-"))));
    return true;
  }));
  const uint64_t count = present.size();
  RecordProperty("batches_present", std::to_string(count));
  RecordProperty("batches_acknowledged", std::to_string(acknowledged + 1));
  ASSERT_GT(count, 0u);
  EXPECT_EQ(*present.rbegin(), count - 1) << "the present batches are not a prefix";
  EXPECT_GE(static_cast<int64_t>(count), acknowledged + 1) << "an acknowledged batch is lost";

  // Every part of a present batch is there; no part of an absent one (the next few).
  for (uint64_t number = 0; number < count + 3; ++number) {
    const bool expected = number < count;
    const std::string member_id = crash_member_id(number);
    std::optional<MemberState> member;
    expect_ok(store->load_member(member_id, member));
    EXPECT_EQ(member.has_value(), expected) << number;
    LedgerPage page;
    expect_ok(store->read_ledger(member_id, std::nullopt, 100, page));
    EXPECT_EQ(page.entries.size(), expected ? size_t{kEntriesPerBatch} : 0u) << number;
    for (const LedgerEntry& e : page.entries) EXPECT_EQ(e.reference, crash_event_id(number));
    std::optional<IdempotencyRecord> record;
    expect_ok(store->load_idempotency("e:" + crash_event_id(number), record));
    EXPECT_EQ(record.has_value(), expected) << number;
    if (record) {
      EXPECT_EQ(record->fingerprint, number);
    }
  }
  const std::vector<StoredEvent> events = all_events(*store);
  ASSERT_EQ(events.size(), count);
  for (uint64_t i = 0; i < count; ++i) {
    EXPECT_EQ(events[i].log_seq, i + 1);
    EXPECT_EQ(std::get<PurchaseEvent>(events[i].event.body).event_id, crash_event_id(i));
  }

  std::vector<Event> outbox;
  expect_ok(store->load_outbox(outbox));
  EXPECT_EQ(ids(outbox), std::vector<std::string>{"referral:" + crash_event_id(count - 1)});

  // The log continues right after the last batch that made it.
  const Event next = purchase_event("after-crash", "crash-next");
  CommitBatch batch;
  batch.events = {{&next, 1}};
  expect_ok(store->commit(batch));
  const std::vector<StoredEvent> tail = all_events(*store, count + 1);
  ASSERT_EQ(tail.size(), 1u);
  EXPECT_EQ(tail[0].log_seq, count + 1);
}

}  // namespace
}  // namespace loyalty

// The crash test re-executes this binary as its child, with the crash variables set.
int main(int argc, char** argv) {
  const char* crash_dir = std::getenv(loyalty::kCrashDirEnv);
  const char* crash_fd = std::getenv(loyalty::kCrashFdEnv);
  if (crash_dir != nullptr && crash_fd != nullptr) {
    loyalty::run_crash_child(crash_dir, std::atoi(crash_fd));
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
