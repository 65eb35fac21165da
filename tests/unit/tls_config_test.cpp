// [tls] in server.toml: both keys required, unknown keys refused by name; and the TLS context
// refusing files it cannot use with the key and the file named (loyaltyd exits 2 with it).
// Working certificates are exercised end to end (tests/e2e/test_tls.py).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "api/server_config.hpp"
#include "api/tls.hpp"
#include "tests/support/config_error.hpp"

namespace loyalty::api {
namespace {

using testing::config_error;

TEST(TlsConfig, AbsentMeansPlainHttp) {
  auto parsed = parse_server_config("listen = \"127.0.0.1:0\"\n", "server.toml");
  ASSERT_TRUE(std::holds_alternative<ServerConfig>(parsed));
  EXPECT_FALSE(std::get<ServerConfig>(parsed).tls.has_value());
}

TEST(TlsConfig, ReadsBothFiles) {
  auto parsed =
      parse_server_config("[tls]\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"\n", "server.toml");
  ASSERT_TRUE(std::holds_alternative<ServerConfig>(parsed));
  const std::optional<TlsConfig>& tls = std::get<ServerConfig>(parsed).tls;
  ASSERT_TRUE(tls.has_value());
  EXPECT_EQ(tls->cert_file, "c.pem");
  EXPECT_EQ(tls->key_file, "k.pem");
}

TEST(TlsConfig, RefusesMissingEmptyWrongAndUnknownKeys) {
  EXPECT_EQ(config_error("[tls]\nkey_file = \"k.pem\"\n").key, "tls.cert_file");
  EXPECT_EQ(config_error("[tls]\ncert_file = \"c.pem\"\n").key, "tls.key_file");
  EXPECT_EQ(config_error("[tls]\ncert_file = \"\"\nkey_file = \"k.pem\"\n").key, "tls.cert_file");
  EXPECT_EQ(config_error("[tls]\ncert_file = \"c.pem\"\nkey_file = 3\n").key, "tls.key_file");
  EXPECT_EQ(config_error("tls = \"on\"\n").key, "tls");
  const ConfigError unknown =
      config_error("[tls]\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"\nmin_version = \"1.0\"\n");
  EXPECT_EQ(unknown.key, "tls.min_version");
  EXPECT_EQ(unknown.message, "unknown key");
}

class TlsContextFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ =
        std::filesystem::temp_directory_path() /
        ("loyalty-tls-unit-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
         "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(folder_);
  }
  void TearDown() override { std::filesystem::remove_all(folder_); }

  std::string write(const std::string& name, const std::string& text) {
    const std::filesystem::path path = folder_ / name;
    std::ofstream(path) << text;
    return path.string();
  }

  static ConfigError error_of(const TlsConfig& config) {
    auto made = make_tls_context(config);
    EXPECT_TRUE(std::holds_alternative<ConfigError>(made));
    return std::holds_alternative<ConfigError>(made) ? std::get<ConfigError>(made) : ConfigError{};
  }

  std::filesystem::path folder_;
};

TEST_F(TlsContextFiles, MissingFilesNameTheKeyAndTheFile) {
  const std::string cert = (folder_ / "absent-cert.pem").string();
  const std::string key = (folder_ / "absent-key.pem").string();
  const ConfigError no_cert = error_of({cert, key});
  EXPECT_EQ(no_cert.key, "tls.cert_file");
  EXPECT_NE(no_cert.message.find(cert), std::string::npos) << no_cert.message;
  EXPECT_NE(no_cert.message.find("cannot read"), std::string::npos) << no_cert.message;

  const ConfigError no_key = error_of({write("cert.pem", "x"), key});
  EXPECT_EQ(no_key.key, "tls.key_file");
  EXPECT_NE(no_key.message.find(key), std::string::npos) << no_key.message;
  EXPECT_EQ(no_key.to_line("server.toml").find('\n'), std::string::npos);
}

TEST_F(TlsContextFiles, FilesThatAreNotPemAreRefused) {
  const std::string cert = write("cert.pem", "not a certificate\n");
  const std::string key = write("key.pem", "not a key\n");
  const ConfigError error = error_of({cert, key});
  EXPECT_EQ(error.key, "tls.cert_file");
  EXPECT_NE(error.message.find("not a PEM certificate"), std::string::npos) << error.message;
}

}  // namespace
}  // namespace loyalty::api
