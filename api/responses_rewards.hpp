// JSON shapes of the points mall (api.md "Rewards and coupons"): the catalog, one member's
// catalog, coupons and their pages. Serialization only; whether a reward can be redeemed comes
// from the engine (engine/rewards.hpp).
// Thread-safety: free functions over caller-owned data.
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string_view>

#include "engine/member_state.hpp"
#include "engine/program.hpp"
#include "engine/rewards.hpp"
#include "storage/rocks_store.hpp"

namespace loyalty::api {

// The state a ?state= names (coupon_state_name's spelling, engine/rewards.hpp).
std::optional<CouponState> coupon_state_from_name(std::string_view name);
std::string_view limit_period_name(LimitPeriod period);

// {reward_id, name, kind, cost_points, benefit, stock (null: unlimited), stock_left (null:
//  unlimited or not known here), per_member {max, period} | null, tiers, available_from,
//  available_to (null: open), coupon_valid_days, on_refund}.
boost::json::object reward_json(const Reward& reward, std::optional<int64_t> stock_left);

// reward_json plus {redeemable, reasons: [codes], member_limit {max, period, used} | null}.
boost::json::object member_reward_json(const Reward& reward, const RewardStanding& standing,
                                       std::optional<int64_t> stock_left);

// {code, member_id, reward_id, reward_name, kind, benefit, points, state, issued_at,
//  valid_until, settled_at (null while active), used_by, store_id (null unless used),
//  redemption_id}. An active coupon at or past valid_until shows as "expired": it can no longer
//  be used, whether or not the expiry job has written that yet.
boost::json::object coupon_json(std::string_view member_id, const Coupon& coupon, TimeMs now);

// {coupons: [coupon_json], next_cursor: "<issued_at ms>-<code>" | null}.
boost::json::object coupon_page_json(std::string_view member_id, const CouponPage& page,
                                     TimeMs now);

}  // namespace loyalty::api
