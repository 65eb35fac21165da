// CSV import rows: a members file (sign-ups with an optional opening balance) or a purchases
// file (one row per basket line). Each row is turned into the JSON body of the matching API
// request and read by that request's parser, so a CSV cell follows the API's rules and a
// refusal names the column (the API's field names are the column names).
#include <algorithm>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <set>

#include "api/request_parsing.hpp"
#include "apps/loyaltyctl/import_rows.hpp"

namespace loyalty::ctl {
namespace {

namespace json = boost::json;

constexpr std::string_view kMemberColumns[] = {"member_id",
                                               "phone",
                                               "card_no",
                                               "referral_code",
                                               "joined_at",
                                               "opening_points",
                                               "assigned_referral_code"};
constexpr std::string_view kPurchaseColumns[] = {"event_id",    "member_id", "store_id",
                                                 "occurred_at", "currency",  "sku",
                                                 "category",    "quantity",  "amount_minor"};
constexpr std::string_view kOpeningPrefix = "import-opening:";
constexpr std::string_view kOpeningReason = "opening balance (loyaltyctl import)";

Rejection invalid(std::string field, std::string message) {
  return {ErrorCode::invalid_request, std::move(field), std::move(message)};
}

// A whole-number cell as a JSON integer; anything else as a string, for the parser to refuse
// as "must be an integer".
json::value number_or_text(const std::string& cell) {
  int64_t number = 0;
  const char* end = cell.data() + cell.size();
  if (!cell.empty()) {
    const auto [stop, error] = std::from_chars(cell.data(), end, number);
    if (error == std::errc() && stop == end) return json::value(number);
  }
  return json::value(cell);
}

std::optional<size_t> column(const CsvHeader& header, std::string_view name) {
  const auto it = std::find(header.columns.begin(), header.columns.end(), name);
  if (it == header.columns.end()) return std::nullopt;
  return static_cast<size_t>(it - header.columns.begin());
}

const std::string& cell(const CsvHeader& header, const std::vector<std::string>& fields,
                        std::string_view name) {
  static const std::string kEmpty;
  const std::optional<size_t> at = column(header, name);
  return at && *at < fields.size() ? fields[*at] : kEmpty;
}

std::optional<Rejection> field_count(const CsvHeader& header,
                                     const std::vector<std::string>& fields) {
  if (fields.size() == header.columns.size()) return std::nullopt;
  return invalid("", "the row has " + std::to_string(fields.size()) + " fields; the header has " +
                         std::to_string(header.columns.size()));
}

std::string trimmed(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(" \t") - begin + 1);
}

}  // namespace

std::string relabel(const std::string& message, const std::string& from, const std::string& to) {
  if (from.empty() || from == to || message.rfind(from, 0) != 0) return message;
  return to + message.substr(from.size());
}

Located locate(const ImportRow& row, size_t event_index, const std::string& field) {
  if (event_index == 1) return {row.line, "opening_points"};
  if (!row.part_lines.empty() && field.rfind("lines[", 0) == 0) {
    const size_t close = field.find(']');
    size_t index = 0;
    const auto [stop, error] = std::from_chars(field.data() + 6, field.data() + close, index);
    if (error == std::errc() && stop == field.data() + close && index < row.part_lines.size()) {
      const std::string inner = close + 2 <= field.size() ? field.substr(close + 2) : "";
      return {row.part_lines[index], inner.empty() ? "lines" : inner};
    }
  }
  if (!row.part_lines.empty() && field == "lines") return {row.line, "event_id"};
  return {row.line, field};
}

std::optional<CsvHeader> read_csv_header(const std::vector<std::string>& fields,
                                         std::string& error) {
  CsvHeader header;
  std::set<std::string> seen;
  for (const std::string& field : fields) {
    header.columns.push_back(trimmed(field));
    if (!seen.insert(header.columns.back()).second) {
      error = "the header names column " + header.columns.back() + " twice";
      return std::nullopt;
    }
  }
  const auto known = [&](auto& columns, const std::string& name) {
    return std::find(std::begin(columns), std::end(columns), name) != std::end(columns);
  };
  if (seen.contains("event_id")) {
    header.kind = CsvKind::purchases;
    for (const std::string& name : header.columns) {
      if (!known(kPurchaseColumns, name)) {
        error = "unknown column " + name + " in a purchases header";
        return std::nullopt;
      }
    }
    for (std::string_view name : kPurchaseColumns) {
      if (!seen.contains(std::string(name))) {
        error = "a purchases header needs column " + std::string(name);
        return std::nullopt;
      }
    }
    return header;
  }
  if (seen.contains("member_id")) {
    header.kind = CsvKind::members;
    for (const std::string& name : header.columns) {
      if (!known(kMemberColumns, name)) {
        error = "unknown column " + name + " in a members header";
        return std::nullopt;
      }
    }
    return header;
  }
  error =
      "the first line is neither a JSON event (NDJSON) nor a CSV header with member_id "
      "(members) or event_id (purchases)";
  return std::nullopt;
}

