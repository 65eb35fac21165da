#include "engine/prepare.hpp"

#include <tuple>
#include <utility>

#include "engine/referral_code.hpp"
#include "engine/rewards.hpp"

namespace loyalty {
namespace {

Rejection not_found(std::string field, std::string message) {
  return {ErrorCode::not_found, std::move(field), std::move(message)};
}

// The request field that carries the client id behind Event::idempotency_key().
const char* client_id_field(EventType kind) {
  switch (kind) {
    case EventType::signup:
      return "member_id";
    case EventType::purchase:
    case EventType::refund:
      return "event_id";
    case EventType::redemption:
      return "redemption_id";
    case EventType::hold:
    case EventType::hold_capture:
    case EventType::hold_void:
      return "hold_id";
    case EventType::adjustment:
      return "adjustment_id";
    case EventType::recalc_adjustment:
      return "job_id";
    case EventType::referral_reward:
    case EventType::referral_reversal:
      return "id";
    case EventType::expire_points:
    case EventType::evaluate_tier:
      return "job_id";
    case EventType::reward_redeem:
      return "redemption_id";
    case EventType::coupon_use:
      return "use_id";
    case EventType::coupon_cancel:
      return "code";
    case EventType::member_update:
      return "update_id";
    case EventType::member_erase:
      return "erasure_id";
  }
  return "event_id";
}

// The phone and card a change gives the member: free program-wide (or already the member's),
// else `409 identifier_taken` naming the field. Nothing is claimed for a member that does not
// exist (apply refuses it).
Status prepare_member_update(PrepareView& view, const std::optional<MemberState>& member,
                             const MemberUpdateEvent& update, Prepared& out) {
  if (!member) return Status::ok_status();
  const std::tuple<IdentifierKind, const std::optional<std::string>*, const std::string*,
                   const char*>
      wanted[] = {{IdentifierKind::phone, &update.phone, &member->phone, "phone"},
                  {IdentifierKind::card, &update.card_no, &member->card_no, "card_no"}};
  for (const auto& [kind, value, current, field] : wanted) {
    if (!*value || (*value)->empty() || **value == *current) continue;
    bool free = false;
    Status status = view.identifier_free(kind, **value, update.member_id, free);
    if (!status.ok()) return status;
    if (!free) {
      out.rejection = {ErrorCode::identifier_taken, field,
                       std::string("another member has this ") + field};
      return Status::ok_status();
    }
    out.identifiers.push_back({kind, **value, update.member_id});
  }
  return Status::ok_status();
}

// A sign-up's referrer (from the code it names), and the identifiers it takes.
Status prepare_signup(PrepareView& view, SignupEvent& signup, Prepared& out) {
  // A replayed sign-up from the event log already carries what was resolved the first time.
  if (!signup.referral_code.empty() && signup.referrer_member_id.empty()) {
    const std::string code = normalise_referral_code(signup.referral_code);
    if (!code.empty()) {
      Status status =
          view.identifier_owner(IdentifierKind::referral_code, code, signup.referrer_member_id);
      if (!status.ok()) return status;
    }
  }
  const std::pair<IdentifierKind, const std::string*> wanted[] = {
      {IdentifierKind::phone, &signup.phone}, {IdentifierKind::card, &signup.card_no}};
  for (const auto& [kind, value] : wanted) {
    if (value->empty()) continue;
    bool free = false;
    Status status = view.identifier_free(kind, *value, signup.member_id, free);
    if (!status.ok()) return status;
    if (!free) {
      out.rejection = identifier_taken(kind);
      return Status::ok_status();
    }
    out.identifiers.push_back({kind, *value, signup.member_id});
  }
  if (!signup.assigned_referral_code.empty()) {
    out.identifiers.push_back(
        {IdentifierKind::referral_code, signup.assigned_referral_code, signup.member_id});
    return Status::ok_status();
  }
  for (uint32_t attempt = 0; attempt < kReferralCodeAttemptsMax; ++attempt) {
    std::string code = referral_code_for(signup.member_id, attempt);
    bool free = false;
    Status status =
        view.identifier_free(IdentifierKind::referral_code, code, signup.member_id, free);
    if (!status.ok()) return status;
    if (free) {
      signup.assigned_referral_code = code;
      out.identifiers.push_back({IdentifierKind::referral_code, code, signup.member_id});
      return Status::ok_status();
    }
  }
  out.rejection = no_referral_code_free();
  return Status::ok_status();
}

// An earlier request with the same client id settles this one: the same answer again for the
// same payload, a conflict for another.
Status check_previous_use(PrepareView& view, const Event& event, const std::string& member_id,
                          uint64_t fingerprint, Prepared& out) {
  const char* field = client_id_field(event.type());
  PrepareView::PreviousUse previous;
  if (Status status = view.previous_use(event.idempotency_key(), member_id, previous);
      !status.ok()) {
    return status;
  }
  if (previous.in_flight) {
    out.rejection = {ErrorCode::idempotency_conflict, field,
                     std::string("this ") + field + " is in use by another request"};
  } else if (previous.record != nullptr) {
    // A repeated hold capture or void lands here too: same hold_id, same answer. A change of a
    // member erased since cannot be compared any more: its id answers as a replay.
    const bool erased = previous.record->fingerprint == IdempotencyRecord::kErasedFingerprint;
    if ((previous.record->fingerprint == fingerprint || erased) &&
        previous.record->member_id == member_id) {
      out.replayed = true;
      out.answer = previous.record->answer;
    } else {
      out.rejection = client_id_taken(event.type());
    }
  }
  return Status::ok_status();
}

// The purchase a refund or a recalculation names; a purchase of another member is as unknown
// to this member as a missing one.
Status load_named_purchase(PrepareView& view, const std::string& event_id, const char* field,
                           const std::string& member_id, Prepared& out) {
  const PurchaseRecord* purchase = nullptr;
  if (Status status = view.purchase(event_id, purchase); !status.ok()) return status;
  if (purchase == nullptr || purchase->member_id != member_id) {
    out.rejection = not_found(field, "no purchase with this event id");
    return Status::ok_status();
  }
  out.context.original_purchase = purchase;
  return Status::ok_status();
}

// A redemption's coupon code must be free program-wide (it becomes the member's), and a reward
// with stock needs a unit reserved for it. A redemption replayed from the event log carries the
// stock decision already. A member whose tier, limit or the reward's window stops it takes no
// unit, so that the last units go to members who can. (Points are not judged here: the member's
// clock, which apply runs first, may mature or expire some; a unit reserved for a redemption
// then refused for its points is given back.)
Status prepare_reward_redeem(PrepareView& view, const Program& program,
                             const std::optional<MemberState>& member, RewardRedeemEvent& redeem,
                             Prepared& out) {
  if (!redeem.code.empty()) {
    bool free = false;
    Status status =
        view.identifier_free(IdentifierKind::coupon_code, redeem.code, redeem.member_id, free);
    if (!status.ok()) return status;
    if (!free) {
      out.rejection = coupon_code_taken();
      return Status::ok_status();
    }
    out.identifiers.push_back({IdentifierKind::coupon_code, redeem.code, redeem.member_id});
  }
  const Reward* reward = program.reward(redeem.reward_id);
  if (reward == nullptr || !reward->stock || redeem.stock_granted || !member) {
    return Status::ok_status();
  }
  for (const ErrorCode reason :
       reward_standing(program, *member, *reward, redeem.at, std::nullopt).reasons) {
    if (reason != ErrorCode::insufficient_points) return Status::ok_status();
  }
  return view.take_stock(*reward, "rr:" + redeem.redemption_id, redeem.stock_granted);
}

// The stored records the event needs, or a refusal when one is missing or not the member's.
Status load_context(PrepareView& view, const Program& program,
                    const std::optional<MemberState>& member, Event& event,
                    const std::string& member_id, Prepared& out) {
  if (const auto* refund = std::get_if<RefundEvent>(&event.body)) {
    Status status =
        load_named_purchase(view, refund->original_event_id, "original_event_id", member_id, out);
    if (!status.ok() || !out.rejection.ok()) return status;
  } else if (const auto* recalc = std::get_if<RecalcAdjustmentEvent>(&event.body)) {
    Status status = load_named_purchase(view, recalc->event_id, "event_id", member_id, out);
    if (!status.ok() || !out.rejection.ok()) return status;
  }
  if (auto* redeem = std::get_if<RewardRedeemEvent>(&event.body)) {
    return prepare_reward_redeem(view, program, member, *redeem, out);
  }
  const std::string* code = nullptr;
  if (const auto* use = std::get_if<CouponUseEvent>(&event.body)) code = &use->code;
  if (const auto* cancel = std::get_if<CouponCancelEvent>(&event.body)) code = &cancel->code;
  if (code != nullptr) {
    const StoredCoupon* coupon = nullptr;
    if (Status status = view.coupon(*code, coupon); !status.ok()) return status;
    // Another member's coupon is as unknown to this member as a missing one.
    if (coupon == nullptr || coupon->member_id != member_id) {
      out.rejection = coupon_not_found();
      return Status::ok_status();
    }
    out.context.stored_coupon = &coupon->coupon;
    return Status::ok_status();
  }
  const std::string* hold_id = nullptr;
  bool hold_required = false;
  if (const auto* action = std::get_if<HoldActionEvent>(&event.body)) {
    hold_id = &action->hold_id;
    hold_required = true;
  } else if (const auto* purchase = std::get_if<PurchaseEvent>(&event.body)) {
    if (!purchase->hold_id.empty()) hold_id = &purchase->hold_id;
  }
  if (hold_id == nullptr) return Status::ok_status();
  const StoredHold* hold = nullptr;
  if (Status status = view.hold(*hold_id, hold); !status.ok()) return status;
  if ((hold == nullptr && hold_required) || (hold != nullptr && hold->member_id != member_id)) {
    out.rejection = hold_not_found();
    return Status::ok_status();
  }
  if (hold != nullptr) out.context.stored_hold = &hold->hold;
  return Status::ok_status();
}

}  // namespace

Rejection client_id_taken(EventType kind) {
  const char* field = client_id_field(kind);
  return {ErrorCode::idempotency_conflict, field,
          std::string("this ") + field + " was used with a different payload"};
}

Rejection identifier_taken(IdentifierKind kind) {
  if (kind == IdentifierKind::coupon_code) return coupon_code_taken();
  const char* field = kind == IdentifierKind::phone  ? "phone"
                      : kind == IdentifierKind::card ? "card_no"
                                                     : "referral_code";
  return {ErrorCode::member_exists, field, std::string("another member has this ") + field};
}

Rejection hold_not_found() { return not_found("hold_id", "no hold with this id"); }

Rejection coupon_not_found() { return not_found("code", "no coupon with this code"); }

Rejection coupon_code_taken() {
  return {ErrorCode::unavailable, "code", "the coupon code drawn is taken; retry the request"};
}

Rejection no_referral_code_free() {
  return {ErrorCode::unavailable, "", "could not assign a unique referral code"};
}

Status prepare_event(PrepareView& view, const ProgramVersion& program,
                     const std::optional<MemberState>& member, Event& event, uint64_t fingerprint,
                     Prepared& out) {
  out = Prepared{};
  out.context.program = &program;
  const std::string& member_id = event.member_id();
  if (auto* signup = std::get_if<SignupEvent>(&event.body)) {
    if (member.has_value()) {
      // An erased member's sign-up cannot be compared any more (it was a digest of the erased
      // phone, card and profile): a sign-up with its id answers as a replay.
      if (member->signup_fingerprint == fingerprint || member->erased_at != 0) {
        out.replayed = true;
      } else {
        out.rejection = {ErrorCode::member_exists, "member_id", "a member with this id exists"};
      }
      return Status::ok_status();
    }
    return prepare_signup(view, *signup, out);
  }
  Status status = check_previous_use(view, event, member_id, fingerprint, out);
  if (!status.ok() || out.decided()) return status;
  if (event.type() == EventType::member_erase) return Status::ok_status();  // claims nothing
  if (const auto* update = std::get_if<MemberUpdateEvent>(&event.body)) {
    return prepare_member_update(view, member, *update, out);
  }
  return load_context(view, program.program, member, event, member_id, out);
}

}  // namespace loyalty
