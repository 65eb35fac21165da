// The batch envelope (POST /v1/events:batch): a JSON array or NDJSON of typed events, each
// read by the same object readers as the single endpoints. Only an unreadable envelope fails
// the whole batch; a bad item is refused on its own.
#include <boost/json/value.hpp>

#include "api/json_fields.hpp"
#include "api/request_parsing.hpp"
#include "api/request_parsing_items.hpp"

namespace loyalty::api {
namespace json = boost::json;
using json_fields::Fields;
using json_fields::malformed;

namespace {

Problem too_many_events() {
  return make_problem(
      ErrorCode::payload_too_large,
      "a batch holds at most " + std::to_string(kBatchEventsMax) + " events; split it into several",
      "events");
}

Problem unreadable(std::string detail) {
  return make_problem(ErrorCode::invalid_request, std::move(detail), "events");
}

BatchItem read_item(const json::value& value) {
  return read_typed_event(value, "", "each event must be a JSON object");
}

std::variant<std::vector<BatchItem>, Problem> read_array(std::string_view body) {
  json::value storage;
  Parsed<bool> parsed = json_fields::guarded<bool>([&] {
    json_fields::parse_json(body, storage);
    return true;
  });
  if (const ParseError* error = std::get_if<ParseError>(&parsed)) {
    return unreadable(error->message);
  }
  const json::array* events = storage.if_array();
  if (events == nullptr) {
    return unreadable("an application/json batch must be a JSON array of events");
  }
  if (events->size() > kBatchEventsMax) return too_many_events();
  std::vector<BatchItem> items;
  items.reserve(events->size());
  for (const json::value& value : *events) items.push_back(read_item(value));
  return items;
}

std::string_view trim(std::string_view text) {
  const size_t begin = text.find_first_not_of(" \t\r");
  if (begin == std::string_view::npos) return {};
  const size_t end = text.find_last_not_of(" \t\r");
  return text.substr(begin, end - begin + 1);
}

std::variant<std::vector<BatchItem>, Problem> read_ndjson(std::string_view body) {
  std::vector<std::string_view> lines;
  while (!body.empty()) {
    const size_t newline = body.find('\n');
    const std::string_view line = trim(body.substr(0, newline));
    if (!line.empty()) {
      if (lines.size() == kBatchEventsMax) return too_many_events();
      lines.push_back(line);
    }
    body = newline == std::string_view::npos ? std::string_view{} : body.substr(newline + 1);
  }
  std::vector<BatchItem> items;
  items.reserve(lines.size());
  for (const std::string_view line : lines) {
    json::value storage;
    Parsed<bool> parsed = json_fields::guarded<bool>([&] {
      json_fields::parse_json(line, storage);
      return true;
    });
    if (ParseError* error = std::get_if<ParseError>(&parsed)) {
      BatchItem item;
      item.parsed = ParseError{"", "this line is not a JSON event: " + error->message,
                               InvalidKind::malformed};
      items.push_back(std::move(item));
    } else {
      items.push_back(read_item(storage));
    }
  }
  return items;
}

}  // namespace

BatchItem read_typed_event(const json::value& value, std::string_view field,
                           std::string_view not_an_object) {
  BatchItem item;
  const json::object* object = value.if_object();
  if (object == nullptr) {
    item.parsed =
        ParseError{std::string(field), std::string(not_an_object), InvalidKind::malformed};
    return item;
  }
  if (const json::value* id = object->if_contains("event_id"); id != nullptr && id->is_string()) {
    item.event_id = std::string(id->get_string());
  }
  using Event = std::variant<PurchaseEvent, RefundEvent>;
  Parsed<Event> parsed = json_fields::guarded<Event>([&]() -> Event {
    const Fields f(*object, "");
    const std::string type = f.string("type", f.required("type"));
    if (type == "purchase") return read_purchase_object(*object, "type");
    if (type == "refund") return read_refund_object(*object, "type");
    malformed("type", "type must be \"purchase\" or \"refund\"");
  });
  if (ParseError* error = std::get_if<ParseError>(&parsed)) {
    item.parsed = std::move(*error);
  } else if (auto* purchase = std::get_if<PurchaseEvent>(&std::get<Event>(parsed))) {
    item.parsed = std::move(*purchase);
  } else {
    item.parsed = std::move(std::get<RefundEvent>(std::get<Event>(parsed)));
  }
  return item;
}

std::variant<std::vector<BatchItem>, Problem> parse_batch_request(std::string_view body,
                                                                  BatchFormat format) {
  std::variant<std::vector<BatchItem>, Problem> result =
      format == BatchFormat::json_array ? read_array(body) : read_ndjson(body);
  if (auto* items = std::get_if<std::vector<BatchItem>>(&result); items && items->empty()) {
    return unreadable("a batch needs at least one event");
  }
  return result;
}

}  // namespace loyalty::api
