// A counting global allocator for the micro-benchmarks: every operator new of the binary (and
// of the libraries it loads: RocksDB, Boost) counts one allocation, so a benchmark can report
// heap allocations per event (issue 15: none on the hot path beyond the request's own).
#pragma once

#include <cstdint>

namespace loyalty::bench {

// Allocations made by operator new since the program started, over all threads.
uint64_t allocations();
// Those made on the calling thread.
uint64_t thread_allocations();

}  // namespace loyalty::bench
