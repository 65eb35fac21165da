// The phases of a measuring run: the closed-loop peak, then open loops at shares of it (or
// one open loop at the rate asked for), printed as they finish.
#pragma once

#include "bench/loadgen/modes.hpp"
#include "bench/loadgen/phase.hpp"
#include "bench/loadgen/report.hpp"

namespace loyalty::bench {

void run_phases(Target& target, Workload& workload, const LoadOptions& load, RunReport& report);

// False (and says why on stderr) when a phase answered nothing or failed more than
// load.max_failed_share of what it answered.
bool phases_healthy(const RunReport& report, const LoadOptions& load);

}  // namespace loyalty::bench
