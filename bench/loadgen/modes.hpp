// The loadgen's subcommands, one function each (main.cpp parses the flags into these).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/loadgen/workload.hpp"

namespace loyalty::bench {

// What every measuring mode shares.
struct LoadOptions {
  WorkloadOptions workload;
  double seconds = 10;        // measured part of each phase
  double warmup_seconds = 1;  // unmeasured start of each phase
  double rate = 0;            // > 0: one open-loop phase at this rate instead of peak + fractions
  std::vector<double> fractions = {0.5, 0.8};   // open-loop phases at these shares of the peak
  size_t window = 4096;                         // closed loop: events in flight
  size_t open_in_flight_max = size_t{1} << 17;  // open loop: past this the sender waits
  std::string json_path;  // where to write the run's JSON report ("" = nowhere)
  // Exit 1 when a phase answered nothing, or refused more than this share of its events
  // (the smoke tests' check that the workload still runs; 1 = never).
  double max_failed_share = 1;
};

struct InprocOptions {
  LoadOptions load;
  std::string durability = "fsync";
  std::string data_dir;  // "" = a temporary folder, removed after
  bool populate = true;  // sign the members up first (off for an already populated folder)
  uint32_t partitions = 0;
};

struct ServerAddress {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
};

struct HttpOptions {
  LoadOptions load;
  ServerAddress server;
  std::string pos_key = "loyalty-dev-pos-key";
  std::string app_key = "loyalty-dev-app-key";
  size_t connections = 64;
};

struct WsOptions {
  LoadOptions load;
  ServerAddress server;
  std::string key = "loyalty-dev-pos-key";
  size_t connections = 2;
  size_t window = 256;  // events in flight per connection
  bool binary = false;  // FlatBuffers frames instead of JSON text
};

struct PopulateOptions {
  WorkloadOptions workload;
  std::string data_dir;
  uint32_t partitions = 0;
};

struct DiskOptions {
  std::string data_dir;
  uint64_t members = 0;
  std::string json_path;
};

int run_inproc(const InprocOptions& options);
int run_http(const HttpOptions& options);
int run_ws(const WsOptions& options);
int run_populate(const PopulateOptions& options);
int run_disk(const DiskOptions& options);

}  // namespace loyalty::bench
