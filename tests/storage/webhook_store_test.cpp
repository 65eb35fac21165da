// Webhook endpoints and deliveries on a real RocksDB (storage/webhook_record.hpp): they round
// trip with every field, deliveries list in position order per endpoint, a deleted endpoint
// takes its deliveries along; and the log's horizon: a reader that follows the log never
// passes a commit that has reserved its place in the log but not landed yet.
#include <gtest/gtest.h>

#include <filesystem>
#include <atomic>
#include <future>
#include <thread>

#include "engine/runtime/runtime.hpp"
#include "storage/rocks_store.hpp"
#include "tests/support/scenario.hpp"

namespace loyalty {
namespace {

namespace fs = std::filesystem;

class WebhookStoreTest : public ::testing::Test {
 protected:
  WebhookStoreTest()
      : dir_(fs::temp_directory_path() /
             ("loyalty-webhook-store-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    fs::remove_all(dir_);
    const Status status =
        RocksStore::open({.path = dir_.string(), .durability = Durability::wal}, store_);
    EXPECT_TRUE(status.ok()) << status.message();
  }
  ~WebhookStoreTest() override {
    store_.reset();
    fs::remove_all(dir_);
  }

  fs::path dir_;
  std::unique_ptr<RocksStore> store_;
};

WebhookEndpoint full_endpoint(std::string id) {
  WebhookEndpoint e;
  e.id = std::move(id);
  e.url = "https://crm.example.com/hooks";
  e.event_types = {"member.created", "points.earned"};
  e.description = "CRM";
  e.disabled = true;
  e.disabled_reason = "the endpoint answered 410 Gone";
  e.secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  e.previous_secret = "whsec_AfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  e.previous_until = 1'800'000'000'000;
  e.created_at = 1'700'000'000'000;
  e.updated_at = 1'700'000'000'001;
  e.next = {42, 3};
  e.failing_since = 1'700'000'000'002;
  e.next_job_message = 9;
  e.replay_since = 1'700'000'000'003;
  e.replay_generation = 4;
  return e;
}

bool same(const WebhookEndpoint& a, const WebhookEndpoint& b) {
  return a.id == b.id && a.url == b.url && a.event_types == b.event_types &&
         a.description == b.description && a.disabled == b.disabled &&
         a.disabled_reason == b.disabled_reason && a.secret == b.secret &&
         a.previous_secret == b.previous_secret && a.previous_until == b.previous_until &&
         a.created_at == b.created_at && a.updated_at == b.updated_at && a.next == b.next &&
         a.failing_since == b.failing_since && a.next_job_message == b.next_job_message &&
         a.replay_since == b.replay_since && a.replay_generation == b.replay_generation;
}

TEST_F(WebhookStoreTest, EndpointsAndDeliveriesRoundTripAndGoTogether) {
  const WebhookEndpoint endpoint = full_endpoint("ep_1");
  ASSERT_TRUE(store_->save_webhook(endpoint).ok());
  ASSERT_TRUE(store_->save_webhook(full_endpoint("ep_2")).ok());
  std::optional<WebhookEndpoint> loaded;
  ASSERT_TRUE(store_->load_webhook("ep_1", loaded).ok());
  ASSERT_TRUE(loaded.has_value());
  EXPECT_TRUE(same(*loaded, endpoint));

  for (MessagePosition position : {MessagePosition{300, 0}, MessagePosition{7, 1},
                                   MessagePosition{7, 0}, MessagePosition{256, 2}}) {
    WebhookDelivery d;
    d.endpoint_id = "ep_1";
    d.position = position;
    d.message_id = "msg_" + std::to_string(position.log_seq) + "_" + std::to_string(position.index);
    d.type = "points.earned";
    d.member_id = "m-1";
    d.created_at = 5;
    d.state = DeliveryState::failed;
    d.attempts = {{10, 500, "", 12}, {20, 0, "timed out", 1000}};
    d.next_attempt_at = 30;
    ASSERT_TRUE(store_->save_delivery(endpoint, d).ok());
  }
  std::vector<MessagePosition> order;
  ASSERT_TRUE(store_
                  ->scan_deliveries("ep_1", {0, 0},
                                    [&](const WebhookDelivery& d) {
                                      order.push_back(d.position);
                                      EXPECT_EQ(d.attempts.size(), 2u);
                                      EXPECT_EQ(d.attempts[1].error, "timed out");
                                      EXPECT_EQ(d.attempts[0].status, 500u);
                                      EXPECT_EQ(d.state, DeliveryState::failed);
                                      return true;
                                    })
                  .ok());
  EXPECT_EQ(order, (std::vector<MessagePosition>{{7, 0}, {7, 1}, {256, 2}, {300, 0}}));

  ASSERT_TRUE(store_->delete_webhook("ep_1").ok());
  ASSERT_TRUE(store_->load_webhook("ep_1", loaded).ok());
  EXPECT_FALSE(loaded.has_value());
  size_t left = 0;
  ASSERT_TRUE(store_
                  ->scan_deliveries("ep_1", {0, 0},
                                    [&](const WebhookDelivery&) {
                                      ++left;
                                      return true;
                                    })
                  .ok());
  EXPECT_EQ(left, 0u);
  std::vector<std::string> ids;
  ASSERT_TRUE(store_
                  ->scan_webhooks([&](const WebhookEndpoint& e) {
                    ids.push_back(e.id);
                    return true;
                  })
                  .ok());
  EXPECT_EQ(ids, std::vector<std::string>{"ep_2"});
}

TEST_F(WebhookStoreTest, TheHorizonIsPastEveryCommittedEvent) {
  EXPECT_EQ(store_->log_horizon(), 1u) << "an empty log";
  ProgramRegistry programs(
      std::make_shared<ProgramVersion>(ProgramVersion{1, testing::basic_program(), ""}));
  {
    Runtime runtime({.partitions = 2}, *store_, programs, [] { return TimeMs{1'800'000'000'000}; });
    for (int i = 0; i < 20; ++i) {
      SignupEvent e;
      e.member_id = "h-" + std::to_string(i);
      std::promise<EventResult> done;
      runtime.submit(Event{e}, [&](EventResult&& r) { done.set_value(std::move(r)); });
      ASSERT_TRUE(done.get_future().get().rejection.ok());
    }
  }
  const uint64_t horizon = store_->log_horizon();
  EXPECT_EQ(horizon, 21u) << "20 events, none in flight";
  size_t seen = 0;
  ASSERT_TRUE(store_
                  ->scan_log(1, horizon,
                             [&](const StoredEvent& e, const storage::EventHistory&) {
                               EXPECT_LT(e.log_seq, horizon);
                               ++seen;
                               return true;
                             })
                  .ok());
  EXPECT_EQ(seen, 20u);
}

// The horizon holds while commits land: every record below it is readable, however the
// partitions' commits interleave (a commit's place is reserved before its write and settled
// after it; a reader following the log must never pass one still being written).
TEST_F(WebhookStoreTest, EveryRecordBelowTheHorizonIsReadableWhileCommitsLand) {
  ProgramRegistry programs(
      std::make_shared<ProgramVersion>(ProgramVersion{1, testing::basic_program(), ""}));
  constexpr int kEvents = 3000;
  std::atomic<bool> writing{true};
  std::atomic<int> passed_over{0};
  std::thread reader([&] {
    while (writing.load()) {
      const uint64_t horizon = store_->log_horizon();
      uint64_t records = 0;
      ASSERT_TRUE(store_
                      ->scan_log(1, horizon,
                                 [&](const StoredEvent&, const storage::EventHistory&) {
                                   ++records;
                                   return true;
                                 })
                      .ok());
      if (records != horizon - 1) passed_over.fetch_add(1);
    }
  });
  {
    Runtime runtime({.partitions = 4}, *store_, programs, [] { return TimeMs{1'800'000'000'000}; });
    std::atomic<int> answered{0};
    std::promise<void> all;
    for (int i = 0; i < kEvents; ++i) {
      SignupEvent e;
      e.member_id = "c-" + std::to_string(i);
      runtime.submit(Event{e}, [&](EventResult&& r) {
        EXPECT_TRUE(r.rejection.ok());
        if (answered.fetch_add(1) + 1 == kEvents) all.set_value();
      });
    }
    all.get_future().wait();
  }
  writing.store(false);
  reader.join();
  EXPECT_EQ(passed_over.load(), 0) << "a reader saw a horizon past a record not yet written";
  EXPECT_EQ(store_->log_horizon(), kEvents + 1u);
}

// Cluster mode's lane cursors (cluster/webhook_lanes.hpp): written alone or with a delivery of
// an endpoint kept elsewhere (etcd), per partition, and gone with the endpoint's deliveries.
TEST_F(WebhookStoreTest, LaneCursorsRoundTripWithTheirDeliveries) {
  std::optional<storage::LaneCursor> cursor;
  ASSERT_TRUE(store_->load_lane_cursor("ep_1", 3, cursor).ok());
  EXPECT_FALSE(cursor.has_value());
  ASSERT_TRUE(store_->save_lane_delivery(nullptr, "ep_1", 3, {17, {40, 2}}).ok());
  WebhookDelivery d;
  d.endpoint_id = "ep_1";
  d.position = {55, 0};
  d.message_id = "msg_55_0";
  d.state = DeliveryState::delivered;
  d.attempts = {{10, 200, "", 3}};
  ASSERT_TRUE(store_->save_lane_delivery(&d, "ep_1", 0xffffffff, {0, {55, 1}}).ok());
  ASSERT_TRUE(store_->load_lane_cursor("ep_1", 3, cursor).ok());
  ASSERT_TRUE(cursor.has_value());
  EXPECT_EQ(*cursor, (storage::LaneCursor{17, {40, 2}}));
  ASSERT_TRUE(store_->load_lane_cursor("ep_1", 0xffffffff, cursor).ok());
  EXPECT_EQ(*cursor, (storage::LaneCursor{0, {55, 1}}));
  std::optional<WebhookDelivery> loaded;
  ASSERT_TRUE(store_->load_delivery("ep_1", {55, 0}, loaded).ok());
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->state, DeliveryState::delivered);
  std::optional<WebhookEndpoint> endpoint;
  ASSERT_TRUE(store_->load_webhook("ep_1", endpoint).ok());
  EXPECT_FALSE(endpoint.has_value()) << "the endpoint itself is not written here";
  ASSERT_TRUE(store_->delete_webhook("ep_1").ok());
  ASSERT_TRUE(store_->load_lane_cursor("ep_1", 3, cursor).ok());
  EXPECT_FALSE(cursor.has_value());
  ASSERT_TRUE(store_->load_delivery("ep_1", {55, 0}, loaded).ok());
  EXPECT_FALSE(loaded.has_value());
}

// job.succeeded / job.failed exist exactly when a job ended: written with the record that ends
// it, once, numbered in order across restarts; a record copied in finished (migrate) is none.
TEST_F(WebhookStoreTest, AJobMessageIsWrittenWhenAJobEnds) {
  JobRecord before;  // a key of "meta" just below the job messages' ("job/…")
  before.id = "evaluate:0";
  ASSERT_TRUE(store_->save_job(before).ok());
  store_.reset();
  ASSERT_TRUE(RocksStore::open({.path = dir_.string(), .durability = Durability::wal}, store_).ok())
      << "a folder with job records and no job message opens";
  JobRecord job;
  job.id = "expire:1";
  job.state = JobState::queued;
  ASSERT_TRUE(store_->save_job(job).ok());
  EXPECT_EQ(store_->job_messages_end(), 1u);
  job.state = JobState::running;
  ASSERT_TRUE(store_->save_job(job).ok());
  job.state = JobState::succeeded;
  job.finished_at = 77;
  ASSERT_TRUE(store_->save_job(job).ok());
  ASSERT_TRUE(store_->save_job(job).ok());  // saved again: no second message
  JobRecord copied = job;
  copied.id = "expire:0";
  ASSERT_TRUE(store_->save_job(copied).ok());  // never seen unfinished
  std::vector<std::pair<uint64_t, std::string>> seen;
  const auto read = [&] {
    seen.clear();
    return store_->scan_job_messages(1, [&](uint64_t number, const JobRecord& ended) {
      seen.emplace_back(number, ended.id);
      EXPECT_EQ(ended.state, JobState::succeeded);
      EXPECT_EQ(ended.finished_at, 77);
      return true;
    });
  };
  ASSERT_TRUE(read().ok());
  EXPECT_EQ(seen, (std::vector<std::pair<uint64_t, std::string>>{{1, "expire:1"}}));
  store_.reset();
  ASSERT_TRUE(
      RocksStore::open({.path = dir_.string(), .durability = Durability::wal}, store_).ok());
  EXPECT_EQ(store_->job_messages_end(), 2u) << "numbering goes on after a restart";
  job.id = "expire:2";
  job.state = JobState::queued;
  ASSERT_TRUE(store_->save_job(job).ok());
  job.state = JobState::succeeded;
  ASSERT_TRUE(store_->save_job(job).ok());
  ASSERT_TRUE(read().ok());
  EXPECT_EQ(seen,
            (std::vector<std::pair<uint64_t, std::string>>{{1, "expire:1"}, {2, "expire:2"}}));
  std::vector<std::string> jobs;
  ASSERT_TRUE(store_
                  ->scan_jobs([&](const JobRecord& j) {
                    jobs.push_back(j.id);
                    return true;
                  })
                  .ok());
  EXPECT_EQ(jobs, (std::vector<std::string>{"evaluate:0", "expire:0", "expire:1", "expire:2"}))
      << "job messages are not job records";
}

}  // namespace
}  // namespace loyalty
