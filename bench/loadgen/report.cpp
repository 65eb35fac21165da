// Printing and saving run reports (see report.hpp).
#include "bench/loadgen/report.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <fstream>

namespace loyalty::bench {
namespace {

boost::json::object phase_json(const PhaseResult& phase) {
  boost::json::object failures;
  for (const auto& [label, count] : phase.failures) failures[label] = count;
  return {{"name", phase.name},
          {"rate_asked", phase.rate_asked},
          {"seconds", phase.seconds},
          {"completed", phase.completed},
          {"events_per_s", phase.events_per_s},
          {"failed", phase.failed},
          {"failures", std::move(failures)},
          {"p50_us", phase.p50_us},
          {"p99_us", phase.p99_us},
          {"p999_us", phase.p999_us},
          {"max_us", phase.max_us},
          {"sender_fell_behind", phase.sender_fell_behind}};
}

}  // namespace

void print_phase(const PhaseResult& phase) {
  std::printf("%-22s %10.0f events/s  p50 %8.1f us  p99 %8.1f us  p99.9 %8.1f us  max %8.1f us",
              phase.name.c_str(), phase.events_per_s, phase.p50_us, phase.p99_us, phase.p999_us,
              phase.max_us);
  if (phase.rate_asked > 0) std::printf("  (asked %.0f/s)", phase.rate_asked);
  if (phase.sender_fell_behind) std::printf("  [sender fell behind]");
  std::printf("\n");
  if (phase.failed > 0) {
    std::printf("%-22s failed %llu:", "", static_cast<unsigned long long>(phase.failed));
    for (const auto& [label, count] : phase.failures) {
      std::printf(" %s=%llu", label.c_str(), static_cast<unsigned long long>(count));
    }
    std::printf("\n");
  }
  std::fflush(stdout);
}

bool finish_report(const RunReport& report, const std::string& json_path) {
  for (const auto& [key, value] : report.facts) {
    std::printf("%-22s %s\n", std::string(key).c_str(), boost::json::serialize(value).c_str());
  }
  std::fflush(stdout);
  if (json_path.empty()) return true;
  boost::json::object all = report.facts;
  boost::json::array phases;
  for (const PhaseResult& phase : report.phases) phases.push_back(phase_json(phase));
  all["phases"] = std::move(phases);
  std::ofstream out(json_path);
  out << boost::json::serialize(all) << "\n";
  return static_cast<bool>(out);
}

}  // namespace loyalty::bench
