// One measured phase of a load run, the same for every transport: a closed loop (keep
// `window` events in flight: the peak) or an open loop (send at a fixed `rate`, latency counted
// from when each event was due, so a slow server cannot hide its queueing).
// Thread-safety: run_phase() from one thread; targets' completions from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "bench/loadgen/workload.hpp"
#include "engine/events.hpp"

namespace loyalty::bench {

// What the server answered for one event: ok, or a label for the failure ("not_found", "409",
// "closed").
struct Outcome {
  bool ok = false;
  std::string failure;
};

using Done = std::function<void(const Outcome&)>;

// A way to send events (in process, HTTP, WebSocket).
class Target {
 public:
  virtual ~Target() = default;
  // Sends one event; `done` runs exactly once, on any thread, possibly before submit returns.
  virtual void submit(Event&& event, Done done) = 0;
};

struct PhaseSpec {
  std::string name;
  double seconds = 10;
  double warmup_seconds = 1;  // run but not measured: caches, memtables, connections settle
  double rate = 0;            // events/s; 0 = closed loop
  size_t window = 4096;       // closed loop: events in flight
  size_t in_flight_max = size_t{1} << 17;  // open loop: past this the sender waits (reported)
};

struct PhaseResult {
  std::string name;
  double rate_asked = 0;  // 0: closed loop
  double seconds = 0;
  uint64_t completed = 0;   // answered within the measured window
  double events_per_s = 0;  // answered per second within the window, failures included
  uint64_t failed = 0;      // of all answered ones
  std::map<std::string, uint64_t> failures;  // by label
  double p50_us = 0, p99_us = 0, p999_us = 0, max_us = 0;
  bool sender_fell_behind = false;  // open loop: over 1% of sends went out > 10 ms late
};

PhaseResult run_phase(Target& target, Workload& workload, const PhaseSpec& spec);

// Runs `count` sign-ups of populated members (m-0 …) through `target`, `window` in flight.
// Returns how many failed (an identical sign-up again is answered as a replay: not a failure).
uint64_t populate_members(Target& target, const Workload& workload, uint64_t count, size_t window);

}  // namespace loyalty::bench
