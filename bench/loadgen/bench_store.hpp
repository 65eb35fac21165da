// The embedded engine as the benchmarks run it: a RocksStore in a data folder whose active
// program is the shipped config/program.toml (saved as version 1 on a new folder, as loyaltyd
// does), and a Runtime over it, wall-clock timed.
// Thread-safety: BenchEngine::submit like Runtime::submit; the rest from one thread.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "bench/loadgen/phase.hpp"
#include "engine/runtime/runtime.hpp"
#include "storage/rocks_store.hpp"

namespace loyalty::bench {

// The shipped program, found through the source folder the build was configured from.
std::string default_program_path();

struct BenchEngineOptions {
  std::string data_dir;
  Durability durability = Durability::fsync;
  std::string program_path = default_program_path();
  uint32_t partitions = 0;  // 0: one per core, as loyaltyd
  bool flush_at_close = true;  // RocksStoreOptions::flush_at_close
};

class BenchEngine final : public Target {
 public:
  // Opens the store and starts the runtime; false with `error` set when it cannot.
  bool open(const BenchEngineOptions& options, std::string& error);
  ~BenchEngine() override;

  void submit(Event&& event, Done done) override;
  // Drains the runtime and closes the store cleanly.
  void close();

 private:
  std::unique_ptr<RocksStore> store_;
  std::unique_ptr<ProgramRegistry> programs_;
  std::unique_ptr<Runtime> runtime_;
};

// Wall-clock milliseconds, as loyaltyd's clock.
TimeMs wall_clock_ms();

}  // namespace loyalty::bench
