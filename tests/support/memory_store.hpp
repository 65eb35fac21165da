// An in-memory MemberStore for engine and runtime tests: the same contract as the RocksDB
// store (atomic commits, idempotency records, identifiers, purchases, holds, referral links,
// the follow-up outbox), none of the I/O. Can be told to fail commits (all, or those a
// predicate picks), to test that a failed batch changes nothing.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "engine/store.hpp"

namespace loyalty::testing {

class MemoryStore final : public MemberStore {
 public:
  using CommitFilter = std::function<bool(const CommitBatch&)>;

  Status load_member(std::string_view member_id, std::optional<MemberState>& out) override {
    std::lock_guard lock(mutex_);
    ++member_loads_;
    out = find(members_, member_id);
    return Status::ok_status();
  }

  Status load_idempotency(std::string_view key, std::optional<IdempotencyRecord>& out) override {
    std::function<void(std::string_view)> hook;
    {
      std::lock_guard lock(mutex_);
      out = find(idempotency_, key);
      hook = after_idempotency_read_;
    }
    if (hook) hook(key);  // outside the lock: the hook may wait for another writer's commit
    return Status::ok_status();
  }
  // Runs after every idempotency read, to widen race windows in tests.
  void after_idempotency_read(std::function<void(std::string_view)> hook) {
    std::lock_guard lock(mutex_);
    after_idempotency_read_ = std::move(hook);
  }

  Status find_identifier(IdentifierKind kind, std::string_view value,
                         std::string& member_id) override {
    std::lock_guard lock(mutex_);
    auto it = identifiers_.find({kind, std::string(value)});
    member_id = it == identifiers_.end() ? std::string() : it->second;
    return Status::ok_status();
  }

  Status find_claim(std::string_view key, ClaimState& out) override {
    std::lock_guard lock(mutex_);
    auto it = claims_.find(std::string(key));
    out = it == claims_.end() ? ClaimState{} : it->second;
    return Status::ok_status();
  }

  Status load_purchase(std::string_view event_id, std::optional<PurchaseRecord>& out) override {
    std::lock_guard lock(mutex_);
    out = find(purchases_, event_id);
    return Status::ok_status();
  }

  Status load_hold(std::string_view hold_id, std::optional<StoredHold>& out) override {
    std::lock_guard lock(mutex_);
    out = find(holds_, hold_id);
    return Status::ok_status();
  }

  Status load_coupon(std::string_view code, std::optional<StoredCoupon>& out) override {
    std::lock_guard lock(mutex_);
    out = find(coupons_, code);
    return Status::ok_status();
  }

  Status load_stock_counts(std::map<std::string, int64_t, std::less<>>& out) override {
    std::lock_guard lock(mutex_);
    out = stock_;
    return Status::ok_status();
  }

  Status load_coupons_total(CouponsChange& out) override {
    std::lock_guard lock(mutex_);
    out = coupons_total_;
    return Status::ok_status();
  }

  Status load_outbox(std::vector<Event>& out) override {
    std::lock_guard lock(mutex_);
    out.clear();
    for (const auto& [id, event] : outbox_) out.push_back(event);
    return Status::ok_status();
  }

  Status find_stock_unit(std::string_view code, std::string& reward_id) override {
    std::lock_guard lock(mutex_);
    const auto it = units_.find(std::string(code));
    reward_id = it == units_.end() ? std::string() : it->second;
    return Status::ok_status();
  }

  Status load_give_backs(std::vector<StockUnit>& out) override {
    std::lock_guard lock(mutex_);
    out.clear();
    for (const auto& [code, reward_id] : give_backs_) out.push_back({reward_id, code});
    return Status::ok_status();
  }

  Status load_claim_releases(std::vector<ClaimRelease>& out) override {
    std::lock_guard lock(mutex_);
    out = claim_releases_;
    return Status::ok_status();
  }

