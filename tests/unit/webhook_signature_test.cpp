// Standard Webhooks signatures and secrets (webhooks/signature.hpp), checked against the
// specification's published example (the reference library signs it the same), and where
// messages may go (webhooks/destination.hpp): the SSRF ranges.
#include <gtest/gtest.h>

#include <set>

#include "webhooks/destination.hpp"
#include "webhooks/signature.hpp"

namespace loyalty::webhooks {
namespace {

TEST(WebhookSignature, MatchesTheSpecificationsExample) {
  EXPECT_EQ(sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
                 1614265330, R"({"test": 2432232314})"),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  // Every part is signed: the id, the time and the body.
  EXPECT_NE(sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
                 1614265331, R"({"test": 2432232314})"),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST(WebhookSignature, NewSecretsAreValidAndDifferent) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string secret = new_secret();
    EXPECT_TRUE(valid_secret(secret)) << secret;
    EXPECT_EQ(secret.size(), 6u + 44u) << "whsec_ and 32 bytes in base64";
    seen.insert(secret);
  }
  EXPECT_EQ(seen.size(), 100u);
  for (const char* bad : {"", "whsec_", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_!!!!",
                          "whsec_QUJD"}) {  // 3 bytes: too short to be a key
    EXPECT_FALSE(valid_secret(bad)) << bad;
  }
}

TEST(WebhookDestination, ParsesHttpAndHttpsUrls) {
  auto d = std::get<Destination>(parse_destination("https://crm.example.com/hooks/loyalty?a=1"));
  EXPECT_TRUE(d.tls);
  EXPECT_EQ(d.host, "crm.example.com");
  EXPECT_EQ(d.port, "443");
  EXPECT_EQ(d.target, "/hooks/loyalty?a=1");
  d = std::get<Destination>(parse_destination("http://[2001:db8::1]:8080"));
  EXPECT_EQ(d.host, "2001:db8::1");
  EXPECT_EQ(d.port, "8080");
  EXPECT_EQ(d.target, "/");
  for (const char* bad : {"", "crm.example.com/x", "ftp://example.com/", "https://u:p@example.com/",
                          "https://example.com/#frag", "https:///path"}) {
    EXPECT_TRUE(std::holds_alternative<std::string>(parse_destination(bad))) << bad;
  }
}

TEST(WebhookDestination, PrivateRangesAreRefused) {
  for (const char* address :
       {"127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.0.1", "169.254.169.254", "100.64.0.1",
        "0.0.0.0", "::1", "fe80::1", "fd12::1", "::ffff:10.0.0.1", "224.0.0.1"}) {
    EXPECT_TRUE(is_private_address(boost::asio::ip::make_address(address))) << address;
  }
  for (const char* address : {"8.8.8.8", "172.32.0.1", "2001:4860:4860::8888", "::ffff:8.8.8.8"}) {
    EXPECT_FALSE(is_private_address(boost::asio::ip::make_address(address))) << address;
  }
  const auto refused = [](const char* url) {
    return refuse_private_host(std::get<Destination>(parse_destination(url)));
  };
  EXPECT_NE(refused("http://localhost:8080/"), "");
  EXPECT_NE(refused("http://LOCALHOST./"), "");
  EXPECT_NE(refused("http://db.internal/"), "");
  EXPECT_NE(refused("http://[::1]/"), "");
  EXPECT_EQ(refused("https://crm.example.com/"), "");
}

}  // namespace
}  // namespace loyalty::webhooks
