// What every loyaltyctl command shares: exit codes (config.md: 0 ok, 1 the check found a
// problem, 2 bad usage or input), opening the data folder, JSON text, and a progress display.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "ops/text_escape.hpp"
#include "storage/program_versions.hpp"
#include "storage/rocks_store.hpp"

namespace loyalty::ctl {

constexpr int kExitOk = 0;
constexpr int kExitProblemFound = 1;
constexpr int kExitUsage = 2;

struct Target {
  std::string data_dir;     // --data
  std::string config_path;  // --config: the folder is server.toml's data_dir
  bool json = false;        // --json
  std::string server_url;   // --server: a running loyaltyd instead of a data folder
  std::string key;          // --key: an admin API key for --server
  std::string ca_file;      // --cacert: a PEM CA to trust for an https:// --server
};

// Fills data_dir from --config when --data is not given; prints why and returns kExitUsage on
// failure, kExitOk otherwise.
int resolve_data_dir(Target& target);
// older_layout: open a folder of an older record layout too (migrate reads it).
int open_store(const std::string& data_dir, std::unique_ptr<RocksStore>& store,
               Durability durability = Durability::fsync, bool older_layout = false);
int load_programs(RocksStore& store, const std::string& data_dir, StoredPrograms& programs);

// The reports' escaping is ops' (ops/text_escape.hpp): one implementation for both.
using ops::csv_field;
using ops::json_escape;

// A progress bar with rate and ETA on a terminal (stderr), plain lines every 10% otherwise.
class Progress {
 public:
  Progress(std::string label, uint64_t total);
  void advance(uint64_t done = 1);
  void set_total(uint64_t total) { total_ = total; }  // when counting ends after the start
  void finish();

 private:
  void draw(bool final);
  std::string label_;
  uint64_t total_;
  uint64_t done_ = 0;
  uint64_t last_decile_ = 0;
  bool terminal_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point drawn_{};
};

}  // namespace loyalty::ctl
