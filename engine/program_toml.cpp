// program.toml → Program (config.md): key and type checks, exact decimals, times, tier benefits as
// JSON; the semantic checks are validate_program's (program_validate.cpp). toml11 exceptions stop
// at this file.
#include "engine/program_toml.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <exception>
#include <initializer_list>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <toml.hpp>
#include <utility>
#include <vector>

#include "engine/program_key_path.hpp"
#include "engine/types.hpp"

namespace loyalty {
namespace {

// std::map tables: unknown keys are reported in a stable order, and benefits JSON comes out with
// sorted keys, so the same TOML always gives the same bytes.
using TomlValue = toml::basic_value<toml::discard_comments, std::map, std::vector>;
using Problem = std::optional<ProgramLoadError>;

enum class Presence : uint8_t { optional, required };

Problem problem(std::string key, std::string message) {
  return ProgramLoadError{std::move(key), std::move(message)};
}

// ---------------------------------------------------------------------------------------------
// Key paths and JSON text

// ---------------------------------------------------------------------------------------------
// Reading single TOML values. Each reader returns nullopt after recording why in `errors`.

// Keeps the first problem: later ones are most often consequences of it.
class ErrorSink {
 public:
  void fail(std::string key, std::string message) {
    if (!error_) error_ = ProgramLoadError{std::move(key), std::move(message)};
  }
  bool failed() const { return error_.has_value(); }
  const Problem& error() const { return error_; }

