// CSV records, read one physical line at a time so that line numbers stay exact and a bad
// record costs only its own lines.
#include "apps/loyaltyctl/csv_reader.hpp"

namespace loyalty::ctl {

bool CsvReader::read_line(std::string& line) {
  line.clear();
  std::streambuf* buffer = in_.rdbuf();
  bool any = false;
  for (int c = buffer->sbumpc(); c != std::char_traits<char>::eof(); c = buffer->sbumpc()) {
    any = true;
    if (c == '\n') break;
    // Past the limit the rest of the line is consumed but not kept: next() reports it.
    if (line.size() <= kCsvRecordBytesMax) line.push_back(static_cast<char>(c));
  }
  if (!any) return false;
  ++line_number_;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line_number_ == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
  return true;
}

bool CsvReader::next(CsvRecord& record) {
  record.fields.clear();
  record.error.clear();
  std::string line;
  do {
    if (!read_line(line)) return false;
  } while (line.empty());
  record.line = line_number_;

  std::string field;
  size_t record_bytes = 0;
  bool quoted = false;      // inside a quoted field
  bool was_quoted = false;  // the current field was quoted and its closing quote is behind
  size_t i = 0;
  while (true) {
    if (i == line.size()) {
      record_bytes += line.size();
      if (record_bytes > kCsvRecordBytesMax) {
        record.error = "the record is longer than 1 MiB";
        break;
      }
      if (!quoted) {
        record.fields.push_back(std::move(field));
        break;
      }
      // A line break inside a quoted field belongs to the field.
      if (!read_line(line)) {
        record.error = "a quoted field is not closed before the end of the file";
        break;
      }
      field.push_back('\n');
      i = 0;
      continue;
    }
    const char c = line[i++];
    if (quoted) {
      if (c != '"') {
        field.push_back(c);
      } else if (i < line.size() && line[i] == '"') {
        field.push_back('"');
        ++i;
      } else {
        quoted = false;
        was_quoted = true;
      }
    } else if (c == ',') {
      record.fields.push_back(std::move(field));
      field.clear();
      was_quoted = false;
    } else if (was_quoted) {
      record.error = "a quoted field must be followed by a comma or the end of the line";
      break;
    } else if (c == '"') {
      if (!field.empty()) {
        record.error = "a quote inside an unquoted field (quote the whole field, doubling quotes)";
        break;
      }
      quoted = true;
    } else {
      field.push_back(c);
    }
  }
  record.lines = line_number_ - record.line + 1;
  if (!record.error.empty()) record.fields.clear();
  return true;
}

}  // namespace loyalty::ctl
