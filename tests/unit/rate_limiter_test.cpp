// Token buckets on an injected clock: burst, refill, Retry-After rounding, the per-member
// buckets staying bounded; the [rate_limits] keys of server.toml; and the JSON log line shape.
#include "api/rate_limiter.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <thread>
#include <vector>

#include "api/logger.hpp"
#include "api/server_config.hpp"

namespace loyalty::api {
namespace {

constexpr int64_t kSecondUs = 1'000'000;

TEST(TokenBucket, BurstThenRefillAtTheRate) {
  TokenBucket bucket(/*rate_per_s=*/2, /*burst=*/3, /*now_us=*/0);
  EXPECT_EQ(bucket.try_take(0), 0);
  EXPECT_EQ(bucket.try_take(0), 0);
  EXPECT_EQ(bucket.try_take(0), 0);
  EXPECT_EQ(bucket.try_take(0), kSecondUs / 2);  // one token every 0.5 s
  EXPECT_EQ(bucket.try_take(kSecondUs / 4), kSecondUs / 4);
  EXPECT_EQ(bucket.try_take(kSecondUs / 2), 0);
  EXPECT_FALSE(bucket.full_at(kSecondUs / 2));
  // Never more than the burst, however long it was idle.
  EXPECT_TRUE(bucket.full_at(100 * kSecondUs));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(bucket.try_take(100 * kSecondUs), 0);
  EXPECT_GT(bucket.try_take(100 * kSecondUs), 0);
}

TEST(TokenBucket, AClockGoingBackwardsAddsNothing) {
  TokenBucket bucket(1, 1, 10 * kSecondUs);
  EXPECT_EQ(bucket.try_take(10 * kSecondUs), 0);
  EXPECT_GT(bucket.try_take(5 * kSecondUs), 0);
  EXPECT_GT(bucket.try_take(10 * kSecondUs), 0);
  EXPECT_EQ(bucket.try_take(11 * kSecondUs), 0);
}

struct FakeClock {
  std::shared_ptr<std::atomic<int64_t>> now_us = std::make_shared<std::atomic<int64_t>>(0);
  RateLimiter::MonotonicClock clock() const {
    return [now = now_us] { return now->load(); };
  }
  void advance_us(int64_t us) const { now_us->fetch_add(us); }
};

TEST(RateLimiter, PerKeyBurstThenRetryAfterRoundedUp) {
  FakeClock clock;
  RateLimitsConfig config;
  config.per_key_rps = 1;
  config.per_key_burst = 2;
  RateLimiter limiter(config, clock.clock());
  EXPECT_TRUE(limiter.take_for_key("pos-1").allowed);
  EXPECT_TRUE(limiter.take_for_key("pos-1").allowed);
  const RateDecision refused = limiter.take_for_key("pos-1");
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after_s, 1);
  EXPECT_TRUE(limiter.take_for_key("pos-2").allowed);  // its own bucket
  clock.advance_us(kSecondUs / 10);
  EXPECT_EQ(limiter.take_for_key("pos-1").retry_after_s, 1);  // 0.9 s rounds up to 1
  clock.advance_us(kSecondUs * 9 / 10);
  EXPECT_TRUE(limiter.take_for_key("pos-1").allowed);
}

TEST(RateLimiter, RetryAfterCountsWholeSeconds) {
  FakeClock clock;
  RateLimitsConfig config;
  config.per_member_token_rps = 0;  // off
  config.per_key_rps = 1;
  config.per_key_burst = 1;
  RateLimiter limiter(config, clock.clock());
  EXPECT_TRUE(limiter.take_for_key("k").allowed);
  EXPECT_EQ(limiter.take_for_key("k").retry_after_s, 1);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(limiter.take_for_member("m-1").allowed);
  EXPECT_EQ(limiter.member_bucket_count(), 0u);  // an unlimited kind keeps no buckets

  RateLimitsConfig slow;
  slow.per_member_token_rps = 1;
  slow.per_member_token_burst = 1;
  RateLimiter slow_limiter(slow, clock.clock());
  EXPECT_TRUE(slow_limiter.take_for_member("m-1").allowed);
  EXPECT_EQ(slow_limiter.take_for_member("m-1").retry_after_s, 1);
}

TEST(RateLimiter, ZeroMeansUnlimitedAndBurstZeroMeansOneSecond) {
  FakeClock clock;
  RateLimitsConfig config;
  config.per_key_rps = 0;
  config.per_member_token_rps = 3;
  config.per_member_token_burst = 0;
  RateLimiter limiter(config, clock.clock());
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(limiter.take_for_key("admin").allowed);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.take_for_member("m-1").allowed);
  EXPECT_FALSE(limiter.take_for_member("m-1").allowed);
}

