// POST /v1/quotes: what a basket would earn and how many points could pay for it, computed by
// the engine's purchase code path on the member as stored. Nothing is written, so it is
// answered on the I/O thread without the runtime.
#include "api/cluster_reads.hpp"
#include "api/handlers.hpp"
#include "api/request_parsing.hpp"
#include "api/responses.hpp"
#include "cluster/node.hpp"
#include "engine/program_toml.hpp"
#include "engine/tzdb/os_time_zones.hpp"

namespace loyalty::api {
namespace {

// validate_input judges a purchase by its event id too; a quote may leave it out.
constexpr std::string_view kQuoteEventIdPlaceholder = "quote";

}  // namespace

RouteResult handle_quote(const ApiContext& context, const HttpRequest& request,
                         const Principal& principal, bool forwarded) {
  Parsed<QuoteRequest> parsed = parse_quote_request(request.body());
  if (const ParseError* error = std::get_if<ParseError>(&parsed)) return error->to_response();
  const PurchaseEvent& quote = std::get<QuoteRequest>(parsed).purchase;
  if (Rejection r = authorize_store(principal, quote.store_id); !r.ok()) {
    return problem_response(r);
  }
  // A draft's rules (admin): what this basket would earn if the draft were activated.
  std::shared_ptr<const ProgramVersion> draft;
  if (const std::optional<std::string>& text = std::get<QuoteRequest>(parsed).program_toml) {
    if (principal.role != Role::admin || principal.is_member_token()) {
      return problem_response(ErrorCode::forbidden, "only an admin key may quote under a draft",
                              "program_toml");
    }
    std::variant<Program, ProgramLoadError> loaded =
        parse_program_toml(*text, "program_toml", os_time_zones());
    if (const auto* error = std::get_if<ProgramLoadError>(&loaded)) {
      if (error->key.empty()) {
        return problem_response(ErrorCode::invalid_request, error->message, "program_toml");
      }
      return problem_response(ErrorCode::invalid_request, error->key + ": " + error->message,
                              "program_toml", InvalidKind::semantic);
    }
    draft = std::make_shared<const ProgramVersion>(
        ProgramVersion{0, std::move(std::get<Program>(loaded)), *text});
  }
  {
    PurchaseEvent checked = quote;
    if (checked.event_id.empty()) checked.event_id = kQuoteEventIdPlaceholder;
    if (Rejection r = validate_input(Event{std::move(checked)}, context.clock()); !r.ok()) {
      return problem_response(runtime_problem(r));
    }
  }
  // Cluster mode: quoted by the owner of the member's partition, against every acknowledged write.
  if (context.cluster_reads != nullptr && !forwarded) {
    if (std::optional<Deferred> owner =
            context.cluster_reads->elsewhere(quote.member_id, request, principal)) {
      return std::move(*owner);
    }
  }
  std::optional<MemberState> member;
  if (Status status = context.store->load_member(quote.member_id, member); !status.ok()) {
    return problem_response(storage_problem(status, "load_member"));
  }
  if (!member) {
    return problem_response(ErrorCode::not_found, "no member with this id", "member_id");
  }
  // A basket that names a hold is quoted with the hold as stored, as the purchase would be.
  std::optional<StoredHold> hold;
  if (!quote.hold_id.empty()) {
    if (Status status = context.store->load_hold(quote.hold_id, hold); !status.ok()) {
      return problem_response(storage_problem(status, "load_hold"));
    }
  }
  // The rules the member's partition has reached (cluster mode: a new version reaches each
  // partition at its point of the log, a moment apart), as its next purchase would be decided.
  std::shared_ptr<const ProgramVersion> program = draft ? draft : context.programs->active();
  if (context.cluster != nullptr && !draft) {
    const uint32_t partition =
        member_partition(quote.member_id, context.cluster->config().partitions);
    if (std::shared_ptr<const ProgramVersion> reached =
            context.cluster->programs().partition_program(partition).version) {
      program = std::move(reached);
    }
  }
  ApplyContext apply_context;
  apply_context.program = program.get();
  if (hold) apply_context.stored_hold = &hold->hold;
  QuoteAnswer answer;
  if (Rejection r = quote_purchase(apply_context, *member, quote, answer); !r.ok()) {
    return problem_response(runtime_problem(r));
  }
  return json_response(http::status::ok, quote_response_json(quote, answer));
}

}  // namespace loyalty::api
