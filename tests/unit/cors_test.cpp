// CORS (api.md "Browsers and mini-program web views"): [http] cors_origins is read with the
// key of a bad entry named; a preflight from an allowed origin is answered with what the page
// may send, any other origin's with 403; a response lets only an allowed origin's page read it.
// The wire, with the headers browsers send, is exercised in tests/e2e/test_cors.py.
#include "api/cors.hpp"

#include <gtest/gtest.h>

#include "api/server_config.hpp"
#include "tests/support/config_error.hpp"

namespace loyalty::api {
namespace {

using testing::config_error;

TEST(CorsConfig, NoOriginByDefaultAndTheListedOnes) {
  auto parsed = parse_server_config("listen = \"127.0.0.1:0\"\n", "server.toml");
  ASSERT_TRUE(std::holds_alternative<ServerConfig>(parsed));
  EXPECT_TRUE(std::get<ServerConfig>(parsed).http.cors_origins.empty());
  EXPECT_TRUE(std::get<ServerConfig>(parsed).http.console);
  parsed = parse_server_config(
      "[http]\ncors_origins = [\"https://shop.example.com\", \"http://localhost:5173\"]\n"
      "console = false\n",
      "server.toml");
  ASSERT_TRUE(std::holds_alternative<ServerConfig>(parsed));
  EXPECT_EQ(std::get<ServerConfig>(parsed).http.cors_origins,
            (std::vector<std::string>{"https://shop.example.com", "http://localhost:5173"}));
  EXPECT_FALSE(std::get<ServerConfig>(parsed).http.console);
}

TEST(CorsConfig, RefusesWhatNoBrowserSendsByName) {
  for (const char* bad : {"\"*\"", "\"shop.example.com\"", "\"https://shop.example.com/\"",
                          "\"https://Shop.example.com\"", "\"ftp://shop.example.com\"",
                          "\"https://shop.example.com:99999\"", "\"https://\"", "3"}) {
    const ConfigError error =
        config_error(std::string("[http]\ncors_origins = [\"https://ok.example\", ") + bad + "]\n");
    EXPECT_EQ(error.key, "http.cors_origins[1]") << bad;
  }
  EXPECT_EQ(config_error("[http]\ncors_origins = \"https://a.example\"\n").key,
            "http.cors_origins");
  EXPECT_EQ(config_error("[http]\nconsole = \"yes\"\n").key, "http.console");
  EXPECT_EQ(config_error("[http]\ncors = []\n").key, "http.cors");
}

HttpRequest preflight_from(std::string_view origin) {
  HttpRequest request{http::verb::options, "/v1/members/m1", 11};
  request.set(http::field::origin, origin);
  request.set(http::field::access_control_request_method, "GET");
  request.set(http::field::access_control_request_headers, "authorization");
  return request;
}

TEST(CorsPolicy, AnswersAnAllowedOriginsPreflightAndRefusesAnyOther) {
  const CorsPolicy policy({"https://shop.example.com"});
  std::optional<HttpResponse> answer = policy.preflight(preflight_from("https://shop.example.com"));
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->result(), http::status::no_content);
  EXPECT_EQ((*answer)[http::field::access_control_allow_origin], "https://shop.example.com");
  EXPECT_NE((*answer)[http::field::access_control_allow_headers].find("Authorization"),
            std::string::npos);
  EXPECT_NE((*answer)[http::field::access_control_allow_methods].find("PATCH"), std::string::npos);
  EXPECT_EQ(answer->count(http::field::access_control_allow_credentials), 0u) << "no cookies";

  answer = policy.preflight(preflight_from("https://evil.example.com"));
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->result(), http::status::forbidden);
  EXPECT_EQ(answer->count(http::field::access_control_allow_origin), 0u);

  HttpRequest plain_options{http::verb::options, "/v1/members/m1", 11};
  plain_options.set(http::field::origin, "https://shop.example.com");
  EXPECT_FALSE(policy.preflight(plain_options).has_value()) << "not a preflight: routed";
  EXPECT_FALSE(policy.preflight(HttpRequest{http::verb::get, "/v1/rewards", 11}).has_value());
}

TEST(CorsPolicy, LetsOnlyAnAllowedOriginsPageReadAResponse) {
  const CorsPolicy policy({"https://shop.example.com"});
  HttpResponse allowed{http::status::ok, 11};
  policy.allow_reading("https://shop.example.com", allowed);
  EXPECT_EQ(allowed[http::field::access_control_allow_origin], "https://shop.example.com");
  EXPECT_NE(allowed[http::field::access_control_expose_headers].find("X-Request-Id"),
            std::string::npos);
  EXPECT_EQ(allowed[http::field::vary], "Origin");
  for (std::string_view origin : {"https://evil.example.com", ""}) {
    HttpResponse other{http::status::ok, 11};
    policy.allow_reading(origin, other);
    EXPECT_EQ(other.count(http::field::access_control_allow_origin), 0u) << origin;
  }
  HttpResponse none_configured{http::status::ok, 11};
  CorsPolicy({}).allow_reading("https://shop.example.com", none_configured);
  EXPECT_EQ(none_configured.count(http::field::access_control_allow_origin), 0u);
  EXPECT_EQ(none_configured.count(http::field::vary), 0u);
}

}  // namespace
}  // namespace loyalty::api
