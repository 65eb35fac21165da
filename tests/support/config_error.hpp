// The refusal of a server.toml the test expects to be refused (a test failure when it parses).
#pragma once

#include <gtest/gtest.h>

#include <string_view>
#include <variant>

#include "api/server_config.hpp"

namespace loyalty::testing {

inline api::ConfigError config_error(std::string_view text) {
  auto parsed = api::parse_server_config(text, "server.toml");
  EXPECT_TRUE(std::holds_alternative<api::ConfigError>(parsed)) << text;
  return std::holds_alternative<api::ConfigError>(parsed) ? std::get<api::ConfigError>(parsed)
                                                          : api::ConfigError{};
}

}  // namespace loyalty::testing
