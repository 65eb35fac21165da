// Micro-benchmarks of the record codec (storage/record_codec.hpp): encode and decode (which
// runs the FlatBuffers Verifier) of a realistic member and a purchase event, with and without
// the ledger entry it wrote.
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
  for (auto _ : state) benchmark::DoNotOptimize(encoder.member(member, 7));
  state.counters["bytes"] = static_cast<double>(encoder.member(member, 7).size());
}
BENCHMARK(encode_member);

void decode_member(benchmark::State& state) {
  storage::RecordEncoder encoder;
  const std::string bytes(encoder.member(realistic_member(), 7));
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

// A purchase as the event log keeps it: with the ledger entry it wrote (layout 6).
LoggedEvent a_logged_purchase() {
  return LoggedEvent{&a_purchase(), 1, nullptr, std::span<const LedgerEntry>(&an_entry(), 1), {}};
}

void encode_logged_event(benchmark::State& state) {
  storage::RecordEncoder encoder;
  const LoggedEvent logged = a_logged_purchase();
  for (auto _ : state) benchmark::DoNotOptimize(encoder.logged_event(logged, 7));
  state.counters["bytes"] = static_cast<double>(encoder.logged_event(logged, 7).size());
}
BENCHMARK(encode_logged_event);

void decode_event_history(benchmark::State& state) {
  storage::RecordEncoder encoder;
  const std::string bytes(encoder.logged_event(a_logged_purchase(), 7));
  storage::EventHistory out;
  for (auto _ : state) {
    if (!storage::decode_event_history(bytes, out).ok()) {
      state.SkipWithError("decode failed");
      break;
    }
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(decode_event_history);

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
