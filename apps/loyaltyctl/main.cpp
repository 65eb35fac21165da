// loyaltyctl: operator commands against a data folder, with the server stopped (config.md).
#include <CLI/CLI.hpp>

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
  app.require_subcommand(1);
  Target target;
  std::string into_dir, as_of, what, format = "ndjson", backup_dir;

  auto* verify = app.add_subcommand("verify", "check that every member's books balance");
  auto* stats = app.add_subcommand("stats", "members per tier, points liability, referrals");
  auto* replay = app.add_subcommand("replay", "rebuild from the event log, compare digests");
  replay->add_option("--into", into_dir, "a new, empty folder to rebuild into")->required();
  auto* expire = app.add_subcommand("expire", "expire points past their date as of a time");
  expire->add_option("--as-of", as_of, "RFC 3339 time")->required();
  auto* tiers = app.add_subcommand("tiers", "tier jobs");
  tiers->require_subcommand(1);
  auto* evaluate = tiers->add_subcommand("evaluate", "downgrade members below their tier");
  evaluate->add_option("--as-of", as_of, "RFC 3339 time")->required();
  auto* export_command = app.add_subcommand("export", "members or the ledger as NDJSON or CSV");
  export_command->add_option("what", what, "members | ledger")
      ->required()
      ->check(CLI::IsMember({"members", "ledger"}));
  export_command->add_option("--format", format, "ndjson | csv")
      ->check(CLI::IsMember({"ndjson", "csv"}));
  auto* backup = app.add_subcommand("backup", "back up the data folder (verified)");
  backup->add_option("--to", backup_dir, "backup folder")->required();
  auto* restore = app.add_subcommand("restore", "restore the newest backup, then verify");
  restore->add_option("--from", backup_dir, "backup folder")->required();
  for (CLI::App* command :
       {verify, stats, replay, expire, evaluate, export_command, backup, restore}) {
    add_target(command, target);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (int code = resolve_data_dir(target); code != kExitOk) return code;
  if (*verify) return run_verify(target);
  if (*stats) return run_stats(target);
  if (*replay) return run_replay(target, into_dir);
  if (*expire) return run_job(target, EventType::expire_points, as_of);
  if (*evaluate) return run_job(target, EventType::evaluate_tier, as_of);
  if (*export_command) return run_export(target, what, format);
  if (*backup) return run_backup(target, backup_dir);
  if (*restore) return run_restore(target, backup_dir);
  return kExitUsage;
}