  using MemberStore::commit;
  Status commit(const CommitBatch& batch, uint64_t& first_log_seq) override {
    std::lock_guard lock(mutex_);
    if (fail_commits_ || (fail_if_ && fail_if_(batch))) {
      ++failed_commits_;
      return Status::error(Status::Code::io_error, "injected failure");
    }
    ++commits_;
    for (const MemberState* member : batch.members) members_[member->member_id] = *member;
    for (const LoggedEvent& logged : batch.events) {
      const std::string& member_id = logged.event->member_id();
      ledger_[member_id].insert(ledger_[member_id].end(), logged.entries.begin(),
                                logged.entries.end());
      notifications_[member_id].insert(notifications_[member_id].end(),
                                       logged.notifications.begin(), logged.notifications.end());
    }
    for (const IdempotencyRecord* record : batch.idempotency) idempotency_[record->key] = *record;
    for (const IdentifierClaim& released : batch.identifiers_released) {
      identifiers_.erase({released.kind, released.value});
    }
    for (const IdentifierClaim& claim : batch.identifiers) {
      identifiers_[{claim.kind, claim.value}] = claim.member_id;
    }
    first_log_seq = events_.size() + 1;
    for (const LoggedEvent& logged : batch.events) events_.push_back(*logged.event);
    for (const PurchaseRecord* purchase : batch.purchases)
      purchases_[purchase->event_id] = *purchase;
    for (const HoldWrite& write : batch.holds) {
      holds_[write.hold->hold_id] = StoredHold{*write.member_id, *write.hold};
    }
    for (const CouponWrite& write : batch.coupons) {
      coupons_[write.coupon->code] = StoredCoupon{*write.member_id, *write.coupon};
    }
    for (const StockChange& change : batch.stock_changes) stock_[change.reward_id] += change.delta;
    coupons_total_.add(batch.coupons_change.active, batch.coupons_change.points);
    for (const ReferralLink* link : batch.referral_links) {
      referrals_[{link->referrer_id, link->referee_id}] = *link;
    }
    // Puts before deletes, as in RocksStore.
    for (const Event* follow_up : batch.outbox_puts) {
      outbox_[std::get<ReferralFollowUp>(follow_up->body).id] = *follow_up;
    }
    for (const std::string& id : batch.outbox_deletes) outbox_.erase(id);
    if (batch.log_position) applied_[batch.log_position->partition] = batch.log_position->sequence;
    for (const ClaimWrite& claim : batch.claims) claims_[claim.key] = claim.state;
    for (const ClaimRelease& release : batch.claim_releases) claim_releases_.push_back(release);
    for (const ClaimRelease& sent : batch.claim_releases_sent) std::erase(claim_releases_, sent);
    for (const StockUnit& unit : batch.units_taken) units_[unit.code] = unit.reward_id;
    for (const StockUnit& unit : batch.units_returned) units_.erase(unit.code);
    for (const StockUnit& unit : batch.give_backs) give_backs_[unit.code] = unit.reward_id;
    for (const std::string& code : batch.give_backs_sent) give_backs_.erase(code);
    return Status::ok_status();
  }

  // Log-driven mode: the last sequence of `partition`'s log committed (0: none).
  uint64_t applied(uint32_t partition) const {
    std::lock_guard lock(mutex_);
    const auto it = applied_.find(partition);
    return it == applied_.end() ? 0 : it->second;
  }

