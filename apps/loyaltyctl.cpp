// loyaltyctl: operator commands against a data folder (the server stopped). This version
// has `verify` (every member's books balance) and `stats`; config.md lists the rest, which
// arrive with the operations work.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "engine/apply.hpp"
#include "storage/rocks_store.hpp"

namespace {

using namespace loyalty;

constexpr int kExitOk = 0;
constexpr int kExitProblemFound = 1;
constexpr int kExitUsage = 2;

struct Breach {
  std::string member_id;
  Points ledger_sum = 0;
  Points balance_total = 0;
  bool lots_match = true;
};

std::string json_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;  // ids are printable; be safe
    out += c;
  }
  return out;
}

int open_store(const std::string& data_dir, std::unique_ptr<RocksStore>& store) {
  RocksStoreOptions options;
  options.path = data_dir;
  Status status = RocksStore::open(options, store);
  if (!status.ok()) {
    std::cerr << "loyaltyctl: cannot open " << data_dir << ": " << status.message() << "\n";
    return kExitUsage;
  }
  return kExitOk;
}

int run_verify(const std::string& data_dir, bool json) {
  std::unique_ptr<RocksStore> store;
  if (int code = open_store(data_dir, store); code != kExitOk) return code;
  std::vector<Breach> breaches;
  size_t members = 0;
  Status read_error;
  Status status = store->scan_members([&](const MemberState& scanned) {
    ++members;
    // scan_members gives the record; load_member adds the open lots.
    std::optional<MemberState> member;
    read_error = store->load_member(scanned.member_id, member);
    if (!read_error.ok() || !member) return false;
    Points ledger_sum = 0;
    std::optional<uint64_t> cursor;
    do {
      LedgerPage page;
      read_error = store->read_ledger(member->member_id, cursor, 500, page);
      if (!read_error.ok()) return false;
      for (const LedgerEntry& entry : page.entries) ledger_sum += entry.points;
      cursor = page.next_cursor;
    } while (cursor);
    if (!member_invariants_hold(*member, ledger_sum)) {
      breaches.push_back(
          {member->member_id, ledger_sum, member->balance.total(), lots_match_balance(*member)});
    }
    return true;
  });
  if (!status.ok() || !read_error.ok()) {
    std::cerr << "loyaltyctl verify: read failed: "
              << (status.ok() ? read_error.message() : status.message()) << "\n";
    return kExitProblemFound;
  }
  if (json) {
    std::cout << "{\"members_checked\":" << members << ",\"breaches\":[";
    for (size_t i = 0; i < breaches.size(); ++i) {
      const Breach& b = breaches[i];
      std::cout << (i ? "," : "") << "{\"member_id\":\"" << json_escape(b.member_id)
                << "\",\"ledger_sum\":" << b.ledger_sum << ",\"balance_total\":" << b.balance_total
                << ",\"lots_match\":" << (b.lots_match ? "true" : "false") << "}";
    }
    std::cout << "],\"ok\":" << (breaches.empty() ? "true" : "false") << "}\n";
  } else {
    for (const Breach& b : breaches) {
      std::cout << "BREACH " << b.member_id << ": ledger " << b.ledger_sum << ", balance "
                << b.balance_total << (b.lots_match ? "" : ", lots do not match") << "\n";
    }
    std::cout << members << " members checked, " << breaches.size() << " breaches\n";
  }
  return breaches.empty() ? kExitOk : kExitProblemFound;
}

int run_stats(const std::string& data_dir, bool json) {
  std::unique_ptr<RocksStore> store;
  if (int code = open_store(data_dir, store); code != kExitOk) return code;
  size_t members = 0;
  Points available = 0, pending = 0, held = 0;
  Status status = store->scan_members([&](const MemberState& m) {
    ++members;
    available += m.balance.available;
    pending += m.balance.pending;
    held += m.balance.held;
    return true;
  });
  if (!status.ok()) {
    std::cerr << "loyaltyctl stats: read failed: " << status.message() << "\n";
    return kExitProblemFound;
  }
  if (json) {
    std::cout << "{\"members\":" << members
              << ",\"points_outstanding\":{\"available\":" << available
              << ",\"pending\":" << pending << ",\"held\":" << held << "}}\n";
  } else {
    std::cout << "members: " << members << "\npoints outstanding: " << available + pending + held
              << " (available " << available << ", pending " << pending << ", held " << held
              << ")\n";
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"loyaltyctl: operator commands for a Loyalty Engine data folder"};
  app.require_subcommand(1);
  std::string data_dir;
  bool json = false;

  auto* verify = app.add_subcommand("verify", "check that every member's books balance");
  verify->add_option("--data", data_dir, "data folder (the server stopped)")->required();
  verify->add_flag("--json", json, "machine-readable output");

  auto* stats = app.add_subcommand("stats", "members and outstanding points");
  stats->add_option("--data", data_dir, "data folder (the server stopped)")->required();
  stats->add_flag("--json", json, "machine-readable output");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (*verify) return run_verify(data_dir, json);
  if (*stats) return run_stats(data_dir, json);
  return kExitUsage;
}
