// What this build is (config.md: `--version` prints the version and the commit; GET /metrics has
// loyalty_build_info). Defined by a source cmake/build_info.cmake writes at every build.
#pragma once

#include <string>
#include <string_view>

namespace loyalty::api {

std::string_view build_version();  // the project's version, e.g. "0.1.0"
std::string_view build_commit();   // the git commit, 12 hex digits, or "unknown"

// "<program> <version> (commit <commit>)": what --version prints.
inline std::string version_line(std::string_view program) {
  return std::string(program) + " " + std::string(build_version()) + " (commit " +
         std::string(build_commit()) + ")";
}

}  // namespace loyalty::api
