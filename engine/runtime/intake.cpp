// Server time stamps and member resolution for submit() (see intake.hpp).
#include "engine/runtime/intake.hpp"

#include <sys/random.h>

#include <cstdio>
#include <optional>
#include <variant>

#include "engine/check.hpp"
#include "engine/coupon_code.hpp"

namespace loyalty {
namespace {

template <typename... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};

Rejection not_found(std::string field, std::string message) {
  return {ErrorCode::not_found, std::move(field), std::move(message)};
}

// The member of a coupon use or cancellation, resolved from its code.
std::string* coupon_member(Event& event) {
  if (auto* use = std::get_if<CouponUseEvent>(&event.body)) return &use->member_id;
  if (auto* cancel = std::get_if<CouponCancelEvent>(&event.body)) return &cancel->member_id;
  return nullptr;
}

const std::string* coupon_code(const Event& event) {
  if (const auto* use = std::get_if<CouponUseEvent>(&event.body)) return &use->code;
  if (const auto* cancel = std::get_if<CouponCancelEvent>(&event.body)) return &cancel->code;
  return nullptr;
}

}  // namespace

namespace {

uint64_t random_bits() {
  uint64_t bits = 0;
  // getrandom(2) blocks only before the kernel's pool is first seeded, at boot.
  const ssize_t got = getrandom(&bits, sizeof bits, 0);
  LOYALTY_CHECK(got == static_cast<ssize_t>(sizeof bits));
  return bits;
}

}  // namespace

void draw_server_ids(Event& event) {
  if (auto* update = std::get_if<MemberUpdateEvent>(&event.body);
      update && event.type() == EventType::member_update && update->update_id.empty()) {
    // A change has no client id (PATCH is no create): the log and the audit entry name it by
    // one drawn here.
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(random_bits()));
    update->update_id = std::string("upd-") + text;
    return;
  }
  auto* redeem = std::get_if<RewardRedeemEvent>(&event.body);
  if (redeem == nullptr || !redeem->code.empty()) return;
  redeem->code = coupon_code_from_bits(random_bits());
}

void stamp_server_time(Event& event, TimeMs now) {
  auto stamp = [now](TimeMs& at) {
    if (at == 0) at = now;
  };
  std::visit(Overloaded{
                 [&](RedemptionEvent& e) { stamp(e.at); },
                 [&](HoldEvent& e) { stamp(e.at); },
                 [&](HoldActionEvent& e) { stamp(e.at); },
                 [&](AdjustmentEvent& e) { stamp(e.at); },
                 [&](RecalcAdjustmentEvent& e) { stamp(e.at); },
                 [&](RewardRedeemEvent& e) { stamp(e.at); },
                 [&](CouponUseEvent& e) { stamp(e.at); },
                 [&](CouponCancelEvent& e) { stamp(e.at); },
                 [&](MemberUpdateEvent& e) { stamp(e.at); },
                 [](auto&) {},
             },
             event.body);
}

Rejection resolve_member_as(Event& event, const std::string& owner) {
  if (auto* refund = std::get_if<RefundEvent>(&event.body)) {
    if (!owner.empty()) {
      refund->member_id = owner;
    } else if (refund->member_id.empty()) {
      return not_found("original_event_id", "no purchase with this event id");
    }
  } else if (auto* action = std::get_if<HoldActionEvent>(&event.body)) {
    if (!owner.empty()) {
      action->member_id = owner;
    } else if (action->member_id.empty()) {
      return not_found("hold_id", "no hold with this id");
    }
  } else if (std::string* member_id = coupon_member(event)) {
    // A coupon's member is the one it was issued to, whoever presents it; a code of a coupon
    // issued in this very batch is found by the writer.
    if (!owner.empty()) {
      *member_id = owner;
    } else if (member_id->empty()) {
      return not_found("code", "no coupon with this code");
    }
  }
  return Rejection::none();
}

Rejection resolve_member(MemberStore& store, Event& event, Status& status) {
  status = Status::ok_status();
  std::string owner;
  if (const auto* refund = std::get_if<RefundEvent>(&event.body)) {
    std::optional<PurchaseRecord> purchase;
    status = store.load_purchase(refund->original_event_id, purchase);
    if (!status.ok()) return Rejection::none();
    if (purchase) owner = purchase->member_id;
  } else if (const auto* action = std::get_if<HoldActionEvent>(&event.body)) {
    std::optional<StoredHold> hold;
    status = store.load_hold(action->hold_id, hold);
    if (!status.ok()) return Rejection::none();
    if (hold) owner = hold->member_id;
  } else if (const std::string* code = coupon_code(event)) {
    std::optional<StoredCoupon> coupon;
    status = store.load_coupon(*code, coupon);
    if (!status.ok()) return Rejection::none();
    if (coupon) owner = coupon->member_id;
  }
  return resolve_member_as(event, owner);
}

}  // namespace loyalty
