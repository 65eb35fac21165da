// replay: rebuilds a data folder from the event log of another, each event under the program
// version it ran with, then compares the two states' digests (exit 1 when they differ).
#include <filesystem>
#include <future>
#include <iostream>

#include "apps/loyaltyctl/commands.hpp"
#include "engine/runtime/runtime.hpp"

namespace loyalty::ctl {
namespace {

constexpr size_t kInFlightMax = 4096;

// Counts outstanding submissions so a program-version switch can wait for the queue to drain.
class InFlight {
 public:
  void add() {
    std::unique_lock lock(mutex_);
    below_limit_.wait(lock, [this] { return count_ < kInFlightMax; });
    ++count_;
  }
  void done(bool ok, const std::string& why) {
    std::lock_guard lock(mutex_);
    --count_;
    if (!ok && failure_.empty()) failure_ = why;
    below_limit_.notify_all();
  }
  std::string wait_idle() {
    std::unique_lock lock(mutex_);
    below_limit_.wait(lock, [this] { return count_ == 0; });
    return failure_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable below_limit_;
  size_t count_ = 0;
  std::string failure_;
};

}  // namespace

ReplayOutcome replay_into(RocksStore& source, const std::string& data_dir,
                          const std::string& into_dir) {
  ReplayOutcome outcome;
  StoredPrograms programs;
  if (int code = load_programs(source, data_dir, programs); code != kExitOk) {
    outcome.exit_code = code;
    outcome.failure = "cannot load the program versions";
    return outcome;
  }
  std::vector<StoredEvent> log;
  if (Status s = source.scan_events(1,
                                    [&](const StoredEvent& e) {
                                      log.push_back(e);
                                      return true;
                                    });
      !s.ok()) {
    outcome.failure = "cannot read the event log: " + s.message();
    return outcome;
  }
  outcome.events = log.size();

  std::unique_ptr<RocksStore> rebuilt;
  // The rebuilt folder is checked, not served: no WAL syncs, the digest decides.
  if (int code = open_store(into_dir, rebuilt, Durability::wal); code != kExitOk) {
    outcome.exit_code = code;
    outcome.failure = "cannot open " + into_dir;
    return outcome;
  }
  std::vector<StoredProgramVersion> stored;
  if (Status s = source.load_program_versions(stored); !s.ok()) {
    outcome.failure = "cannot read the program versions: " + s.message();
    return outcome;
  }
  for (const StoredProgramVersion& version : stored) {
    if (!rebuilt->save_program_version(version, version.number == *programs.active).ok()) {
      outcome.failure = "cannot store program version " + std::to_string(version.number);
      return outcome;
    }
  }
  if (log.empty()) {
    std::cerr << "loyaltyctl: the event log is empty\n";
  }
  ProgramRegistry registry(log.empty() ? programs.versions.at(*programs.active)
                                       : programs.versions.at(log.front().program_version));
  std::string& failure = outcome.failure;
  {
    // Logged events were checked against the clock when they arrived; none is "in the future"
    // now, and none needs a stamp (the log has them).
    Runtime runtime({.partitions = 1, .deliver_follow_ups = false}, *rebuilt, registry,
                    [] { return kTimeNever / 2; });
    InFlight in_flight;
    Progress progress("replay", log.size());
    uint32_t current_version = registry.active()->number;
    for (StoredEvent& stored_event : log) {
      if (stored_event.program_version != current_version) {
        if (!(failure = in_flight.wait_idle()).empty()) break;
        auto it = programs.versions.find(stored_event.program_version);
        if (it == programs.versions.end()) {
          failure =
              "program version " + std::to_string(stored_event.program_version) + " is missing";
          break;
        }
        registry.activate(it->second);
        current_version = stored_event.program_version;
      }
      in_flight.add();
      const uint64_t seq = stored_event.log_seq;
      runtime.submit(std::move(stored_event.event), [&in_flight, seq](EventResult&& r) {
        const bool ok = r.rejection.ok() && !r.replayed;
        in_flight.done(ok, "log event " + std::to_string(seq) + " did not apply: " +
                               (r.replayed ? "applied twice" : r.rejection.message));
      });
      progress.advance();
    }
    if (failure.empty()) failure = in_flight.wait_idle();
    progress.finish();
  }
  if (failure.empty()) {
    Status a = state_digest(source, outcome.source_digest, outcome.members);
    uint64_t rebuilt_members = 0;
    Status b = state_digest(*rebuilt, outcome.rebuilt_digest, rebuilt_members);
    if (!a.ok() || !b.ok()) failure = "cannot compute digests";
  }
  outcome.same = failure.empty() && outcome.source_digest == outcome.rebuilt_digest;
  if (!outcome.same) outcome.exit_code = kExitProblemFound;
  return outcome;
}

int run_replay(const Target& target, const std::string& into_dir) {
  std::error_code ignored;
  if (std::filesystem::exists(into_dir) && !std::filesystem::is_empty(into_dir, ignored)) {
    std::cerr << "loyaltyctl replay: " << into_dir << " is not empty\n";
    return kExitUsage;
  }
  std::unique_ptr<RocksStore> source;
  if (int code = open_store(target.data_dir, source); code != kExitOk) return code;
  const ReplayOutcome outcome = replay_into(*source, target.data_dir, into_dir);
  if (outcome.exit_code == kExitUsage) return kExitUsage;
  const std::string& failure = outcome.failure;
  if (target.json) {
    std::cout << "{\"events\":" << outcome.events << ",\"members\":" << outcome.members
              << ",\"digest\":\"" << std::hex << outcome.source_digest
              << "\",\"replayed_digest\":\"" << outcome.rebuilt_digest << std::dec
              << "\",\"ok\":" << (outcome.same ? "true" : "false")
              << (failure.empty() ? "" : ",\"error\":\"" + json_escape(failure) + "\"") << "}\n";
  } else {
    if (!failure.empty()) std::cout << "replay failed: " << failure << "\n";
    std::cout << outcome.events << " events replayed into " << into_dir << "; digest " << std::hex
              << outcome.source_digest << (outcome.same ? " == " : " != ") << outcome.rebuilt_digest
              << std::dec << "\n";
  }
  return outcome.exit_code;
}

}  // namespace loyalty::ctl
