// `loadgen http`: the workload against a running loyaltyd over keep-alive connections: the
// closed-loop peak and open loops at shares of it, or one open loop at --rate (how run.sh
// measures latency at 50% and 80% of wrk's peak).
#include <cstdio>

#include "bench/loadgen/bench_store.hpp"
#include "bench/loadgen/http_target.hpp"
#include "bench/loadgen/load_plan.hpp"

namespace loyalty::bench {

int run_http(const HttpOptions& options) {
  HttpTarget target;
  std::string error;
  if (!target.connect(options, error)) {
    std::fprintf(stderr, "loadgen http: %s\n", error.c_str());
    return 1;
  }
  RunReport report;
  report.facts["mode"] = "http";
  report.facts["connections"] = options.connections;
  report.facts["members"] = options.load.workload.members;
  Workload workload(options.load.workload, &wall_clock_ms);
  LoadOptions load = options.load;
  load.window = options.connections;  // one request in flight per keep-alive connection
  run_phases(target, workload, load, report);
  target.close();
  const bool written = finish_report(report, options.load.json_path);
  return written && phases_healthy(report, options.load) ? 0 : 1;
}

}  // namespace loyalty::bench
