// Micro-benchmarks of earning: compute_earning for a typical basket (3 lines) and large ones
// (50 and 500 lines, the API's limit) under the shipped program, a Saturday in its campaign.
#include <benchmark/benchmark.h>

#include "bench/micro_fixtures.hpp"
#include "engine/earning.hpp"

namespace loyalty::bench {
namespace {

void earning(benchmark::State& state) {
  const Program& program = shipped_program().program;
  PurchaseEvent purchase = micro_basket(static_cast<size_t>(state.range(0)), "pos-1", "m-271828");
  purchase.occurred_at = *parse_rfc3339("2026-11-21T10:15:00Z");  // the weekend campaign
  for (auto _ : state) {
    auto result = compute_earning(program, {&purchase, 1, 20, 0});
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(earning)->ArgName("lines")->Arg(3)->Arg(50)->Arg(500);

}  // namespace
}  // namespace loyalty::bench
