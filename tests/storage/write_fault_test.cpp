// Write errors and a full disk (fault_fs.hpp) under a Runtime over a RocksStore: requests answer
// `unavailable` (503 problem+json over the API), nothing of a failed batch is left behind, reads
// keep working, and when space returns the next request succeeds without a restart, a referral
// follow-up caught by the fault included. A failing device (EIO) is fatal to RocksDB: writes stay
// refused until a restart, which loses nothing acknowledged.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <future>
#include <random>
#include <thread>

#include "api/router.hpp"
#include "tests/storage/durability_support.hpp"
#include "tests/storage/fault_fs.hpp"
#include "tests/support/scenario.hpp"
#include "tests/support/store_books.hpp"

namespace loyalty {
namespace {

using durability::expect_consistent;
using durability::submit_and_wait;
using durability::TempDir;
using faults::FaultFileSystem;
using faults::WriteFault;
using testing::at;
using testing::line;

SignupEvent signup(const std::string& member_id, const std::string& referral_code = "") {
  SignupEvent s;
  s.member_id = member_id;
  s.joined_at = at("2026-06-01T00:00:00Z");
  s.referral_code = referral_code;
  return s;
}

PurchaseEvent purchase(const std::string& event_id, const std::string& member_id,
                       AmountMinor amount) {
  PurchaseEvent p;
  p.event_id = event_id;
  p.member_id = member_id;
  p.store_id = "s-1";
  p.occurred_at = at("2026-06-02T10:00:00Z");
  p.currency = "CNY";
  p.lines = {line("latte", "beverage", amount)};
  return p;
}

RedemptionEvent redemption(const std::string& id, const std::string& member_id, Points points) {
  RedemptionEvent r;
  r.redemption_id = id;
  r.member_id = member_id;
  r.points = points;
  return r;
}

HoldEvent hold(const std::string& id, const std::string& member_id, Points points) {
  HoldEvent h;
  h.hold_id = id;
  h.member_id = member_id;
  h.points = points;
  return h;
}

class WriteFaultTest : public ::testing::Test {
 protected:
  WriteFaultTest() { reopen(); }
  ~WriteFaultTest() override { close(); }

  void reopen() {
    close();
    const Status opened = RocksStore::open(
        {.path = dir_.path(), .durability = Durability::fsync, .env = env_.get()}, store_);
    ASSERT_TRUE(opened.ok()) << opened.message();
    runtime_ =
        std::make_unique<Runtime>(RuntimeOptions{.partitions = 1}, *store_, programs_, clock_);
  }
  void close() {
    runtime_.reset();
    store_.reset();
  }

  // Submits all at once (they share batches) and returns the answers in order.
  std::vector<EventResult> submit_all(const std::vector<Event>& events) {
    std::vector<std::promise<EventResult>> answers(events.size());
    for (size_t i = 0; i < events.size(); ++i) {
      runtime_->submit(events[i],
                       [&answers, i](EventResult&& r) { answers[i].set_value(std::move(r)); });
    }
    std::vector<EventResult> results;
    for (auto& answer : answers) results.push_back(answer.get_future().get());
    return results;
  }

