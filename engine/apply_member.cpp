// Sign-ups, the referrer's side of referrals (follow-ups from a referee's partition) and the
// per-member steps of the expiry and tier-evaluation jobs.
#include <algorithm>

#include "engine/entry_writer.hpp"
#include "engine/handlers.hpp"
#include "engine/lots.hpp"
#include "engine/tiers.hpp"

namespace loyalty::handlers {

Rejection signup(const ApplyContext& context, std::optional<MemberState>& member,
                 const SignupEvent& e, Effects& effects) {
  if (member) return {ErrorCode::member_exists, "member_id", "a member with this id exists"};
  if (!e.referral_code.empty() && e.referrer_member_id.empty()) {
    return {ErrorCode::unknown_referral_code, "referral_code", "no member has this referral code"};
  }
  if (!e.referrer_member_id.empty() && e.referrer_member_id == e.member_id) {
    return {ErrorCode::unknown_referral_code, "referral_code", "a member cannot refer themselves"};
  }
  if (!e.joined_at.has_value() || e.assigned_referral_code.empty()) {
    return invalid("member_id", "the sign-up was not prepared by the runtime");
  }
  const ProgramVersion& version = *context.program;
  MemberState state;
  state.member_id = e.member_id;
  state.joined_at = *e.joined_at;
  state.phone = e.phone;
  state.card_no = e.card_no;
  state.phone_grant = e.phone.empty() ? 0 : e.phone_grant;
  state.card_grant = e.card_no.empty() ? 0 : e.card_grant;
  state.profile_json = e.profile_json;
  state.referral_code = e.assigned_referral_code;
  state.referred_by = e.referrer_member_id;
  state.signup_fingerprint = e.request_fingerprint;
  state.tier_since = *e.joined_at;
  state.program_version = version.number;
  if (!state.referred_by.empty()) {
    effects.referral_links.push_back(
        {state.referred_by, state.member_id, ReferralStatus::signed_up, *e.joined_at, 0});
    const Points welcome =
        version.program.referral ? version.program.referral->referee_signup_points : 0;
    if (welcome > 0) {
      EntryWriter writer(state, effects, version.number, *e.joined_at, e.member_id);
      credit_lot(version.program, state, welcome, e.member_id, *e.joined_at, effects);
      state.lifetime_points += welcome;
      writer.entry(EntryType::referral_bonus, welcome, "referral:signup");
      writer.notify("referral.rewarded", welcome);
    }
  }
  member = std::move(state);
  effects.answer = std::monostate{};
  return Rejection::none();
}

Rejection member_update(const ApplyContext& context, MemberState& member,
                        const MemberUpdateEvent& e, Effects& effects) {
  if (member.erased_at != 0) {
    return {ErrorCode::member_blocked, "member_id",
            "the member's personal data was erased: it cannot be changed"};
  }
  // The audit entry names every field the change gave, changed or not: it records the request,
  // and an erasure blanks the values of earlier changes in the log (not which were given), so a
  // replay of the log writes the same entries.
  std::string given;
  const auto note = [&given](std::string_view field) {
    if (!given.empty()) given += ',';
    given += field;
  };
  // Cluster mode: the grant the change's claim got is the one the member holds the value by,
  // even when the value is the same (the claim counted a grant all the same).
  const auto set_identifier = [&](IdentifierKind kind, std::string_view field,
                                  const std::optional<std::string>& value, uint64_t new_grant,
                                  std::string& current, uint64_t& current_grant) {
    if (!value) return;
    note(field);
    const uint64_t old_grant = current_grant;
    if (*value == current) {
      // The same value claimed again: held by the later of the two grants (two such changes may
      // be logged in the other order than their claims were granted).
      current_grant = std::max(current_grant, new_grant);
      return;
    }
    current_grant = value->empty() ? 0 : new_grant;
    if (!current.empty()) {
      effects.identifiers_released.push_back({kind, current, member.member_id, old_grant});
    }
    current = *value;
  };
  set_identifier(IdentifierKind::phone, "phone", e.phone, e.phone_grant, member.phone,
                 member.phone_grant);
  set_identifier(IdentifierKind::card, "card_no", e.card_no, e.card_grant, member.card_no,
                 member.card_grant);
  if (e.profile_json) {
    member.profile_json = *e.profile_json;
    note("profile");
  }
  if (e.blocked) {
    member.blocked = *e.blocked;
    note("blocked");
  }
  effects.answer = std::monostate{};
  LOYALTY_CHECK(!given.empty());  // validation refuses a change that gives nothing
  EntryWriter writer(member, effects, context.program->number, e.at, e.update_id);
  writer.entry(EntryType::member_update, 0,
               given + " by " + e.changed_by + (e.reason.empty() ? "" : ": " + e.reason));
  writer.notify("member.updated", 0);
  return Rejection::none();
}

Rejection member_erase(const ApplyContext& context, MemberState& member, const MemberUpdateEvent& e,
                       Effects& effects) {
  effects.answer = std::monostate{};
  if (member.erased_at != 0) return Rejection::none();  // nothing left to erase
  for (auto [kind, value] : {std::pair{IdentifierKind::phone, &member.phone},
                             std::pair{IdentifierKind::card, &member.card_no}}) {
    if (!value->empty()) effects.identifiers_released.push_back({kind, *value, member.member_id});
    value->clear();
  }
  member.phone_grant = 0;  // an erasure gives its claims up whatever their grants
  member.card_grant = 0;
  member.profile_json.clear();
  member.signup_fingerprint = 0;  // a digest of the sign-up, phone and card included
  member.blocked = true;
  member.erased_at = e.at;
  EntryWriter writer(member, effects, context.program->number, e.at, e.update_id);
  writer.entry(EntryType::member_erase, 0, "erased by " + e.changed_by + ": " + e.reason);
  writer.notify("member.erased", 0);
  return Rejection::none();
}

Rejection referral_follow_up(const ApplyContext& context, MemberState& member, EventType kind,
                             const ReferralFollowUp& e, Effects& effects) {
  const ProgramVersion& version = *context.program;
  const Program& program = version.program;
  EntryWriter writer(member, effects, version.number, e.at, e.id);
  if (kind == EventType::referral_reward) {
    const size_t rewarded =
        std::count_if(member.referral_rewards.begin(), member.referral_rewards.end(),
                      [](const ReferralReward& r) { return !r.reversed; });
    const bool allowed = program.referral && rewarded < program.referral->max_rewarded_referrals;
    ReferralLink link{member.member_id, e.referee_id, ReferralStatus::not_rewarded, 0, 0};
    Points points = 0;
    if (allowed) {
      points = program.referral->referrer_points;
      if (points > 0) {
        credit_lot(program, member, points, e.id, e.at, effects);
        member.lifetime_points += points;
        writer.entry(EntryType::referral_bonus, points, "referral:" + e.referee_id);
        writer.notify("referral.rewarded", points);
      }
      member.referral_rewards.push_back({e.referee_id, e.trigger_event_id, points, e.at, false});
      link.status = ReferralStatus::rewarded;
      link.rewarded_at = e.at;
    }
    effects.referral_links.push_back(link);
    effects.answer = PointsAnswer{points, member.balance};
    return Rejection::none();
  }
  // Reversal: claw back the reward this trigger earned, if it earned one.
  Points points = 0;
  for (ReferralReward& reward : member.referral_rewards) {
    if (reward.trigger_event_id != e.trigger_event_id || reward.reversed) continue;
    reward.reversed = true;
    points = reward.points;
    if (points > 0) {
      debit_points(member, points, std::nullopt, true, effects);
      member.lifetime_points -= points;
      writer.entry(EntryType::referral_reversal, -points, "referral:" + e.referee_id);
      writer.notify("points.reversed", -points);
    }
    effects.referral_links.push_back(
        {member.member_id, e.referee_id, ReferralStatus::reversed, 0, reward.rewarded_at});
  }
  effects.answer = PointsAnswer{-points, member.balance};
  return Rejection::none();
}

Rejection job_step(const ApplyContext& context, MemberState& member, EventType kind,
                   const JobStepEvent& e, Effects& effects) {
  JobStepAnswer answer;
  if (kind == EventType::expire_points) {
    // apply_event already advanced the member to as_of: count what that expired.
    for (const LedgerEntry& entry : effects.entries) {
      if (entry.type == EntryType::expire) answer.points_expired -= entry.points;
    }
  } else {
    answer.tier_changed = evaluate_tier(*context.program, member, e.as_of, e.job_id, effects);
  }
  answer.tier = context.program->program.tier_name(member.tier_index);
  effects.answer = answer;
  return Rejection::none();
}

}  // namespace loyalty::handlers
