// `loadgen inproc`: the workload through the embedded API (Runtime over RocksStore in a data
// folder), no network: populate, the closed-loop peak, then open loops at shares of it; peak
// RSS of this process and the flushed bytes on disk per member.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "bench/loadgen/bench_store.hpp"
#include "bench/loadgen/load_plan.hpp"
#include "bench/loadgen/modes.hpp"
#include "bench/loadgen/report.hpp"
#include "bench/loadgen/system_stats.hpp"

namespace loyalty::bench {
namespace {

// Sign-ups in flight while populating: enough for full group-commit batches in every partition.
constexpr size_t kPopulateWindow = 4096;

std::string temporary_folder() {
  return (std::filesystem::temp_directory_path() /
          ("loyalty-loadgen-" + std::to_string(::getpid())))
      .string();
}

// Removes a temporary data folder however the run ends.
class TemporaryFolder {
 public:
  explicit TemporaryFolder(std::string path) : path_(std::move(path)) {}
  ~TemporaryFolder() {
    std::error_code ignored;  // a destructor must not throw
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TemporaryFolder(const TemporaryFolder&) = delete;
  TemporaryFolder& operator=(const TemporaryFolder&) = delete;

 private:
  std::string path_;
};

}  // namespace

int run_inproc(const InprocOptions& options) {
  const bool temporary = options.data_dir.empty();
  const std::string dir = temporary ? temporary_folder() : options.data_dir;
  if (temporary) std::filesystem::remove_all(dir);
  const TemporaryFolder cleanup(temporary ? dir : std::string());
  const Durability durability = options.durability == "wal" ? Durability::wal : Durability::fsync;

  RunReport report;
  report.facts["mode"] = "inproc";
  report.facts["durability"] = options.durability;
  report.facts["members"] = options.load.workload.members;
  report.facts["skew"] = options.load.workload.skew;
  {
    BenchEngine engine;
    std::string error;
    if (!engine.open({.data_dir = dir, .durability = durability, .partitions = options.partitions},
                     error)) {
      std::fprintf(stderr, "loadgen inproc: %s\n", error.c_str());
      return 1;
    }
    Workload workload(options.load.workload, &wall_clock_ms);
    if (options.populate) {
      const auto start = std::chrono::steady_clock::now();
      const uint64_t failed =
          populate_members(engine, workload, options.load.workload.members, kPopulateWindow);
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      report.facts["populate_signups_per_s"] =
          static_cast<double>(options.load.workload.members) / seconds;
      if (failed > 0) {
        std::fprintf(stderr, "loadgen inproc: %llu sign-ups failed\n",
                     static_cast<unsigned long long>(failed));
        return 1;
      }
    }
    run_phases(engine, workload, options.load, report);
    engine.close();
  }
  report.facts["peak_rss_bytes"] = peak_rss_bytes();
  uint64_t bytes = 0;
  std::string error;
  if (!flushed_disk_bytes(dir, bytes, error)) {
    std::fprintf(stderr, "loadgen inproc: cannot measure %s: %s\n", dir.c_str(), error.c_str());
    return 1;
  }
  report.facts["disk_bytes"] = bytes;
  report.facts["bytes_per_member"] =
      static_cast<double>(bytes) /
      static_cast<double>(std::max<uint64_t>(options.load.workload.members, 1));
  const bool written = finish_report(report, options.load.json_path);
  return written && phases_healthy(report, options.load) ? 0 : 1;
}

int run_populate(const PopulateOptions& options) {
  BenchEngine engine;
  std::string error;
  // wal: populating is set-up, not measured; the clean close makes it durable.
  if (!engine.open({.data_dir = options.data_dir,
                    .durability = Durability::wal,
                    .partitions = options.partitions},
                   error)) {
    std::fprintf(stderr, "loadgen populate: %s\n", error.c_str());
    return 1;
  }
  Workload workload(options.workload, &wall_clock_ms);
  const auto start = std::chrono::steady_clock::now();
  const uint64_t failed =
      populate_members(engine, workload, options.workload.members, kPopulateWindow);
  engine.close();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("populated %llu members in %.1f s (%.0f sign-ups/s), %llu failed\n",
              static_cast<unsigned long long>(options.workload.members), seconds,
              static_cast<double>(options.workload.members) / seconds,
              static_cast<unsigned long long>(failed));
  return failed == 0 ? 0 : 1;
}

int run_disk(const DiskOptions& options) {
  uint64_t bytes = 0;
  std::string error;
  if (!flushed_disk_bytes(options.data_dir, bytes, error)) {
    std::fprintf(stderr, "loadgen disk: %s: %s\n", options.data_dir.c_str(), error.c_str());
    return 1;
  }
  RunReport report;
  report.facts["mode"] = "disk";
  report.facts["disk_bytes"] = bytes;
  report.facts["members"] = options.members;
  if (options.members > 0) {
    report.facts["bytes_per_member"] =
        static_cast<double>(bytes) / static_cast<double>(options.members);
  }
  return finish_report(report, options.json_path) ? 0 : 1;
}

}  // namespace loyalty::bench