  std::shared_ptr<FaultFileSystem> fs_ = std::make_shared<FaultFileSystem>();
  std::unique_ptr<rocksdb::Env> env_ = faults::make_env(fs_);
  TempDir dir_{"loyalty-write-fault"};
  ProgramRegistry programs_{std::make_shared<ProgramVersion>(durability::program_version())};
  Clock clock_ = [] { return at("2026-06-03T00:00:00Z"); };
  std::unique_ptr<RocksStore> store_;
  std::unique_ptr<Runtime> runtime_;
};

// Just after opening every memtable is empty; a failed first write used to leave RocksDB 7.8
// writing on to the WAL file that failed (an assertion in Debian's build) after the resume.
TEST_F(WriteFaultTest, ADiskFullAtTheFirstWriteRecoversWithoutRestart) {
  fs_->fail_writes(WriteFault::disk_full, 0);
  EXPECT_EQ(submit_and_wait(*runtime_, Event{signup("m-1")}).rejection.code,
            ErrorCode::unavailable);
  std::optional<MemberState> member;
  ASSERT_TRUE(store_->load_member("m-1", member).ok());
  EXPECT_FALSE(member.has_value());

  fs_->heal();
  const EventResult joined = submit_and_wait(*runtime_, Event{signup("m-1")});
  ASSERT_TRUE(joined.rejection.ok()) << joined.rejection.message;
  EXPECT_FALSE(joined.replayed);
  ASSERT_TRUE(submit_and_wait(*runtime_, Event{purchase("p-1", "m-1", 6400)}).rejection.ok());

  reopen();
  ASSERT_TRUE(store_->load_member("m-1", member).ok());
  ASSERT_TRUE(member.has_value());
  EXPECT_EQ(member->balance.available, 128);
}

TEST_F(WriteFaultTest, AFullDiskAnswersUnavailableLeavesNothingAndRecoversWithoutRestart) {
  const EventResult alice = submit_and_wait(*runtime_, Event{signup("alice")});
  ASSERT_TRUE(alice.rejection.ok());
  ASSERT_TRUE(
      submit_and_wait(*runtime_, Event{signup("bob", alice.member->referral_code)}).rejection.ok());
  ASSERT_TRUE(submit_and_wait(*runtime_, Event{purchase("p-0", "alice", 9000)}).rejection.ok());

  std::mt19937_64 random(5);
  for (int cycle = 0; cycle < 6; ++cycle) {
    const std::string n = std::to_string(cycle);
    const std::vector<Event> events = {
        Event{purchase("p-a" + n, "alice", 3000)}, Event{purchase("p-b" + n, "bob", 2000)},
        Event{redemption("x-" + n, "alice", 10)}, Event{hold("h-" + n, "alice", 10)},
        Event{signup("dave-" + n)}};
    const testing::StoreBooks before = testing::read_books(*store_);

    // Less room than one batch's WAL record: an append writes part of it, then ENOSPC.
    fs_->fail_writes(WriteFault::disk_full, random() % 64);
    for (const EventResult& r : submit_all(events)) {
      EXPECT_EQ(r.rejection.code, ErrorCode::unavailable) << "cycle " << cycle;
    }
    // Reads keep working and show nothing of the failed batch.
    EXPECT_EQ(testing::read_books(*store_), before) << "cycle " << cycle;
    for (const Event& event : events) {
      if (event.type() == EventType::signup) continue;
      std::optional<IdempotencyRecord> record;
      ASSERT_TRUE(store_->load_idempotency(event.idempotency_key(), record).ok());
      EXPECT_FALSE(record.has_value()) << event.idempotency_key();
    }

    fs_->heal();
    for (const EventResult& r : submit_all(events)) {
      EXPECT_TRUE(r.rejection.ok()) << "cycle " << cycle << ": " << r.rejection.message;
      EXPECT_FALSE(r.replayed) << "cycle " << cycle << ": the failed attempt left something";
    }
    for (const EventResult& r : submit_all(events)) EXPECT_TRUE(r.replayed);
  }
  EXPECT_GT(fs_->failed_writes(), 0u);

  runtime_->stop();
  expect_consistent(*store_, "before the restart");
  const testing::StoreBooks served = testing::read_books(*store_);
  reopen();
  runtime_->stop();
  EXPECT_EQ(testing::read_books(*store_), served) << "everything acknowledged survives a restart";
  expect_consistent(*store_, "after the restart");
}

// The referrer's reward is written by a follow-up in a batch of its own. When the disk fills
// between the referee's purchase and that batch, the reward is applied after space returns,
// once, without a restart.
TEST_F(WriteFaultTest, AReferralRewardCaughtByAFullDiskIsDeliveredWhenSpaceReturns) {
  const EventResult alice = submit_and_wait(*runtime_, Event{signup("alice")});
  ASSERT_TRUE(alice.rejection.ok());
  ASSERT_TRUE(
      submit_and_wait(*runtime_, Event{signup("bob", alice.member->referral_code)}).rejection.ok());

  // The completion runs on the writer after the follow-up is queued and before its batch.
  std::promise<EventResult> bought;
  runtime_->submit(Event{purchase("p-bob", "bob", 5000)}, [&](EventResult&& r) {
    fs_->fail_writes(WriteFault::disk_full, 0);
    bought.set_value(std::move(r));
  });
  ASSERT_TRUE(bought.get_future().get().rejection.ok());
  while (fs_->failed_writes() == 0) std::this_thread::yield();
  std::optional<MemberState> referrer;
  ASSERT_TRUE(store_->load_member("alice", referrer).ok());
  EXPECT_EQ(referrer->balance.available, 0);

  fs_->heal();
  ASSERT_TRUE(submit_and_wait(*runtime_, Event{purchase("p-alice", "alice", 1000)}).rejection.ok());
  runtime_->stop();
  ASSERT_TRUE(store_->load_member("alice", referrer).ok());
  EXPECT_EQ(referrer->balance.available, 200 + 20);  // the reward, then 10.00 of beverage ×2
  expect_consistent(*store_, "after the reward");
}

TEST_F(WriteFaultTest, ADeviceErrorStopsWritesUntilARestartWhichLosesNothing) {
  ASSERT_TRUE(submit_and_wait(*runtime_, Event{signup("alice")}).rejection.ok());
  ASSERT_TRUE(submit_and_wait(*runtime_, Event{purchase("p-1", "alice", 5000)}).rejection.ok());
  const testing::StoreBooks before = testing::read_books(*store_);

  fs_->fail_writes(WriteFault::io_error);
  EXPECT_EQ(submit_and_wait(*runtime_, Event{purchase("p-2", "alice", 5000)}).rejection.code,
            ErrorCode::unavailable);
  EXPECT_EQ(testing::read_books(*store_), before);
  fs_->heal();
  // RocksDB takes an I/O error on its log as fatal (the data may not be where it was written):
  // writes stay refused, reads keep working, until the store is opened again.
  EXPECT_EQ(submit_and_wait(*runtime_, Event{purchase("p-2", "alice", 5000)}).rejection.code,
            ErrorCode::unavailable);
  EXPECT_EQ(testing::read_books(*store_), before);

  reopen();
  EXPECT_EQ(testing::read_books(*store_), before);
  const EventResult retried = submit_and_wait(*runtime_, Event{purchase("p-2", "alice", 5000)});
  ASSERT_TRUE(retried.rejection.ok()) << retried.rejection.message;
  EXPECT_FALSE(retried.replayed);
  runtime_->stop();
  expect_consistent(*store_, "after the restart");
}

// Over the API (the router as a plain function, with the real runtime and store): the client
// gets 503 problem+json with Retry-After and no internal detail, GETs keep answering, and the
// same request succeeds once space returns.
TEST_F(WriteFaultTest, OverTheApiAFullDiskIs503AndReadsKeepWorking) {
  api::ApiContext context{
      .runtime = runtime_.get(), .store = store_.get(), .programs = &programs_, .clock = clock_};
  api::Principal pos;
  pos.name = "pos";
  pos.role = api::Role::pos;
  pos.all_stores = true;
  auto call = [&](api::http::verb method, const std::string& target, const std::string& body) {
    api::HttpRequest request{method, target, 11};
    request.set(api::http::field::content_type, "application/json");
    request.body() = body;
    request.prepare_payload();
    api::RouteResult routed = api::route(context, request, pos);
    if (auto* response = std::get_if<api::HttpResponse>(&routed)) return *response;
    std::promise<api::HttpResponse> answer;
    std::get<api::Deferred>(routed).start(
        [&answer](api::HttpResponse&& response) { answer.set_value(std::move(response)); });
    return answer.get_future().get();
  };
  ASSERT_TRUE(submit_and_wait(*runtime_, Event{signup("m-1")}).rejection.ok());
  const std::string body =
      R"({"event_id": "pos-1", "member_id": "m-1", "store_id": "s-1",
          "occurred_at": "2026-06-02T10:00:00Z", "currency": "CNY",
          "lines": [{"sku": "latte", "category": "beverage", "quantity": 1, "amount_minor": 6400}]})";

  fs_->fail_writes(WriteFault::disk_full, 0);
  const api::HttpResponse refused = call(api::http::verb::post, "/v1/events/purchase", body);
  EXPECT_EQ(refused.result(), api::http::status::service_unavailable);
  EXPECT_EQ(refused[api::http::field::content_type], "application/problem+json");
  EXPECT_EQ(refused[api::http::field::retry_after], "1");
  EXPECT_EQ(boost::json::parse(refused.body()).at("code"), "unavailable");
  EXPECT_EQ(refused.body().find("fault_fs"), std::string::npos) << refused.body();

  const api::HttpResponse read = call(api::http::verb::get, "/v1/members/m-1", "");
  EXPECT_EQ(read.result(), api::http::status::ok);
  EXPECT_EQ(boost::json::parse(read.body()).at("balance").at("available"), 0);

  fs_->heal();
  const api::HttpResponse applied = call(api::http::verb::post, "/v1/events/purchase", body);
  EXPECT_EQ(applied.result(), api::http::status::ok) << applied.body();
  EXPECT_EQ(boost::json::parse(applied.body()).at("replayed"), false);
}

}  // namespace
}  // namespace loyalty
