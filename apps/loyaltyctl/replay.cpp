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

int run_replay(const Target& target, const std::string& into_dir) {
  std::error_code ignored;
  if (std::filesystem::exists(into_dir) && !std::filesystem::is_empty(into_dir, ignored)) {
    std::cerr << "loyaltyctl replay: " << into_dir << " is not empty\n";
    return kExitUsage;
  }
  std::unique_ptr<RocksStore> source;
  if (int code = open_store(target.data_dir, source); code != kExitOk) return code;
  StoredPrograms programs;
  if (int code = load_programs(*source, target.data_dir, programs); code != kExitOk) return code;
  std::vector<StoredEvent> log;
  if (Status s = source->scan_events(1,
                                     [&](const StoredEvent& e) {
                                       log.push_back(e);
                                       return true;
                                     });
      !s.ok()) {
    std::cerr << "loyaltyctl replay: cannot read the event log: " << s.message() << "\n";
    return kExitProblemFound;
  }

  std::unique_ptr<RocksStore> rebuilt;
  // The rebuilt folder is checked, not served: no WAL syncs, the digest decides.
  if (int code = open_store(into_dir, rebuilt, Durability::wal); code != kExitOk) return code;
  std::vector<StoredProgramVersion> stored;
  if (Status s = source->load_program_versions(stored); !s.ok()) return kExitProblemFound;
  for (const StoredProgramVersion& version : stored) {
    if (!rebuilt->save_program_version(version, version.number == *programs.active).ok()) {
      return kExitProblemFound;
    }
  }
  if (log.empty()) {
    std::cerr << "loyaltyctl replay: the event log is empty\n";
  }
  ProgramRegistry registry(log.empty() ? programs.versions.at(*programs.active)
                                       : programs.versions.at(log.front().program_version));
  std::string failure;
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
  uint64_t source_digest = 0, rebuilt_digest = 0, source_members = 0, rebuilt_members = 0;
  if (failure.empty()) {
    Status a = state_digest(*source, source_digest, source_members);
    Status b = state_digest(*rebuilt, rebuilt_digest, rebuilt_members);
    if (!a.ok() || !b.ok()) failure = "cannot compute digests";
  }
  const bool same = failure.empty() && source_digest == rebuilt_digest;
  if (target.json) {
    std::cout << "{\"events\":" << log.size() << ",\"members\":" << source_members
              << ",\"digest\":\"" << std::hex << source_digest << "\",\"replayed_digest\":\""
              << rebuilt_digest << std::dec << "\",\"ok\":" << (same ? "true" : "false")
              << (failure.empty() ? "" : ",\"error\":\"" + json_escape(failure) + "\"") << "}\n";
  } else {
    if (!failure.empty()) std::cout << "replay failed: " << failure << "\n";
    std::cout << log.size() << " events replayed into " << into_dir << "; digest " << std::hex
              << source_digest << (same ? " == " : " != ") << rebuilt_digest << std::dec << "\n";
  }
  return same ? kExitOk : kExitProblemFound;
}

}  // namespace loyalty::ctl
