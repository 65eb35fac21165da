// Fuzzing support: the parsed request events written back as the JSON the API accepts, and
// field-by-field equality, for the "parse → write → parse gives the same event" properties.
// Only the fuzz targets use this; the API never writes requests.
#pragma once

#include <boost/json/object.hpp>
#include <string_view>

#include "engine/events.hpp"

namespace loyalty::fuzz {

// `type` ("purchase" | "refund"), when not empty, is added as a batch item or frame carries it.
boost::json::object purchase_json(const PurchaseEvent& purchase, std::string_view type = {});
boost::json::object refund_json(const RefundEvent& refund, std::string_view type = {});
boost::json::object signup_json(const SignupEvent& signup);
// Bodies whose member_id comes from the path: it is not written.
boost::json::object redemption_json(const RedemptionEvent& redemption);
boost::json::object adjustment_json(const AdjustmentEvent& adjustment);
boost::json::object hold_json(const HoldEvent& hold);
// Bodies whose member, reward or code come from the path.
boost::json::object reward_redeem_json(const RewardRedeemEvent& redeem);
boost::json::object coupon_use_json(const CouponUseEvent& use);

bool same(const PurchaseEvent& a, const PurchaseEvent& b);
bool same(const RefundEvent& a, const RefundEvent& b);
bool same(const SignupEvent& a, const SignupEvent& b);
bool same(const RedemptionEvent& a, const RedemptionEvent& b);
bool same(const AdjustmentEvent& a, const AdjustmentEvent& b);
bool same(const HoldEvent& a, const HoldEvent& b);
bool same(const RewardRedeemEvent& a, const RewardRedeemEvent& b);
bool same(const CouponUseEvent& a, const CouponUseEvent& b);

}  // namespace loyalty::fuzz
