// import: events from NDJSON (the batch item format, and what `export events` writes) or
// CSV (members, purchase lines) into a data folder, through the runtime's writers. Every
// event carries its client id, so importing a file again changes nothing. Rows that cannot
// be read or that the engine refuses are reported with their line; the others still apply.
#include <algorithm>
#include <cstring>
#include <fstream>
#include <iostream>

#include "api/system_clock.hpp"
#include "apps/loyaltyctl/commands.hpp"
#include "apps/loyaltyctl/csv_reader.hpp"
#include "apps/loyaltyctl/import_driver.hpp"

namespace loyalty::ctl {
namespace {

constexpr size_t kNdjsonLineBytesMax = size_t{1} << 20;
constexpr size_t kRejectionsPrintedMax = 1000;  // text output; --json and --report have all

enum class FileFormat : uint8_t { ndjson, members_csv, purchases_csv };

const char* format_name(FileFormat format) {
  switch (format) {
    case FileFormat::ndjson:
      return "ndjson";
    case FileFormat::members_csv:
      return "members_csv";
    case FileFormat::purchases_csv:
      return "purchases_csv";
  }
  return "ndjson";
}

// Physical lines in the file (for the progress bar) and its first character that is not a
// byte order mark or white space (0 when there is none).
bool scan_file(const std::string& path, uint64_t& lines, char& first) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  lines = 0;
  first = 0;
  char buffer[1 << 16];
  bool last_was_newline = true;
  bool start = true;
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    const size_t got = static_cast<size_t>(in.gcount());
    size_t from = 0;
    if (start && got >= 3 && std::memcmp(buffer, "\xEF\xBB\xBF", 3) == 0) from = 3;
    start = false;
    for (size_t i = from; i < got; ++i) {
      if (first == 0 && std::strchr(" \t\r\n", buffer[i]) == nullptr) first = buffer[i];
      if (buffer[i] == '\n') ++lines;
    }
    last_was_newline = buffer[got - 1] == '\n';
  }
  if (!last_was_newline) ++lines;
  return !in.bad();
}

ImportRow malformed_row(uint64_t line, std::string id, std::string message) {
  ImportRow row;
  row.line = line;
  row.id = std::move(id);
  row.refused = Rejection{ErrorCode::invalid_request, "", std::move(message)};
  return row;
}

void import_ndjson(std::istream& in, Importer& importer, Progress& progress) {
  std::string text;
  uint64_t line = 0;
  while (std::getline(in, text)) {
    ++line;
    progress.advance();
    if (line == 1 && text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);
    const size_t begin = text.find_first_not_of(" \t\r");
    if (begin == std::string::npos) continue;
    if (text.size() > kNdjsonLineBytesMax) {
      importer.add(malformed_row(line, "", "the line is longer than 1 MiB"));
      continue;
    }
    const size_t end = text.find_last_not_of(" \t\r");
    importer.add(read_ndjson_row(std::string_view(text).substr(begin, end - begin + 1), line,
                                 api::system_clock_ms()));
  }
}

void import_members(CsvReader& reader, const CsvHeader& header, Importer& importer,
                    Progress& progress) {
  CsvRecord record;
  while (reader.next(record)) {
    progress.advance(record.lines);
    if (!record.error.empty()) {
      importer.add(malformed_row(record.line, "", record.error));
      continue;
    }
    importer.add(read_member_row(header, record.fields, record.line));
  }
}

