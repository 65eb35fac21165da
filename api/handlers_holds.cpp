// Two-phase redemption: POST /v1/holds, POST /v1/holds/{hold_id}:capture | :void (through the
// runtime) and GET /v1/holds/{hold_id} (straight from the store).
#include <boost/json/object.hpp>

#include "api/handlers.hpp"
#include "api/request_parsing.hpp"
#include "api/responses.hpp"

namespace loyalty::api {
namespace {

// The hold as stored; on success `out` holds it, else the response to send.
std::optional<HttpResponse> load_hold(const ApiContext& context, std::string_view hold_id,
                                      std::optional<StoredHold>& out) {
  if (!is_valid_id(hold_id)) return hold_not_found();
  if (Status status = context.store->load_hold(hold_id, out); !status.ok()) {
    return problem_response(storage_problem(status, "load_hold"));
  }
  if (!out) return hold_not_found();
  return std::nullopt;
}

Reply hold_reply(const std::string& member_id, const EventResult& result, http::status status,
                 TimeMs now) {
  return reply_from<HoldAnswer>(result, "hold", [&](const HoldAnswer& answer) -> Reply {
    boost::json::object body = hold_view_json(member_id, answer.hold, &answer.balance, now);
    body["replayed"] = result.replayed;
    return Success{status, std::move(body)};
  });
}

}  // namespace

RouteResult handle_create_hold(const ApiContext& context, const HttpRequest& request) {
  Parsed<HoldEvent> parsed = parse_hold_request(request.body());
  if (const ParseError* error = std::get_if<ParseError>(&parsed)) return error->to_response();
  HoldEvent& hold = std::get<HoldEvent>(parsed);
  std::string member_id = hold.member_id;
  return submit_and_reply(
      context, Event{std::move(hold)},
      [context, member_id = std::move(member_id)](const EventResult& result) {
        return hold_reply(member_id, result, created_or_replayed(result.replayed), context.clock());
      });
}

RouteResult handle_hold_action(const ApiContext& context, const HttpRequest& request,
                               std::string_view hold_id, EventType kind) {
  if (std::optional<ParseError> error = check_empty_request(request.body())) {
    return error->to_response();
  }
  // Read first for the member it belongs to (the answer names it) and a plain 404; the runtime
  // resolves the member again from the store when it applies the action.
  std::optional<StoredHold> stored;
  if (std::optional<HttpResponse> refusal = load_hold(context, hold_id, stored)) {
    return std::move(*refusal);
  }
  HoldActionEvent action;
  action.hold_id = std::string(hold_id);
  return submit_and_reply(context, Event(kind, std::move(action)),
                          [context, member_id = stored->member_id](const EventResult& result) {
                            return hold_reply(member_id, result, http::status::ok, context.clock());
                          });
}

HttpResponse hold_not_found() {
  return problem_response(ErrorCode::not_found, "no hold with this id", "hold_id");
}

HttpResponse handle_get_hold(const ApiContext& context, std::string_view hold_id) {
  std::optional<StoredHold> stored;
  if (std::optional<HttpResponse> refusal = load_hold(context, hold_id, stored)) {
    return std::move(*refusal);
  }
  std::optional<MemberState> member;
  if (Status status = context.store->load_member(stored->member_id, member); !status.ok()) {
    return problem_response(storage_problem(status, "load_member"));
  }
  const Balance* balance = member ? &member->balance : nullptr;
  return json_response(http::status::ok,
                       hold_view_json(stored->member_id, stored->hold, balance, context.clock()));
}

}  // namespace loyalty::api
