// The phases of a measuring run (see load_plan.hpp).
#include "bench/loadgen/load_plan.hpp"

#include <cstdio>
#include <string>

namespace loyalty::bench {

void run_phases(Target& target, Workload& workload, const LoadOptions& load, RunReport& report) {
  PhaseSpec spec;
  spec.seconds = load.seconds;
  spec.warmup_seconds = load.warmup_seconds;
  spec.window = load.window;
  spec.in_flight_max = load.open_in_flight_max;
  if (load.rate > 0) {
    spec.name = "open loop";
    spec.rate = load.rate;
    report.phases.push_back(run_phase(target, workload, spec));
    print_phase(report.phases.back());
    return;
  }
  spec.name = "peak (closed loop)";
  report.phases.push_back(run_phase(target, workload, spec));
  print_phase(report.phases.back());
  const double peak = report.phases.front().events_per_s;
  for (double fraction : load.fractions) {
    if (peak <= 0 || fraction <= 0) continue;
    spec.name = "open loop " + std::to_string(static_cast<int>(fraction * 100 + 0.5)) + "%";
    spec.rate = peak * fraction;
    report.phases.push_back(run_phase(target, workload, spec));
    print_phase(report.phases.back());
  }
}

bool phases_healthy(const RunReport& report, const LoadOptions& load) {
  for (const PhaseResult& phase : report.phases) {
    if (phase.completed == 0) {
      std::fprintf(stderr, "loadgen: %s: no event was answered\n", phase.name.c_str());
      return false;
    }
    const double share =
        static_cast<double>(phase.failed) / static_cast<double>(phase.completed + phase.failed);
    if (share > load.max_failed_share) {
      std::fprintf(stderr, "loadgen: %s: %.1f%% of the events failed (at most %.1f%% allowed)\n",
                   phase.name.c_str(), share * 100, load.max_failed_share * 100);
      return false;
    }
  }
  return true;
}

}  // namespace loyalty::bench
