// What a load run prints: one human line per phase on stdout, and the whole run as one JSON
// object (for bench/run.sh) when --json names a file.
// Thread-safety: none; used by the main thread after the phases.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <vector>

#include "bench/loadgen/phase.hpp"

namespace loyalty::bench {

struct RunReport {
  boost::json::object facts;  // mode, durability, members, peak_rss_bytes, …
  std::vector<PhaseResult> phases;
};

void print_phase(const PhaseResult& phase);
// Prints the facts and writes the report to `json_path` ("" = nowhere). False on a write error.
bool finish_report(const RunReport& report, const std::string& json_path);

}  // namespace loyalty::bench
