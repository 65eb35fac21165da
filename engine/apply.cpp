// Applying sign-ups and purchases to member state.
#include "engine/apply.hpp"

#include <algorithm>
#include <cassert>

namespace loyalty {
namespace {

bool printable_id(std::string_view id) {
  if (id.empty() || id.size() > kIdLengthMax) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

Rejection invalid(std::string field, std::string message) {
  return {ErrorCode::invalid_request, std::move(field), std::move(message)};
}

Rejection check_id(const std::string& field, std::string_view id) {
  if (id.empty()) return invalid(field, field + " is required");
  if (!printable_id(id)) {
    return invalid(field, field + " must be 1 to 128 printable ASCII characters without spaces");
  }
  return Rejection::none();
}

Rejection validate_signup(const SignupEvent& e, TimeMs now) {
  if (auto r = check_id("member_id", e.member_id); !r.ok()) return r;
  if (e.joined_at && *e.joined_at > now + kFutureToleranceMs) {
    return invalid("joined_at", "joined_at is more than 5 minutes in the future");
  }
  if (!e.phone.empty()) {
    if (auto r = check_id("phone", e.phone); !r.ok()) return r;
  }
  if (!e.card_no.empty()) {
    if (auto r = check_id("card_no", e.card_no); !r.ok()) return r;
  }
  return Rejection::none();
}

Rejection validate_purchase(const PurchaseEvent& e, TimeMs now) {
  if (auto r = check_id("event_id", e.event_id); !r.ok()) return r;
  if (auto r = check_id("member_id", e.member_id); !r.ok()) return r;
  if (auto r = check_id("store_id", e.store_id); !r.ok()) return r;
  if (e.occurred_at > now + kFutureToleranceMs) {
    return invalid("occurred_at", "occurred_at is more than 5 minutes in the future");
  }
  if (e.currency.empty()) return invalid("currency", "currency is required");
  if (e.lines.empty()) return invalid("lines", "a purchase needs at least one line");
  if (e.lines.size() > kLinesMax) return invalid("lines", "a purchase has at most 500 lines");
  AmountMinor total = 0;
  for (size_t i = 0; i < e.lines.size(); ++i) {
    const PurchaseLine& line = e.lines[i];
    const std::string at = "lines[" + std::to_string(i) + "]";
    if (line.amount_minor < 0 || line.amount_minor > kAmountMax) {
      return invalid(at + ".amount_minor", "amount_minor must be between 0 and 10^12");
    }
    if (line.quantity < 1 || line.quantity > 1'000'000) {
      return invalid(at + ".quantity", "quantity must be between 1 and 1000000");
    }
    if (line.sku.size() > kIdLengthMax)
      return invalid(at + ".sku", "sku is at most 128 characters");
    if (line.category.size() > kIdLengthMax) {
      return invalid(at + ".category", "category is at most 128 characters");
    }
    total += line.amount_minor;
  }
  if (total > kAmountMax) return invalid("lines", "the order total must not exceed 10^12");
  if (e.redeem_points < 0 || e.redeem_points > kPointsMax) {
    return invalid("redeem_points", "redeem_points must be between 0 and 10^12");
  }
  if (!e.hold_id.empty()) {
    if (auto r = check_id("hold_id", e.hold_id); !r.ok()) return r;
  }
  return Rejection::none();
}

TimeMs lot_expiry(const ExpiryRules& rules, TimeMs earned_at) {
  switch (rules.mode) {
    case ExpiryMode::never:
      return kTimeNever;
    case ExpiryMode::days:
      return add_days(earned_at, rules.days);
    case ExpiryMode::end_of_month:
      return end_of_month_after(earned_at, static_cast<int>(rules.months));
  }
  return kTimeNever;
}

class EntryWriter {
 public:
  EntryWriter(MemberState& member, Effects& effects, uint32_t program_version, TimeMs at,
              const std::string& reference)
      : member_(member),
        effects_(effects),
        version_(program_version),
        at_(at),
        reference_(reference),
        running_(member.balance.total()) {}

  void add(EntryType type, Points points, std::string rule) {
    running_ += points;
    effects_.entries.push_back(LedgerEntry{member_.next_ledger_seq++, type, points, at_, reference_,
                                           std::move(rule), version_, running_});
  }

 private:
  MemberState& member_;
  Effects& effects_;
  uint32_t version_;
  TimeMs at_;
  const std::string& reference_;
  Points running_;
};

Rejection apply_signup(const ApplyContext& context, std::optional<MemberState>& member,
                       const SignupEvent& e, Effects& effects) {
  if (member) return {ErrorCode::member_exists, "member_id", "a member with this id exists"};
  if (!e.referral_code.empty() && e.referrer_member_id.empty()) {
    return {ErrorCode::unknown_referral_code, "referral_code", "no member has this referral code"};
  }
  if (!e.referrer_member_id.empty() && e.referrer_member_id == e.member_id) {
    return {ErrorCode::unknown_referral_code, "referral_code", "a member cannot refer themselves"};
  }
  assert(e.joined_at.has_value() && !e.assigned_referral_code.empty());
  MemberState state;
  state.member_id = e.member_id;
  state.joined_at = *e.joined_at;
  state.phone = e.phone;
  state.card_no = e.card_no;
  state.profile_json = e.profile_json;
  state.referral_code = e.assigned_referral_code;
  state.referred_by = e.referrer_member_id;
  state.signup_fingerprint = e.request_fingerprint;
  state.tier_since = *e.joined_at;
  state.program_version = context.program->number;
  member = std::move(state);
  effects.answer = std::monostate{};
  return Rejection::none();
}

Rejection apply_purchase(const ApplyContext& context, std::optional<MemberState>& member,
                         const PurchaseEvent& e, Effects& effects) {
  const Program& program = context.program->program;
  if (!member) return {ErrorCode::not_found, "member_id", "no member with this id; sign up first"};
  if (e.currency != program.currency) {
    return {ErrorCode::currency_mismatch, "currency",
            "the program's currency is " + program.currency};
  }
  if (e.redeem_points != 0 || !e.hold_id.empty()) {
    return invalid(e.redeem_points != 0 ? "redeem_points" : "hold_id",
                   "paying with points is not enabled on this server version");
  }
  MemberState& m = *member;
  const EarningInput input{&e, m.tier_index, m.purchase_count, 0};
  std::optional<EarningResult> earned = compute_earning(program, input);
  if (!earned) return invalid("lines", "the amounts are too large to compute exactly");

  // Produce: from here on nothing can fail.
  EntryWriter writer(m, effects, context.program->number, e.occurred_at, e.event_id);
  if (earned->rate_points != 0) writer.add(EntryType::earn, earned->rate_points, "rate");
  Points bonus_left = earned->bonus_points;
  for (const BreakdownLine& line : earned->breakdown) {
    const bool is_bonus = line.rule.starts_with("bonus:") || line.rule.starts_with("milestone:");
    if (!is_bonus || bonus_left == 0) continue;
    const Points credited = std::min(line.points, bonus_left);
    writer.add(EntryType::bonus, credited, line.rule);
    bonus_left -= credited;
  }
  if (earned->points > 0) {
    Lot lot;
    lot.lot_id = m.next_lot_id++;
    lot.reference = e.event_id;
    lot.earned_at = e.occurred_at;
    lot.available_at = add_days(e.occurred_at, program.earning.pending_days);
    lot.expires_at = lot_expiry(program.expiry, e.occurred_at);
    lot.points_initial = earned->points;
    lot.points_remaining = earned->points;
    (program.earning.pending_days > 0 ? m.balance.pending : m.balance.available) += earned->points;
    m.lots.push_back(lot);
    effects.lots_written.push_back(lot.lot_id);
    effects.notifications.push_back(Notification{m.next_notification_seq++, "points.earned",
                                                 earned->points, e.event_id, e.occurred_at});
  }
  m.lifetime_points += earned->points;
  m.purchase_count += 1;
  m.program_version = context.program->number;

  PurchaseAnswer answer;
  answer.points_earned = earned->points;
  answer.breakdown = std::move(earned->breakdown);
  answer.balance = m.balance;
  answer.tier = program.tier_name(m.tier_index);
  effects.answer = std::move(answer);
  return Rejection::none();
}

}  // namespace

Rejection validate_input(const Event& event, TimeMs now) {
  return std::visit(
      [now](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, SignupEvent>)
          return validate_signup(e, now);
        else
          return validate_purchase(e, now);
      },
      event.body);
}

Rejection apply_event(const ApplyContext& context, std::optional<MemberState>& member,
                      const Event& event, Effects& effects) {
  assert(context.program != nullptr);
  return std::visit(
      [&](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, SignupEvent>) {
          return apply_signup(context, member, e, effects);
        } else {
          return apply_purchase(context, member, e, effects);
        }
      },
      event.body);
}

bool lots_match_balance(const MemberState& member) {
  Points in_lots = 0;
  for (const Lot& lot : member.lots) in_lots += lot.points_remaining;
  return in_lots == member.balance.total();
}

bool member_invariants_hold(const MemberState& member, Points ledger_sum) {
  return ledger_sum == member.balance.total() && lots_match_balance(member);
}

}  // namespace loyalty
