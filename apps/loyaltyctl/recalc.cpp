// recalc: re-run a program over the purchases of a time range (ops/recalculation), as a dry
// run (a report) or applied (one adjust entry per changed purchase), on a data folder.
#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "apps/loyaltyctl/commands.hpp"
#include "engine/program_toml.hpp"
#include "engine/runtime/runtime.hpp"
#include "engine/tzdb/os_time_zones.hpp"
#include "ops/recalculation.hpp"

namespace loyalty::ctl {
namespace {

TimeMs wall_clock_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Reads, parses and validates the program file; prints the reason (naming the key) if not.
std::optional<Program> load_program_file(const std::string& path, std::string& source) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    std::cerr << "loyaltyctl recalc: cannot read " << path << "\n";
    return std::nullopt;
  }
  std::stringstream text;
  text << file.rdbuf();
  source = text.str();
  std::variant<Program, ProgramLoadError> parsed =
      parse_program_toml(source, path, os_time_zones());
  std::optional<ProgramLoadError> problem;
  if (const auto* error = std::get_if<ProgramLoadError>(&parsed)) {
    problem = *error;
  } else {
    problem = validate_program(std::get<Program>(parsed));
  }
  if (problem) {
    // Syntax errors carry the file, line and column themselves.
    std::cerr << (problem->key.empty() ? problem->message
                                       : path + ": " + problem->key + ": " + problem->message)
              << "\n";
    return std::nullopt;
  }
  return std::get<Program>(std::move(parsed));
}

// --report PATH writes PATH.json and PATH.csv; a PATH ending in .json or .csv loses that
// extension first, so `--report out.json` gives out.json and out.csv.
std::string report_stem(std::string path) {
  for (const char* extension : {".json", ".csv"}) {
    const std::string_view ext(extension);
    if (path.size() > ext.size() && path.ends_with(ext)) {
      path.resize(path.size() - ext.size());
      break;
    }
  }
  return path;
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << text;
  file.close();
  if (!file) std::cerr << "loyaltyctl recalc: cannot write " << path << "\n";
  return static_cast<bool>(file);
}

std::string signed_points(Points points) {
  return (points > 0 ? "+" : "") + std::to_string(points);
}

void print_summary(const ops::RecalcReport& r) {
  std::cout << r.job_id << " (" << (r.applied ? "applied" : "dry run") << ") " << r.program_label
            << ", purchases from " << format_rfc3339(r.from) << " to " << format_rfc3339(r.to)
            << "\n";
  std::cout << "  " << r.events_examined << " purchases examined, " << r.events_changed
            << " changed, " << r.members_affected << " members affected";
  if (r.events_already_adjusted > 0) {
    std::cout << ", " << r.events_already_adjusted << " already adjusted by this job";
  }
  std::cout << "\n  total delta " << signed_points(r.total_delta) << " points ("
            << signed_points(r.total_positive) << " / " << signed_points(r.total_negative) << ")\n";
  for (const ops::RecalcBucket& bucket : r.histogram) {
    if (bucket.count > 0) std::cout << "  " << bucket.label << ": " << bucket.count << "\n";
  }
  const size_t shown = std::min<size_t>(r.largest.size(), 5);
  if (shown > 0) std::cout << "  largest:\n";
  for (size_t i = 0; i < shown; ++i) {
    const ops::RecalcChange& c = r.largest[i];
    std::cout << "    " << c.member_id << " " << c.event_id << ": " << c.old_points << " -> "
              << c.new_points << " (" << signed_points(c.delta) << ")\n";
  }
  if (r.applied) {
    std::cout << "  adjustments: " << r.adjustments_applied << " applied, "
              << r.adjustments_replayed << " already applied, " << r.adjustments_failed
              << " failed\n";
    if (!r.first_failure.empty()) std::cerr << "first failure: " << r.first_failure << "\n";
  }
}

