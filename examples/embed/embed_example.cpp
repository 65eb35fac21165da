// Embedding Loyalty Engine in another C++ program: open a data folder, load a program,
// start the runtime, sign a member up and post a purchase — no HTTP involved.
// Built as `build/examples/embed/embed_example`; run as a test so it cannot rot.
#include <fstream>
#include <future>
#include <iostream>
#include <sstream>

#include "engine/program_toml.hpp"
#include "engine/runtime/runtime.hpp"
#include "engine/tzdb/os_time_zones.hpp"
#include "storage/rocks_store.hpp"

using namespace loyalty;

namespace {

// Submits an event and waits for its answer (the runtime answers on its writer thread).
EventResult submit_and_wait(Runtime& runtime, Event event) {
  std::promise<EventResult> answer;
  runtime.submit(std::move(event),
                 [&](EventResult&& result) { answer.set_value(std::move(result)); });
  return answer.get_future().get();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: embed_example PROGRAM_TOML DATA_DIR\n";
    return 2;
  }
  std::ifstream file(argv[1]);
  std::stringstream text;
  text << file.rdbuf();
  auto parsed = parse_program_toml(text.str(), argv[1], os_time_zones());
  if (auto* error = std::get_if<ProgramLoadError>(&parsed)) {
    std::cerr << argv[1] << ": " << error->key << ": " << error->message << "\n";
    return 2;
  }

  std::unique_ptr<RocksStore> store;
  if (Status s = RocksStore::open({.path = argv[2], .durability = Durability::fsync}, store);
      !s.ok()) {
    std::cerr << "cannot open " << argv[2] << ": " << s.message() << "\n";
    return 1;
  }
  ProgramRegistry programs(std::make_shared<ProgramVersion>(
      ProgramVersion{1, std::get<Program>(std::move(parsed)), text.str()}));
  Runtime runtime({.partitions = 2}, *store, programs, [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  });

  SignupEvent signup;
  signup.member_id = "m-embedded";
  EventResult joined = submit_and_wait(runtime, Event{signup});
  if (!joined.rejection.ok() && joined.rejection.code != ErrorCode::member_exists) {
    std::cerr << "sign-up refused: " << joined.rejection.message << "\n";
    return 1;
  }
  PurchaseEvent purchase{
      .event_id = "embed-0001",
      .member_id = "m-embedded",
      .store_id = "s-1",
      .occurred_at = *parse_rfc3339("2026-11-20T10:15:00Z"),
      .currency = "CNY",
      .lines = {{.sku = "latte-l", .category = "beverage", .quantity = 2, .amount_minor = 6400}},
      .redeem_points = 0,
      .hold_id = "",
      .coupons = {}};
  EventResult bought = submit_and_wait(runtime, Event{purchase});
  if (!bought.rejection.ok()) {
    std::cerr << "purchase refused: " << bought.rejection.message << "\n";
    return 1;
  }
  const auto& answer = std::get<PurchaseAnswer>(bought.answer);
  std::cout << "points_earned=" << answer.points_earned << " available=" << answer.balance.available
            << (bought.replayed ? " (replayed)" : "") << "\n";
  for (const BreakdownLine& line : answer.breakdown) {
    std::cout << "  " << line.rule << ": " << line.points << "\n";
  }
  runtime.stop();  // drains the queues; the store closes cleanly when `store` goes away
  return 0;
}