TEST(RateLimiter, PrincipalsDrawFromTheirOwnBucket) {
  FakeClock clock;
  RateLimitsConfig config;
  config.per_key_rps = 1;
  config.per_key_burst = 1;
  config.per_member_token_rps = 1;
  config.per_member_token_burst = 1;
  RateLimiter limiter(config, clock.clock());
  Principal member;
  member.name = "member-token";
  member.member_scope = "m-1";
  Principal key{"app-1", Role::app, {}, false, std::nullopt};
  EXPECT_TRUE(limiter.take_for(member).allowed);
  EXPECT_FALSE(limiter.take_for(member).allowed);
  EXPECT_TRUE(limiter.take_for(key).allowed);  // not the member's bucket, not "member-token"
  member.member_scope = "m-2";
  EXPECT_TRUE(limiter.take_for(member).allowed);
}

TEST(RateLimiter, MemberBucketsStayBounded) {
  FakeClock clock;
  RateLimitsConfig config;
  config.per_member_token_rps = 10;
  config.per_member_token_burst = 10;
  config.member_buckets_max = 160;  // 10 per shard
  RateLimiter limiter(config, clock.clock());
  for (int i = 0; i < 5000; ++i) {
    ASSERT_TRUE(limiter.take_for_member("m-" + std::to_string(i)).allowed);
    clock.advance_us(1);
  }
  EXPECT_LE(limiter.member_bucket_count(), 160u);
  // Idle buckets are full again after a second: new members find room without evicting
  // anyone active.
  clock.advance_us(kSecondUs);
  for (int i = 0; i < 5000; ++i)
    ASSERT_TRUE(limiter.take_for_member("n-" + std::to_string(i)).allowed);
  EXPECT_LE(limiter.member_bucket_count(), 160u);
}

