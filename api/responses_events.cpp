// Serializing refund and quote answers.
#include <boost/json/array.hpp>

#include "api/responses.hpp"

namespace loyalty::api {
namespace json = boost::json;

json::object refund_response_json(const RefundEvent& refund, std::string_view member_id,
                                  const RefundAnswer& answer, bool replayed) {
  json::object body;
  body["event_id"] = refund.event_id;
  body["original_event_id"] = refund.original_event_id;
  if (!member_id.empty()) body["member_id"] = member_id;
  body["points_reversed"] = answer.points_reversed;
  body["points_restored"] = answer.points_restored;
  body["referral_reversed"] = answer.referral_reversed;
  body["refunded_minor"] = answer.refunded_minor;
  body["remaining_minor"] = answer.remaining_minor;
  body["balance"] = balance_json(answer.balance);
  body["replayed"] = replayed;
  return body;
}

json::object quote_response_json(const PurchaseEvent& quote, const QuoteAnswer& answer) {
  const PurchaseAnswer& purchase = answer.purchase;
  json::object body;
  if (!quote.event_id.empty()) body["event_id"] = quote.event_id;
  body["member_id"] = quote.member_id;
  body["points_earned"] = purchase.points_earned;
  body["points_redeemed"] = purchase.points_redeemed;
  body["breakdown"] = breakdown_json(purchase.breakdown);
  body["balance_after"] = balance_json(purchase.balance);
  body["tier"] = purchase.tier;
  body["tier_changed"] = purchase.tier_changed;
  body["redeemable_points_max"] = answer.redeemable_points_max;
  body["redeemable_value_minor"] = answer.redeemable_value_minor;
  return body;
}

}  // namespace loyalty::api
