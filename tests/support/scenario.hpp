// A small scenario language over the pure engine, so tests read like the spec:
//   Scenario s(program);  s.member("m1");  s.purchase("e1", "m1", {line("latte", "beverage",
//   6400)}); EXPECT_EQ(s.last().points_earned, 128);
// Every applied event also checks the books-balance invariants.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "engine/apply.hpp"
#include "engine/coupon_code.hpp"
#include "engine/prepare.hpp"
#include "engine/store.hpp"
#include "engine/time.hpp"

namespace loyalty {
// For gtest's messages about the program's figures.
inline void PrintTo(const StatKey& key, std::ostream* out) {
  *out << "{kind " << static_cast<int>(key.kind) << ", bucket " << key.bucket << ", detail "
       << static_cast<int>(key.detail) << "}";
}
}  // namespace loyalty

namespace loyalty::testing {

inline TimeMs at(std::string_view rfc3339) {
  auto parsed = parse_rfc3339(rfc3339);
  EXPECT_TRUE(parsed.has_value()) << rfc3339;
  return parsed.value_or(0);
}

inline PurchaseLine line(std::string sku, std::string category, AmountMinor amount,
                         int64_t quantity = 1) {
  return PurchaseLine{std::move(sku), std::move(category), quantity, amount};
}

// A program with the spec's base numbers: 1 point per 100 minor units of CNY.
inline Program basic_program() {
  Program program;
  program.id = "test-club";
  program.currency = "CNY";
  program.earning.points_per_unit = Decimal::from_integer(1);
  program.earning.unit_minor = 100;
  return program;
}

class Scenario {
 public:
  explicit Scenario(Program program, uint32_t version = 1) {
    version_.number = version;
    version_.program = std::move(program);
  }

  ProgramVersion& program() { return version_; }

  Rejection member(const std::string& member_id, TimeMs joined_at = at("2026-01-01T00:00:00Z")) {
    SignupEvent signup;
    signup.member_id = member_id;
    signup.joined_at = joined_at;
    signup.assigned_referral_code = "CODE" + std::to_string(members_.size());
    return apply(Event{signup});
  }

  Rejection referred_member(const std::string& member_id, const std::string& referrer,
                            TimeMs joined_at = at("2026-11-01T00:00:00Z")) {
    SignupEvent signup;
    signup.member_id = member_id;
    signup.joined_at = joined_at;
    signup.referral_code = "REFERRAL";
    signup.referrer_member_id = referrer;
    signup.assigned_referral_code = "CODE" + std::to_string(members_.size());
    return apply(Event{signup});
  }

  Rejection purchase(const std::string& event_id, const std::string& member_id,
                     std::vector<PurchaseLine> lines,
                     TimeMs occurred_at = at("2026-11-20T10:00:00Z"),
                     std::string store_id = "s-1") {
    PurchaseEvent p;
    p.event_id = event_id;
    p.member_id = member_id;
    p.store_id = std::move(store_id);
    p.occurred_at = occurred_at;
    p.currency = version_.program.currency;
    p.lines = std::move(lines);
    return apply(Event{std::move(p)});
  }

  // A purchase that uses coupons (codes as issued).
  Rejection purchase_with_coupons(const std::string& event_id, const std::string& member_id,
                                  std::vector<PurchaseLine> lines, std::vector<std::string> coupons,
                                  TimeMs occurred_at = at("2026-11-20T10:00:00Z")) {
    PurchaseEvent p;
    p.event_id = event_id;
    p.member_id = member_id;
    p.store_id = "s-1";
    p.occurred_at = occurred_at;
    p.currency = version_.program.currency;
    p.lines = std::move(lines);
    p.coupons = std::move(coupons);
    return apply(Event{std::move(p)});
  }

  // Redeems a reward; the coupon's code is drawn from a counter (the runtime uses a CSPRNG).
  Rejection redeem_reward(const std::string& redemption_id, const std::string& member_id,
                          const std::string& reward_id, TimeMs when = at("2026-11-21T12:00:00Z")) {
    RewardRedeemEvent r;
    r.redemption_id = redemption_id;
    r.member_id = member_id;
    r.reward_id = reward_id;
    r.at = when;
    r.code = coupon_code_from_bits(0x5eed0000 + ++codes_drawn_);
    return apply(Event{r});
  }

  // The code of the coupon the last successful redemption issued.
  std::string last_code() const {
    const auto* answer = std::get_if<CouponAnswer>(&last_effects_.answer);
    return answer == nullptr ? "" : answer->coupon.code;
  }
  const CouponAnswer* last_coupon_answer() const {
    return std::get_if<CouponAnswer>(&last_effects_.answer);
  }

