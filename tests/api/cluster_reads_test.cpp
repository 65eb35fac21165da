// A forwarded read crosses between nodes whole (api/cluster_reads.hpp): the request with the
// caller the first node authenticated, and the owner's response with its status, headers and
// body; what is not such a message is refused, never half read.
#include "api/cluster_reads.hpp"

#include <gtest/gtest.h>

namespace loyalty::api {
namespace {

TEST(ClusterReadsTest, ARequestAndItsCallerCrossWhole) {
  HttpRequest request{http::verb::get, "/v1/members/m%2F1/ledger?limit=5", 11};
  request.set(http::field::authorization, "Bearer secret");
  Principal caller;
  caller.name = "till-7";
  caller.role = Role::pos;
  caller.stores = {"s-1", "s-2"};
  HttpRequest decoded;
  std::optional<Principal> who;
  ASSERT_TRUE(decode_forwarded_read(encode_forwarded_read(request, caller), decoded, who));
  EXPECT_EQ(decoded.method(), http::verb::get);
  EXPECT_EQ(decoded.target(), "/v1/members/m%2F1/ledger?limit=5");
  EXPECT_EQ(decoded[http::field::authorization], "Bearer secret");
  ASSERT_TRUE(who.has_value());
  EXPECT_EQ(who->name, "till-7");
  EXPECT_EQ(who->role, Role::pos);
  EXPECT_EQ(who->stores, caller.stores);
  EXPECT_FALSE(who->member_scope.has_value());

  Principal member;
  member.name = std::string(kMemberTokenName);
  member.member_scope = "m/1";
  ASSERT_TRUE(decode_forwarded_read(encode_forwarded_read(request, member), decoded, who));
  EXPECT_EQ(who->member_scope, std::optional<std::string>("m/1")) << "a token reads only its own";
  ASSERT_TRUE(decode_forwarded_read(encode_forwarded_read(request, std::nullopt), decoded, who));
  EXPECT_FALSE(who.has_value());

  for (const std::string bad : {"", "{}", "[1]", R"({"request": "GET"})",
                                R"({"request": "GET / HTTP/1.1\r\n\r\n", "principal": {}})"}) {
    EXPECT_FALSE(decode_forwarded_read(bad, decoded, who)) << bad;
  }
}

TEST(ClusterReadsTest, TheOwnersResponseComesBackWhole) {
  HttpResponse response{http::status::service_unavailable, 11};
  response.set(http::field::content_type, "application/problem+json");
  response.set(http::field::retry_after, "1");
  response.body() = R"({"code":"unavailable"})";
  const std::optional<HttpResponse> decoded =
      decode_forwarded_response(encode_forwarded_response(response));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->result(), http::status::service_unavailable);
  EXPECT_EQ((*decoded)[http::field::retry_after], "1");
  EXPECT_EQ((*decoded)[http::field::content_type], "application/problem+json");
  EXPECT_EQ(decoded->body(), response.body());
  const std::string whole = encode_forwarded_response(response);
  EXPECT_FALSE(decode_forwarded_response(whole.substr(0, whole.size() - 2)).has_value());
  EXPECT_FALSE(decode_forwarded_response("").has_value());
}

}  // namespace
}  // namespace loyalty::api
