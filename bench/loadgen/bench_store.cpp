// Opening the embedded engine for a benchmark (see bench_store.hpp).
#include "bench/loadgen/bench_store.hpp"

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "engine/program_toml.hpp"
#include "engine/tzdb/os_time_zones.hpp"

namespace loyalty::bench {

std::string default_program_path() {
  return std::string(LOYALTY_SOURCE_DIR) + "/config/program.toml";
}

TimeMs wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool BenchEngine::open(const BenchEngineOptions& options, std::string& error) {
  if (Status status =
          RocksStore::open({.path = options.data_dir,
                            .durability = options.durability,
                            .flush_at_close = options.flush_at_close},
                           store_);
      !status.ok()) {
    error = options.data_dir + ": " + status.message();
    return false;
  }
  std::optional<uint32_t> active;
  if (Status status = store_->active_program_version(active); !status.ok()) {
    error = status.message();
    return false;
  }
  std::string text;
  if (active) {
    std::vector<StoredProgramVersion> versions;
    if (Status status = store_->load_program_versions(versions); !status.ok()) {
      error = status.message();
      return false;
    }
    for (const StoredProgramVersion& version : versions) {
      if (version.number == *active) text = version.source_toml;
    }
  } else {
    std::ifstream file(options.program_path);
    std::stringstream read;
    read << file.rdbuf();
    if (!file) {
      error = options.program_path + ": cannot read";
      return false;
    }
    text = read.str();
  }
  std::variant<Program, ProgramLoadError> parsed =
      parse_program_toml(text, options.program_path, os_time_zones());
  if (const auto* problem = std::get_if<ProgramLoadError>(&parsed)) {
    error = options.program_path + ": " + problem->key + ": " + problem->message;
    return false;
  }
  const uint32_t number = active.value_or(1);
  if (!active) {
    if (Status status = store_->save_program_version({number, text, wall_clock_ms()}, true);
        !status.ok()) {
      error = status.message();
      return false;
    }
  }
  programs_ = std::make_unique<ProgramRegistry>(std::make_shared<ProgramVersion>(
      ProgramVersion{number, std::get<Program>(std::move(parsed)), text}));
  RuntimeOptions runtime_options;
  runtime_options.partitions = options.partitions > 0
                                   ? options.partitions
                                   : std::max(1u, std::thread::hardware_concurrency());
  runtime_ = std::make_unique<Runtime>(runtime_options, *store_, *programs_, &wall_clock_ms);
  return true;
}

BenchEngine::~BenchEngine() { close(); }

void BenchEngine::submit(Event&& event, Done done) {
  runtime_->submit(std::move(event), [done = std::move(done)](EventResult&& result) {
    Outcome outcome;
    outcome.ok = result.rejection.ok();
    if (!outcome.ok) outcome.failure = std::string(error_code_name(result.rejection.code));
    done(outcome);
  });
}

void BenchEngine::close() {
  if (runtime_) runtime_->stop();
  runtime_.reset();
  store_.reset();
  programs_.reset();
}

}  // namespace loyalty::bench