// Consecutive rows with one event_id are one purchase. A malformed row among them refuses
// the whole purchase: importing the rest would credit a basket with a line missing.
void import_purchases(CsvReader& reader, const CsvHeader& header, Importer& importer,
                      Progress& progress) {
  std::vector<PurchaseCsvLine> group;
  std::string group_id;
  std::string skipped_id;  // rows with this id belong to a purchase already refused
  bool skipping = false;
  const auto flush = [&] {
    if (!group.empty()) importer.add(read_purchase_rows(header, group));
    group.clear();
  };
  CsvRecord record;
  while (reader.next(record)) {
    progress.advance(record.lines);
    const bool malformed = !record.error.empty() || record.fields.size() != header.columns.size();
    const std::string id = record.error.empty() ? purchase_event_id(header, record.fields) : "";
    if (malformed) {
      // A row whose id is unreadable may belong to the open purchase; so may one with its id.
      if (!group.empty() && (id.empty() || id == group_id)) {
        importer.add(malformed_row(
            group.front().line, group_id,
            "purchase not imported: its line " + std::to_string(record.line) + " is malformed"));
        skipped_id = group_id;
        group.clear();
      } else {
        flush();
        skipped_id = id;
      }
      skipping = !skipped_id.empty();
      importer.add(malformed_row(record.line, id,
                                 !record.error.empty()
                                     ? record.error
                                     : "the row has " + std::to_string(record.fields.size()) +
                                           " fields; the header has " +
                                           std::to_string(header.columns.size())));
      continue;
    }
    if (skipping && id == skipped_id) continue;
    skipping = false;
    if (!group.empty() && id != group_id) flush();
    group_id = id;
    // Past the line limit the parser refuses the purchase; more rows would only cost memory.
    if (group.size() <= kLinesMax) group.push_back({record.line, record.fields});
  }
  flush();
}

bool write_report(const std::string& path, const ImportTotals& totals) {
  std::ofstream out(path, std::ios::trunc);
  out << "line,id,code,field,message\n";
  for (const RejectedRow& r : totals.rejections) {
    out << r.line << ',' << csv_field(r.id) << ',' << r.code << ',' << csv_field(r.field) << ','
        << csv_field(r.message) << '\n';
  }
  return static_cast<bool>(out.flush());
}

void print_json(const ImportOptions& options, FileFormat format, const ImportTotals& totals,
                const std::string& digest) {
  std::cout << "{\"file\":\"" << json_escape(options.file) << "\",\"format\":\""
            << format_name(format) << "\",\"rows\":" << totals.rows
            << ",\"applied\":" << totals.applied << ",\"replayed\":" << totals.replayed
            << ",\"rejected\":" << totals.rejected
            << ",\"follow_ups_applied\":" << totals.follow_ups_applied
            << ",\"follow_ups_failed\":" << totals.follow_up_failures.size() << ",\"rejections\":[";
  for (size_t i = 0; i < totals.rejections.size(); ++i) {
    const RejectedRow& r = totals.rejections[i];
    std::cout << (i ? "," : "") << "{\"line\":" << r.line << ",\"id\":\"" << json_escape(r.id)
              << "\",\"code\":\"" << r.code << "\",\"field\":\"" << json_escape(r.field)
              << "\",\"message\":\"" << json_escape(r.message) << "\"}";
  }
  std::cout << "]";
  if (!digest.empty()) std::cout << ",\"digest\":\"" << digest << "\"";
  std::cout << ",\"ok\":"
            << (totals.rejected == 0 && totals.follow_up_failures.empty() ? "true" : "false")
            << "}\n";
}

void print_text(const ImportOptions& options, FileFormat format, const ImportTotals& totals,
                const std::string& digest) {
  for (size_t i = 0; i < totals.rejections.size() && i < kRejectionsPrintedMax; ++i) {
    const RejectedRow& r = totals.rejections[i];
    std::cout << "line " << r.line << (r.id.empty() ? "" : " [" + r.id + "]") << ": " << r.code
              << (r.field.empty() ? "" : " " + r.field) << ": " << r.message << "\n";
  }
  if (totals.rejections.size() > kRejectionsPrintedMax) {
    std::cout << "… and " << totals.rejections.size() - kRejectionsPrintedMax
              << " more rejected rows (--json and --report list them all)\n";
  }
  for (const std::string& failure : totals.follow_up_failures) {
    std::cout << "follow-up not applied: " << failure << "\n";
  }
  std::cout << options.file << " (" << format_name(format) << "): " << totals.rows << " rows, "
            << totals.applied << " applied, " << totals.replayed << " replayed, " << totals.rejected
            << " rejected";
  if (totals.follow_ups_applied > 0) {
    std::cout << "; " << totals.follow_ups_applied << " referral follow-ups applied";
  }
  std::cout << "\n";
  if (!digest.empty()) std::cout << "digest " << digest << "\n";
}

}  // namespace

