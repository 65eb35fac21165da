// One line to stderr per call (one write, so lines from several threads do not interleave).
// Never pass keys or secrets.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace loyalty::api {

inline void log_line(std::string_view text) {
  std::string line = "loyaltyd: ";
  line += text;
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace loyalty::api
