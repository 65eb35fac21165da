// Stage 1 of apply: what can be checked without state or program: ids, lengths, ranges, times.
#include <algorithm>

#include "engine/apply.hpp"
#include "engine/coupon_code.hpp"

namespace loyalty {
namespace {

template <typename... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};

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

Rejection check_not_future(const std::string& field, TimeMs time, TimeMs now) {
  if (time > now + kFutureToleranceMs) {
    return invalid(field, field + " is more than 5 minutes in the future");
  }
  return Rejection::none();
}

Rejection check_points(const std::string& field, Points points, Points min) {
  if (points < min || points > kPointsMax) {
    return invalid(field, field + " must be between " + std::to_string(min) + " and 10^12");
  }
  return Rejection::none();
}

// A coupon code as the runtime passes it on: already normalised (engine/coupon_code.hpp), so
// only a code that passes its own check character gets here from a client.
Rejection check_code(const std::string& field, const std::string& code) {
  const std::optional<std::string> parsed = parse_coupon_code(code);
  if (!parsed || *parsed != code) {
    return invalid(field, field + " is not a coupon code (12 characters with a check character)");
  }
  return Rejection::none();
}

Rejection validate(const SignupEvent& e, TimeMs now) {
  if (auto r = check_id("member_id", e.member_id); !r.ok()) return r;
  if (e.joined_at) {
    if (auto r = check_not_future("joined_at", *e.joined_at, now); !r.ok()) return r;
  }
  if (!e.phone.empty()) {
    if (auto r = check_id("phone", e.phone); !r.ok()) return r;
  }
  if (!e.card_no.empty()) {
    if (auto r = check_id("card_no", e.card_no); !r.ok()) return r;
  }
  return Rejection::none();
}

Rejection validate(const PurchaseEvent& e, TimeMs now) {
  if (auto r = check_id("event_id", e.event_id); !r.ok()) return r;
  if (auto r = check_id("member_id", e.member_id); !r.ok()) return r;
  if (auto r = check_id("store_id", e.store_id); !r.ok()) return r;
  if (auto r = check_not_future("occurred_at", e.occurred_at, now); !r.ok()) return r;
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
  if (auto r = check_points("redeem_points", e.redeem_points, 0); !r.ok()) return r;
  if (!e.hold_id.empty()) {
    if (auto r = check_id("hold_id", e.hold_id); !r.ok()) return r;
  }
  if (e.coupons.size() > kCouponsPerPurchaseMax) {
    return invalid("coupons", "a purchase uses at most " + std::to_string(kCouponsPerPurchaseMax) +
                                  " coupons");
  }
  for (size_t i = 0; i < e.coupons.size(); ++i) {
    const std::string at = "coupons[" + std::to_string(i) + "]";
    if (auto r = check_code(at, e.coupons[i]); !r.ok()) return r;
    if (std::find(e.coupons.begin(), e.coupons.begin() + i, e.coupons[i]) !=
        e.coupons.begin() + i) {
      return invalid(at, "the same coupon is named twice");
    }
  }
  return Rejection::none();
}

Rejection validate(const RefundEvent& e, TimeMs now) {
  if (auto r = check_id("event_id", e.event_id); !r.ok()) return r;
  if (auto r = check_id("original_event_id", e.original_event_id); !r.ok()) return r;
  if (e.original_event_id == e.event_id) {
    return invalid("original_event_id", "a refund cannot refund itself");
  }
  if (auto r = check_not_future("occurred_at", e.occurred_at, now); !r.ok()) return r;
  if (e.amount_minor.has_value() == !e.lines.empty()) {
    return invalid("amount_minor", "give exactly one of amount_minor and lines");
  }
  if (e.amount_minor && (*e.amount_minor <= 0 || *e.amount_minor > kAmountMax)) {
    return invalid("amount_minor", "amount_minor must be between 1 and 10^12");
  }
  if (e.lines.size() > kLinesMax) return invalid("lines", "a refund has at most 500 lines");
  for (size_t i = 0; i < e.lines.size(); ++i) {
    const std::string at = "lines[" + std::to_string(i) + "]";
    if (e.lines[i].amount_minor <= 0 || e.lines[i].amount_minor > kAmountMax) {
      return invalid(at + ".amount_minor", "amount_minor must be between 1 and 10^12");
    }
    if (e.lines[i].sku.empty() || e.lines[i].sku.size() > kIdLengthMax) {
      return invalid(at + ".sku", "sku must be 1 to 128 characters");
    }
  }
  return Rejection::none();
}

Rejection validate(const RedemptionEvent& e, TimeMs) {
  if (auto r = check_id("redemption_id", e.redemption_id); !r.ok()) return r;
  if (auto r = check_id("member_id", e.member_id); !r.ok()) return r;
  if (e.reward_id.size() > kIdLengthMax) return invalid("reward_id", "at most 128 characters");
  if (e.note.size() > 1024) return invalid("note", "note is at most 1024 characters");
  return check_points("points", e.points, 1);
}

Rejection validate(const HoldEvent& e, TimeMs) {
  if (auto r = check_id("hold_id", e.hold_id); !r.ok()) return r;
  if (auto r = check_id("member_id", e.member_id); !r.ok()) return r;
  if (e.ttl_seconds && (*e.ttl_seconds < 1 || *e.ttl_seconds > 30 * 86'400)) {
    return invalid("ttl_seconds", "ttl_seconds must be between 1 and 2592000");
  }
  return check_points("points", e.points, 1);
}

Rejection validate(const HoldActionEvent& e, TimeMs) { return check_id("hold_id", e.hold_id); }

Rejection validate(const AdjustmentEvent& e, TimeMs) {
  if (auto r = check_id("adjustment_id", e.adjustment_id); !r.ok()) return r;
  if (auto r = check_id("member_id", e.member_id); !r.ok()) return r;
  if (e.points == 0 || e.points > kPointsMax || e.points < -kPointsMax) {
    return invalid("points", "points must be non-zero, between -10^12 and 10^12");
  }
  if (e.reason.empty() || e.reason.size() > 1024) {
    return invalid("reason", "reason is required, at most 1024 characters");
  }
  return Rejection::none();
}

Rejection validate(const ReferralFollowUp& e, TimeMs) { return check_id("member_id", e.member_id); }

Rejection validate(const JobStepEvent& e, TimeMs) {
  if (auto r = check_id("job_id", e.job_id); !r.ok()) return r;
  return check_id("member_id", e.member_id);
}

Rejection validate(const RecalcAdjustmentEvent& e, TimeMs) {
  if (auto r = check_id("job_id", e.job_id); !r.ok()) return r;
  if (auto r = check_id("event_id", e.event_id); !r.ok()) return r;
  if (auto r = check_id("member_id", e.member_id); !r.ok()) return r;
  // The adjustment id recalc:<job_id>:<event_id> is an id like any other.
  if (auto r = check_id("job_id", e.adjustment_id()); !r.ok()) return r;
  if (e.points == 0 || e.points > kPointsMax || e.points < -kPointsMax) {
    return invalid("points", "points must be non-zero, between -10^12 and 10^12");
  }
  if (e.points_recalculated < 0 || e.points_recalculated > kPointsMax) {
    return invalid("points_recalculated", "points_recalculated must be between 0 and 10^12");
  }
  if (e.program_version == 0) return invalid("program_version", "program_version is required");
  return Rejection::none();
}

Rejection validate(const RewardRedeemEvent& e, TimeMs) {
  if (auto r = check_id("redemption_id", e.redemption_id); !r.ok()) return r;
  if (auto r = check_id("member_id", e.member_id); !r.ok()) return r;
  if (auto r = check_id("reward_id", e.reward_id); !r.ok()) return r;
  // Drawn by the runtime before the event is applied; absent only in a broken caller.
  if (!e.code.empty()) return check_code("code", e.code);
  return Rejection::none();
}

Rejection validate(const CouponUseEvent& e, TimeMs) {
  if (auto r = check_id("use_id", e.use_id); !r.ok()) return r;
  if (auto r = check_code("code", e.code); !r.ok()) return r;
  if (auto r = check_id("store_id", e.store_id); !r.ok()) return r;
  if (!e.event_id.empty()) {
    if (auto r = check_id("event_id", e.event_id); !r.ok()) return r;
  }
  return Rejection::none();
}

Rejection validate(const CouponCancelEvent& e, TimeMs) { return check_code("code", e.code); }

Rejection validate(const MemberUpdateEvent& e, TimeMs) {
  if (auto r = check_id("member_id", e.member_id); !r.ok()) return r;
  if (!e.update_id.empty()) {  // drawn by the runtime when the client gives none
    if (auto r = check_id("update_id", e.update_id); !r.ok()) return r;
  }
  // An empty phone or card removes it; another must be an id like a sign-up's.
  if (e.phone && !e.phone->empty()) {
    if (auto r = check_id("phone", *e.phone); !r.ok()) return r;
  }
  if (e.card_no && !e.card_no->empty()) {
    if (auto r = check_id("card_no", *e.card_no); !r.ok()) return r;
  }
  if (!e.phone && !e.card_no && !e.profile_json && !e.blocked) {
    return {ErrorCode::invalid_request, "",
            "give at least one of phone, card_no, profile and blocked to change"};
  }
  return Rejection::none();
}

// An erasure names the member, its erasure_id and why; what goes is decided by apply.
Rejection validate_erasure(const MemberUpdateEvent& e) {
  if (auto r = check_id("erasure_id", e.update_id); !r.ok()) return r;
  if (auto r = check_id("member_id", e.member_id); !r.ok()) return r;
  if (e.reason.empty() || e.reason.size() > 1024) {
    return invalid("reason", "reason is required, at most 1024 characters");
  }
  if (e.phone || e.card_no || e.profile_json || e.blocked) {
    return invalid("", "an erasure changes nothing but what it erases");
  }
  return Rejection::none();
}

}  // namespace

Rejection validate_input(const Event& event, TimeMs now) {
  if (event.type() == EventType::member_erase) {
    return validate_erasure(std::get<MemberUpdateEvent>(event.body));
  }
  return std::visit([now](const auto& e) { return validate(e, now); }, event.body);
}

}  // namespace loyalty
