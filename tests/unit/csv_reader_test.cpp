// The CSV reader behind `loyaltyctl import`: quoted fields, line numbers of records that span
// lines, and malformed records reported without losing the records after them.
#include "apps/loyaltyctl/csv_reader.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace loyalty::ctl {
namespace {

using Fields = std::vector<std::string>;

std::vector<CsvRecord> read_all(const std::string& text) {
  std::istringstream in(text);
  CsvReader reader(in);
  std::vector<CsvRecord> records;
  CsvRecord record;
  while (reader.next(record)) records.push_back(record);
  return records;
}

TEST(CsvReader, PlainAndQuotedFields) {
  const auto records = read_all(
      "member_id,phone\n"
      "m-1,+86138\n"
      "\"m,2\",\"say \"\"hi\"\"\"\n"
      "m-3,\n"
      ",\n");
  ASSERT_EQ(records.size(), 5u);
  EXPECT_EQ(records[0].fields, (Fields{"member_id", "phone"}));
  EXPECT_EQ(records[1].fields, (Fields{"m-1", "+86138"}));
  EXPECT_EQ(records[2].fields, (Fields{"m,2", "say \"hi\""}));
  EXPECT_EQ(records[3].fields, (Fields{"m-3", ""}));
  EXPECT_EQ(records[4].fields, (Fields{"", ""}));
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i].line, i + 1);
    EXPECT_EQ(records[i].lines, 1u);
    EXPECT_TRUE(records[i].error.empty()) << records[i].error;
  }
}

TEST(CsvReader, EmptyQuotedFieldAndQuotesOnly) {
  const auto records = read_all("\"\",\"\"\"\"\n");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].fields, (Fields{"", "\""}));
}

TEST(CsvReader, CrLfLineEndsBomAndMissingFinalNewline) {
  const auto records = read_all(
      "\xEF\xBB\xBF"
      "a,b\r\n1,2\r\n3,4");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].fields, (Fields{"a", "b"}));
  EXPECT_EQ(records[1].fields, (Fields{"1", "2"}));
  EXPECT_EQ(records[2].fields, (Fields{"3", "4"}));
  EXPECT_EQ(records[2].line, 3u);
}

TEST(CsvReader, QuotedLineBreakSpansLinesAndKeepsLaterLineNumbers) {
  const auto records = read_all("a,b\n\"two\nlines\",x\r\nnext,y\n");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[1].fields, (Fields{"two\nlines", "x"}));
  EXPECT_EQ(records[1].line, 2u);
  EXPECT_EQ(records[1].lines, 2u);
  EXPECT_EQ(records[2].fields, (Fields{"next", "y"}));
  EXPECT_EQ(records[2].line, 4u);
}

TEST(CsvReader, BlankLinesAreSkippedButCounted) {
  const auto records = read_all("a\n\n\r\nb\n");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].fields, (Fields{"b"}));
  EXPECT_EQ(records[1].line, 4u);
}

TEST(CsvReader, MalformedRecordsAreReportedAndReadingGoesOn) {
  const auto records = read_all(
      "\"ab\"c,d\n"  // text after a closing quote
      "ab\"c,d\n"    // a quote inside an unquoted field
      "ok,1\n"
      "\"never closed\n"  // runs to the end of the file
      "x,y\n");
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[0].error, "a quoted field must be followed by a comma or the end of the line");
  EXPECT_TRUE(records[0].fields.empty());
  EXPECT_EQ(records[1].line, 2u);
  EXPECT_EQ(records[1].error,
            "a quote inside an unquoted field (quote the whole field, doubling quotes)");
  EXPECT_EQ(records[2].fields, (Fields{"ok", "1"}));
  EXPECT_TRUE(records[2].error.empty());
  EXPECT_EQ(records[3].line, 4u);
  EXPECT_EQ(records[3].error, "a quoted field is not closed before the end of the file");
}

TEST(CsvReader, OverlongRecordIsRefusedAndTheNextOneRead) {
  std::string text = "a," + std::string(kCsvRecordBytesMax + 10, 'x') + "\nb,c\n";
  const auto records = read_all(text);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].error, "the record is longer than 1 MiB");
  EXPECT_EQ(records[1].fields, (Fields{"b", "c"}));
  EXPECT_EQ(records[1].line, 2u);
}

TEST(CsvReader, EmptyInputHasNoRecords) {
  EXPECT_TRUE(read_all("").empty());
  EXPECT_TRUE(read_all("\n\n").empty());
}

}  // namespace
}  // namespace loyalty::ctl
