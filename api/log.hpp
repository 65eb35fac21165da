// Server-event logging for code that has only a sentence to say: one structured JSON line on
// stderr (api/logger.hpp), level "error" unless told. Never pass keys, tokens, secrets, phone or
// card numbers.
#pragma once

#include <string_view>

#include "api/logger.hpp"

namespace loyalty::api {

inline void log_line(std::string_view text, LogLevel level = LogLevel::error) {
  log_event(level, text);
}

}  // namespace loyalty::api
