// Micro-benchmarks of the API's per-request work: reading and validating a purchase body
// (api/request_parsing.hpp, then the engine's input checks) and verifying a member token
// (api/jwt.hpp, HS256).
#include <benchmark/benchmark.h>

#include "api/jwt.hpp"
#include "api/request_parsing.hpp"
#include "bench/micro_fixtures.hpp"

namespace loyalty::bench {
namespace {

constexpr int64_t kTokenExpiresS = 4'102'444'800;  // 2100-01-01

void parse_purchase(benchmark::State& state) {
  const std::string body =
      R"({"event_id": "pos-17-000123", "member_id": "m-42", "store_id": "s-1",
          "occurred_at": "2026-11-20T10:15:00Z", "currency": "CNY",
          "lines": [{"sku": "latte-l", "category": "beverage", "quantity": 2, "amount_minor": 6400},
                    {"sku": "bagel", "category": "food", "quantity": 1, "amount_minor": 1800},
                    {"sku": "mug", "category": "merch", "quantity": 1, "amount_minor": 9900}],
          "redeem_points": 0, "hold_id": null})";
  for (auto _ : state) {
    api::Parsed<PurchaseEvent> parsed = api::parse_purchase_request(body);
    auto* purchase = std::get_if<PurchaseEvent>(&parsed);
    if (purchase == nullptr) {
      state.SkipWithError("the body was refused");
      break;
    }
    const Event event{std::move(*purchase)};
    const Rejection rejection = validate_input(event, micro_now());
    if (!rejection.ok()) {
      state.SkipWithError(rejection.message.c_str());
      break;
    }
    benchmark::DoNotOptimize(event);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}
BENCHMARK(parse_purchase);

void verify_member_token(benchmark::State& state) {
  const std::string secret = "dev-only-member-token-secret-change-me";
  const std::string token =
      api::sign_hs256(secret, R"({"alg":"HS256","typ":"JWT"})",
                      R"({"sub":"m-42","exp":)" + std::to_string(kTokenExpiresS) + "}");
  const api::MemberTokenVerifier verifier(secret);
  const int64_t now_s = micro_now() / kMsPerSecond;
  for (auto _ : state) {
    api::TokenResult result = verifier.verify(token, now_s);
    if (!std::holds_alternative<api::MemberTokenClaims>(result)) {
      state.SkipWithError("the token was refused");
      break;
    }
    benchmark::DoNotOptimize(result);
  }
}
BENCHMARK(verify_member_token);

}  // namespace
}  // namespace loyalty::bench
