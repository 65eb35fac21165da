// JSON shapes of successful responses (api.md): the member view, the purchase answer and a
// ledger page. Serialization only; the numbers come from the engine.
// Thread-safety: free functions over caller-owned data.
#pragma once

#include <boost/json/object.hpp>
#include <string_view>

#include "engine/apply.hpp"
#include "engine/member_view.hpp"
#include "storage/rocks_store.hpp"

namespace loyalty::api {

// {member_id, joined_at, tier, tier_since, benefits, balance, lifetime_points, purchase_count,
//  qualifying? (omitted without tiers), referral_code, referred_by (null when none),
//  expiring: [{points, expires_at}], program_version}. view.member must be set.
boost::json::object member_view_json(const MemberView& view);

// {event_id, member_id, points_earned, points_redeemed, breakdown: [{rule, points}],
//  balance, tier, tier_changed, replayed}.
boost::json::object purchase_response_json(const PurchaseEvent& purchase,
                                           const PurchaseAnswer& answer, bool replayed);

// {entries: [{id: "<member_id>:<seq>", seq, type, points, at, reference, rule,
//  program_version, balance_after}], next_cursor: "<seq>" | null}.
boost::json::object ledger_page_json(std::string_view member_id, const LedgerPage& page);

}  // namespace loyalty::api
