// `loadgen ws`: purchases and refunds streamed to a running loyaltyd over WebSocket, JSON or
// FlatBuffers frames, `window` in flight per connection: the closed-loop peak (and open loops
// at shares of it, or at --rate).
#include <cstdio>

#include "bench/loadgen/bench_store.hpp"
#include "bench/loadgen/load_plan.hpp"
#include "bench/loadgen/ws_target.hpp"

namespace loyalty::bench {

int run_ws(const WsOptions& options) {
  WsTarget target;
  std::string error;
  if (!target.connect(options, error)) {
    std::fprintf(stderr, "loadgen ws: %s\n", error.c_str());
    return 1;
  }
  RunReport report;
  report.facts["mode"] = "ws";
  report.facts["frames"] = options.binary ? "flatbuffers" : "json";
  report.facts["connections"] = options.connections;
  report.facts["window_per_connection"] = options.window;
  report.facts["members"] = options.load.workload.members;
  // The stream carries purchases and refunds only.
  WorkloadOptions workload_options = options.load.workload;
  workload_options.redemption_share = 0;
  workload_options.signup_share = 0;
  Workload workload(workload_options, &wall_clock_ms);
  LoadOptions load = options.load;
  load.window = options.connections * options.window;
  // Past the window the server's per-connection backlog would fill: open loops wait instead.
  load.open_in_flight_max = load.window;
  run_phases(target, workload, load, report);
  target.close();
  const bool written = finish_report(report, options.load.json_path);
  return written && phases_healthy(report, options.load) ? 0 : 1;
}

}  // namespace loyalty::bench