  // A coupon use or cancellation; the member is the code's, as the runtime resolves it.
  Rejection use_coupon(const std::string& use_id, const std::string& code,
                       TimeMs when = at("2026-11-22T12:00:00Z"), std::string store_id = "s-1") {
    CouponUseEvent u;
    u.use_id = use_id;
    u.code = code;
    u.member_id = coupon_owner(code);
    u.store_id = std::move(store_id);
    u.at = when;
    return apply(Event{u});
  }
  Rejection cancel_coupon(const std::string& code, TimeMs when = at("2026-11-22T12:00:00Z")) {
    CouponCancelEvent c;
    c.code = code;
    c.member_id = coupon_owner(code);
    c.at = when;
    return apply(Event{c});
  }

  const StoredCoupon* stored_coupon(const std::string& code) const {
    auto it = coupons_.find(code);
    return it == coupons_.end() ? nullptr : &it->second;
  }
  // Units of the reward out (issued and not cancelled), as the runtime's stock counts them.
  int64_t stock_out(const std::string& reward_id) const {
    auto it = stock_out_.find(reward_id);
    return it == stock_out_.end() ? 0 : it->second;
  }

  Rejection refund(const std::string& event_id, const std::string& original_event_id,
                   AmountMinor amount, TimeMs occurred_at = at("2026-11-21T10:00:00Z")) {
    RefundEvent r;
    r.event_id = event_id;
    r.original_event_id = original_event_id;
    r.occurred_at = occurred_at;
    r.amount_minor = amount;
    return apply(Event{r});
  }

  Rejection refund_lines(const std::string& event_id, const std::string& original_event_id,
                         std::vector<RefundLine> lines,
                         TimeMs occurred_at = at("2026-11-21T10:00:00Z")) {
    RefundEvent r;
    r.event_id = event_id;
    r.original_event_id = original_event_id;
    r.occurred_at = occurred_at;
    r.lines = std::move(lines);
    return apply(Event{r});
  }

  Rejection redeem(const std::string& redemption_id, const std::string& member_id, Points points,
                   TimeMs when = at("2026-11-21T12:00:00Z")) {
    RedemptionEvent r;
    r.redemption_id = redemption_id;
    r.member_id = member_id;
    r.points = points;
    r.at = when;
    return apply(Event{r});
  }

  Rejection hold(const std::string& hold_id, const std::string& member_id, Points points,
                 TimeMs when = at("2026-11-21T12:00:00Z"), std::optional<uint32_t> ttl = {}) {
    HoldEvent h;
    h.hold_id = hold_id;
    h.member_id = member_id;
    h.points = points;
    h.at = when;
    h.ttl_seconds = ttl;
    return apply(Event{h});
  }

  Rejection hold_action(EventType kind, const std::string& hold_id,
                        TimeMs when = at("2026-11-21T12:05:00Z")) {
    auto it = holds_.find(hold_id);
    HoldActionEvent a;
    a.hold_id = hold_id;
    a.member_id = it == holds_.end() ? "" : it->second.member_id;
    a.at = when;
    return apply(Event{kind, a});
  }

  Rejection adjust(const std::string& adjustment_id, const std::string& member_id, Points points,
                   TimeMs when = at("2026-11-21T12:00:00Z")) {
    AdjustmentEvent a;
    a.adjustment_id = adjustment_id;
    a.member_id = member_id;
    a.points = points;
    a.reason = "test";
    a.at = when;
    return apply(Event{a});
  }

  Rejection job(EventType kind, const std::string& member_id, TimeMs as_of) {
    JobStepEvent j;
    j.job_id = "job-" + std::to_string(++jobs_);
    j.member_id = member_id;
    j.as_of = as_of;
    return apply(Event{kind, j});
  }

  // A recalculation's correction of purchase `event_id` (its member is the purchase's).
  Rejection recalc(const std::string& job_id, const std::string& event_id, Points points,
                   Points points_recalculated, TimeMs when = at("2026-11-22T12:00:00Z"),
                   TimeMs expires_at = kTimeNever, uint32_t program_version = 7) {
    RecalcAdjustmentEvent r;
    r.job_id = job_id;
    r.event_id = event_id;
    auto it = purchases_.find(event_id);
    r.member_id = it == purchases_.end() ? "nobody" : it->second.member_id;
    r.points = points;
    r.points_recalculated = points_recalculated;
    r.expires_at = expires_at;
    r.program_version = program_version;
    r.at = when;
    return apply(Event{r});
  }

