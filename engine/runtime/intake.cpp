// Server time stamps and member resolution for submit() (see intake.hpp).
#include "engine/runtime/intake.hpp"

#include <optional>
#include <variant>

namespace loyalty {
namespace {

template <typename... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};

Rejection not_found(std::string field, std::string message) {
  return {ErrorCode::not_found, std::move(field), std::move(message)};
}

}  // namespace

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
  }
  return resolve_member_as(event, owner);
}

}  // namespace loyalty
