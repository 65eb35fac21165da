// loyaltyctl: operator commands against a data folder, with the server stopped, and the jobs
// also against a running server (--server URL --key KEY) (config.md).
#include <CLI/CLI.hpp>
#include <iostream>

#include "api/build_info.hpp"
#include "apps/loyaltyctl/commands.hpp"

namespace {

using namespace loyalty;
using namespace loyalty::ctl;

// --data/--config/--json on a subcommand, shared by all of them.
void add_target(CLI::App* command, Target& target) {
  command->add_option("--data", target.data_dir, "data folder (with the server stopped)");
  command->add_option("--config", target.config_path, "server.toml: use its data_dir");
  command->add_flag("--json", target.json, "machine-readable output");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"loyaltyctl: operator commands for a Loyalty Engine data folder"};
  app.set_version_flag("--version", api::version_line("loyaltyctl"));
  app.require_subcommand(1);
  Target target;
  std::string into_dir, as_of, what, format = "ndjson", backup_dir;

  auto* verify = app.add_subcommand("verify", "check that every member's books balance");
  auto* stats = app.add_subcommand("stats", "members per tier, points liability, referrals");
  auto* replay = app.add_subcommand("replay", "rebuild from the event log, compare digests");
  replay->add_option("--into", into_dir, "a new, empty folder to rebuild into")->required();
  auto* migrate = app.add_subcommand(
      "migrate", "rebuild a folder of an older release's record layout (server stopped)");
  auto* expire = app.add_subcommand("expire", "expire points past their date as of a time");
  expire->add_option("--as-of", as_of, "RFC 3339 time")->required();
  auto* tiers = app.add_subcommand("tiers", "tier jobs");
  tiers->require_subcommand(1);
  auto* evaluate = tiers->add_subcommand("evaluate", "downgrade members below their tier");
  evaluate->add_option("--as-of", as_of, "RFC 3339 time")->required();
  auto* export_command = app.add_subcommand("export", "members or the ledger as NDJSON or CSV");
  export_command->add_option("what", what, "members | ledger | events (the log, importable)")
      ->required()
      ->check(CLI::IsMember({"members", "ledger", "events"}));
  export_command->add_option("--format", format, "ndjson | csv")
      ->check(CLI::IsMember({"ndjson", "csv"}));
  ImportOptions import_options;
  auto* import_command = app.add_subcommand("import", "events from NDJSON or CSV (idempotent)");
  import_command
      ->add_option("file", import_options.file, "NDJSON events, or a members or purchases CSV")
      ->required();
  import_command->add_option("--report", import_options.report_path,
                             "write the rejected rows as CSV");
  import_command->add_flag("--digest", import_options.digest, "print the state digest afterwards");
  auto* backup = app.add_subcommand(
      "backup", "back up the data folder (verified; with --server, of a running server)");
  backup->add_option("--to", backup_dir,
                     "backup folder (with --server: on the server's machine, default beside its "
                     "data folder)");
  auto* restore = app.add_subcommand("restore", "restore the newest backup, then verify");
  restore->add_option("--from", backup_dir, "backup folder")->required();
  RecalcOptions recalc_options;
  auto* recalc = app.add_subcommand("recalc", "re-run a program over a range's purchases");
  recalc->add_option("--program", recalc_options.program_path, "program.toml to re-run under")
      ->required();
  recalc->add_option("--from", recalc_options.from, "RFC 3339: purchases at or after")->required();
  recalc->add_option("--to", recalc_options.to, "RFC 3339: purchases before")->required();
  auto* dry_run = recalc->add_flag("--dry-run", recalc_options.dry_run, "report only");
  recalc->add_flag("--apply", recalc_options.apply, "write one adjust entry per changed purchase")
      ->excludes(dry_run);
  recalc->add_option("--report", recalc_options.report_path,
                     "write the report to PATH.json and PATH.csv");
  for (CLI::App* command : {verify, stats, replay, migrate, expire, evaluate, export_command,
                            import_command, backup, restore, recalc}) {
    add_target(command, target);
  }
  // Cluster mode: a node's view of the cluster (GET /v1/cluster).
  auto* cluster_command = app.add_subcommand("cluster", "cluster mode: a node's view");
  auto* cluster_status = cluster_command->add_subcommand(
      "status", "nodes, partition owners and standbys, problems (exit 1 when any)");
  cluster_status->add_option("--server", target.server_url, "a node: http://HOST:PORT")->required();
  cluster_status->add_option("--key", target.key, "an admin API key")->required();
  cluster_status->add_option("--cacert", target.ca_file,
                             "PEM CA to trust for an https:// --server");
  cluster_status->add_flag("--json", target.json, "GET /v1/cluster's document as it came");
  cluster_command->require_subcommand(1);

  // The jobs also run on a live server, through its API (POST /v1/jobs).
  for (CLI::App* command : {expire, evaluate, recalc, backup}) {
    command->add_option("--server", target.server_url, "a running loyaltyd: http://HOST:PORT");
    command->add_option("--key", target.key, "an admin API key, with --server");
    command->add_option("--cacert", target.ca_file, "PEM CA to trust for an https:// --server");
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (*cluster_status) return run_cluster_status(target);
  if (!target.server_url.empty() || !target.key.empty() || !target.ca_file.empty()) {
    if (int code = check_server_target(target); code != kExitOk) return code;
    if (*expire) return run_remote_job(target, EventType::expire_points, as_of);
    if (*evaluate) return run_remote_job(target, EventType::evaluate_tier, as_of);
    if (*recalc) return run_remote_recalc(target, recalc_options);
    if (*backup) return run_remote_backup(target, backup_dir);
  }
  if (int code = resolve_data_dir(target); code != kExitOk) return code;
  if (*verify) return run_verify(target);
  if (*stats) return run_stats(target);
  if (*replay) return run_replay(target, into_dir);
  if (*migrate) return run_migrate(target);
  if (*expire) return run_job(target, EventType::expire_points, as_of);
  if (*evaluate) return run_job(target, EventType::evaluate_tier, as_of);
  if (*export_command && what == "events") {
    if (format != "ndjson") {
      std::cerr << "loyaltyctl export: events are exported as NDJSON only\n";
      return kExitUsage;
    }
    return run_export_events(target);
  }
  if (*export_command) return run_export(target, what, format);
  if (*import_command) return run_import(target, import_options);
  if (*backup && backup_dir.empty()) {
    std::cerr << "loyaltyctl backup: --to DIR is required (or --server URL for a running server)\n";
    return kExitUsage;
  }
  if (*backup) return run_backup(target, backup_dir);
  if (*restore) return run_restore(target, backup_dir);
  if (*recalc) return run_recalc(target, recalc_options);
  return kExitUsage;
}
