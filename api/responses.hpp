// JSON shapes of successful responses (api.md): the member view, the answers of every event
// kind, a ledger page, holds and referrals. Serialization only; the numbers come from the
// engine. Implemented per resource: responses.cpp (members, purchases, ledger),
// responses_events.cpp (refunds, quotes), responses_points.cpp (redemptions, adjustments,
// holds, referrals).
// Thread-safety: free functions over caller-owned data.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <string>
#include <string_view>
#include <vector>

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

// [{rule, points}]: what each rule gave a purchase (its answer, a quote, the stored purchase).
boost::json::array breakdown_json(const std::vector<BreakdownLine>& breakdown);

// {available, pending, held}.
boost::json::object balance_json(const Balance& balance);

// A free-form benefits object of the program (tier benefits, a reward's benefit) as JSON.
boost::json::value benefits_json(const std::string& text);

// {event_id, original_event_id, member_id (when known), points_reversed, points_restored,
//  referral_reversed, refunded_minor, remaining_minor, balance, replayed}.
boost::json::object refund_response_json(const RefundEvent& refund, std::string_view member_id,
                                         const RefundAnswer& answer, bool replayed);

// {event_id (when given), member_id, points_earned, points_redeemed, breakdown, balance_after,
//  tier, tier_changed, redeemable_points_max, redeemable_value_minor}.
boost::json::object quote_response_json(const PurchaseEvent& quote, const QuoteAnswer& answer);

// {redemption_id, member_id, points, reward_id (null when none), balance, replayed}.
boost::json::object redemption_response_json(const RedemptionEvent& redemption,
                                             const PointsAnswer& answer, bool replayed);

// {adjustment_id, member_id, points, reason, balance, replayed}.
boost::json::object adjustment_response_json(const AdjustmentEvent& adjustment,
                                             const PointsAnswer& answer, bool replayed);

// The hold view: {hold_id, member_id, points, state, created_at, expires_at, settled_at (null
// while active), captured_by (null unless a purchase captured it), balance (null when
// unknown)}. An active hold whose expires_at is not after `now` shows as "expired": it can no
// longer be captured, whether or not its release has been written yet (that happens with the
// member's next change or the expiry job).
boost::json::object hold_view_json(std::string_view member_id, const Hold& hold,
                                   const Balance* balance, TimeMs now);
std::string_view hold_state_name(HoldState state);

// {member_id, referral_code, referred: [{member_id, status, signed_up_at, rewarded_at (null
//  when not rewarded)}], rewarded_count, truncated}. At most `listed_max` referees are listed,
// in the store's order; `truncated` says whether there were more. rewarded_count counts the
// links whose reward stands (status "rewarded"), over all of them.
boost::json::object referrals_json(const MemberState& referrer,
                                   const std::vector<ReferralLink>& links, size_t listed_max);
std::string_view referral_status_name(ReferralStatus status);

// {member_id, latest_seq, notifications: [{seq, type, points, reference, at}]}: a member's
// feed after a seq (GET /v1/members/{id}/notifications), oldest first; latest_seq is the
// member's newest notification's (0: none yet).
boost::json::object notifications_json(std::string_view member_id, uint64_t latest_seq,
                                       const std::vector<Notification>& notifications);
// Reads it back (a cluster node catching a WebSocket subscriber up from the owner's answer);
// false when `body` is not such an object.
bool parse_notifications_json(std::string_view body, uint64_t& latest_seq,
                              std::vector<Notification>& notifications);

// {entries: [{id: "<member_id>:<seq>", seq, type, points, at, reference, rule,
//  program_version, balance_after}], next_cursor: "<seq>" | null}.
boost::json::object ledger_page_json(std::string_view member_id, const LedgerPage& page);

}  // namespace loyalty::api