  // Applies the event like the runtime would: prepared by the engine's prepare stage against
  // what the scenario stored (client ids used before, identifiers, purchases, holds), then
  // applied, with follow-ups delivered to their members right after (exactly once).
  Rejection apply(Event event) {
    if (auto* r = std::get_if<RefundEvent>(&event.body)) {  // the API finds the refund's member
      auto it = purchases_.find(r->original_event_id);
      r->member_id = it == purchases_.end() ? "" : it->second.member_id;
    }
    const uint64_t request_fingerprint = fingerprint(event);
    Prepared prepared;
    View view(*this);
    if (Status status = prepare_event(view, version_, members_[event.member_id()], event,
                                      request_fingerprint, prepared);
        !status.ok()) {
      ADD_FAILURE() << "prepare failed: " << status.message();
      return {ErrorCode::unavailable, "", status.message()};
    }
    if (prepared.decided()) {
      last_rejection_ = prepared.rejection;
      if (auto* answer = std::get_if<PurchaseAnswer>(&prepared.answer)) last_ = *answer;
      return prepared.rejection;
    }
    const ApplyContext& context = prepared.context;
    std::optional<MemberState>& slot = members_[event.member_id()];
    const std::optional<MemberState> before = slot;
    Effects effects;
    const Rejection rejection = apply_event(context, slot, event, effects);
    if (!rejection.ok()) {
      EXPECT_EQ(slot, before) << "a refused event changed the member";
      EXPECT_TRUE(effects.entries.empty()) << "a refused event produced entries";
      last_rejection_ = rejection;
      return rejection;
    }
    auto& ledger = ledgers_[event.member_id()];
    ledger.insert(ledger.end(), effects.entries.begin(), effects.entries.end());
    Points sum = 0;
    for (const LedgerEntry& entry : ledger) sum += entry.points;
    EXPECT_TRUE(member_invariants_hold(*slot, sum)) << "books do not balance";
    if (auto* answer = std::get_if<PurchaseAnswer>(&effects.answer)) last_ = *answer;
    for (const auto& [key, delta] : effects.stats.deltas) stats_[key] += delta;
    if (event.type() != EventType::signup) {
      used_ids_[event.idempotency_key()] = IdempotencyRecord{
          event.idempotency_key(), request_fingerprint, event.member_id(), effects.answer};
    }
    for (const IdentifierClaim& released : effects.identifiers_released) {
      identifiers_.erase({released.kind, released.value});
    }
    for (const IdentifierClaim& claim : prepared.identifiers) {
      identifiers_[{claim.kind, claim.value}] = claim.member_id;
    }
    if (effects.purchase) purchases_[effects.purchase->event_id] = *effects.purchase;
    for (const Hold& h : effects.holds_written) holds_[h.hold_id] = {event.member_id(), h};
    for (const Coupon& c : effects.coupons_written) coupons_[c.code] = {event.member_id(), c};
    for (const StockChange& change : effects.stock_changes) {
      stock_out_[change.reward_id] += change.delta;
    }
    for (const ReferralLink& link : effects.referral_links) {
      links_[{link.referrer_id, link.referee_id}] = link;
    }
    std::vector<Event> follow_ups = effects.follow_ups;
    last_effects_ = std::move(effects);
    for (const Event& follow_up : follow_ups) {
      const Rejection r = apply(follow_up);
      EXPECT_TRUE(r.ok()) << "follow-up refused: " << r.message;
    }
    // A test that moves the program to another zone moves later events' days and months, not
    // earlier ones' (docs/decisions.md): then only the totals of each kind must agree.
    if (first_zone_ == nullptr) first_zone_ = version_.program.time_zone.get();
    const bool zone_moved = first_zone_ != version_.program.time_zone.get();
    EXPECT_EQ(zone_moved ? totals_of(stats()) : stats(),
              zone_moved ? totals_of(figures_of_members()) : figures_of_members())
        << "the program's figures drifted from the members'";
    return rejection;
  }

  // The program's figures as the events' effects counted them (engine/stats.hpp), zeros left out.
  std::map<StatKey, int64_t> stats() const {
    std::map<StatKey, int64_t> out;
    for (const auto& [key, total] : stats_) {
      if (total != 0) out.emplace(key, total);
    }
    return out;
  }

  static std::map<StatKey, int64_t> totals_of(const std::map<StatKey, int64_t>& figures) {
    std::map<StatKey, int64_t> out;
    for (const auto& [key, total] : figures) {
      out[key.kind == StatKind::tier ? key : StatKey{key.kind, 0, key.detail}] += total;
    }
    std::erase_if(out, [](const auto& item) { return item.second == 0; });
    return out;
  }

