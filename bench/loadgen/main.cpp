// loadgen: the macro load generator of bench/ (issue 6). Subcommands:
//   inproc    the workload through the embedded API (Runtime over RocksStore), wal or fsync
//   http      the workload against a running loyaltyd over keep-alive HTTP connections
//   ws        purchases and refunds streamed over GET /v1/stream, JSON or FlatBuffers frames
//   populate  sign up the members of a data folder (before starting loyaltyd on it)
//   disk      flush a closed data folder and report its bytes on disk (per member)
// `loadgen SUBCOMMAND --help` lists the flags.
#include <CLI/CLI.hpp>
#include <chrono>

#include "bench/loadgen/modes.hpp"

namespace {

using namespace loyalty::bench;

std::string default_run_id() {
  // Distinct per run, so event ids never repeat on a data folder used twice.
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return "r" + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(now).count() %
                              100'000'000);
}

void add_workload_flags(CLI::App& command, WorkloadOptions& workload) {
  command.add_option("--members", workload.members, "populated members m-0 … m-(N-1)")
      ->capture_default_str();
  command.add_option("--skew", workload.skew, "Zipf exponent of member activity (0 = uniform)")
      ->capture_default_str();
  command.add_option("--refunds", workload.refund_share, "share of refunds of earlier purchases")
      ->capture_default_str();
  command.add_option("--redemptions", workload.redemption_share, "share of redemptions")
      ->capture_default_str();
  command.add_option("--signups", workload.signup_share, "share of new members during the run")
      ->capture_default_str();
  command.add_option("--lines-max", workload.lines_max, "largest basket (lines)")
      ->capture_default_str();
  command.add_option("--seed", workload.seed, "random seed")->capture_default_str();
  command.add_option("--run-id", workload.run_id, "prefix of the ids this run makes");
}

void add_load_flags(CLI::App& command, LoadOptions& load) {
  add_workload_flags(command, load.workload);
  command.add_option("--seconds", load.seconds, "measured seconds per phase")
      ->capture_default_str();
  command.add_option("--warmup", load.warmup_seconds, "unmeasured seconds before each phase")
      ->capture_default_str();
  command.add_option("--rate", load.rate,
                     "events/s: one open-loop phase at this rate (instead of peak + fractions)");
  command
      .add_option("--fractions", load.fractions,
                  "open-loop phases at these shares of the measured peak")
      ->delimiter(',')
      ->capture_default_str();
  command.add_option("--json", load.json_path, "write the run's report here as JSON");
  command
      .add_option("--max-failed-share", load.max_failed_share,
                  "exit 1 when a phase fails more than this share of its events")
      ->capture_default_str();
}

void add_server_flags(CLI::App& command, ServerAddress& server) {
  command.add_option("--host", server.host, "loyaltyd's address")->capture_default_str();
  command.add_option("--port", server.port, "loyaltyd's port")->required();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"loadgen: Loyalty Engine load generator (bench/)"};
  app.require_subcommand(1);

  InprocOptions inproc;
  inproc.load.workload.run_id = default_run_id();
  CLI::App* inproc_command =
      app.add_subcommand("inproc", "the workload through the embedded API, no network");
  add_load_flags(*inproc_command, inproc.load);
  inproc_command->add_option("--durability", inproc.durability, "wal or fsync")
      ->check(CLI::IsMember({"wal", "fsync"}))
      ->capture_default_str();
  inproc_command->add_option("--data", inproc.data_dir,
                             "data folder (default: a temporary one, removed after)");
  inproc_command->add_flag("!--no-populate", inproc.populate,
                           "the folder is populated already: skip the sign-ups");
  inproc_command->add_option("--window", inproc.load.window, "closed loop: events in flight")
      ->capture_default_str();
  inproc_command->add_option("--partitions", inproc.partitions, "writer threads (0: one per core)")
      ->capture_default_str();

  HttpOptions http;
  http.load.workload.run_id = default_run_id();
  CLI::App* http_command =
      app.add_subcommand("http", "the workload against a running loyaltyd, HTTP keep-alive");
  add_load_flags(*http_command, http.load);
  add_server_flags(*http_command, http.server);
  http_command->add_option("--connections", http.connections, "keep-alive connections")
      ->capture_default_str();
  http_command->add_option("--pos-key", http.pos_key, "API key for events")->capture_default_str();
  http_command->add_option("--app-key", http.app_key, "API key for sign-ups")
      ->capture_default_str();

  WsOptions ws;
  ws.load.workload.run_id = default_run_id();
  std::string frames = "json";
  CLI::App* ws_command =
      app.add_subcommand("ws", "purchases and refunds streamed over the WebSocket");
  add_load_flags(*ws_command, ws.load);
  add_server_flags(*ws_command, ws.server);
  ws_command->add_option("--frames", frames, "json or flatbuffers")
      ->check(CLI::IsMember({"json", "flatbuffers"}))
      ->capture_default_str();
  ws_command->add_option("--connections", ws.connections, "WebSocket connections")
      ->capture_default_str();
  ws_command->add_option("--window", ws.window, "events in flight per connection")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  ws_command->add_option("--key", ws.key, "POS API key")->capture_default_str();

  PopulateOptions populate;
  CLI::App* populate_command =
      app.add_subcommand("populate", "sign up --members members in a data folder");
  add_workload_flags(*populate_command, populate.workload);
  populate_command->add_option("--data", populate.data_dir, "data folder")->required();
  populate_command->add_option("--partitions", populate.partitions, "writer threads")
      ->capture_default_str();

  DiskOptions disk;
  CLI::App* disk_command =
      app.add_subcommand("disk", "flush a closed data folder and report its size");
  disk_command->add_option("--data", disk.data_dir, "data folder")->required();
  disk_command->add_option("--members", disk.members, "members in it, for bytes per member");
  disk_command->add_option("--json", disk.json_path, "write the figures here as JSON");

  CLI11_PARSE(app, argc, argv);
  if (*inproc_command) return run_inproc(inproc);
  if (*http_command) return run_http(http);
  if (*ws_command) {
    ws.binary = frames == "flatbuffers";
    return run_ws(ws);
  }
  if (*populate_command) return run_populate(populate);
  if (*disk_command) return run_disk(disk);
  return 2;
}
