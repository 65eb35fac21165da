// Request bodies of the points mall (api.md "Rewards and coupons").
#include "api/json_fields.hpp"
#include "api/request_parsing.hpp"

namespace loyalty::api {
namespace json = boost::json;
using json_fields::Fields;

Parsed<RewardRedeemEvent> parse_reward_redeem_request(std::string_view body, std::string member_id,
                                                      std::string reward_id) {
  return json_fields::guarded<RewardRedeemEvent>([&] {
    json::value storage;
    const Fields f(json_fields::parse_object(body, storage), "");
    f.refuse_unknown({"redemption_id"});
    RewardRedeemEvent redeem;
    redeem.redemption_id = f.id("redemption_id", f.required("redemption_id"));
    redeem.member_id = std::move(member_id);
    redeem.reward_id = std::move(reward_id);
    return redeem;
  });
}

Parsed<CouponUseEvent> parse_coupon_use_request(std::string_view body, std::string code) {
  return json_fields::guarded<CouponUseEvent>([&] {
    json::value storage;
    const Fields f(json_fields::parse_object(body, storage), "");
    f.refuse_unknown({"use_id", "store_id", "event_id"});
    CouponUseEvent use;
    use.use_id = f.id("use_id", f.required("use_id"));
    use.code = std::move(code);
    use.store_id = f.id("store_id", f.required("store_id"));
    if (const json::value* v = f.optional("event_id")) use.event_id = f.id("event_id", *v);
    return use;
  });
}

}  // namespace loyalty::api
