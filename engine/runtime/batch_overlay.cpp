// The batch's view of purchases, holds and coupons (see batch_overlay.hpp).
#include "engine/runtime/batch_overlay.hpp"

namespace loyalty {

Status BatchOverlay::purchase(const std::string& event_id, const PurchaseRecord*& out) {
  out = nullptr;
  auto it = purchases_.find(event_id);
  if (it == purchases_.end()) {
    std::optional<PurchaseRecord> loaded;
    if (Status status = store_.load_purchase(event_id, loaded); !status.ok()) return status;
    it = purchases_.emplace(event_id, std::move(loaded)).first;
  }
  if (it->second) out = &*it->second;
  return Status::ok_status();
}

Status BatchOverlay::hold(const std::string& hold_id, const StoredHold*& out) {
  out = nullptr;
  auto it = holds_.find(hold_id);
  if (it == holds_.end()) {
    std::optional<StoredHold> loaded;
    if (Status status = store_.load_hold(hold_id, loaded); !status.ok()) return status;
    it = holds_.emplace(hold_id, std::move(loaded)).first;
  }
  if (it->second) out = &*it->second;
  return Status::ok_status();
}

Status BatchOverlay::coupon(const std::string& code, const StoredCoupon*& out) {
  out = nullptr;
  auto it = coupons_.find(code);
  if (it == coupons_.end()) {
    std::optional<StoredCoupon> loaded;
    if (Status status = store_.load_coupon(code, loaded); !status.ok()) return status;
    it = coupons_.emplace(code, std::move(loaded)).first;
  }
  if (it->second) out = &*it->second;
  return Status::ok_status();
}

void BatchOverlay::wrote_purchase(const PurchaseRecord& purchase) {
  purchases_[purchase.event_id] = purchase;
}

void BatchOverlay::wrote_hold(const std::string& member_id, const Hold& hold) {
  holds_[hold.hold_id] = StoredHold{member_id, hold};
}

void BatchOverlay::wrote_coupon(const std::string& member_id, const Coupon& coupon) {
  coupons_[coupon.code] = StoredCoupon{member_id, coupon};
}

void BatchOverlay::clear() {
  purchases_.clear();
  holds_.clear();
  coupons_.clear();
}

}  // namespace loyalty