 private:
  Problem error_;
};

std::string_view type_name(toml::value_t type) {
  switch (type) {
    case toml::value_t::boolean:
      return "a boolean";
    case toml::value_t::integer:
      return "an integer";
    case toml::value_t::floating:
      return "a float";
    case toml::value_t::string:
      return "a string";
    case toml::value_t::offset_datetime:
      return "a date-time";
    case toml::value_t::local_datetime:
      return "a date-time without offset";
    case toml::value_t::local_date:
      return "a date";
    case toml::value_t::local_time:
      return "a time of day";
    case toml::value_t::array:
      return "an array";
    case toml::value_t::table:
      return "a table";
    case toml::value_t::empty:
      break;
  }
  return "nothing";
}

void fail_type(ErrorSink& errors, const std::string& path, std::string_view expected,
               const TomlValue& found) {
  errors.fail(path, "expected " + std::string(expected) + ", found " +
                        std::string(type_name(found.type())));
}

// The characters the value was written as. toml11 keeps the source line and the value's column
// and length; reading floats from here is what keeps "1.1" from ever becoming a double.
std::string literal_text(const TomlValue& value) {
  const toml::source_location where = value.location();
  const std::string& line = where.line_str();
  if (where.column() == 0 || where.column() - 1 >= line.size()) return {};
  return line.substr(where.column() - 1, where.region());
}

int fraction_digits(std::string_view literal) {
  const size_t point = literal.find('.');
  if (point == std::string_view::npos) return 0;
  int digits = 0;
  for (size_t i = point + 1; i < literal.size(); ++i) {
    if (literal[i] == '_') continue;
    if (literal[i] < '0' || literal[i] > '9') break;
    ++digits;
  }
  return digits;
}

std::optional<std::string> read_string(const TomlValue& value, const std::string& path,
                                       ErrorSink& errors) {
  if (!value.is_string()) {
    fail_type(errors, path, "a string", value);
    return std::nullopt;
  }
  return value.as_string().str;
}

std::optional<int64_t> read_integer(const TomlValue& value, const std::string& path,
                                    ErrorSink& errors) {
  if (!value.is_integer()) {
    fail_type(errors, path, "an integer", value);
    return std::nullopt;
  }
  return value.as_integer();
}

// Counts and durations held as uint32_t; the semantic range is validate_program's job.
std::optional<uint32_t> read_count(const TomlValue& value, const std::string& path,
                                   ErrorSink& errors) {
  const std::optional<int64_t> number = read_integer(value, path, errors);
  if (!number) return std::nullopt;
  if (*number < 0) {
    errors.fail(path, "must not be negative, got " + std::to_string(*number));
    return std::nullopt;
  }
  if (*number > int64_t{std::numeric_limits<uint32_t>::max()}) {
    errors.fail(path, "is too large: " + std::to_string(*number));
    return std::nullopt;
  }
  return static_cast<uint32_t>(*number);
}

// A TOML integer, or a float taken from its source text (never through double).
std::optional<Decimal> read_decimal(const TomlValue& value, const std::string& path,
                                    ErrorSink& errors) {
  constexpr int64_t kWholeMax = int64_t{1} << 46;  // Decimal::parse's own bound
  if (value.is_integer()) {
    const int64_t whole = value.as_integer();
    if (whole > kWholeMax || whole < -kWholeMax) {
      errors.fail(path, "is out of range");
      return std::nullopt;
    }
    return Decimal::from_integer(whole);
  }
  if (!value.is_floating()) {
    fail_type(errors, path, "a number", value);
    return std::nullopt;
  }
  const std::string literal = literal_text(value);
  if (const std::optional<Decimal> parsed = Decimal::parse(literal)) return parsed;
  if (literal.find_first_of("eEin") != std::string::npos) {
    errors.fail(path,
                "must be a plain decimal such as 1.25 (no exponent, inf or nan), got " + literal);
  } else if (fraction_digits(literal) > Decimal::kFractionDigitsMax) {
    errors.fail(path, "has more than " + std::to_string(Decimal::kFractionDigitsMax) +
                          " fractional digits: " + literal);
  } else {
    errors.fail(path, "is out of range: " + literal);
  }
  return std::nullopt;
}

// An RFC 3339 string as config.md writes it, or a TOML offset date-time (read from its text,
// with TOML's optional space separator turned into the 'T' RFC 3339 wants).
std::optional<TimeMs> read_time(const TomlValue& value, const std::string& path,
                                ErrorSink& errors) {
  std::string text;
  if (value.is_string()) {
    text = value.as_string().str;
  } else if (value.is_offset_datetime()) {
    text = literal_text(value);
    if (text.size() > 10 && text[10] == ' ') text[10] = 'T';
  } else if (value.is_local_datetime() || value.is_local_date()) {
    errors.fail(path, "needs a UTC offset, e.g. \"2026-11-01T00:00:00Z\"");
    return std::nullopt;
  } else {
    fail_type(errors, path, "an RFC 3339 time string", value);
    return std::nullopt;
  }
  if (const std::optional<TimeMs> time = parse_rfc3339(text)) return time;
  errors.fail(path, "is not an RFC 3339 time such as \"2026-11-01T00:00:00Z\": " + text);
  return std::nullopt;
}

const TomlValue::array_type* read_array(const TomlValue& value, const std::string& path,
                                        ErrorSink& errors) {
  if (!value.is_array()) {
    fail_type(errors, path, "an array", value);
    return nullptr;
  }
  return &value.as_array();
}

std::optional<std::set<std::string>> read_string_set(const TomlValue& value,
                                                     const std::string& path, ErrorSink& errors) {
  const TomlValue::array_type* array = read_array(value, path, errors);
  if (array == nullptr) return std::nullopt;
  std::set<std::string> names;
  for (size_t i = 0; i < array->size(); ++i) {
    const std::optional<std::string> name = read_string((*array)[i], element_path(path, i), errors);
    if (!name) return std::nullopt;
    names.insert(*name);
  }
  return names;
}

std::optional<uint8_t> read_weekday_mask(const TomlValue& value, const std::string& path,
                                         ErrorSink& errors) {
  const TomlValue::array_type* array = read_array(value, path, errors);
  if (array == nullptr) return std::nullopt;
  if (array->empty()) {
    // An empty list reads as "no day", which would silently disable the campaign.
    errors.fail(path, "must list at least one day; leave it out for every day");
    return std::nullopt;
  }
  uint8_t mask = 0;
  for (size_t i = 0; i < array->size(); ++i) {
    const std::string day_path = element_path(path, i);
    const std::optional<int64_t> day = read_integer((*array)[i], day_path, errors);
    if (!day) return std::nullopt;
    if (*day < 1 || *day > 7) {
      errors.fail(day_path,
                  "ISO weekdays are 1 (Monday) to 7 (Sunday), got " + std::to_string(*day));
      return std::nullopt;
    }
    mask = static_cast<uint8_t>(mask | (1u << *day));
  }
  return mask;
}

// ["07:00-10:00", "14:00-17:00"]: local spans of the day, start inclusive, end exclusive. Their
// order within the day is validate_program's to check.
std::optional<std::vector<LocalHours>> read_hours(const TomlValue& value, const std::string& path,
                                                  ErrorSink& errors) {
  const TomlValue::array_type* array = read_array(value, path, errors);
  if (array == nullptr) return std::nullopt;
  if (array->empty()) {
    errors.fail(path, "must list at least one span; leave it out for the whole day");
    return std::nullopt;
  }
  if (array->size() > kCampaignHoursMax) {
    errors.fail(path, "at most " + std::to_string(kCampaignHoursMax) + " spans");
    return std::nullopt;
  }
  std::vector<LocalHours> spans;
  for (size_t i = 0; i < array->size(); ++i) {
    const std::string span_path = element_path(path, i);
    const std::optional<std::string> text = read_string((*array)[i], span_path, errors);
    if (!text) return std::nullopt;
    const std::string_view span = *text;
    const std::optional<int> start =
        span.size() == 11 && span[5] == '-' ? parse_time_of_day(span.substr(0, 5)) : std::nullopt;
    const std::optional<int> end =
        span.size() == 11 && span[5] == '-' ? parse_time_of_day(span.substr(6)) : std::nullopt;
    if (!start || !end) {
      errors.fail(span_path,
                  "must be \"HH:MM-HH:MM\" in local time (00:00 to 24:00), got \"" + *text + "\"");
      return std::nullopt;
    }
    spans.push_back({static_cast<uint32_t>(*start), static_cast<uint32_t>(*end)});
  }
  return spans;
}

// An IANA zone name, resolved now: the program carries the rules, not the name.
std::optional<TimeZonePtr> read_zone(const TomlValue& value, const std::string& path,
                                     ErrorSink& errors, const TimeZoneDatabase& zones) {
  const std::optional<std::string> name = read_string(value, path, errors);
  if (!name) return std::nullopt;
  TimeZonePtr zone = name->size() <= kTimeZoneNameLengthMax ? zones.find(*name) : nullptr;
  if (!zone) {
    std::string quoted;
    append_quoted(quoted, name->substr(0, kTimeZoneNameLengthMax));
    errors.fail(path, "unknown time zone " + quoted +
                          " (an IANA name of this system's tzdata, such as \"Asia/Shanghai\")");
    return std::nullopt;
  }
  return zone;
}

bool append_json(const TomlValue& value, const std::string& path, ErrorSink& errors,
                 std::string& out) {
  switch (value.type()) {
    case toml::value_t::boolean:
      out += value.as_boolean() ? "true" : "false";
      return true;
    case toml::value_t::integer:
      out += std::to_string(value.as_integer());
      return true;
    case toml::value_t::floating: {
      // The literal as written, minus what TOML allows and JSON does not ('_', a leading '+').
      const std::string literal = literal_text(value);
      if (literal.empty() || literal.find('n') != std::string::npos) {
        errors.fail(path, "JSON has no inf or nan");
        return false;
      }
      // Beyond a double's range (1e400) JSON readers make it infinity, which the API would
      // then write as the non-JSON `Infinity` in every member view (found by
      // fuzz/program_toml_fuzzer.cpp). toml11 reads such a literal as ±DBL_MAX.
      const double number = value.as_floating();
      if (std::abs(number) >= std::numeric_limits<double>::max()) {
        errors.fail(path, "is beyond the range of a JSON number (about 1e308): " + literal);
        return false;
      }
      // Zero (or an underflow to it) is written plainly: Boost.JSON 1.81 reads "0e400" as NaN.
      if (number == 0.0) {
        out += std::signbit(number) ? "-0.0" : "0.0";
        return true;
      }
      for (size_t i = 0; i < literal.size(); ++i) {
        if (literal[i] == '_' || (i == 0 && literal[i] == '+')) continue;
        out += literal[i];
      }
      return true;
    }
    case toml::value_t::string:
      append_quoted(out, value.as_string().str);
      return true;
    case toml::value_t::array: {
      out += '[';
      const TomlValue::array_type& array = value.as_array();
      for (size_t i = 0; i < array.size(); ++i) {
        if (i != 0) out += ',';
        if (!append_json(array[i], element_path(path, i), errors, out)) return false;
      }
      out += ']';
      return true;
    }
    case toml::value_t::table: {
      out += '{';
      bool first = true;
      for (const auto& [key, member] : value.as_table()) {
        if (!first) out += ',';
        first = false;
        append_quoted(out, key);
        out += ':';
        if (!append_json(member, child_path(path, key), errors, out)) return false;
      }
      out += '}';
      return true;
    }
    default:
      errors.fail(path, "benefits hold strings, numbers, booleans, arrays and tables; found " +
                            std::string(type_name(value.type())));
      return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Reading tables

// One TOML table being read. It refuses keys it was not told about, so that a misspelt key is an
// error rather than a setting silently left at its default.
class TableReader {
 public:
  static std::optional<TableReader> open(const TomlValue& value, std::string path,
                                         ErrorSink& errors,
                                         std::initializer_list<std::string_view> known_keys) {
    if (!value.is_table()) {
      fail_type(errors, path, "a table", value);
      return std::nullopt;
    }
    for (const auto& entry : value.as_table()) {
      const std::string& key = entry.first;
      if (std::find(known_keys.begin(), known_keys.end(), key) != known_keys.end()) continue;
      std::string expected;
      for (const std::string_view known : known_keys) {
        expected += (expected.empty() ? "" : ", ") + std::string(known);
      }
      errors.fail(child_path(path, key), "unknown key (expected one of: " + expected + ")");
      return std::nullopt;
    }
    return TableReader(value, std::move(path), errors);
  }

  std::string path_of(std::string_view key) const { return child_path(path_, key); }
  bool has(std::string_view key) const { return value_->as_table().count(std::string(key)) != 0; }

  const TomlValue* find(std::string_view key, Presence presence) const {
    const auto& entries = value_->as_table();
    const auto found = entries.find(std::string(key));
    if (found != entries.end()) return &found->second;
    if (presence == Presence::required) errors_->fail(path_of(key), "required key is missing");
    return nullptr;
  }

  std::optional<TableReader> table(std::string_view key, Presence presence,
                                   std::initializer_list<std::string_view> known_keys) const {
    const auto& entries = value_->as_table();
    const auto found = entries.find(std::string(key));
    if (found == entries.end()) {
      if (presence == Presence::required) {
        errors_->fail(path_of(key), "required section is missing");
      }
      return std::nullopt;
    }
    return open(found->second, path_of(key), *errors_, known_keys);
  }

  // Applies `reader` to the value under `key` when it is there.
  template <typename Reader>
  auto read(std::string_view key, Presence presence, Reader reader) const
      -> decltype(reader(std::declval<const TomlValue&>(), std::string(),
                         std::declval<ErrorSink&>())) {
    const TomlValue* value = find(key, presence);
    if (value == nullptr) return std::nullopt;
    return reader(*value, path_of(key), *errors_);
  }

  std::optional<std::string> string(std::string_view key, Presence presence) const {
    return read(key, presence, read_string);
  }
  std::optional<int64_t> integer(std::string_view key, Presence presence) const {
    return read(key, presence, read_integer);
  }
  std::optional<uint32_t> count(std::string_view key, Presence presence) const {
    return read(key, presence, read_count);
  }
  std::optional<Decimal> decimal(std::string_view key, Presence presence) const {
    return read(key, presence, read_decimal);
  }
  std::optional<TimeMs> time(std::string_view key, Presence presence) const {
    return read(key, presence, read_time);
  }
  std::optional<std::set<std::string>> string_set(std::string_view key) const {
    return read(key, Presence::optional, read_string_set);
  }

  // A table of name = decimal, e.g. [earning.category_multipliers]: the names are free-form.
  std::optional<std::map<std::string, Decimal>> decimal_table(std::string_view key) const {
    const TomlValue* value = find(key, Presence::optional);
    if (value == nullptr) return std::nullopt;
    const std::string path = path_of(key);
    if (!value->is_table()) {
      fail_type(*errors_, path, "a table", *value);
      return std::nullopt;
    }
    std::map<std::string, Decimal> out;
    for (const auto& [name, entry] : value->as_table()) {
      const std::optional<Decimal> decimal = read_decimal(entry, child_path(path, name), *errors_);
      if (!decimal) return std::nullopt;
      out.emplace(name, *decimal);
    }
    return out;
  }

  // The elements of an array of tables ([[campaigns]]) with their paths; the caller opens each
  // one as a table, which checks that it is one.
  std::vector<std::pair<std::string, const TomlValue*>> tables(std::string_view key,
                                                               Presence presence) const {
    std::vector<std::pair<std::string, const TomlValue*>> out;
    const TomlValue* value = find(key, presence);
    if (value == nullptr) return out;
    const std::string path = path_of(key);
    const TomlValue::array_type* array = read_array(*value, path, *errors_);
    if (array == nullptr) return out;
    for (size_t i = 0; i < array->size(); ++i) {
      out.emplace_back(element_path(path, i), &(*array)[i]);
    }
    return out;
  }

  ErrorSink& errors() const { return *errors_; }

 private:
  TableReader(const TomlValue& value, std::string path, ErrorSink& errors)
      : value_(&value), path_(std::move(path)), errors_(&errors) {}

  const TomlValue* value_;
  std::string path_;
  ErrorSink* errors_;
};

// Maps a string setting to an enum value; `choices` lists the spelling of each.
template <typename Enum, size_t N>
std::optional<Enum> read_choice(const TableReader& table, std::string_view key,
                                const std::array<std::pair<std::string_view, Enum>, N>& choices) {
  const std::optional<std::string> text = table.string(key, Presence::optional);
  if (!text) return std::nullopt;
  std::string expected;
  for (const auto& [name, value] : choices) {
    if (*text == name) return value;
    expected += (expected.empty() ? "\"" : ", \"") + std::string(name) + "\"";
  }
  table.errors().fail(table.path_of(key), "must be one of " + expected + ", got \"" + *text + "\"");
  return std::nullopt;
}

constexpr std::array<std::pair<std::string_view, Rounding>, 2> kRoundings{{
    {"floor", Rounding::floor},
    {"nearest", Rounding::nearest},
}};
constexpr std::array<std::pair<std::string_view, TierMetric>, 3> kTierMetrics{{
    {"spend", TierMetric::spend},
    {"points", TierMetric::points},
    {"purchases", TierMetric::purchases},
}};
constexpr std::array<std::pair<std::string_view, TierWindow>, 2> kTierWindows{{
    {"rolling", TierWindow::rolling},
    {"calendar_year", TierWindow::calendar_year},
}};
constexpr std::array<std::pair<std::string_view, ExpiryMode>, 3> kExpiryModes{{
    {"never", ExpiryMode::never},
    {"days", ExpiryMode::days},
    {"end_of_month", ExpiryMode::end_of_month},
}};

constexpr std::array<std::pair<std::string_view, RewardKind>, 2> kRewardKinds{{
    {"coupon", RewardKind::coupon},
    {"product", RewardKind::product},
}};
constexpr std::array<std::pair<std::string_view, LimitPeriod>, 5> kLimitPeriods{{
    {"day", LimitPeriod::day},
    {"week", LimitPeriod::week},
    {"month", LimitPeriod::month},
    {"year", LimitPeriod::year},
    {"lifetime", LimitPeriod::lifetime},
}};
constexpr std::array<std::pair<std::string_view, CouponRefund>, 3> kCouponRefunds{{
    {"forfeit", CouponRefund::forfeit},
    {"restore", CouponRefund::restore},
    {"refund_points", CouponRefund::refund_points},
}};

// A key that only means something together with another setting is refused without it, so that
// an operator does not believe a setting is in force when it is ignored.
void refuse_unless(const TableReader& table, std::string_view key, bool applies,
                   std::string_view reason) {
  if (table.has(key) && !applies) table.errors().fail(table.path_of(key), std::string(reason));
}

// A free-form table handed to clients as JSON (tier `benefits`, a reward's `benefit`).
std::optional<std::string> read_json_table(const TableReader& table, std::string_view key) {
  const TomlValue* value = table.find(key, Presence::optional);
  if (value == nullptr) return std::nullopt;
  const std::string path = table.path_of(key);
  if (!value->is_table()) {
    fail_type(table.errors(), path, "a table", *value);
    return std::nullopt;
  }
  std::string json;
  if (!append_json(*value, path, table.errors(), json)) return std::nullopt;
  return json;
}

// ---------------------------------------------------------------------------------------------
// Sections

void read_program_section(const TableReader& root, Program& program,
                          const TimeZoneDatabase& zones) {
  const auto table =
      root.table("program", Presence::required, {"id", "currency", "rounding", "time_zone"});
  if (!table) return;
  if (auto id = table->string("id", Presence::required)) program.id = std::move(*id);
  if (auto currency = table->string("currency", Presence::required)) {
    program.currency = std::move(*currency);
  }
  if (auto rounding = read_choice(*table, "rounding", kRoundings)) program.rounding = *rounding;
  if (const TomlValue* value = table->find("time_zone", Presence::optional)) {
    if (auto zone = read_zone(*value, table->path_of("time_zone"), root.errors(), zones)) {
      program.time_zone = std::move(*zone);
    }
  }
}

// [[stores]]: the stores whose zone is not the program's.
void read_stores(const TableReader& root, Program& program, const TimeZoneDatabase& zones) {
  const auto entries = root.tables("stores", Presence::optional);
  if (entries.size() > kStoresMax) {
    root.errors().fail("stores", "at most " + std::to_string(kStoresMax) + " stores");
    return;
  }
  std::map<std::string, std::string> seen;  // id → the path that named it first
  for (const auto& [path, value] : entries) {
    const auto table = TableReader::open(*value, path, root.errors(), {"id", "time_zone"});
    if (!table) return;
    const std::optional<std::string> id = table->string("id", Presence::required);
    if (!id) return;
    if (!is_program_name(*id)) {
      root.errors().fail(table->path_of("id"), program_name_rule());
      return;
    }
    if (const auto [earlier, added] = seen.emplace(*id, path); !added) {
      root.errors().fail(table->path_of("id"),
                         "duplicate store id \"" + *id + "\" (also " + earlier->second + ")");
      return;
    }
    const TomlValue* value_of_zone = table->find("time_zone", Presence::required);
    if (value_of_zone == nullptr) return;
    auto zone = read_zone(*value_of_zone, table->path_of("time_zone"), root.errors(), zones);
    if (!zone) return;
    program.store_time_zones.emplace(*id, std::move(*zone));
  }
}

void read_earning(const TableReader& root, Program& program) {
  EarningRules& earning = program.earning;
  const auto table = root.table("earning", Presence::required,
                                {"points_per_unit", "unit_minor", "max_points_per_event",
                                 "excluded_categories", "excluded_skus", "min_order_minor",
                                 "pending_days", "category_multipliers", "sku_multipliers"});
  if (!table) return;
  if (auto rate = table->decimal("points_per_unit", Presence::required)) {
    earning.points_per_unit = *rate;
  }
  if (auto unit = table->integer("unit_minor", Presence::required)) earning.unit_minor = *unit;
  earning.max_points_per_event = table->integer("max_points_per_event", Presence::optional);
  if (auto names = table->string_set("excluded_categories")) {
    earning.excluded_categories = std::move(*names);
  }
  if (auto names = table->string_set("excluded_skus")) earning.excluded_skus = std::move(*names);
  if (auto minimum = table->integer("min_order_minor", Presence::optional)) {
    earning.min_order_minor = *minimum;
  }
  if (auto days = table->count("pending_days", Presence::optional)) earning.pending_days = *days;
  if (auto rates = table->decimal_table("category_multipliers")) {
    earning.category_multipliers = std::move(*rates);
  }
  if (auto rates = table->decimal_table("sku_multipliers")) {
    earning.sku_multipliers = std::move(*rates);
  }
}

void read_campaigns(const TableReader& root, Program& program) {
  for (const auto& [path, value] : root.tables("campaigns", Presence::optional)) {
    const auto table =
        TableReader::open(*value, path, root.errors(),
                          {"id", "starts_at", "ends_at", "days_of_week", "hours", "stores",
                           "categories", "multiplier", "bonus_points", "min_amount_minor"});
    if (!table) return;
    Campaign campaign;
    // A campaign is defined by its window: an open-ended one belongs in the base rules.
    if (auto id = table->string("id", Presence::required)) campaign.id = std::move(*id);
    if (auto start = table->time("starts_at", Presence::required)) campaign.starts_at = *start;
    if (auto end = table->time("ends_at", Presence::required)) campaign.ends_at = *end;
    if (auto mask = table->read("days_of_week", Presence::optional, read_weekday_mask)) {
      campaign.iso_weekday_mask = *mask;
    }
    if (auto hours = table->read("hours", Presence::optional, read_hours)) {
      campaign.hours = std::move(*hours);
    }
    if (auto stores = table->string_set("stores")) campaign.stores = std::move(*stores);
    if (auto names = table->string_set("categories")) campaign.categories = std::move(*names);
    campaign.multiplier = table->decimal("multiplier", Presence::optional);
    campaign.bonus_points = table->integer("bonus_points", Presence::optional);
    refuse_unless(*table, "min_amount_minor", table->has("bonus_points"),
                  "only applies with bonus_points");
    if (auto minimum = table->integer("min_amount_minor", Presence::optional)) {
      campaign.min_amount_minor = *minimum;
    }
    program.campaigns.push_back(std::move(campaign));
  }
}

void read_milestones(const TableReader& root, Program& program) {
  for (const auto& [path, value] : root.tables("milestones", Presence::optional)) {
    const auto table =
        TableReader::open(*value, path, root.errors(), {"purchase_count", "bonus_points"});
    if (!table) return;
    Milestone milestone;
    if (auto count = table->count("purchase_count", Presence::required)) {
      milestone.purchase_count = *count;
    }
    if (auto bonus = table->integer("bonus_points", Presence::required)) {
      milestone.bonus_points = *bonus;
    }
    program.milestones.push_back(milestone);
  }
}

void read_tier_level(const TableReader& table, TierLevel& level) {
  if (auto name = table.string("name", Presence::required)) level.name = std::move(*name);
  if (auto threshold = table.integer("threshold", Presence::required)) level.threshold = *threshold;
  if (auto multiplier = table.decimal("multiplier", Presence::optional)) {
    level.multiplier = *multiplier;
  }
  if (auto benefits = read_json_table(table, "benefits"))
    level.benefits_json = std::move(*benefits);
}

void read_tiers(const TableReader& root, Program& program) {
  const auto table = root.table("tiers", Presence::optional,
                                {"metric", "window", "window_months", "retain_months", "levels"});
  if (!table) return;
  TierRules rules;
  if (auto metric = read_choice(*table, "metric", kTierMetrics)) rules.metric = *metric;
  if (auto window = read_choice(*table, "window", kTierWindows)) rules.window = *window;
  refuse_unless(*table, "window_months", rules.window == TierWindow::rolling,
                "only applies with window = \"rolling\"");
  if (auto months = table->count("window_months", Presence::optional)) {
    rules.window_months = *months;
  }
  if (auto months = table->count("retain_months", Presence::optional)) {
    rules.retain_months = *months;
  }
  for (const auto& [path, value] : table->tables("levels", Presence::required)) {
    const auto level_table = TableReader::open(*value, path, root.errors(),
                                               {"name", "threshold", "multiplier", "benefits"});
    if (!level_table) return;
    TierLevel level;
    read_tier_level(*level_table, level);
    rules.levels.push_back(std::move(level));
  }
  program.tiers = std::move(rules);
}

void read_referral(const TableReader& root, Program& program) {
  const auto table =
      root.table("referral", Presence::optional,
                 {"referee_signup_points", "referee_first_purchase_points", "referrer_points",
                  "qualifying_min_amount_minor", "window_days", "max_rewarded_referrals"});
  if (!table) return;
  ReferralRules rules;
  if (auto points = table->integer("referee_signup_points", Presence::optional)) {
    rules.referee_signup_points = *points;
  }
  if (auto points = table->integer("referee_first_purchase_points", Presence::optional)) {
    rules.referee_first_purchase_points = *points;
  }
  if (auto points = table->integer("referrer_points", Presence::optional)) {
    rules.referrer_points = *points;
  }
  if (auto amount = table->integer("qualifying_min_amount_minor", Presence::optional)) {
    rules.qualifying_min_amount_minor = *amount;
  }
  if (auto days = table->count("window_days", Presence::optional)) rules.window_days = *days;
  if (auto limit = table->count("max_rewarded_referrals", Presence::optional)) {
    rules.max_rewarded_referrals = *limit;
  }
  program.referral = rules;
}

void read_redemption(const TableReader& root, Program& program) {
  const auto table = root.table("redemption", Presence::optional,
                                {"points_per_currency_unit", "min_points", "step_points",
                                 "max_redeem_fraction", "hold_ttl_seconds"});
  if (!table) return;
  RedemptionRules rules;
  // What a point is worth defines redemption; everything else has a default.
  if (auto rate = table->integer("points_per_currency_unit", Presence::required)) {
    rules.points_per_currency_unit = *rate;
  }
  if (auto points = table->integer("min_points", Presence::optional)) rules.min_points = *points;
  if (auto points = table->integer("step_points", Presence::optional)) rules.step_points = *points;
  if (auto fraction = table->decimal("max_redeem_fraction", Presence::optional)) {
    rules.max_redeem_fraction = *fraction;
  }
  if (auto seconds = table->count("hold_ttl_seconds", Presence::optional)) {
    rules.hold_ttl_seconds = *seconds;
  }
  program.redemption = rules;
}

void read_expiry(const TableReader& root, Program& program) {
  ExpiryRules& expiry = program.expiry;
  const auto table = root.table("expiry", Presence::optional, {"mode", "days", "months"});
  if (!table) return;
  if (!table->has("mode")) {
    table->errors().fail(table->path_of("mode"), "required key is missing");
    return;
  }
  if (auto mode = read_choice(*table, "mode", kExpiryModes)) expiry.mode = *mode;
  if (table->errors().failed()) return;
  // The number that goes with the mode is what defines it, so it is required with that mode.
  refuse_unless(*table, "days", expiry.mode == ExpiryMode::days,
                "only applies with mode = \"days\"");
  refuse_unless(*table, "months", expiry.mode == ExpiryMode::end_of_month,
                "only applies with mode = \"end_of_month\"");
  if (expiry.mode == ExpiryMode::days) {
    if (auto days = table->count("days", Presence::required)) expiry.days = *days;
  } else if (expiry.mode == ExpiryMode::end_of_month) {
    if (auto months = table->count("months", Presence::required)) expiry.months = *months;
  }
}

void read_reward(const TableReader& table, Reward& reward) {
  if (auto id = table.string("id", Presence::required)) reward.id = std::move(*id);
  if (auto name = table.string("name", Presence::required)) reward.name = std::move(*name);
  if (!table.has("kind")) table.errors().fail(table.path_of("kind"), "required key is missing");
  if (auto kind = read_choice(table, "kind", kRewardKinds)) reward.kind = *kind;
  if (auto cost = table.integer("cost_points", Presence::required)) reward.cost_points = *cost;
  if (auto benefit = read_json_table(table, "benefit")) reward.benefit_json = std::move(*benefit);
  reward.stock = table.integer("stock", Presence::optional);
  if (auto limit = table.table("per_member", Presence::optional, {"max", "period"})) {
    MemberLimit per_member;
    if (auto max = limit->count("max", Presence::required)) per_member.max = *max;
    if (!limit->has("period")) {
      limit->errors().fail(limit->path_of("period"), "required key is missing");
    }
    if (auto period = read_choice(*limit, "period", kLimitPeriods)) per_member.period = *period;
    reward.per_member = per_member;
  }
  if (auto tiers = table.string_set("tiers")) reward.tiers = std::move(*tiers);
  if (auto from = table.time("available_from", Presence::optional)) reward.available_from = *from;
  if (auto to = table.time("available_to", Presence::optional)) reward.available_to = *to;
  if (auto days = table.count("coupon_valid_days", Presence::optional)) {
    reward.coupon_valid_days = *days;
  }
  if (auto on_refund = read_choice(table, "on_refund", kCouponRefunds)) {
    reward.on_refund = *on_refund;
  }
}

void read_rewards(const TableReader& root, Program& program) {
  for (const auto& [path, value] : root.tables("rewards", Presence::optional)) {
    const auto table = TableReader::open(
        *value, path, root.errors(),
        {"id", "name", "kind", "cost_points", "benefit", "stock", "per_member", "tiers",
         "available_from", "available_to", "coupon_valid_days", "on_refund"});
    if (!table) return;
    Reward reward;
    read_reward(*table, reward);
    if (root.errors().failed()) return;
    program.rewards.push_back(std::move(reward));
  }
}

Problem build_program(const TomlValue& document, const TimeZoneDatabase& zones, Program& program) {
  ErrorSink errors;
  const auto root = TableReader::open(document, "", errors,
                                      {"program", "stores", "earning", "campaigns", "milestones",
                                       "tiers", "referral", "redemption", "expiry", "rewards"});
  if (!root) return errors.error();
  // In file order, stopping at the first section with a problem; the first two resolve zones.
  read_program_section(*root, program, zones);
  if (errors.failed()) return errors.error();
  read_stores(*root, program, zones);
  if (errors.failed()) return errors.error();
  for (const auto read_section : {read_earning, read_campaigns, read_milestones, read_tiers,
                                  read_referral, read_redemption, read_expiry, read_rewards}) {
    read_section(*root, program);
    if (errors.failed()) return errors.error();
  }
  return std::nullopt;
}

// One line from toml11's multi-line report: "<source>:<line>:<column>: <what>[: <detail>]".
ProgramLoadError syntax_problem(const toml::exception& error, std::string_view source_name) {
  std::string_view report = error.what();
  std::string_view summary = report.substr(0, report.find('\n'));
  if (summary.substr(0, 8) == "[error] ") summary.remove_prefix(8);
  if (summary.substr(0, 6) == "toml::") {  // "toml::parse_table: invalid line format"
    const size_t colon = summary.find(": ");
    if (colon != std::string_view::npos) summary.remove_prefix(colon + 2);
  }
  // The underline row (blank before its '|') ends with the detail: " |   ^--- expected newline".
  std::string detail;
  for (size_t start = report.find('\n'); start != std::string_view::npos && detail.empty();) {
    std::string_view row = report.substr(start + 1);
    start = report.find('\n', start + 1);
    row = row.substr(0, row.find('\n'));
    const size_t bar = row.find('|');
    if (bar == std::string_view::npos || row.find_first_not_of(' ') != bar) continue;
    row.remove_prefix(bar + 1);
    row.remove_prefix(std::min(row.size(), row.find_first_not_of(' ')));
    if (row.empty() || (row.front() != '^' && row.front() != '~')) continue;
    row.remove_prefix(std::min(row.size(), row.find_first_not_of("^~-")));
    row.remove_prefix(std::min(row.size(), row.find_first_not_of(' ')));
    // "… here" only points at the spot, which the line and column already give.
    const bool points_only = row.size() >= 4 && row.substr(row.size() - 4) == "here";
    if (!points_only) detail = std::string(row);
  }
  while (!summary.empty() && summary.back() == '.') summary.remove_suffix(1);
  const toml::source_location& where = error.location();
  std::string message = std::string(source_name) + ":" + std::to_string(where.line()) + ":" +
                        std::to_string(where.column()) + ": " + std::string(summary);
  if (!detail.empty()) message += ": " + detail;
  return ProgramLoadError{"", std::move(message)};
}

// Where `text` stops being UTF-8 (overlong forms, surrogates and code points past U+10FFFF
// included), or npos. TOML documents must be UTF-8; toml11 3.7 reads past its buffer when it
// reports invalid UTF-8 inside a literal string (found by fuzz/program_toml_fuzzer.cpp), so
// such text never reaches it.
size_t invalid_utf8_at(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    size_t length = 1;
    unsigned char low = 0x80;  // bounds of the second byte, narrower after E0, ED, F0, F4
    unsigned char high = 0xBF;
    if (byte < 0x80) {
      ++i;
      continue;
    }
    if (byte >= 0xC2 && byte <= 0xDF) {
      length = 2;
    } else if (byte >= 0xE0 && byte <= 0xEF) {
      length = 3;
      if (byte == 0xE0) low = 0xA0;
      if (byte == 0xED) high = 0x9F;
    } else if (byte >= 0xF0 && byte <= 0xF4) {
      length = 4;
      if (byte == 0xF0) low = 0x90;
      if (byte == 0xF4) high = 0x8F;
    } else {
      return i;
    }
    if (i + length > text.size()) return i;
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if (next < (k == 1 ? low : 0x80) || next > (k == 1 ? high : 0xBF)) return i;
    }
    i += length;
  }
  return std::string_view::npos;
}

// The size and bracket nesting of the text, so that toml11's recursive descent stays shallow.
// Brackets inside strings and comments do not count; for valid TOML the count is exact.
Problem check_text_shape(std::string_view text, std::string_view source_name) {
  const std::string where = std::string(source_name) + ":";
  if (text.size() > kProgramTomlBytesMax) {
    return problem("", where + " larger than " + std::to_string(kProgramTomlBytesMax) + " bytes");
  }
  if (const size_t bad = invalid_utf8_at(text); bad != std::string_view::npos) {
    const auto line =
        1 + std::count(text.begin(), text.begin() + static_cast<ptrdiff_t>(bad), '\n');
    return problem("", where + std::to_string(line) + ": not valid UTF-8 (TOML files are UTF-8)");
  }
  int depth = 0;
  size_t line = 1;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') {
      ++line;
    } else if (c == '#') {
      i = std::min(text.find('\n', i), text.size()) - 1;
    } else if (c == '"' || c == '\'') {
      const bool multi_line = text.substr(i, 3) == std::string(3, c);
      const size_t quotes = multi_line ? 3 : 1;
      const bool escapes = c == '"';  // literal strings ('…') have no escapes
      size_t j = i + quotes;
      while (j < text.size() && text.substr(j, quotes) != text.substr(i, quotes)) {
        if (escapes && text[j] == '\\') ++j;
        if (j < text.size() && text[j] == '\n') ++line;
        ++j;
      }
      // A multi-line string may end in up to five quotes: """a""""" holds `a""`.
      size_t end = j + quotes;
      while (multi_line && end < text.size() && end < j + 5 && text[end] == c) ++end;
      i = std::min(end, text.size()) - 1;
    } else if (c == '[' || c == '{') {
      if (++depth > kTomlNestingMax) {
        return problem("", where + std::to_string(line) + ": brackets nested deeper than " +
                               std::to_string(kTomlNestingMax) + " levels");
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return std::nullopt;
}

}  // namespace

std::variant<Program, ProgramLoadError> parse_program_toml(std::string_view text,
                                                           std::string_view source_name,
                                                           const TimeZoneDatabase& zones) {
  try {
    if (Problem found = check_text_shape(text, source_name)) return *std::move(found);
    std::istringstream stream{std::string(text)};
    TomlValue document;
    try {
      document = toml::parse<toml::discard_comments, std::map, std::vector>(
          stream, std::string(source_name));
    } catch (const toml::exception& error) {
      return syntax_problem(error, source_name);
    }
    Program program;
    if (Problem found = build_program(document, zones, program)) return *std::move(found);
    if (Problem found = validate_program(program)) return *std::move(found);
    return program;
  } catch (const std::exception& error) {
    // A backstop: toml11 reports through exceptions, and none may leave the engine.
    return ProgramLoadError{"", std::string(source_name) + ": " + error.what()};
  }
}

}  // namespace loyalty