  void fail_commits(bool fail) {
    std::lock_guard lock(mutex_);
    fail_commits_ = fail;
  }
  // Fails every commit the filter returns true for (none when it is empty).
  void fail_commits_if(CommitFilter filter) {
    std::lock_guard lock(mutex_);
    fail_if_ = std::move(filter);
  }
  size_t member_loads() const {
    std::lock_guard lock(mutex_);
    return member_loads_;
  }
  size_t commits() const {
    std::lock_guard lock(mutex_);
    return commits_;
  }
  size_t failed_commits() const {
    std::lock_guard lock(mutex_);
    return failed_commits_;
  }
  size_t events_logged() const {
    std::lock_guard lock(mutex_);
    return events_.size();
  }
  std::vector<Event> events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }
  std::vector<LedgerEntry> ledger(const std::string& member_id) const {
    std::lock_guard lock(mutex_);
    return find(ledger_, member_id).value_or(std::vector<LedgerEntry>{});
  }
  std::vector<Notification> notifications(const std::string& member_id) const {
    std::lock_guard lock(mutex_);
    return find(notifications_, member_id).value_or(std::vector<Notification>{});
  }
  std::optional<MemberState> member(const std::string& member_id) const {
    std::lock_guard lock(mutex_);
    return find(members_, member_id);
  }
  std::optional<PurchaseRecord> purchase(const std::string& event_id) const {
    std::lock_guard lock(mutex_);
    return find(purchases_, event_id);
  }
  std::optional<StoredHold> hold(const std::string& hold_id) const {
    std::lock_guard lock(mutex_);
    return find(holds_, hold_id);
  }
  std::optional<StoredCoupon> coupon(const std::string& code) const {
    std::lock_guard lock(mutex_);
    return find(coupons_, code);
  }
  // Units of the reward out, as committed.
  int64_t stock_out(const std::string& reward_id) const {
    std::lock_guard lock(mutex_);
    const auto it = stock_.find(reward_id);
    return it == stock_.end() ? 0 : it->second;
  }
  std::vector<ReferralLink> referrals(const std::string& referrer_id) const {
    std::lock_guard lock(mutex_);
    std::vector<ReferralLink> out;
    for (auto it = referrals_.lower_bound({referrer_id, ""});
         it != referrals_.end() && it->first.first == referrer_id; ++it) {
      out.push_back(it->second);
    }
    return out;
  }
  std::optional<IdempotencyRecord> idempotency(const std::string& key) const {
    std::lock_guard lock(mutex_);
    return find(idempotency_, key);
  }
  // Puts a follow-up in the outbox behind the runtime's back (a duplicate delivery).
  void put_outbox(const Event& follow_up) {
    std::lock_guard lock(mutex_);
    outbox_[std::get<ReferralFollowUp>(follow_up.body).id] = follow_up;
  }
  std::vector<std::string> outbox_ids() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [id, event] : outbox_) out.push_back(id);
    return out;
  }

 private:
  template <typename Map>
  static std::optional<typename Map::mapped_type> find(const Map& map, std::string_view key) {
    auto it = map.find(std::string(key));
    if (it == map.end()) return std::nullopt;
    return it->second;
  }

  mutable std::mutex mutex_;
  bool fail_commits_ = false;
  CommitFilter fail_if_;
  std::map<uint32_t, uint64_t> applied_;
  std::map<std::string, ClaimState> claims_;
  std::vector<ClaimRelease> claim_releases_;       // to send
  std::map<std::string, std::string> units_;       // code → reward id (units taken)
  std::map<std::string, std::string> give_backs_;  // code → reward id (to send)
  size_t commits_ = 0;
  size_t member_loads_ = 0;
  std::function<void(std::string_view)> after_idempotency_read_;
  size_t failed_commits_ = 0;
  std::vector<Event> events_;
  std::map<std::string, MemberState> members_;
  std::map<std::string, std::vector<LedgerEntry>> ledger_;
  std::map<std::string, std::vector<Notification>> notifications_;
  std::map<std::string, IdempotencyRecord> idempotency_;
  std::map<std::pair<IdentifierKind, std::string>, std::string> identifiers_;
  std::map<std::string, PurchaseRecord> purchases_;
  std::map<std::string, StoredHold> holds_;
  std::map<std::string, StoredCoupon> coupons_;
  std::map<std::string, int64_t, std::less<>> stock_;
  CouponsChange coupons_total_;
  std::map<std::pair<std::string, std::string>, ReferralLink> referrals_;
  std::map<std::string, Event> outbox_;
};

}  // namespace loyalty::testing
