// What the events of one batch see of purchases, holds and coupons: the latest version an earlier
// event of the batch wrote, else the store's. Members have their own overlay in the writer.
// Thread-safety: none; owned by one partition writer, cleared between batches.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>

#include "engine/member_state.hpp"
#include "engine/purchase_record.hpp"
#include "engine/status.hpp"
#include "engine/store.hpp"

namespace loyalty {

class BatchOverlay {
 public:
  explicit BatchOverlay(MemberStore& store) : store_(store) {}

  // `out` is nullptr when there is no such purchase (hold). Pointers stay valid until the
  // next wrote_* of the same id or clear().
  Status purchase(const std::string& event_id, const PurchaseRecord*& out);
  Status hold(const std::string& hold_id, const StoredHold*& out);
  Status coupon(const std::string& code, const StoredCoupon*& out);

  void wrote_purchase(const PurchaseRecord& purchase);
  void wrote_hold(const std::string& member_id, const Hold& hold);
  void wrote_coupon(const std::string& member_id, const Coupon& coupon);
  void clear();

 private:
  MemberStore& store_;
  std::unordered_map<std::string, std::optional<PurchaseRecord>> purchases_;
  std::unordered_map<std::string, std::optional<StoredHold>> holds_;
  std::unordered_map<std::string, std::optional<StoredCoupon>> coupons_;
};

}  // namespace loyalty
