// Micro-benchmarks of the pure core: apply_event for each event type on a realistic member
// (a year of weekly purchases: open lots, tier buckets, platinum; see micro_fixtures.hpp).
// Each iteration copies the member first (apply changes it in place); member_copy measures
// that copy alone, to subtract.
#include <benchmark/benchmark.h>

#include "bench/micro_fixtures.hpp"
#include "engine/referral_code.hpp"

namespace loyalty::bench {
namespace {

constexpr Points kRedeemPoints = 100;
constexpr Points kHoldPoints = 200;

// Applies `event` to a fresh copy of `base` per iteration; stops with an error on a refusal.
void run_apply(benchmark::State& state, const std::optional<MemberState>& base, const Event& event,
               const ApplyContext& context) {
  Effects effects;
  for (auto _ : state) {
    std::optional<MemberState> member = base;
    effects.clear();
    const Rejection rejection = apply_event(context, member, event, effects);
    if (!rejection.ok()) {
      state.SkipWithError(rejection.message.c_str());
      break;
    }
    benchmark::DoNotOptimize(member);
    benchmark::DoNotOptimize(effects);
  }
  state.SetItemsProcessed(state.iterations());
}

const ApplyContext& context() {
  static const ApplyContext plain{&shipped_program()};
  return plain;
}

void member_copy(benchmark::State& state) {
  const std::optional<MemberState> base = realistic_member();
  for (auto _ : state) {
    std::optional<MemberState> member = base;
    benchmark::DoNotOptimize(member);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(member_copy);

void apply_signup(benchmark::State& state) {
  SignupEvent signup;
  signup.member_id = "m-new";
  signup.phone = "+8613900000001";
  signup.joined_at = micro_now();
  signup.assigned_referral_code = referral_code_for(signup.member_id, 0);
  signup.referrer_member_id = "m-271828";
  run_apply(state, std::nullopt, Event{signup}, context());
}
BENCHMARK(apply_signup);

void apply_purchase(benchmark::State& state) {
  const Event event{micro_basket(static_cast<size_t>(state.range(0)), "pos-now", "m-271828")};
  run_apply(state, realistic_member(), event, context());
}
BENCHMARK(apply_purchase)->ArgName("lines")->Arg(3)->Arg(50);

void apply_refund(benchmark::State& state) {
  Effects last;
  const MemberState& member = realistic_member(&last);
  const PurchaseRecord original = *last.purchase;
  RefundEvent refund;
  refund.event_id = "refund-1";
  refund.original_event_id = original.event_id;
  refund.member_id = member.member_id;
  refund.occurred_at = micro_now();
  refund.amount_minor = 1000;
  ApplyContext with_original = context();
  with_original.original_purchase = &original;
  run_apply(state, member, Event{refund}, with_original);
}
BENCHMARK(apply_refund);

void apply_redemption(benchmark::State& state) {
  RedemptionEvent redemption;
  redemption.redemption_id = "redeem-1";
  redemption.member_id = realistic_member().member_id;
  redemption.points = kRedeemPoints;
  redemption.at = micro_now();
  run_apply(state, realistic_member(), Event{redemption}, context());
}
BENCHMARK(apply_redemption);

HoldEvent hold_event() {
  HoldEvent hold;
  hold.hold_id = "hold-1";
  hold.member_id = realistic_member().member_id;
  hold.points = kHoldPoints;
  hold.at = micro_now();
  return hold;
}

void apply_hold(benchmark::State& state) {
  run_apply(state, realistic_member(), Event{hold_event()}, context());
}
BENCHMARK(apply_hold);

// Capture (range 0) or void (range 1) of an active hold.
void apply_hold_action(benchmark::State& state) {
  std::optional<MemberState> held = realistic_member();
  Effects effects;
  if (!apply_event(context(), held, Event{hold_event()}, effects).ok()) {
    state.SkipWithError("the hold was refused");
    return;
  }
  const Hold stored = effects.holds_written.front();
  HoldActionEvent action;
  action.hold_id = stored.hold_id;
  action.member_id = held->member_id;
  action.at = micro_now() + kMsPerSecond;
  ApplyContext with_hold = context();
  with_hold.stored_hold = &stored;
  const EventType kind = state.range(0) == 0 ? EventType::hold_capture : EventType::hold_void;
  run_apply(state, held, Event(kind, action), with_hold);
}
BENCHMARK(apply_hold_action)->ArgName("void")->Arg(0)->Arg(1);

void apply_adjustment(benchmark::State& state) {
  AdjustmentEvent adjustment;
  adjustment.adjustment_id = "adjust-1";
  adjustment.member_id = realistic_member().member_id;
  adjustment.points = 50;
  adjustment.reason = "goodwill: late order";
  adjustment.at = micro_now();
  run_apply(state, realistic_member(), Event{adjustment}, context());
}
BENCHMARK(apply_adjustment);

}  // namespace
}  // namespace loyalty::bench
