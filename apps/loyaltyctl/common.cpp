// Shared loyaltyctl plumbing.
#include "apps/loyaltyctl/common.hpp"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "api/server_config.hpp"

namespace loyalty::ctl {

int resolve_data_dir(Target& target) {
  if (!target.data_dir.empty()) return kExitOk;
  if (target.config_path.empty()) {
    std::cerr << "loyaltyctl: give --data DIR or --config FILE\n";
    return kExitUsage;
  }
  std::ifstream file(target.config_path);
  if (!file) {
    std::cerr << "loyaltyctl: cannot read " << target.config_path << "\n";
    return kExitUsage;
  }
  std::stringstream text;
  text << file.rdbuf();
  auto parsed = api::parse_server_config(text.str(), target.config_path);
  if (const auto* error = std::get_if<api::ConfigError>(&parsed)) {
    std::cerr << error->to_line(target.config_path) << "\n";
    return kExitUsage;
  }
  target.data_dir = std::get<api::ServerConfig>(parsed).data_dir;
  return kExitOk;
}

int open_store(const std::string& data_dir, std::unique_ptr<RocksStore>& store,
               Durability durability, bool older_layout) {
  RocksStoreOptions options;
  options.path = data_dir;
  options.durability = durability;
  options.open_older_layout = older_layout;
  if (Status status = RocksStore::open(options, store); !status.ok()) {
    // A folder of another layout says what to do; anything else is most often a running server
    // holding the folder's lock.
    const bool layout = status.code() == Status::Code::invalid_argument;
    std::cerr << "loyaltyctl: cannot open " << data_dir
              << (layout ? ": " : " (is the server running?): ") << status.message() << "\n";
    return kExitUsage;
  }
  return kExitOk;
}

int load_programs(RocksStore& store, const std::string& data_dir, StoredPrograms& programs) {
  if (Status status = load_stored_programs(store, programs); !status.ok()) {
    std::cerr << "loyaltyctl: " << data_dir << ": " << status.message() << "\n";
    return kExitProblemFound;
  }
  if (!programs.active) {
    std::cerr << "loyaltyctl: " << data_dir << " has no program (start loyaltyd on it once)\n";
    return kExitUsage;
  }
  return kExitOk;
}

Progress::Progress(std::string label, uint64_t total)
    : label_(std::move(label)), total_(total), terminal_(::isatty(STDERR_FILENO) == 1) {}

void Progress::advance(uint64_t done) {
  done_ += done;
  const auto now = std::chrono::steady_clock::now();
  if (terminal_) {
    if (now - drawn_ > std::chrono::milliseconds(100)) draw(false);
    return;
  }
  if (total_ == 0) return;  // not counted yet: finish() reports
  const uint64_t decile = done_ * 10 / total_;
  if (decile > last_decile_) {
    last_decile_ = decile;
    draw(false);
  }
}

void Progress::finish() { draw(true); }

void Progress::draw(bool final) {
  drawn_ = std::chrono::steady_clock::now();
  const double seconds = std::chrono::duration<double>(drawn_ - started_).count();
  const double rate = seconds > 0 ? static_cast<double>(done_) / seconds : 0;
  const double eta = rate > 0 && total_ > done_ ? static_cast<double>(total_ - done_) / rate : 0;
  const uint64_t percent = total_ == 0 ? 100 : done_ * 100 / total_;
  char line[256];
  if (terminal_) {
    const int width = 30;
    const int filled = static_cast<int>(percent * width / 100);
    std::snprintf(line, sizeof line, "\r%s [%-*s] %llu/%llu %3llu%% %.0f/s ETA %.0fs%s",
                  label_.c_str(), width, std::string(static_cast<size_t>(filled), '#').c_str(),
                  static_cast<unsigned long long>(done_), static_cast<unsigned long long>(total_),
                  static_cast<unsigned long long>(percent), rate, eta, final ? "\n" : "");
  } else {
    std::snprintf(line, sizeof line, "%s: %llu/%llu (%llu%%) %.0f/s\n", label_.c_str(),
                  static_cast<unsigned long long>(done_), static_cast<unsigned long long>(total_),
                  static_cast<unsigned long long>(percent), rate);
  }
  std::fputs(line, stderr);
}

}  // namespace loyalty::ctl
