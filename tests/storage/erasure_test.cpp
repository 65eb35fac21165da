// The right to erasure on a real RocksDB (storage/erasure.hpp): after an erasure's purge, no
// file of the data folder (SST, WAL, MANIFEST, …) holds the member's phones, card or profile,
// while the other members' data is still there; the identifiers are free; and a replay of the
// (blanked) log rebuilds the same members and ledgers, the erased member's included.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>

#include "engine/runtime/runtime.hpp"
#include "ops/erasure_purges.hpp"
#include "storage/rocks_store.hpp"
#include "tests/support/scenario.hpp"
#include "tests/support/store_books.hpp"

namespace loyalty {
namespace {

namespace fs = std::filesystem;
using testing::at;
using testing::line;

class ErasureTest : public ::testing::Test {
 protected:
  ErasureTest()
      : dir_(fs::temp_directory_path() /
             ("loyalty-erasure-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  ~ErasureTest() override { fs::remove_all(dir_); }

  std::unique_ptr<RocksStore> open(const fs::path& path) {
    std::unique_ptr<RocksStore> store;
    const Status status =
        RocksStore::open({.path = path.string(), .durability = Durability::fsync}, store);
    EXPECT_TRUE(status.ok()) << status.message();
    return store;
  }

  fs::path dir_;
};

EventResult submit(Runtime& runtime, Event event) {
  std::promise<EventResult> answer;
  runtime.submit(std::move(event), [&](EventResult&& r) { answer.set_value(std::move(r)); });
  return answer.get_future().get();
}

// The files of `folder` (any kind) holding `needle`, by name.
std::vector<std::string> files_holding(const fs::path& folder, const std::string& needle) {
  std::vector<std::string> found;
  for (const fs::directory_entry& file : fs::recursive_directory_iterator(folder)) {
    if (!file.is_regular_file()) continue;
    std::ifstream in(file.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.find(needle) != std::string::npos) found.push_back(file.path().filename());
  }
  return found;
}

SignupEvent signup(std::string member_id, std::string phone, std::string card,
                   std::string profile) {
  SignupEvent e;
  e.member_id = std::move(member_id);
  e.phone = std::move(phone);
  e.card_no = std::move(card);
  e.profile_json = std::move(profile);
  e.joined_at = at("2026-06-01T00:00:00Z");
  return e;
}

MemberUpdateEvent change(std::string id, std::string member_id) {
  MemberUpdateEvent e;
  e.update_id = std::move(id);
  e.member_id = std::move(member_id);
  e.changed_by = "cs-desk";
  e.at = at("2026-06-02T00:00:00Z");
  return e;
}

// The member's strings: its first phone, the one a change gave it, its card, its profile.
const std::vector<std::string> kGone = {"13912340001", "13912340002", "CARD-GONE-7731",
                                        "Zhang Gone-Wei"};
const std::vector<std::string> kKept = {"13955550003", "CARD-KEPT-1212", "Li Kept-Hua"};

TEST_F(ErasureTest, NoFileHoldsTheErasedDataAndReplayStillMatches) {
  ProgramRegistry programs(
      std::make_shared<ProgramVersion>(ProgramVersion{1, testing::basic_program(), ""}));
  const auto clock = [] { return at("2026-07-01T00:00:00Z"); };
  const fs::path data = dir_ / "data";
  std::vector<StoredEvent> log;
  testing::StoreBooks before;
  {
    auto store = open(data);
    {
      Runtime runtime({.partitions = 2}, *store, programs, clock);
      for (const SignupEvent& e :
           {signup("gone", kGone[0], kGone[2], R"({"name":"Zhang Gone-Wei"})"),
            signup("kept", kKept[0], kKept[1], R"({"name":"Li Kept-Hua"})")}) {
        ASSERT_TRUE(submit(runtime, Event{e}).rejection.ok());
      }
      MemberUpdateEvent phone = change("u1", "gone");
      phone.phone = kGone[1];
      ASSERT_TRUE(submit(runtime, Event{phone}).rejection.ok());
      MemberUpdateEvent same = change("u2", "gone");  // a repeat: logged with the value too
      same.card_no = kGone[2];
      ASSERT_TRUE(submit(runtime, Event{same}).rejection.ok());
      for (const char* member : {"gone", "kept"}) {
        PurchaseEvent p;
        p.event_id = std::string("e-") + member;
        p.member_id = member;
        p.store_id = "s-1";
        p.occurred_at = at("2026-06-03T00:00:00Z");
        p.currency = "CNY";
        p.lines = {line("latte", "beverage", 3600)};
        ASSERT_TRUE(submit(runtime, Event{p}).rejection.ok());
      }
      MemberUpdateEvent erasure = change("x1", "gone");
      erasure.reason = "PIPL art. 47 request";
      ASSERT_TRUE(submit(runtime, Event(EventType::member_erase, erasure)).rejection.ok());
    }
    for (const std::string& text : kGone) {
      EXPECT_FALSE(files_holding(data, text).empty())
          << text << ": before the purge the WAL still holds it (else this test checks nothing)";
    }
    std::vector<std::string> pending;
    ASSERT_TRUE(store->pending_erasures(pending).ok());
    ASSERT_EQ(pending, std::vector<std::string>{"gone"}) << "the erasure's commit marks it";

    storage::ErasureReport report;
    const Status purged = store->purge_erasure("gone", report);
    ASSERT_TRUE(purged.ok()) << purged.message();
    EXPECT_EQ(report.events_scrubbed, 3u) << "the sign-up and both changes";
    for (const std::string& text : kGone) {
      EXPECT_EQ(files_holding(data, text), std::vector<std::string>{}) << text;
    }
    for (const std::string& text : kKept) {
      EXPECT_FALSE(files_holding(data, text).empty()) << text << ": the others' data stays";
    }
    ASSERT_TRUE(store->pending_erasures(pending).ok());
    EXPECT_TRUE(pending.empty());
    for (const std::string& text : {kGone[0], kGone[1]}) {
      std::string holder;
      ASSERT_TRUE(store->find_identifier(IdentifierKind::phone, text, holder).ok());
      EXPECT_EQ(holder, "") << text << " is free";
    }
    std::string holder;
    ASSERT_TRUE(store->find_identifier(IdentifierKind::phone, kKept[0], holder).ok());
    EXPECT_EQ(holder, "kept");
    std::optional<IdempotencyRecord> change;
    ASSERT_TRUE(store->load_idempotency("mu:u1", change).ok());
    ASSERT_TRUE(change.has_value());
    EXPECT_EQ(change->fingerprint, IdempotencyRecord::kErasedFingerprint)
        << "a digest of the erased phone";
    storage::ErasureReport again;
    ASSERT_TRUE(store->purge_erasure("gone", again).ok());
    EXPECT_EQ(again.events_scrubbed, 0u) << "a second purge finds nothing left";

    before = testing::read_books(*store);
    ASSERT_TRUE(store
                    ->scan_events(1,
                                  [&](const StoredEvent& e) {
                                    log.push_back(e);
                                    return true;
                                  })
                    .ok());
  }
  for (const std::string& text : kGone) {
    EXPECT_EQ(files_holding(data, text), std::vector<std::string>{}) << text << " after a close";
  }
  ASSERT_EQ(before.members.size(), 2u);
  EXPECT_NE(before.members[0].erased_at, 0) << "gone";
  EXPECT_EQ(before.members[0].phone, "");

  // Replay of the blanked log: the same members and ledgers, audit entries included.
  auto store = open(dir_ / "replayed");
  {
    Runtime runtime({.partitions = 1, .deliver_follow_ups = false}, *store, programs, clock);
    for (const StoredEvent& e : log) {
      EventResult r = submit(runtime, e.event);
      ASSERT_TRUE(r.rejection.ok()) << "log event " << e.log_seq << ": " << r.rejection.message;
    }
  }
  const testing::StoreBooks after = testing::read_books(*store);
  ASSERT_EQ(after.members.size(), before.members.size());
  for (size_t i = 0; i < before.members.size(); ++i) {
    EXPECT_EQ(after.members[i], before.members[i]) << before.members[i].member_id;
    EXPECT_EQ(after.ledgers[i], before.ledgers[i]) << before.members[i].member_id;
  }
  ASSERT_GE(before.ledgers[0].size(), 4u);
  EXPECT_EQ(before.ledgers[0][0].rule, "erased by cs-desk: PIPL art. 47 request");
}

// An erasure committed but not purged (the server stopped in between) is purged after the next
// start, and one asked for is answered when its purge has run.
TEST_F(ErasureTest, PurgesLeftByAStopRunAtTheNextStart) {
  ProgramRegistry programs(
      std::make_shared<ProgramVersion>(ProgramVersion{1, testing::basic_program(), ""}));
  const auto clock = [] { return at("2026-07-01T00:00:00Z"); };
  const fs::path data = dir_ / "data";
  auto store = open(data);
  {
    Runtime runtime({.partitions = 1}, *store, programs, clock);
    for (const SignupEvent& e : {signup("gone", kGone[0], kGone[2], "{}"),
                                 signup("also", kGone[1], "CARD-ALSO-0001", "{}")}) {
      ASSERT_TRUE(submit(runtime, Event{e}).rejection.ok());
    }
    for (const char* member : {"gone", "also"}) {
      MemberUpdateEvent erasure = change(std::string("x-") + member, member);
      erasure.reason = "request";
      ASSERT_TRUE(submit(runtime, Event(EventType::member_erase, erasure)).rejection.ok());
    }
  }
  std::vector<std::string> pending;
  ASSERT_TRUE(store->pending_erasures(pending).ok());
  ASSERT_EQ(pending.size(), 2u);

  ops::ErasurePurges purges(*store, {}, std::chrono::milliseconds(20));
  ASSERT_TRUE(purges.start().ok());
  std::promise<Status> answered;
  purges.submit("also", [&](const Status& status, const storage::ErasureReport& report) {
    EXPECT_EQ(report.events_scrubbed, 0u) << "purged at the start already";
    answered.set_value(status);
  });
  const Status status = answered.get_future().get();
  EXPECT_TRUE(status.ok()) << status.message();
  ASSERT_TRUE(store->pending_erasures(pending).ok());
  EXPECT_TRUE(pending.empty());
  for (const std::string& text : {kGone[0], kGone[1], kGone[2]}) {
    EXPECT_EQ(files_holding(data, text), std::vector<std::string>{}) << text;
  }
}

}  // namespace
}  // namespace loyalty