// Runs the recalculation on a worker thread while this one draws the progress bar.
Status run_with_progress(RocksStore& store, Runtime* runtime, const ops::RecalcRequest& request,
                         ops::RecalcReport& report) {
  ops::JobProgress progress;
  Status status;
  std::atomic<bool> finished{false};
  std::thread worker([&] {
    status = ops::run_recalculation(store, runtime, request, progress, report);
    finished = true;
  });
  Progress bar("recalc", 0);
  uint64_t shown = 0;
  while (true) {
    const bool last = finished.load();  // read before the counters: the final draw is whole
    bar.set_total(progress.total.load());
    const uint64_t done = progress.done.load();
    bar.advance(done - shown);
    shown = done;
    if (last) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  worker.join();
  bar.finish();
  return status;
}

}  // namespace

int run_recalc(const Target& target, const RecalcOptions& options) {
  if (options.dry_run == options.apply) {
    std::cerr << "loyaltyctl recalc: give exactly one of --dry-run and --apply\n";
    return kExitUsage;
  }
  const std::optional<TimeMs> from = parse_rfc3339(options.from);
  const std::optional<TimeMs> to = parse_rfc3339(options.to);
  if (!from || !to) {
    std::cerr << "loyaltyctl recalc: " << (from ? "--to" : "--from")
              << " must be an RFC 3339 time, e.g. 2026-12-01T00:00:00Z\n";
    return kExitUsage;
  }
  if (*from >= *to) {
    std::cerr << "loyaltyctl recalc: --from must be before --to (the range is [from, to))\n";
    return kExitUsage;
  }
  std::string source;
  std::optional<Program> program = load_program_file(options.program_path, source);
  if (!program) return kExitUsage;

  std::unique_ptr<RocksStore> store;
  if (int code = open_store(target.data_dir, store); code != kExitOk) return code;
  StoredPrograms programs;
  if (int code = load_programs(*store, target.data_dir, programs); code != kExitOk) return code;

  ops::RecalcRequest request;
  request.job_id = ops::recalc_job_id(source, *from, *to);
  request.from = *from;
  request.to = *to;
  request.apply = options.apply;
  ops::RecalcReport report;
  Status status;
  if (options.apply) {
    // Stored (not activated) so that the adjust entries name the version that produced them.
    std::shared_ptr<const ProgramVersion> stored;
    if (Status s = add_program_version(*store, *program, source, wall_clock_now(), false, stored);
        !s.ok()) {
      std::cerr << "loyaltyctl recalc: cannot store the program: " << s.message() << "\n";
      return kExitProblemFound;
    }
    request.program = stored;
    ProgramRegistry registry(programs.versions.at(*programs.active));
    Runtime runtime({.partitions = 2}, *store, registry, wall_clock_now);
    status = run_with_progress(*store, &runtime, request, report);
  } else {
    // A dry run writes nothing; it names the stored version with this very source, if any.
    uint32_t number = 0;
    for (const auto& [stored_number, version] : programs.versions) {
      if (version->source_toml == source) number = stored_number;
    }
    request.program =
        std::make_shared<const ProgramVersion>(ProgramVersion{number, *program, source});
    status = run_with_progress(*store, nullptr, request, report);
  }
  if (!status.ok()) {
    std::cerr << "loyaltyctl recalc: " << status.message() << "\n";
    return status.code() == Status::Code::invalid_argument ? kExitUsage : kExitProblemFound;
  }
  const std::string json = ops::recalc_report_json(report);
  if (!options.report_path.empty()) {
    const std::string stem = report_stem(options.report_path);
    if (!write_file(stem + ".json", json + "\n") ||
        !write_file(stem + ".csv", ops::recalc_report_csv(report))) {
      return kExitProblemFound;
    }
  }
  if (target.json) {
    std::cout << json << "\n";
  } else {
    print_summary(report);
  }
  return report.adjustments_failed == 0 ? kExitOk : kExitProblemFound;
}

}  // namespace loyalty::ctl
