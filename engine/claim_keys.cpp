#include "engine/claim_keys.hpp"

#include <variant>

namespace loyalty {

std::string identifier_claim_key(IdentifierKind kind, std::string_view value) {
  std::string key = "i:";
  key += static_cast<char>('0' + static_cast<int>(kind));
  key += ':';
  key += value;
  return key;
}

std::string hold_claim_key(std::string_view hold_id) { return "h:" + std::string(hold_id); }

std::string stock_key(std::string_view reward_id) { return "s:" + std::string(reward_id); }

std::optional<std::string> client_id_claim_key(const Event& event) {
  switch (event.type()) {
    case EventType::purchase:
    case EventType::refund:
    case EventType::redemption:
    case EventType::hold:
    case EventType::adjustment:
    case EventType::reward_redeem:
    case EventType::coupon_use:
      return event.idempotency_key();
    default:
      return std::nullopt;
  }
}

std::optional<std::string> owner_lookup_key(const Event& event) {
  if (const auto* refund = std::get_if<RefundEvent>(&event.body)) {
    return "e:" + refund->original_event_id;  // the purchase's idempotency key
  }
  if (const auto* action = std::get_if<HoldActionEvent>(&event.body)) {
    return hold_claim_key(action->hold_id);
  }
  // A coupon's code was claimed for the member it was issued to.
  if (const auto* use = std::get_if<CouponUseEvent>(&event.body)) {
    return identifier_claim_key(IdentifierKind::coupon_code, use->code);
  }
  if (const auto* cancel = std::get_if<CouponCancelEvent>(&event.body)) {
    return identifier_claim_key(IdentifierKind::coupon_code, cancel->code);
  }
  return std::nullopt;
}

std::optional<std::string> purchase_hold_key(const Event& event) {
  const auto* purchase = std::get_if<PurchaseEvent>(&event.body);
  if (purchase == nullptr || purchase->hold_id.empty()) return std::nullopt;
  return hold_claim_key(purchase->hold_id);
}

}  // namespace loyalty
