// storage_limit: how fast RocksDB alone takes our writes on this machine, with RocksStore's
// options, no engine: our own layout (the batches our commits really wrote for the loadgen
// workload, captured from the WAL) and the reference shape (3 puts: 200 B member,
// 100 B ledger, 100 B idempotency, 256 events per batch, one writer), each with
// durability wal and fsync. The in-process figures of loadgen are compared with these.
//   storage_limit [--seconds S] [--durability wal|fsync|both] [--shape ours|reference|both]
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "bench/storage_limit/capture.hpp"
#include "bench/storage_limit/replay.hpp"

namespace {

using namespace loyalty;
using namespace loyalty::bench;

boost::json::object layout_json(const CapturedLayout& layout) {
  boost::json::object families;
  const auto events = static_cast<double>(layout.events);
  for (const auto& [name, writes] : layout.families) {
    families[name] = {{"puts_per_event", static_cast<double>(writes.puts) / events},
                      {"deletes_per_event", static_cast<double>(writes.deletes) / events},
                      {"key_bytes_per_event", static_cast<double>(writes.key_bytes) / events},
                      {"value_bytes_per_event", static_cast<double>(writes.value_bytes) / events}};
  }
  return {{"batches", layout.batches.size()},
          {"events", layout.events},
          {"events_per_batch",
           events / static_cast<double>(std::max<size_t>(layout.batches.size(), 1))},
          {"families", std::move(families)}};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"storage_limit: RocksDB write throughput of our layout and the reference shape"};
  double seconds = 5;
  std::string durability = "both";
  std::string shape = "both";
  CaptureOptions capture;
  capture.workload.members = 100'000;
  capture.workload.run_id = "cap";
  bool purchases_only = false;
  uint32_t writers = std::max(1u, std::thread::hardware_concurrency());
  ReferenceShape reference;
  uint32_t reference_writers = 1;
  std::string json_path;
  std::vector<std::string> without;
  app.add_option("--seconds", seconds, "seconds per measurement")->capture_default_str();
  app.add_option("--durability", durability, "wal, fsync or both")
      ->check(CLI::IsMember({"wal", "fsync", "both"}))
      ->capture_default_str();
  app.add_option("--shape", shape, "ours, reference or both")
      ->check(CLI::IsMember({"ours", "reference", "both"}))
      ->capture_default_str();
  app.add_option("--members", capture.workload.members, "members populated for the capture")
      ->capture_default_str();
  app.add_option("--skew", capture.workload.skew, "Zipf exponent of member activity")
      ->capture_default_str();
  app.add_option("--capture-events", capture.events, "workload events captured")
      ->capture_default_str();
  app.add_flag("--purchases-only", purchases_only,
               "capture purchases only (the layout of one purchase)");
  app.add_option("--writers", writers, "threads replaying our batches (as partitions)")
      ->capture_default_str();
  app.add_option("--reference-batch", reference.batch_events, "reference events per batch")
      ->capture_default_str();
  app.add_option("--reference-writers", reference_writers, "reference writer threads")
      ->capture_default_str();
  app.add_option("--json", json_path, "write the figures here as JSON");
  app.add_option("--without", without,
                 "our layout without these column families' writes (what a leaner layout "
                 "would gain), e.g. --without idempotency,lots")
      ->delimiter(',');
  CLI11_PARSE(app, argc, argv);
  if (purchases_only) {
    capture.workload.refund_share = 0;
    capture.workload.redemption_share = 0;
    capture.workload.signup_share = 0;
  }
  reference.members = capture.workload.members;
  reference.skew = capture.workload.skew;

  const std::string scratch = (std::filesystem::temp_directory_path() /
                               ("loyalty-storage-limit-" + std::to_string(::getpid())))
                                  .string();
  capture.folder = scratch + "-capture";
  // However the run ends (a failed step returns early), no scratch folder is left behind.
  struct RemoveScratch {
    std::vector<std::string> folders;
    ~RemoveScratch() {
      std::error_code ignored;  // a destructor must not throw
      for (const std::string& folder : folders) std::filesystem::remove_all(folder, ignored);
    }
  } remove_scratch{{scratch, capture.folder}};
  std::vector<std::pair<std::string, Durability>> durabilities;
  if (durability != "fsync") durabilities.emplace_back("wal", Durability::wal);
  if (durability != "wal") durabilities.emplace_back("fsync", Durability::fsync);

  boost::json::object report;
  std::string error;
  if (shape != "reference") {
    CapturedLayout layout;
    if (!capture_layout(capture, layout, error)) {
      std::fprintf(stderr, "storage_limit: capture: %s\n", error.c_str());
      return 1;
    }
    // Checked against the families the store made, so this tool never lists them itself.
    for (const std::string& family : without) {
      bool known = false;
      for (const auto& [id, name] : layout.family_ids) known = known || name == family;
      if (!known) {
        std::fprintf(stderr, "storage_limit: --without: the store has no column family %s\n",
                     family.c_str());
        return 2;
      }
    }
    print_layout(layout);
    report["layout"] = layout_json(layout);
    boost::json::object ours;
    for (const auto& [name, value] : durabilities) {
      ReplayResult result;
      const ReplayOptions replay{scratch, value, seconds, writers,
                                 std::set<std::string>(without.begin(), without.end())};
      if (!replay_layout(replay, layout, result, error)) {
        std::fprintf(stderr, "storage_limit: %s\n", error.c_str());
        return 1;
      }
      std::string label = "our layout";
      for (const std::string& family : without)
        label += (family == without.front() ? " without " : ", ") + family;
      std::printf("%s, %-5s %10.0f events/s  (%u writers, %.1f MB/s)\n", label.c_str(),
                  name.c_str(), result.events_per_s(), writers,
                  static_cast<double>(result.bytes) / result.seconds / 1e6);
      ours[name] = result.events_per_s();
    }
    report["ours"] = std::move(ours);
  }
  if (shape != "ours") {
    boost::json::object shaped;
    for (const auto& [name, value] : durabilities) {
      ReplayResult result;
      if (!write_reference_shape({scratch, value, seconds, reference_writers, {}}, reference,
                                 result, error)) {
        std::fprintf(stderr, "storage_limit: %s\n", error.c_str());
        return 1;
      }
      std::printf("reference,  %-5s %10.0f events/s  (3 puts, %u per batch, %u writer)\n",
                  name.c_str(), result.events_per_s(), reference.batch_events, reference_writers);
      shaped[name] = result.events_per_s();
    }
    report["reference"] = std::move(shaped);
  }
  std::fflush(stdout);
  if (!json_path.empty()) {
    std::ofstream out(json_path);
    out << boost::json::serialize(report) << "\n";
    if (!out) {
      std::fprintf(stderr, "storage_limit: cannot write %s\n", json_path.c_str());
      return 1;
    }
  }
  return 0;
}
