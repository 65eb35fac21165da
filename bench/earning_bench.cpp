// Micro-benchmarks of the pure engine: earning for a typical and a large basket, and apply
// of a purchase to a member's state.
#include <benchmark/benchmark.h>

#include "engine/apply.hpp"
#include "engine/earning.hpp"

namespace loyalty {
namespace {

Program bench_program() {
  Program program;
  program.id = "bench";
  program.currency = "CNY";
  program.earning.points_per_unit = Decimal::from_integer(1);
  program.earning.unit_minor = 100;
  program.earning.category_multipliers["beverage"] = *Decimal::parse("2");
  program.earning.sku_multipliers["latte-l"] = *Decimal::parse("1.5");
  program.earning.excluded_categories = {"gift-card"};
  Campaign campaign;
  campaign.id = "weekend";
  campaign.starts_at = 0;
  campaign.multiplier = *Decimal::parse("1.25");
  program.campaigns.push_back(campaign);
  program.milestones = {{3, 30}, {10, 100}};
  return program;
}

PurchaseEvent basket(size_t lines) {
  PurchaseEvent p;
  p.event_id = "bench-event";
  p.member_id = "bench-member";
  p.store_id = "s-1";
  p.occurred_at = 1'795'169'700'000;
  p.currency = "CNY";
  const char* categories[] = {"beverage", "food", "merch", "gift-card"};
  for (size_t i = 0; i < lines; ++i) {
    p.lines.push_back({i % 7 == 0 ? "latte-l" : "sku-" + std::to_string(i), categories[i % 4], 1,
                       static_cast<AmountMinor>(350 + 17 * i)});
  }
  return p;
}

void earning(benchmark::State& state) {
  const Program program = bench_program();
  const PurchaseEvent purchase = basket(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    auto result = compute_earning(program, {&purchase, 0, 4, 0});
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(earning)->Arg(3)->Arg(20)->Arg(500);

void apply_purchase(benchmark::State& state) {
  const ProgramVersion version{1, bench_program(), ""};
  const Event event{basket(3)};
  MemberState base;
  base.member_id = "bench-member";
  Effects effects;
  for (auto _ : state) {
    std::optional<MemberState> member = base;
    effects.clear();
    Rejection r = apply_event(ApplyContext{&version}, member, event, effects);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(apply_purchase);

}  // namespace
}  // namespace loyalty
