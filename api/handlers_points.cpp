// Direct point movements of one member: redemptions (pos, app, admin) and adjustments (admin),
// parsed here and applied by the runtime.
#include "api/handlers.hpp"
#include "api/request_parsing.hpp"
#include "api/responses.hpp"

namespace loyalty::api {
namespace {

HttpResponse member_not_found() {
  return problem_response(ErrorCode::not_found, "no member with this id", "member_id");
}

}  // namespace

RouteResult handle_redemption(const ApiContext& context, const HttpRequest& request,
                              std::string_view member_id) {
  if (!is_valid_id(member_id)) return member_not_found();
  Parsed<RedemptionEvent> parsed = parse_redemption_request(request.body(), std::string(member_id));
  if (const ParseError* error = std::get_if<ParseError>(&parsed)) return error->to_response();
  RedemptionEvent& redemption = std::get<RedemptionEvent>(parsed);
  RedemptionEvent ids;
  ids.redemption_id = redemption.redemption_id;
  ids.member_id = redemption.member_id;
  ids.reward_id = redemption.reward_id;
  return submit_and_reply(
      context, Event{std::move(redemption)}, [ids = std::move(ids)](const EventResult& result) {
        return reply_from<PointsAnswer>(
            result, "redemption " + ids.redemption_id, [&](const PointsAnswer& answer) -> Reply {
              return Success{created_or_replayed(result.replayed),
                             redemption_response_json(ids, answer, result.replayed)};
            });
      });
}

RouteResult handle_adjustment(const ApiContext& context, const HttpRequest& request,
                              std::string_view member_id, const Principal& principal) {
  if (!is_valid_id(member_id)) return member_not_found();
  Parsed<AdjustmentEvent> parsed = parse_adjustment_request(request.body(), std::string(member_id));
  if (const ParseError* error = std::get_if<ParseError>(&parsed)) return error->to_response();
  AdjustmentEvent& adjustment = std::get<AdjustmentEvent>(parsed);
  adjustment.made_by = principal.name;  // the audit trail: which key gave or took the points
  AdjustmentEvent ids;
  ids.adjustment_id = adjustment.adjustment_id;
  ids.member_id = adjustment.member_id;
  ids.reason = adjustment.reason;
  return submit_and_reply(
      context, Event{std::move(adjustment)}, [ids = std::move(ids)](const EventResult& result) {
        return reply_from<PointsAnswer>(
            result, "adjustment " + ids.adjustment_id, [&](const PointsAnswer& answer) -> Reply {
              return Success{created_or_replayed(result.replayed),
                             adjustment_response_json(ids, answer, result.replayed)};
            });
      });
}

}  // namespace loyalty::api
