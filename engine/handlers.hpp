// The per-event handlers behind apply_event (engine-internal). Each works on a scratch copy of
// the member and its own Effects: returning a refusal discards both, so handlers may check and
// change state in one pass.
#pragma once

#include "engine/apply.hpp"
#include "engine/entry_writer.hpp"

namespace loyalty::handlers {

Rejection signup(const ApplyContext& context, std::optional<MemberState>& member,
                 const SignupEvent& event, Effects& effects);
Rejection purchase(const ApplyContext& context, MemberState& member, const PurchaseEvent& event,
                   Effects& effects);
Rejection refund(const ApplyContext& context, MemberState& member, const RefundEvent& event,
                 Effects& effects);
Rejection redemption(const ApplyContext& context, MemberState& member, const RedemptionEvent& event,
                     Effects& effects);
Rejection adjustment(const ApplyContext& context, MemberState& member, const AdjustmentEvent& event,
                     Effects& effects);
Rejection hold(const ApplyContext& context, MemberState& member, const HoldEvent& event,
               Effects& effects);
Rejection hold_action(const ApplyContext& context, MemberState& member, EventType kind,
                      const HoldActionEvent& event, Effects& effects);
Rejection referral_follow_up(const ApplyContext& context, MemberState& member, EventType kind,
                             const ReferralFollowUp& event, Effects& effects);
Rejection job_step(const ApplyContext& context, MemberState& member, EventType kind,
                   const JobStepEvent& event, Effects& effects);
// Needs context.original_purchase: the purchase corrected.
Rejection recalc_adjustment(const ApplyContext& context, MemberState& member,
                            const RecalcAdjustmentEvent& event, Effects& effects);

// Rewards and coupons (apply_rewards.cpp). Uses and cancellations read context.stored_coupon.
Rejection reward_redeem(const ApplyContext& context, MemberState& member,
                        const RewardRedeemEvent& event, Effects& effects);
Rejection coupon_use(const ApplyContext& context, MemberState& member, const CouponUseEvent& event,
                     Effects& effects);
Rejection coupon_cancel(const ApplyContext& context, MemberState& member,
                        const CouponCancelEvent& event, Effects& effects);
// apply_member.cpp: customer service's change of a member (its identifiers, profile, block).
Rejection member_update(const ApplyContext& context, MemberState& member,
                        const MemberUpdateEvent& event, Effects& effects);
// The right to erasure: phone, card and profile go, the identifiers are freed, and the member
// is blocked for good. Its member id, ledger and balances stay. An erased member's erasure
// changes nothing.
Rejection member_erase(const ApplyContext& context, MemberState& member,
                       const MemberUpdateEvent& event, Effects& effects);
// The member's clock: active coupons whose valid_until has come expire.
void expire_coupons(const ProgramVersion& program, MemberState& member, TimeMs at,
                    Effects& effects);
// A purchase's `coupons`: each must be an active coupon of the member; all are used, with
// their entries written through `writer`, and copied to `used`; or none is and the refusal
// (coupon_not_active) names the first that is not.
Rejection use_purchase_coupons(MemberState& member, const PurchaseEvent& event, EntryWriter& writer,
                               Effects& effects, std::vector<Coupon>& used);
// The refund that completes a purchase: each coupon the sale used per its on_refund. Returns the
// points given back (refund_points).
Points settle_refunded_coupons(const Program& program, MemberState& member,
                               const std::vector<Coupon>& coupons, TimeMs at,
                               const std::string& reference, EntryWriter& writer, Effects& effects);

// Brings the member to time `at`: holds past their time-out are released, pending points that
// have matured become available, lots past their expiry date expire.
void advance_member_clock(const ProgramVersion& program, MemberState& member, TimeMs at,
                          Effects& effects);

// The record a refund of this purchase needs, before any payment or lot is filled in; per-line
// eligible amounts computed the way earning did, so refunds by line are exact. Also used by
// the recalculation to re-run a purchase's refunds under new rules.
PurchaseRecord make_purchase_record(const PurchaseEvent& event, const EarningInput& input,
                                    const EarningResult& earned, const Program& program);

// Shared checks.
Rejection invalid(std::string field, std::string message);
Hold* find_active_hold(MemberState& member, std::string_view hold_id);
// Points as payment or redemption: the program allows it, min_points and step_points hold.
Rejection check_redeemable(const Program& program, Points points, const std::string& field);

}  // namespace loyalty::handlers
