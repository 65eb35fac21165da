// Our own record layout, measured rather than described: the workload runs through the real
// Runtime and RocksStore (populate, close, reopen, run), then the write batches the commits
// made are read back from the WAL, byte for byte. Their puts per column family are the layout
// report; the batches themselves are what the storage limit replays.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bench/loadgen/workload.hpp"

namespace loyalty::bench {

struct FamilyWrites {
  uint64_t puts = 0;
  uint64_t deletes = 0;  // point and range deletes
  uint64_t key_bytes = 0;
  uint64_t value_bytes = 0;
};

struct CapturedLayout {
  std::vector<std::string> batches;    // WriteBatch representations, in commit order
  std::vector<uint32_t> batch_events;  // logged events per batch (puts into "events")
  std::map<std::string, FamilyWrites> families;
  uint64_t events = 0;
  std::map<uint32_t, std::string> family_ids;  // column family id → name in the capture folder
};

struct CaptureOptions {
  WorkloadOptions workload;
  uint64_t events = 50'000;  // events run (and captured) after populating
  std::string folder;        // scratch folder, removed after
};

bool capture_layout(const CaptureOptions& options, CapturedLayout& out, std::string& error);

// One line per column family: puts and bytes per event.
void print_layout(const CapturedLayout& layout);

}  // namespace loyalty::bench