TEST(RateLimiter, ConcurrentTakesNeverExceedTheBurst) {
  FakeClock clock;  // stands still: only the burst is available
  RateLimitsConfig config;
  config.per_key_rps = 1;
  config.per_key_burst = 500;
  RateLimiter limiter(config, clock.clock());
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (limiter.take_for_key("shared").allowed) allowed.fetch_add(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(allowed.load(), 500);
}

TEST(RateLimitsConfig, ParsesAndRefuses) {
  auto parsed = parse_server_config(
      "[rate_limits]\nper_key_rps = 5\nper_key_burst = 0\nper_member_token_rps = 0\n"
      "member_buckets_max = 64\n",
      "server.toml");
  ASSERT_TRUE(std::holds_alternative<ServerConfig>(parsed));
  const RateLimitsConfig& limits = std::get<ServerConfig>(parsed).rate_limits;
  EXPECT_EQ(limits.per_key_rps, 5u);
  EXPECT_EQ(limits.per_key_burst, 0u);
  EXPECT_EQ(limits.per_member_token_rps, 0u);
  EXPECT_EQ(limits.per_member_token_burst, 40u);  // the default
  EXPECT_EQ(limits.member_buckets_max, 64u);

  auto unknown = parse_server_config("[rate_limits]\nper_key_rpm = 5\n", "server.toml");
  ASSERT_TRUE(std::holds_alternative<ConfigError>(unknown));
  EXPECT_EQ(std::get<ConfigError>(unknown).key, "rate_limits.per_key_rpm");
  auto negative = parse_server_config("[rate_limits]\nper_key_rps = -1\n", "server.toml");
  ASSERT_TRUE(std::holds_alternative<ConfigError>(negative));
  EXPECT_EQ(std::get<ConfigError>(negative).key, "rate_limits.per_key_rps");
}

TEST(RateLimitedResponse, Is429WithRetryAfter) {
  const HttpResponse response = rate_limited_response(7);
  EXPECT_EQ(response.result(), http::status::too_many_requests);
  EXPECT_EQ(response[http::field::retry_after], "7");
  EXPECT_NE(response.body().find("\"rate_limited\""), std::string::npos);
}

TEST(Logger, OneJsonObjectPerLine) {
  const std::string line = format_log_line(LogLevel::warn, "say \"hi\"\nthere",
                                           {{"request_id", "r-1"}, {"status", 429}});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const boost::json::value value = boost::json::parse(line);
  const boost::json::object& object = value.as_object();
  EXPECT_EQ(object.at("level"), "warn");
  EXPECT_EQ(object.at("msg"), "say \"hi\"\nthere");
  EXPECT_EQ(object.at("request_id"), "r-1");
  EXPECT_EQ(object.at("status"), 429);
  const std::string time(object.at("time").as_string());
  ASSERT_EQ(time.size(), 24u) << time;  // 2026-11-23T09:06:13.120Z
  EXPECT_EQ(time[10], 'T');
  EXPECT_EQ(time[19], '.');
  EXPECT_EQ(time.back(), 'Z');
}

TEST(Logger, RequestLineCarriesTheRequestAndNoCredential) {
  ::testing::internal::CaptureStderr();
  log_request({"req-7", "GET", "/v1/members/{member_id}", 403, 1.23456, "member-token", "m-1"});
  const std::string output = ::testing::internal::GetCapturedStderr();
  ASSERT_FALSE(output.empty());
  EXPECT_EQ(output.back(), '\n');
  EXPECT_EQ(output.find('\n'), output.size() - 1);
  const boost::json::object object = boost::json::parse(output).as_object();
  EXPECT_EQ(object.at("msg"), "request");
  EXPECT_EQ(object.at("request_id"), "req-7");
  EXPECT_EQ(object.at("route"), "/v1/members/{member_id}");
  EXPECT_EQ(object.at("status"), 403);
  EXPECT_EQ(object.at("principal"), "member-token");
  EXPECT_EQ(object.at("member_id"), "m-1");
  EXPECT_NE(output.find("\"duration_ms\":1.235"), std::string::npos) << output;
}

TEST(Logger, LinesWrittenInARequestScopeCarryItsId) {
  const auto logged = [](auto&& write) {
    ::testing::internal::CaptureStderr();
    write();
    return boost::json::parse(::testing::internal::GetCapturedStderr()).as_object();
  };
  EXPECT_FALSE(logged([] { log_event(LogLevel::error, "outside"); }).contains("request_id"));
  {
    const RequestLogScope outer("req-outer");
    EXPECT_EQ(current_request_id(), "req-outer");
    EXPECT_EQ(logged([] { log_event(LogLevel::error, "storage error"); }).at("request_id"),
              "req-outer");
    {
      const RequestLogScope inner("req-inner");
      EXPECT_EQ(logged([] { log_event(LogLevel::warn, "x"); }).at("request_id"), "req-inner");
    }
    EXPECT_EQ(current_request_id(), "req-outer");
    // A caller that names the id itself keeps its own.
    EXPECT_EQ(logged([] {
                log_event(LogLevel::info, "x", {{"request_id", "given"}});
              }).at("request_id"),
              "given");
    // Another thread is not in this request.
    std::string other = "unset";
    std::thread([&] { other = std::string(current_request_id()); }).join();
    EXPECT_EQ(other, "");
  }
  EXPECT_EQ(current_request_id(), "");
}

}  // namespace
}  // namespace loyalty::api