ImportRow read_member_row(const CsvHeader& header, const std::vector<std::string>& fields,
                          uint64_t line) {
  ImportRow row;
  row.line = line;
  row.id = cell(header, fields, "member_id");
  if ((row.refused = field_count(header, fields))) return row;
  json::object body;
  for (std::string_view name : {"member_id", "phone", "card_no", "referral_code", "joined_at"}) {
    const std::string& value = cell(header, fields, name);
    if (!value.empty()) body[name] = value;  // an empty cell is an absent field
  }
  api::Parsed<SignupEvent> signup = api::parse_signup_request(json::serialize(body));
  if (const auto* error = std::get_if<api::ParseError>(&signup)) {
    row.refused = invalid(error->field, error->message);
    return row;
  }
  SignupEvent& event = std::get<SignupEvent>(signup);
  event.assigned_referral_code = cell(header, fields, "assigned_referral_code");
  const std::string member_id = event.member_id;
  row.events.push_back(Event{std::move(event)});

  const std::string& opening = cell(header, fields, "opening_points");
  if (opening.empty()) return row;
  const json::value points = number_or_text(opening);
  if (!points.is_int64() || points.get_int64() < 0) {
    row.events.clear();
    row.refused = invalid("opening_points", "opening_points must be a whole number, 0 or more");
    return row;
  }
  if (points.get_int64() == 0) return row;
  const std::string adjustment_id = std::string(kOpeningPrefix) + member_id;
  if (!api::is_valid_id(adjustment_id)) {
    row.events.clear();
    row.refused = invalid("opening_points",
                          "opening points need a member_id of at most 113 characters (the "
                          "adjustment id is import-opening:<member_id>)");
    return row;
  }
  const json::object adjustment_body{
      {"adjustment_id", adjustment_id}, {"points", points}, {"reason", kOpeningReason}};
  api::Parsed<AdjustmentEvent> adjustment =
      api::parse_adjustment_request(json::serialize(adjustment_body), member_id);
  if (const auto* error = std::get_if<api::ParseError>(&adjustment)) {
    row.events.clear();
    row.refused = invalid("opening_points", error->message);
    return row;
  }
  row.events.push_back(Event{std::move(std::get<AdjustmentEvent>(adjustment))});
  return row;
}

std::string purchase_event_id(const CsvHeader& header, const std::vector<std::string>& fields) {
  return cell(header, fields, "event_id");
}

ImportRow read_purchase_rows(const CsvHeader& header, const std::vector<PurchaseCsvLine>& rows) {
  ImportRow row;
  row.line = rows.front().line;
  row.id = purchase_event_id(header, rows.front().fields);
  // An empty cell is an absent field: the parser then says it is required.
  const auto put = [&](json::object& object, std::string_view name, json::value value) {
    if (!(value.is_string() && value.get_string().empty())) object[name] = std::move(value);
  };
  json::object body;
  for (std::string_view name : {"event_id", "member_id", "store_id", "occurred_at", "currency"}) {
    put(body, name, json::value(cell(header, rows.front().fields, name)));
  }
  json::array lines;
  for (const PurchaseCsvLine& part : rows) {
    row.part_lines.push_back(part.line);
    for (std::string_view name : {"member_id", "store_id", "occurred_at", "currency"}) {
      if (cell(header, part.fields, name) != cell(header, rows.front().fields, name)) {
        row.refused =
            Rejection{ErrorCode::invalid_request, std::string(name),
                      "the lines of purchase " + row.id + " disagree on " + std::string(name)};
        row.line = part.line;
        return row;
      }
    }
    json::object basket_line;
    put(basket_line, "sku", json::value(cell(header, part.fields, "sku")));
    put(basket_line, "category", json::value(cell(header, part.fields, "category")));
    put(basket_line, "quantity", number_or_text(cell(header, part.fields, "quantity")));
    put(basket_line, "amount_minor", number_or_text(cell(header, part.fields, "amount_minor")));
    lines.push_back(std::move(basket_line));
  }
  body["lines"] = std::move(lines);
  api::Parsed<PurchaseEvent> purchase = api::parse_purchase_request(json::serialize(body));
  if (const auto* error = std::get_if<api::ParseError>(&purchase)) {
    const Located at = locate(row, 0, error->field);
    row.refused = invalid(at.field, relabel(error->message, error->field, at.field));
    row.line = at.line;
    return row;
  }
  row.events.push_back(Event{std::move(std::get<PurchaseEvent>(purchase))});
  return row;
}

}  // namespace loyalty::ctl