int run_import(const Target& target, const ImportOptions& options) {
  uint64_t total_lines = 0;
  char first = 0;
  if (!scan_file(options.file, total_lines, first)) {
    std::cerr << "loyaltyctl import: cannot read " << options.file << "\n";
    return kExitUsage;
  }
  if (first == 0) {
    std::cerr << "loyaltyctl import: " << options.file << " is empty\n";
    return kExitUsage;
  }
  std::ifstream in(options.file, std::ios::binary);
  FileFormat format = FileFormat::ndjson;
  CsvReader reader(in);
  CsvHeader header;
  if (first != '{') {
    CsvRecord record;
    std::string error;
    std::optional<CsvHeader> read;
    if (!reader.next(record) || !record.error.empty()) {
      error = record.error.empty() ? "no header row" : record.error;
    } else {
      read = read_csv_header(record.fields, error);
    }
    if (!read) {
      std::cerr << "loyaltyctl import: " << options.file << ": " << error << "\n";
      return kExitUsage;
    }
    header = std::move(*read);
    format = header.kind == CsvKind::members ? FileFormat::members_csv : FileFormat::purchases_csv;
  }
  if (!options.report_path.empty() && !std::ofstream(options.report_path, std::ios::app)) {
    std::cerr << "loyaltyctl import: cannot write the report " << options.report_path << "\n";
    return kExitUsage;
  }

  std::unique_ptr<RocksStore> store;
  if (int code = open_store(target.data_dir, store); code != kExitOk) return code;
  StoredPrograms programs;
  if (int code = load_programs(*store, target.data_dir, programs); code != kExitOk) return code;
  ProgramRegistry registry(programs.versions.at(*programs.active));
  ImportTotals totals;
  {
    // Follow-ups are applied by the importer: where an exported file places them, or after
    // the last row.
    Runtime runtime({.partitions = 2, .deliver_follow_ups = false}, *store, registry,
                    api::system_clock_ms);
    Importer importer(*store, runtime);
    Progress progress("import", total_lines);
    if (format == FileFormat::ndjson) {
      import_ndjson(in, importer, progress);
    } else {
      progress.advance(1);  // the header
      if (format == FileFormat::members_csv) {
        import_members(reader, header, importer, progress);
      } else {
        import_purchases(reader, header, importer, progress);
      }
    }
    totals = importer.finish();
    progress.finish();
  }
  if (in.bad()) {
    std::cerr << "loyaltyctl import: reading " << options.file << " failed part way\n";
    return kExitUsage;
  }
  // Imported erasures are purged from the folder now, as loyaltyd purges those it takes.
  std::vector<std::string> erased;
  Status purged = store->pending_erasures(erased);
  for (const std::string& member_id : erased) {
    storage::ErasureReport report;
    if (purged.ok()) purged = store->purge_erasure(member_id, report);
  }
  if (!purged.ok()) {
    std::cerr << "loyaltyctl import: purging an erasure failed (loyaltyd retries at its start): "
              << purged.message() << "\n";
  }
  std::string digest;
  if (options.digest) {
    uint64_t value = 0, members = 0;
    if (Status status = state_digest(*store, value, members); !status.ok()) {
      std::cerr << "loyaltyctl import: cannot compute the digest: " << status.message() << "\n";
      return kExitProblemFound;
    }
    char hex[17];
    std::snprintf(hex, sizeof hex, "%llx", static_cast<unsigned long long>(value));
    digest = hex;
  }
  if (!options.report_path.empty() && !write_report(options.report_path, totals)) {
    std::cerr << "loyaltyctl import: cannot write the report " << options.report_path << "\n";
  }
  if (target.json) {
    print_json(options, format, totals, digest);
  } else {
    print_text(options, format, totals, digest);
  }
  return totals.rejected == 0 && totals.follow_up_failures.empty() ? kExitOk : kExitProblemFound;
}

}  // namespace loyalty::ctl
