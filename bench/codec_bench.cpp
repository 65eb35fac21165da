// Micro-benchmarks of the record codec (storage/record_codec.hpp): encode and decode (which
// runs the FlatBuffers Verifier) of a realistic member, a ledger entry and a purchase event.
#include <benchmark/benchmark.h>

#include "bench/micro_fixtures.hpp"
#include "storage/record_codec.hpp"

namespace loyalty::bench {
namespace {

const LedgerEntry& an_entry() {
  static const LedgerEntry entry = [] {
    Effects last;
    realistic_member(&last);
    return last.entries.front();
  }();
  return entry;
}

const Event& a_purchase() {
  static const Event event{micro_basket(3, "pos-17-000123", "m-271828")};
  return event;
}

void encode_member(benchmark::State& state) {
  storage::RecordEncoder encoder;
  const MemberState& member = realistic_member();
  for (auto _ : state) benchmark::DoNotOptimize(encoder.member(member));
  state.counters["bytes"] = static_cast<double>(encoder.member(member).size());
}
BENCHMARK(encode_member);

void decode_member(benchmark::State& state) {
  storage::RecordEncoder encoder;
  const std::string bytes(encoder.member(realistic_member()));
  MemberState out;
  for (auto _ : state) {
    if (!storage::decode_member("m-271828", bytes, out).ok()) {
      state.SkipWithError("decode failed");
      break;
    }
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(decode_member);

void encode_ledger_entry(benchmark::State& state) {
  storage::RecordEncoder encoder;
  for (auto _ : state) benchmark::DoNotOptimize(encoder.ledger_entry(an_entry()));
  state.counters["bytes"] = static_cast<double>(encoder.ledger_entry(an_entry()).size());
}
BENCHMARK(encode_ledger_entry);

void decode_ledger_entry(benchmark::State& state) {
  storage::RecordEncoder encoder;
  const std::string bytes(encoder.ledger_entry(an_entry()));
  LedgerEntry out;
  for (auto _ : state) {
    if (!storage::decode_ledger_entry(an_entry().seq, bytes, out).ok()) {
      state.SkipWithError("decode failed");
      break;
    }
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(decode_ledger_entry);

void encode_event(benchmark::State& state) {
  storage::RecordEncoder encoder;
  for (auto _ : state) benchmark::DoNotOptimize(encoder.event(a_purchase(), 1));
  state.counters["bytes"] = static_cast<double>(encoder.event(a_purchase(), 1).size());
}
BENCHMARK(encode_event);

void decode_event(benchmark::State& state) {
  storage::RecordEncoder encoder;
  const std::string bytes(encoder.event(a_purchase(), 1));
  StoredEvent out;
  for (auto _ : state) {
    if (!storage::decode_event(1, bytes, out).ok()) {
      state.SkipWithError("decode failed");
      break;
    }
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(decode_event);

}  // namespace
}  // namespace loyalty::bench
