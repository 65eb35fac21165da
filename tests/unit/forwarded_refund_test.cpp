// A store-scoped key's refund inside a batch or on the WebSocket travels, in cluster mode, as
// the single request a till would send, and its answer comes back as the item's reply: both
// conversions must keep every field, or the owner would decide another refund than was sent.
#include "api/forwarded_refund.hpp"

#include <gtest/gtest.h>

#include "api/problem.hpp"
#include "api/request_parsing.hpp"
#include "engine/time.hpp"

namespace loyalty::api {
namespace {

RefundEvent parsed(const HttpRequest& request) {
  Parsed<RefundEvent> refund = parse_refund_request(request.body());
  EXPECT_TRUE(std::holds_alternative<RefundEvent>(refund));
  return std::holds_alternative<RefundEvent>(refund) ? std::get<RefundEvent>(refund)
                                                     : RefundEvent{};
}

TEST(ForwardedRefund, TheRequestParsesBackToTheSameRefund) {
  RefundEvent by_amount;
  by_amount.event_id = "r-1";
  by_amount.original_event_id = "p-1";
  by_amount.occurred_at = 1795200000123;  // milliseconds survive
  by_amount.amount_minor = 250;
  const HttpRequest request = refund_request(by_amount);
  EXPECT_EQ(request.method(), http::verb::post);
  EXPECT_EQ(request.target(), "/v1/events/refund");
  const RefundEvent back = parsed(request);
  EXPECT_EQ(back.event_id, "r-1");
  EXPECT_EQ(back.original_event_id, "p-1");
  EXPECT_EQ(back.occurred_at, by_amount.occurred_at);
  EXPECT_EQ(back.amount_minor, std::optional<AmountMinor>(250));

  RefundEvent by_lines = by_amount;
  by_lines.amount_minor.reset();
  by_lines.lines = {{"sku-a", 100}, {"sku-b", 40}};
  const RefundEvent lines_back = parsed(refund_request(by_lines));
  ASSERT_EQ(lines_back.lines.size(), 2u);
  EXPECT_EQ(lines_back.lines[1].sku, "sku-b");
  EXPECT_EQ(lines_back.lines[1].amount_minor, 40);
  EXPECT_FALSE(lines_back.amount_minor.has_value());
}

TEST(ForwardedRefund, AnAnswerBecomesTheReplyItWasRenderedFrom) {
  const Problem forbidden{http::status::forbidden, ErrorCode::forbidden,
                          "this key may not refund purchases made at that store",
                          "original_event_id"};
  const Reply refused = reply_of(problem_response(forbidden));
  ASSERT_TRUE(std::holds_alternative<Problem>(refused));
  const Problem& problem = std::get<Problem>(refused);
  EXPECT_EQ(problem.status, http::status::forbidden);
  EXPECT_EQ(problem.code, ErrorCode::forbidden);
  EXPECT_EQ(problem.detail, forbidden.detail);
  EXPECT_EQ(problem.field, "original_event_id");

  const Reply applied =
      reply_of(to_response(Success{http::status::ok, {{"member_id", "m-1"}, {"replayed", false}}}));
  ASSERT_TRUE(std::holds_alternative<Success>(applied));
  EXPECT_EQ(std::get<Success>(applied).body.at("member_id").as_string(), "m-1");

  HttpResponse garbled{http::status::ok, 11};
  garbled.body() = "not json";
  const Reply unreadable = reply_of(garbled);
  ASSERT_TRUE(std::holds_alternative<Problem>(unreadable));
  EXPECT_EQ(std::get<Problem>(unreadable).code, ErrorCode::unavailable);
}

}  // namespace
}  // namespace loyalty::api
