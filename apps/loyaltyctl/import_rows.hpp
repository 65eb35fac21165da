// What `loyaltyctl import` reads a file into: rows, each one or more engine events (or the
// reason it cannot be imported), read by the same request parsers as the API. The NDJSON
// format is the item format of POST /v1/events:batch with more types; the CSV formats are
// members and purchase lines (README.md, "loyaltyctl import").
// Thread-safety: free functions and values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/events.hpp"
#include "engine/outcome.hpp"

namespace loyalty::ctl {

// One input row: a line of NDJSON, a member, or the lines of one purchase.
struct ImportRow {
  uint64_t line = 0;  // where the row starts in the file, 1-based
  std::string id;     // its client id (event_id, member_id, …) for the report; may be empty
  // Applied in order; each after the one before it applied (a member's opening balance
  // only once the sign-up went through).
  std::vector<Event> events;
  std::optional<Rejection> refused;  // set when the row cannot be read; `events` is then empty
  // The file lines of a purchase's basket lines (purchases CSV), so that a refusal naming
  // "lines[2].amount_minor" is reported on the third line's own line as "amount_minor".
  std::vector<uint64_t> part_lines;
};

// Where a refusal of `row` is reported: the line and the field as the file names them. A
// refusal of a members row's second event (its opening balance) names opening_points.
struct Located {
  uint64_t line = 0;
  std::string field;
};
Located locate(const ImportRow& row, size_t event_index, const std::string& field);
// `message` with a leading field path `from` replaced by `to` ("lines[2].amount_minor must…").
std::string relabel(const std::string& message, const std::string& from, const std::string& to);

// NDJSON: one event per line. `now` refuses times more than 5 minutes ahead, like the API.
ImportRow read_ndjson_row(std::string_view text, uint64_t line, TimeMs now);

// The CSV kinds, decided by the header row.
enum class CsvKind : uint8_t { members, purchases };

struct CsvHeader {
  CsvKind kind = CsvKind::members;
  std::vector<std::string> columns;
};

// The header row's kind, or why it is neither (then `error` says which column is wrong).
std::optional<CsvHeader> read_csv_header(const std::vector<std::string>& fields,
                                         std::string& error);

// Members CSV: a sign-up, and an adjustment `import-opening:<member_id>` for opening_points.
ImportRow read_member_row(const CsvHeader& header, const std::vector<std::string>& fields,
                          uint64_t line);

// One cell of each column of a purchases CSV row, by header position.
struct PurchaseCsvLine {
  uint64_t line = 0;
  std::vector<std::string> fields;
};
// The consecutive rows of one event_id as one purchase.
ImportRow read_purchase_rows(const CsvHeader& header, const std::vector<PurchaseCsvLine>& rows);

// The id column of a purchases CSV row ("" when the row is too short to have one).
std::string purchase_event_id(const CsvHeader& header, const std::vector<std::string>& fields);

}  // namespace loyalty::ctl
