// export: members or the ledger as NDJSON or CSV, for finance, reporting and migrations.
// The same canonical lines, hashed, are the state digest that replay compares.
#include <functional>
#include <iostream>

#include "apps/loyaltyctl/commands.hpp"

namespace loyalty::ctl {
namespace {

using LineSink = std::function<void(const std::string&)>;

std::string member_ndjson(const MemberState& m, const Program& program) {
  return "{\"member_id\":\"" + json_escape(m.member_id) + "\",\"joined_at\":\"" +
         format_rfc3339(m.joined_at) + "\",\"tier\":\"" +
         json_escape(program.tier_name(m.tier_index)) + "\",\"tier_since\":\"" +
         format_rfc3339(m.tier_since) + "\",\"available\":" + std::to_string(m.balance.available) +
         ",\"pending\":" + std::to_string(m.balance.pending) +
         ",\"held\":" + std::to_string(m.balance.held) + ",\"debt\":" + std::to_string(m.debt) +
         ",\"lifetime_points\":" + std::to_string(m.lifetime_points) +
         ",\"purchase_count\":" + std::to_string(m.purchase_count) + ",\"referral_code\":\"" +
         json_escape(m.referral_code) + "\",\"referred_by\":\"" + json_escape(m.referred_by) +
         "\",\"phone\":\"" + json_escape(m.phone) + "\",\"card_no\":\"" + json_escape(m.card_no) +
         "\"}";
}

std::string member_csv(const MemberState& m, const Program& program) {
  return csv_field(m.member_id) + "," + format_rfc3339(m.joined_at) + "," +
         csv_field(program.tier_name(m.tier_index)) + "," + format_rfc3339(m.tier_since) + "," +
         std::to_string(m.balance.available) + "," + std::to_string(m.balance.pending) + "," +
         std::to_string(m.balance.held) + "," + std::to_string(m.debt) + "," +
         std::to_string(m.lifetime_points) + "," + std::to_string(m.purchase_count) + "," +
         csv_field(m.referral_code) + "," + csv_field(m.referred_by) + "," + csv_field(m.phone) +
         "," + csv_field(m.card_no);
}

constexpr const char* kMembersCsvHeader =
    "member_id,joined_at,tier,tier_since,available,pending,held,debt,lifetime_points,"
    "purchase_count,referral_code,referred_by,phone,card_no";

std::string entry_ndjson(const std::string& member_id, const LedgerEntry& e) {
  return "{\"member_id\":\"" + json_escape(member_id) + "\",\"seq\":" + std::to_string(e.seq) +
         ",\"type\":\"" + std::string(entry_type_name(e.type)) +
         "\",\"points\":" + std::to_string(e.points) + ",\"at\":\"" + format_rfc3339(e.at) +
         "\",\"reference\":\"" + json_escape(e.reference) + "\",\"rule\":\"" + json_escape(e.rule) +
         "\",\"program_version\":" + std::to_string(e.program_version) +
         ",\"balance_after\":" + std::to_string(e.balance_after) + "}";
}

std::string entry_csv(const std::string& member_id, const LedgerEntry& e) {
  return csv_field(member_id) + "," + std::to_string(e.seq) + "," +
         std::string(entry_type_name(e.type)) + "," + std::to_string(e.points) + "," +
         format_rfc3339(e.at) + "," + csv_field(e.reference) + "," + csv_field(e.rule) + "," +
         std::to_string(e.program_version) + "," + std::to_string(e.balance_after);
}

constexpr const char* kLedgerCsvHeader =
    "member_id,seq,type,points,at,reference,rule,program_version,balance_after";

// Members in key order, each member's ledger oldest first.
Status write_members(RocksStore& store, const Program& program, bool csv, const LineSink& sink,
                     uint64_t& count) {
  return store.scan_members([&](const MemberState& m) {
    ++count;
    sink(csv ? member_csv(m, program) : member_ndjson(m, program));
    return true;
  });
}

Status write_ledger(RocksStore& store, bool csv, const LineSink& sink) {
  Status read_error;
  Status status = store.scan_members([&](const MemberState& m) {
    std::vector<LedgerEntry> entries;
    std::optional<LedgerCursor> cursor;
    do {
      LedgerPage page;
      read_error = store.read_ledger(m.member_id, cursor, 500, page);
      if (!read_error.ok()) return false;
      entries.insert(entries.end(), page.entries.begin(), page.entries.end());
      cursor = page.next_cursor;
    } while (cursor);
    for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
      sink(csv ? entry_csv(m.member_id, *it) : entry_ndjson(m.member_id, *it));
    }
    return true;
  });
  return status.ok() ? read_error : status;
}

}  // namespace

Status state_digest(RocksStore& store, uint64_t& digest, uint64_t& members) {
  StoredPrograms programs;
  if (Status status = load_stored_programs(store, programs); !status.ok()) return status;
  if (!programs.active) return Status::error(Status::Code::not_found, "no program");
  const Program& program = programs.versions.at(*programs.active)->program;
  digest = 0xcbf29ce484222325ULL;
  members = 0;
  const LineSink hash = [&digest](const std::string& line) {
    for (char c : line) {
      digest ^= static_cast<uint8_t>(c);
      digest *= 0x100000001b3ULL;
    }
    digest ^= '\n';
    digest *= 0x100000001b3ULL;
  };
  if (Status status = write_members(store, program, false, hash, members); !status.ok()) {
    return status;
  }
  return write_ledger(store, false, hash);
}

int run_export(const Target& target, const std::string& what, const std::string& format) {
  const bool csv = format == "csv";
  std::unique_ptr<RocksStore> store;
  if (int code = open_store(target.data_dir, store); code != kExitOk) return code;
  StoredPrograms programs;
  if (int code = load_programs(*store, target.data_dir, programs); code != kExitOk) return code;
  const LineSink print = [](const std::string& line) { std::cout << line << '\n'; };
  Status status;
  if (what == "members") {
    if (csv) std::cout << kMembersCsvHeader << '\n';
    uint64_t count = 0;
    status =
        write_members(*store, programs.versions.at(*programs.active)->program, csv, print, count);
  } else {
    if (csv) std::cout << kLedgerCsvHeader << '\n';
    status = write_ledger(*store, csv, print);
  }
  if (!status.ok()) {
    std::cerr << "loyaltyctl export: read failed: " << status.message() << "\n";
    return kExitProblemFound;
  }
  return kExitOk;
}

}  // namespace loyalty::ctl