  // The same figures computed afresh from every member and ledger.
  std::map<StatKey, int64_t> figures_of_members() const {
    std::map<StatKey, int64_t> out;
    const TimeZone& zone = *version_.program.time_zone;
    for (const auto& [id, member] : members_) {
      if (!member) continue;
      out[{StatKind::members}] += 1;
      out[{StatKind::tier, member->tier_index}] += 1;
      out[{StatKind::debt}] += member->debt;
      if (member->last_purchase_day)
        out[{StatKind::last_purchase_day, *member->last_purchase_day}] += 1;
      for (const Lot& lot : member->lots) {
        out[{StatKind::liability, expiry_month(zone, lot.expires_at)}] += lot.points_remaining;
      }
      for (const Coupon& coupon : member->coupons) {
        out[{StatKind::coupons_active}] += 1;
        out[{StatKind::coupon_points}] += coupon.points;
      }
    }
    for (const auto& [code, stored] : coupons_) {
      out[{StatKind::reward_coupons, reward_bucket(stored.coupon.reward_id),
           static_cast<uint8_t>(stored.coupon.state)}] += 1;
    }
    for (const auto& [id, entries] : ledgers_) {
      for (const LedgerEntry& entry : entries) {
        out[{StatKind::day_points, local_day_number(zone, entry.at),
             static_cast<uint8_t>(entry.type)}] += entry.points;
      }
    }
    std::erase_if(out, [](const auto& item) { return item.second == 0; });
    return out;
  }

  const ReferralLink* link(const std::string& referrer, const std::string& referee) const {
    auto it = links_.find({referrer, referee});
    return it == links_.end() ? nullptr : &it->second;
  }
  const StoredHold* stored_hold(const std::string& hold_id) const {
    auto it = holds_.find(hold_id);
    return it == holds_.end() ? nullptr : &it->second;
  }
  const PurchaseRecord* purchase_record(const std::string& event_id) const {
    auto it = purchases_.find(event_id);
    return it == purchases_.end() ? nullptr : &it->second;
  }

  // Whether prepare refuses or answers again an event with a client id used before.
  const IdempotencyRecord* used_id(const std::string& key) const {
    auto it = used_ids_.find(key);
    return it == used_ids_.end() ? nullptr : &it->second;
  }

  const PurchaseAnswer& last() const { return last_; }
  const Effects& last_effects() const { return last_effects_; }
  const MemberState& state(const std::string& member_id) { return *members_.at(member_id); }
  const std::vector<LedgerEntry>& ledger(const std::string& member_id) {
    return ledgers_[member_id];
  }

 private:
  ProgramVersion version_;
  std::map<std::string, std::optional<MemberState>> members_;
  std::map<std::string, std::vector<LedgerEntry>> ledgers_;
  PurchaseAnswer last_;
  Effects last_effects_;
  std::map<StatKey, int64_t> stats_;
  const TimeZone* first_zone_ = nullptr;  // the program's zone at the first event
  Rejection last_rejection_;
  std::map<std::string, PurchaseRecord> purchases_;
  std::map<std::string, StoredHold> holds_;
  std::map<std::string, StoredCoupon> coupons_;
  std::map<std::string, int64_t> stock_out_;
  uint64_t codes_drawn_ = 0;

  std::string coupon_owner(const std::string& code) const {
    const StoredCoupon* coupon = stored_coupon(code);
    return coupon == nullptr ? "nobody" : coupon->member_id;
  }
  std::map<std::pair<std::string, std::string>, ReferralLink> links_;
  std::map<std::string, IdempotencyRecord> used_ids_;
  std::map<std::pair<IdentifierKind, std::string>, std::string> identifiers_;
  int jobs_ = 0;

  // What prepare reads: the scenario's own maps (one writer, nothing in flight).
  class View : public PrepareView {
   public:
    explicit View(Scenario& scenario) : s_(scenario) {}
    Status previous_use(const std::string& key, const std::string&, PreviousUse& out) override {
      out = PreviousUse{};
      out.record = s_.used_id(key);
      return Status::ok_status();
    }
    Status identifier_free(IdentifierKind kind, const std::string& value,
                           const std::string& member_id, bool& free) override {
      std::string owner;
      (void)identifier_owner(kind, value, owner);
      free = owner.empty() || owner == member_id;
      return Status::ok_status();
    }
    Status identifier_owner(IdentifierKind kind, const std::string& value,
                            std::string& member_id) override {
      auto it = s_.identifiers_.find({kind, value});
      member_id = it == s_.identifiers_.end() ? "" : it->second;
      return Status::ok_status();
    }
    Status purchase(const std::string& event_id, const PurchaseRecord*& out) override {
      out = s_.purchase_record(event_id);
      return Status::ok_status();
    }
    Status hold(const std::string& hold_id, const StoredHold*& out) override {
      out = s_.stored_hold(hold_id);
      return Status::ok_status();
    }
    Status coupon(const std::string& code, const StoredCoupon*& out) override {
      out = s_.stored_coupon(code);
      return Status::ok_status();
    }
    // One writer, nothing in flight: a unit is left while fewer than the stock are out.
    Status take_stock(const Reward& reward, const std::string&, bool& granted) override {
      granted = reward.stock && s_.stock_out(reward.id) < *reward.stock;
      return Status::ok_status();
    }

   private:
    Scenario& s_;
  };
};

}  // namespace loyalty::testing
