// The storage limit: write batches straight through RocksDB (no engine), in a fresh folder with
// RocksStore's options, for a fixed time, as fast as the writers can. Either our captured
// batches, replayed in order and over again (an overwrite costs RocksDB's write path what an
// insert does), or the reference shape: three puts per event (a 200-byte member
// record, a 100-byte ledger entry, a 100-byte idempotency record) in batches of a fixed size.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "bench/storage_limit/capture.hpp"
#include "storage/rocks_store.hpp"

namespace loyalty::bench {

struct ReplayOptions {
  std::string folder;  // created fresh, removed after
  Durability durability = Durability::fsync;
  double seconds = 5;
  uint32_t writers = 2;  // threads writing at once (our runtime: one per partition)
  // Our layout only: column families whose writes are left out of every batch, to measure
  // what a leaner layout would gain before building it (`--without`).
  std::set<std::string> without;
};

struct ReferenceShape {
  uint32_t batch_events = 256;  // events per WriteBatch
  uint64_t members = 1'000'000;
  double skew = 0.99;
};

struct ReplayResult {
  uint64_t events = 0;
  uint64_t batches = 0;
  uint64_t bytes = 0;  // of the batches written
  double seconds = 0;
  double events_per_s() const { return seconds > 0 ? static_cast<double>(events) / seconds : 0; }
};

bool replay_layout(const ReplayOptions& options, const CapturedLayout& layout, ReplayResult& out,
                   std::string& error);
bool write_reference_shape(const ReplayOptions& options, const ReferenceShape& shape,
                           ReplayResult& out, std::string& error);

}  // namespace loyalty::bench
