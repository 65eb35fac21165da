// GET /v1/purchases/{event_id} (pos, admin): a posted purchase as the engine keeps it, to
// answer "why did this purchase earn what it earned": what each rule gave (the breakdown the till
// was answered), what of each line earned (a line an exclusion or points paid for earns
// nothing), and what refunds and recalculations changed since. A store-scoped till key reads its
// stores' purchases only (another store's is 403 naming event_id, as a refund of it is refused).
#include <boost/json/array.hpp>

#include "api/handlers.hpp"
#include "api/problem.hpp"
#include "api/request_parsing.hpp"
#include "api/responses.hpp"

namespace loyalty::api {
namespace {

namespace json = boost::json;

json::object purchase_json(const PurchaseRecord& p) {
  json::array lines;
  for (const PurchaseLineRecord& line : p.lines) {
    lines.push_back(json::object{{"sku", line.sku},
                                 {"amount_minor", line.amount_minor},
                                 {"eligible_minor", line.eligible_minor},
                                 {"refunded_minor", line.refunded_minor}});
  }
  json::array coupons;
  for (const Coupon& coupon : p.coupons) coupons.push_back(json::string(coupon.code));
  json::object body;
  body["event_id"] = p.event_id;
  body["member_id"] = p.member_id;
  body["store_id"] = p.store_id;
  body["occurred_at"] = format_rfc3339(p.occurred_at);
  body["order_total_minor"] = p.order_total_minor;
  body["eligible_minor"] = p.eligible_minor;
  body["points_earned"] = p.answer.points_earned;
  body["points_redeemed"] = p.points_redeemed;
  body["breakdown"] = breakdown_json(p.answer.breakdown);
  body["lines"] = std::move(lines);
  body["coupons_used"] = std::move(coupons);
  body["refunded_minor"] = p.refunded_minor;
  body["points_reversed"] = p.points_reversed;
  body["points_restored"] = p.points_restored;
  body["points_adjusted"] = p.points_adjusted;
  body["tier_after"] = p.answer.tier;
  return body;
}

}  // namespace

HttpResponse purchase_not_found() {
  return problem_response(ErrorCode::not_found, "no purchase with this event id", "event_id");
}

HttpResponse handle_get_purchase(const ApiContext& context, std::string_view event_id,
                                 const Principal& principal) {
  if (!is_valid_id(event_id)) return purchase_not_found();
  std::optional<PurchaseRecord> purchase;
  if (Status status = context.store->load_purchase(event_id, purchase); !status.ok()) {
    return problem_response(storage_problem(status, "load_purchase"));
  }
  if (!purchase) return purchase_not_found();
  if (!authorize_store(principal, purchase->store_id).ok()) {  // as a refund of it is refused
    return problem_response(ErrorCode::forbidden, "this key may not read this store's purchases",
                            "event_id");
  }
  return json_response(http::status::ok, purchase_json(*purchase));
}

}  // namespace loyalty::api
