// Serializing redemptions, adjustments, holds and referrals.
#include <boost/json/array.hpp>

#include "api/responses.hpp"

namespace loyalty::api {
namespace json = boost::json;

json::object redemption_response_json(const RedemptionEvent& redemption, const PointsAnswer& answer,
                                      bool replayed) {
  json::object body;
  body["redemption_id"] = redemption.redemption_id;
  body["member_id"] = redemption.member_id;
  body["points"] = answer.points;
  if (redemption.reward_id.empty())
    body["reward_id"] = nullptr;
  else
    body["reward_id"] = redemption.reward_id;
  body["balance"] = balance_json(answer.balance);
  body["replayed"] = replayed;
  return body;
}

json::object adjustment_response_json(const AdjustmentEvent& adjustment, const PointsAnswer& answer,
                                      bool replayed) {
  json::object body;
  body["adjustment_id"] = adjustment.adjustment_id;
  body["member_id"] = adjustment.member_id;
  body["points"] = answer.points;
  body["reason"] = adjustment.reason;
  body["balance"] = balance_json(answer.balance);
  body["replayed"] = replayed;
  return body;
}

std::string_view hold_state_name(HoldState state) {
  switch (state) {
    case HoldState::active:
      return "active";
    case HoldState::captured:
      return "captured";
    case HoldState::voided:
      return "voided";
    case HoldState::expired:
      return "expired";
  }
  return "unknown";
}

json::object hold_view_json(std::string_view member_id, const Hold& hold, const Balance* balance,
                            TimeMs now) {
  const bool timed_out = hold.state == HoldState::active && now >= hold.expires_at;
  json::object body;
  body["hold_id"] = hold.hold_id;
  body["member_id"] = member_id;
  body["points"] = hold.points;
  body["state"] = hold_state_name(timed_out ? HoldState::expired : hold.state);
  body["created_at"] = format_rfc3339(hold.created_at);
  body["expires_at"] = format_rfc3339(hold.expires_at);
  if (hold.state == HoldState::active)
    body["settled_at"] = nullptr;
  else
    body["settled_at"] = format_rfc3339(hold.settled_at);
  if (hold.captured_by.empty())
    body["captured_by"] = nullptr;
  else
    body["captured_by"] = hold.captured_by;
  if (balance != nullptr)
    body["balance"] = balance_json(*balance);
  else
    body["balance"] = nullptr;
  return body;
}

std::string_view referral_status_name(ReferralStatus status) {
  switch (status) {
    case ReferralStatus::signed_up:
      return "signed_up";
    case ReferralStatus::rewarded:
      return "rewarded";
    case ReferralStatus::not_rewarded:
      return "not_rewarded";
    case ReferralStatus::reversed:
      return "reversed";
  }
  return "unknown";
}

json::object referrals_json(const MemberState& referrer, const std::vector<ReferralLink>& links,
                            size_t listed_max) {
  json::array referred;
  int64_t rewarded_count = 0;
  for (const ReferralLink& link : links) {
    if (link.status == ReferralStatus::rewarded) ++rewarded_count;
    if (referred.size() == listed_max) continue;
    json::object row;
    row["member_id"] = link.referee_id;
    row["status"] = referral_status_name(link.status);
    row["signed_up_at"] = format_rfc3339(link.signed_up_at);
    if (link.rewarded_at == 0)
      row["rewarded_at"] = nullptr;
    else
      row["rewarded_at"] = format_rfc3339(link.rewarded_at);
    referred.push_back(std::move(row));
  }
  json::object body;
  body["member_id"] = referrer.member_id;
  body["referral_code"] = referrer.referral_code;
  body["referred"] = std::move(referred);
  body["rewarded_count"] = rewarded_count;
  body["truncated"] = links.size() > listed_max;
  return body;
}

}  // namespace loyalty::api
