// The WebSocket frames of GET /v1/stream as values (api/ws_protocol.hpp) and the notification
// hub's fan-out (api/notification_hub.hpp), without sockets.
#include "api/ws_protocol.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <memory>
#include <string>
#include <vector>

#include "api/notification_hub.hpp"
#include "api/server_config.hpp"

namespace loyalty::api {
namespace {

namespace json = boost::json;

TEST(WsProtocolTest, SubscribeWithAndWithoutAfterSeq) {
  ws::ClientMessage live = ws::parse_text_frame(R"({"op":"subscribe","member_id":"m-1"})");
  ASSERT_TRUE(std::holds_alternative<ws::SubscribeOp>(live));
  EXPECT_EQ(std::get<ws::SubscribeOp>(live).member_id, "m-1");
  EXPECT_FALSE(std::get<ws::SubscribeOp>(live).after_seq.has_value());

  ws::ClientMessage catch_up =
      ws::parse_text_frame(R"({"op":"subscribe","member_id":"m-1","after_seq":17})");
  ASSERT_TRUE(std::holds_alternative<ws::SubscribeOp>(catch_up));
  EXPECT_EQ(std::get<ws::SubscribeOp>(catch_up).after_seq, 17u);
}

TEST(WsProtocolTest, BadFramesNameWhatIsWrong) {
  const auto problem_of = [](std::string_view text) {
    ws::ClientMessage message = ws::parse_text_frame(text);
    EXPECT_TRUE(std::holds_alternative<ws::BadFrame>(message)) << text;
    return std::holds_alternative<ws::BadFrame>(message) ? std::get<ws::BadFrame>(message).problem
                                                         : Problem{};
  };
  EXPECT_EQ(problem_of("{not json").code, ErrorCode::invalid_request);
  EXPECT_EQ(problem_of(R"({"op":"dance"})").field, "op");
  EXPECT_EQ(problem_of(R"({"member_id":"m-1"})").field, "op");
  EXPECT_EQ(problem_of(R"({"op":"subscribe"})").field, "member_id");
  EXPECT_EQ(problem_of(R"({"op":"subscribe","member_id":"m 1"})").field, "member_id");
  EXPECT_EQ(problem_of(R"({"op":"subscribe","member_id":"m-1","after_seq":-1})").field,
            "after_seq");
  EXPECT_EQ(problem_of(R"({"op":"subscribe","member_id":"m-1","colour":"red"})").field, "colour");
}

TEST(WsProtocolTest, EventsAreReadLikeTheRestBodies) {
  ws::ClientMessage good = ws::parse_text_frame(
      R"({"op":"event","event":{"type":"purchase","event_id":"e-1","member_id":"m-1",)"
      R"("store_id":"s-1","occurred_at":"2026-11-20T10:15:00Z","currency":"CNY",)"
      R"("lines":[{"sku":"a","category":"c","quantity":1,"amount_minor":100}]}})");
  ASSERT_TRUE(std::holds_alternative<ws::EventOp>(good));
  const BatchItem& item = std::get<ws::EventOp>(good).item;
  EXPECT_EQ(item.event_id, "e-1");
  ASSERT_TRUE(std::holds_alternative<PurchaseEvent>(item.parsed));
  EXPECT_EQ(std::get<PurchaseEvent>(item.parsed).lines.size(), 1u);

  // A bad event is still an event: it gets a result in its place.
  ws::ClientMessage bad = ws::parse_text_frame(
      R"({"op":"event","event":{"type":"purchase","event_id":"e-2","member_id":"m-1"}})");
  ASSERT_TRUE(std::holds_alternative<ws::EventOp>(bad));
  EXPECT_EQ(std::get<ws::EventOp>(bad).item.event_id, "e-2");
  EXPECT_TRUE(std::holds_alternative<ParseError>(std::get<ws::EventOp>(bad).item.parsed));
}

TEST(WsProtocolTest, GarbageBinaryFramesAreRefusedNotRead) {
  for (const std::string& bytes : {std::string(), std::string("\x01\x02\x03", 3),
                                   std::string(64, '\xff'), std::string("{\"op\":\"event\"}")}) {
    const BatchItem item = ws::parse_binary_frame(bytes);
    EXPECT_FALSE(item.event_id.has_value());
    ASSERT_TRUE(std::holds_alternative<ParseError>(item.parsed));
  }
}

TEST(WsProtocolTest, PushAndResultFrames) {
  const json::value push =
      json::parse(ws::push_text("m-1", Notification{7, "points.earned", 128, "e-1", 0}));
  EXPECT_EQ(push.at("type"), "points.earned");
  EXPECT_EQ(push.at("member_id"), "m-1");
  EXPECT_EQ(push.at("seq").to_number<uint64_t>(), 7u);
  EXPECT_EQ(push.at("points").to_number<int64_t>(), 128);
  EXPECT_EQ(push.at("reference"), "e-1");
  EXPECT_EQ(push.at("at"), "1970-01-01T00:00:00Z");

  const std::string event_id = "e-1";
  const json::value refused = json::parse(ws::result_text(
      &event_id, make_problem(ErrorCode::forbidden, "not for this store", "store_id")));
  EXPECT_EQ(refused.at("op"), "result");
  EXPECT_EQ(refused.at("event_id"), "e-1");
  EXPECT_EQ(refused.at("status").to_number<int>(), 403);
  EXPECT_EQ(refused.at("code"), "forbidden");
  EXPECT_FALSE(refused.as_object().contains("index"));

  const json::value error = json::parse(
      ws::error_text(make_problem(ErrorCode::not_found, "no member with this id"), "m-9"));
  EXPECT_EQ(error.at("op"), "error");
  EXPECT_EQ(error.at("member_id"), "m-9");
  EXPECT_EQ(error.at("status").to_number<int>(), 404);
}

TEST(WsLimitsConfig, BacklogAndFeedRetentionParseWithDefaults) {
  auto defaults = parse_server_config("", "server.toml");
  ASSERT_TRUE(std::holds_alternative<ServerConfig>(defaults));
  EXPECT_EQ(std::get<ServerConfig>(defaults).limits.ws_backlog_max, 1024u);
  EXPECT_EQ(std::get<ServerConfig>(defaults).limits.feed_retention_per_member, 1000u);

  auto set = parse_server_config("[limits]\nws_backlog_max = 5\nfeed_retention_per_member = 0\n",
                                 "server.toml");
  ASSERT_TRUE(std::holds_alternative<ServerConfig>(set));
  EXPECT_EQ(std::get<ServerConfig>(set).limits.ws_backlog_max, 5u);
  EXPECT_EQ(std::get<ServerConfig>(set).limits.feed_retention_per_member, 0u);

  EXPECT_EQ(std::get<ServerConfig>(defaults).limits.member_cache_bytes, size_t{512} << 20);
  auto cache = parse_server_config("[limits]\nmember_cache_mib = 64\n", "server.toml");
  ASSERT_TRUE(std::holds_alternative<ServerConfig>(cache));
  EXPECT_EQ(std::get<ServerConfig>(cache).limits.member_cache_bytes, size_t{64} << 20);
  auto negative = parse_server_config("[limits]\nmember_cache_mib = -1\n", "server.toml");
  ASSERT_TRUE(std::holds_alternative<ConfigError>(negative));
  EXPECT_EQ(std::get<ConfigError>(negative).key, "limits.member_cache_mib");

  auto zero = parse_server_config("[limits]\nws_backlog_max = 0\n", "server.toml");
  ASSERT_TRUE(std::holds_alternative<ConfigError>(zero));
  EXPECT_EQ(std::get<ConfigError>(zero).key, "limits.ws_backlog_max");
}

class RecordingSubscriber : public NotificationSubscriber {
 public:
  void deliver(const std::string& member_id, const Notification& notification) override {
    received.emplace_back(member_id, notification.seq);
  }
  std::vector<std::pair<std::string, uint64_t>> received;
};

TEST(NotificationHubTest, PublishesToSubscribersOfTheMemberOnly) {
  NotificationHub hub;
  auto first = std::make_shared<RecordingSubscriber>();
  auto second = std::make_shared<RecordingSubscriber>();
  hub.subscribe("m-1", first);
  hub.subscribe("m-1", first);  // again: still one delivery
  hub.subscribe("m-2", second);
  hub.publish("m-1", Notification{1, "points.earned", 10, "e-1", 0});
  hub.publish("m-2", Notification{4, "points.earned", 10, "e-2", 0});
  hub.publish("m-3", Notification{1, "points.earned", 10, "e-3", 0});
  using Received = std::vector<std::pair<std::string, uint64_t>>;
  EXPECT_EQ(first->received, (Received{{"m-1", 1}}));
  EXPECT_EQ(second->received, (Received{{"m-2", 4}}));

  hub.unsubscribe("m-1", first.get());
  hub.publish("m-1", Notification{2, "points.earned", 10, "e-4", 0});
  EXPECT_EQ(first->received.size(), 1u);
  EXPECT_EQ(hub.member_count(), 1u);

  // A session that is gone is skipped, not kept alive.
  second.reset();
  hub.publish("m-2", Notification{5, "points.earned", 10, "e-5", 0});
}

}  // namespace
}  // namespace loyalty::api
