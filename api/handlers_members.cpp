// Member endpoints: sign-up (through the runtime), the member view, lookup by identifier, the
// ledger and the referrals. Reads go straight to the store; they never wait for a writer.
#include <boost/json/object.hpp>
#include <charconv>

#include "api/handlers.hpp"
#include "api/log.hpp"
#include "api/member_search.hpp"
#include "api/problem.hpp"
#include "api/request_parsing.hpp"
#include "api/responses.hpp"
#include "engine/member_view.hpp"
#include "ops/erasure_purges.hpp"

namespace loyalty::api {
namespace {

constexpr size_t kLedgerLimitDefault = 50;
constexpr size_t kLedgerLimitMax = 500;  // api.md
// Referees listed by GET …/referrals. Sign-ups with a code are not capped by the program, so
// the list is; rewarded_count still counts them all.
constexpr size_t kReferralsListedMax = 1000;
constexpr size_t kNotificationsLimitDefault = 100;

HttpResponse member_not_found() {
  return problem_response(ErrorCode::not_found, "no member with this id", "member_id");
}

boost::json::object view_json(const ApiContext& context, const MemberState& member) {
  const std::shared_ptr<const ProgramVersion> program = context.programs->active();
  return member_view_json(build_member_view(*program, member, context.clock()));
}

HttpResponse signup_answer(const ApiContext& context, const std::string& member_id,
                           EventResult& result) {
  if (!result.rejection.ok()) return problem_response(result_problem(result));
  if (!result.member) {  // the runtime answers sign-ups with the member; read it if it did not
    if (Status status = context.store->load_member(member_id, result.member); !status.ok()) {
      return problem_response(storage_problem(status, "load_member"));
    }
    if (!result.member) {
      log_line("sign-up of " + member_id + " succeeded but the member is not in the store");
      return problem_response(ErrorCode::unavailable, "the server could not answer; retry shortly");
    }
  }
  boost::json::object body = view_json(context, *result.member);
  body["replayed"] = result.replayed;
  return json_response(result.replayed ? http::status::ok : http::status::created, body);
}

// Loads the member; on success `out` holds it, else the response to send.
std::optional<HttpResponse> load_member(const ApiContext& context, std::string_view member_id,
                                        std::optional<MemberState>& out) {
  if (!is_valid_id(member_id)) return member_not_found();
  if (Status status = context.store->load_member(member_id, out); !status.ok()) {
    return problem_response(storage_problem(status, "load_member"));
  }
  if (!out) return member_not_found();
  return std::nullopt;
}

// As load_member, for a view: a busy member comes with its expiry schedule, not its lots
// (RocksStore::load_member_for_view).
std::optional<HttpResponse> load_member_for_view(const ApiContext& context,
                                                 std::string_view member_id,
                                                 std::optional<MemberState>& out,
                                                 std::optional<ExpirySchedule>& schedule) {
  if (!is_valid_id(member_id)) return member_not_found();
  if (Status status = context.store->load_member_for_view(member_id, out, schedule); !status.ok()) {
    return problem_response(storage_problem(status, "load_member"));
  }
  if (!out) return member_not_found();
  return std::nullopt;
}

}  // namespace

bool parse_decimal(std::string_view text, uint64_t& out) {
  if (text.empty() || text.size() > 20) return false;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size();
}

RouteResult handle_signup(const ApiContext& context, const HttpRequest& request) {
  Parsed<SignupEvent> parsed = parse_signup_request(request.body());
  if (const ParseError* error = std::get_if<ParseError>(&parsed)) return error->to_response();
  Event event{std::move(std::get<SignupEvent>(parsed))};
  return Deferred{[context, event = std::move(event)](Respond respond) mutable {
    std::string erased = event.member_id();
    submit_for_request(
        *context.runtime, std::move(event),
        [context, member_id = std::move(erased), respond = std::move(respond)](
            EventResult&& result) { respond(signup_answer(context, member_id, result)); });
  }};
}

// The member's view (GET /v1/members/{id}); on success `out` holds it, else the response to
// send (404 when there is no such member).
std::optional<HttpResponse> member_view(const ApiContext& context, std::string_view member_id,
                                        boost::json::object& out) {
  std::optional<MemberState> member;
  std::optional<ExpirySchedule> schedule;
  if (std::optional<HttpResponse> refusal =
          load_member_for_view(context, member_id, member, schedule)) {
    return refusal;
  }
  if (schedule) {
    // A member with many lots: its stored schedule, unless it ends before the view's horizon.
    const std::shared_ptr<const ProgramVersion> program = context.programs->active();
    if (std::optional<MemberView> view =
            build_member_view(*program, *member, *schedule, context.clock())) {
      out = member_view_json(*view);
      return std::nullopt;
    }
    if (std::optional<HttpResponse> refusal = load_member(context, member_id, member)) {
      return refusal;
    }
  }
  out = view_json(context, *member);
  return std::nullopt;
}

RouteResult handle_update_member(const ApiContext& context, const HttpRequest& request,
                                 std::string_view member_id, const Principal& principal) {
  if (!is_valid_id(member_id)) return member_not_found();
  Parsed<MemberUpdateEvent> parsed =
      parse_member_update_request(request.body(), std::string(member_id));
  if (const ParseError* error = std::get_if<ParseError>(&parsed)) return error->to_response();
  MemberUpdateEvent& update = std::get<MemberUpdateEvent>(parsed);
  update.changed_by = principal.name;  // the audit trail: which key changed what
  return Deferred{[context, event = Event{std::move(update)}](Respond respond) mutable {
    submit_for_request(
        *context.runtime, std::move(event),
        [context, respond = std::move(respond)](EventResult&& result) {
          if (!result.rejection.ok()) {
            respond(problem_response(result_problem(result)));
          } else if (!result.member) {
            respond(problem_response(missing_answer("member update")));
          } else {
            respond(json_response(http::status::ok, view_json(context, *result.member)));
          }
        });
  }};
}

RouteResult handle_erase_member(const ApiContext& context, const HttpRequest& request,
                                std::string_view member_id, const Principal& principal) {
  if (!is_valid_id(member_id)) return member_not_found();
  Parsed<Event> parsed = parse_member_erase_request(request.body(), std::string(member_id));
  if (const ParseError* error = std::get_if<ParseError>(&parsed)) return error->to_response();
  if (context.erasures == nullptr) {
    return problem_response(ErrorCode::unavailable, "erasures are not available on this server");
  }
  Event& event = std::get<Event>(parsed);
  std::get<MemberUpdateEvent>(event.body).changed_by = principal.name;  // who erased
  return Deferred{[context, event = std::move(event)](Respond respond) mutable {
    std::string erased = event.member_id();
    submit_for_request(
        *context.runtime, std::move(event),
        [context, member_id = std::move(erased),
         respond = std::move(respond)](EventResult&& result) mutable {
          if (!result.rejection.ok()) return respond(problem_response(result_problem(result)));
          // The erasure is committed (a repeat: was); the answer waits for its purge from the
          // data folder, which a retry runs again (it finds nothing left to blank).
          const bool replayed = result.replayed;
          context.erasures->submit(
              member_id, [context, member_id, replayed, respond = std::move(respond)](
                             const Status& purged, const storage::ErasureReport& report) mutable {
                const auto answer = [context, member_id, replayed, purged, report,
                                     respond = std::move(respond)](const Status* from_log,
                                                                   uint64_t log_erased) {
                  boost::json::object view;
                  if (std::optional<HttpResponse> refusal = member_view(context, member_id, view)) {
                    return respond(std::move(*refusal));
                  }
                  const bool log_ok = from_log == nullptr || from_log->ok();
                  boost::json::object body{{"member", std::move(view)},
                                           {"purged", purged.ok() && log_ok},
                                           {"events_blanked", report.events_scrubbed}};
                  if (!purged.ok()) body["purge_error"] = purged.message();
                  if (from_log != nullptr) {
                    body["log_messages_erased"] = log_erased;
                    if (!log_ok) body["log_error"] = from_log->message();
                  }
                  if (replayed) body["replayed"] = true;
                  respond(json_response(http::status::ok, body));
                };
                if (!context.erase_from_log) return answer(nullptr, 0);
                // Cluster mode: and from the partition's input log (this node owns it).
                context.erase_from_log(member_id, [answer = std::move(answer)](const Status& status,
                                                                               uint64_t replaced) {
                  answer(&status, replaced);
                });
              });
        });
  }};
}

HttpResponse handle_get_member(const ApiContext& context, std::string_view member_id) {
  boost::json::object view;
  if (std::optional<HttpResponse> refusal = member_view(context, member_id, view)) {
    return std::move(*refusal);
  }
  return json_response(http::status::ok, view);
}

HttpResponse handle_search_members(const ApiContext& context, const MemberSearch& search) {
  MemberSearchPage page;
  if (Status status = search_members(*context.store, search, page); !status.ok()) {
    return problem_response(storage_problem(status, "search_members"));
  }
  boost::json::array members;
  for (const std::string& member_id : page.member_ids) {
    boost::json::object view;
    if (std::optional<HttpResponse> refusal = member_view(context, member_id, view)) {
      if (refusal->result() == http::status::not_found) continue;  // gone since the scan
      return std::move(*refusal);
    }
    members.emplace_back(std::move(view));
  }
  boost::json::object body{{"members", std::move(members)}};
  body["next_cursor"] = page.next_cursor ? boost::json::value(*page.next_cursor) : nullptr;
  return json_response(http::status::ok, body);
}

std::variant<IdentifierQuery, HttpResponse> parse_lookup_query(boost::urls::params_view params) {
  std::optional<IdentifierKind> kind;
  std::string field;
  std::string value;
  for (const boost::urls::param param : params) {
    if (param.key != "phone" && param.key != "card_no") {
      return problem_response(ErrorCode::invalid_request,
                              "unknown query parameter; use phone or card_no", param.key);
    }
    if (kind) {
      return problem_response(ErrorCode::invalid_request, "give exactly one of phone or card_no",
                              param.key);
    }
    kind = param.key == "phone" ? IdentifierKind::phone : IdentifierKind::card;
    field = param.key;
    value = param.value;
  }
  if (!kind) {
    return problem_response(ErrorCode::invalid_request, "give exactly one of phone or card_no",
                            "phone");
  }
  if (!is_valid_id(value)) {
    return problem_response(ErrorCode::invalid_request,
                            field + " must be 1 to 128 printable ASCII characters without spaces",
                            field);
  }
  return IdentifierQuery{*kind, std::move(field), std::move(value)};
}

HttpResponse lookup_not_found(const IdentifierQuery& query) {
  return problem_response(ErrorCode::not_found, "no member has this " + query.field, query.field);
}

HttpResponse handle_lookup(const ApiContext& context, boost::urls::params_view params) {
  std::variant<IdentifierQuery, HttpResponse> parsed = parse_lookup_query(params);
  if (auto* refusal = std::get_if<HttpResponse>(&parsed)) return std::move(*refusal);
  const IdentifierQuery& query = std::get<IdentifierQuery>(parsed);
  std::string member_id;
  if (Status status = context.store->find_identifier(query.kind, query.value, member_id);
      !status.ok()) {
    return problem_response(storage_problem(status, "find_identifier"));
  }
  if (member_id.empty()) return lookup_not_found(query);
  return handle_get_member(context, member_id);
}

HttpResponse handle_ledger(const ApiContext& context, std::string_view member_id,
                           boost::urls::params_view params) {
  size_t limit = kLedgerLimitDefault;
  std::optional<LedgerCursor> cursor;
  for (const boost::urls::param param : params) {
    uint64_t number = 0;
    if (param.key == "limit") {
      if (!parse_decimal(param.value, number) || number < 1 || number > kLedgerLimitMax) {
        return problem_response(ErrorCode::invalid_request,
                                "limit must be an integer from 1 to 500", "limit");
      }
      limit = static_cast<size_t>(number);
    } else if (param.key == "cursor") {
      // "<seq>-<log_seq>" as ledger_page_json writes it. The bare "<seq>" of the releases
      // before layout 6 is refused: finding its place would walk the member's whole history,
      // a read per event, for one cheap request (a client starts again from the first page).
      const std::string_view text = param.value;
      const size_t dash = text.find('-');
      uint64_t log_seq = 0;
      if (dash == std::string_view::npos || !parse_decimal(text.substr(0, dash), number) ||
          number < 1 || !parse_decimal(text.substr(dash + 1), log_seq) || log_seq < 1) {
        return problem_response(ErrorCode::invalid_request,
                                "cursor must be a next_cursor value from an earlier page",
                                "cursor");
      }
      cursor = LedgerCursor{number, log_seq};
    } else {
      return problem_response(ErrorCode::invalid_request,
                              "unknown query parameter; use limit or cursor", param.key);
    }
  }
  // That the member exists; a busy member's lots are not read for it.
  std::optional<MemberState> member;
  std::optional<ExpirySchedule> schedule;
  if (std::optional<HttpResponse> refusal =
          load_member_for_view(context, member_id, member, schedule)) {
    return std::move(*refusal);
  }
  LedgerPage page;
  if (Status status = context.store->read_ledger(member_id, cursor, limit, page); !status.ok()) {
    if (status.code() == Status::Code::invalid_argument) {
      return problem_response(ErrorCode::invalid_request,
                              "cursor must be a next_cursor value from an earlier page", "cursor");
    }
    return problem_response(storage_problem(status, "read_ledger"));
  }
  return json_response(http::status::ok, ledger_page_json(member_id, page));
}

HttpResponse handle_referrals(const ApiContext& context, std::string_view member_id) {
  std::optional<MemberState> member;
  if (std::optional<HttpResponse> refusal = load_member(context, member_id, member)) {
    return std::move(*refusal);
  }
  std::vector<ReferralLink> links;
  if (Status status = context.store->read_referrals(member_id, links); !status.ok()) {
    return problem_response(storage_problem(status, "read_referrals"));
  }
  return json_response(http::status::ok, referrals_json(*member, links, kReferralsListedMax));
}

HttpResponse handle_notifications(const ApiContext& context, std::string_view member_id,
                                  boost::urls::params_view params) {
  uint64_t after_seq = 0;
  size_t limit = kNotificationsLimitDefault;
  for (const boost::urls::param param : params) {
    uint64_t number = 0;
    if (param.key == "after_seq") {
      if (!parse_decimal(param.value, number)) {
        return problem_response(ErrorCode::invalid_request,
                                "after_seq must be a non-negative integer", "after_seq");
      }
      after_seq = number;
    } else if (param.key == "limit") {
      if (!parse_decimal(param.value, number) || number > kLedgerLimitMax) {
        return problem_response(ErrorCode::invalid_request,
                                "limit must be an integer from 0 to 500", "limit");
      }
      limit = static_cast<size_t>(number);
    } else {
      return problem_response(ErrorCode::invalid_request,
                              "unknown query parameter; use after_seq or limit", param.key);
    }
  }
  std::optional<MemberState> member;
  std::optional<ExpirySchedule> schedule;
  if (std::optional<HttpResponse> refusal =
          load_member_for_view(context, member_id, member, schedule)) {
    return std::move(*refusal);
  }
  std::vector<Notification> found;
  if (limit > 0) {
    if (Status status = context.store->read_notifications(member_id, after_seq, limit, found);
        !status.ok()) {
      return problem_response(storage_problem(status, "read_notifications"));
    }
  }
  return json_response(http::status::ok,
                       notifications_json(member_id, member->next_notification_seq - 1, found));
}

}  // namespace loyalty::api
