// A reader of CSV records (RFC 4180) for `loyaltyctl import`: comma-separated fields, quoted
// fields that may hold commas, doubled quotes and line breaks, LF or CRLF line ends. A
// malformed record is reported with its line and skipped, so one bad row never hides the rest.
// Thread-safety: one reader per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <string>
#include <vector>

namespace loyalty::ctl {

// The longest record accepted: it bounds the memory a runaway quoted field can take.
inline constexpr size_t kCsvRecordBytesMax = size_t{1} << 20;

struct CsvRecord {
  std::vector<std::string> fields;
  uint64_t line = 0;   // the physical line the record starts on, 1-based
  uint64_t lines = 0;  // physical lines it spans (more than 1 when a quoted field breaks)
  std::string error;   // not empty: the record is malformed and `fields` mean nothing
};

class CsvReader {
 public:
  explicit CsvReader(std::istream& in) : in_(in) {}

  // The next record; false at the end of the input. Blank lines are skipped. A UTF-8 byte
  // order mark before the first record is dropped.
  bool next(CsvRecord& record);

 private:
  // Reads one physical line without its line end; false at the end of the input.
  bool read_line(std::string& line);

  std::istream& in_;
  uint64_t line_number_ = 0;
};

}  // namespace loyalty::ctl
