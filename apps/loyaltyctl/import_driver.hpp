// Pushes import rows through the runtime: in file order (so each member's events apply in the
// file's order), at most kImportInFlightMax rows at a time, each row's events one after the
// other. It resolves what one row needs from another that may still be in flight (the member
// of a refund or hold action, a referrer's code), and decides referral follow-up lines
// against the outbox: the engine makes follow-ups from their trigger, a file only says where
// in the order they were applied.
// Thread-safety: add() and finish() from one thread; completions arrive on writer threads.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "apps/loyaltyctl/import_rows.hpp"
#include "engine/runtime/runtime.hpp"
#include "storage/rocks_store.hpp"

namespace loyalty::ctl {

inline constexpr size_t kImportInFlightMax = 4096;  // below a partition's queue capacity

struct RejectedRow {
  uint64_t line = 0;
  std::string id;
  std::string code;
  std::string field;
  std::string message;
};

struct ImportTotals {
  uint64_t rows = 0;
  uint64_t applied = 0;
  uint64_t replayed = 0;
  uint64_t rejected = 0;
  uint64_t follow_ups_applied = 0;  // pending referral follow-ups applied after the last row
  std::vector<std::string> follow_up_failures;
  std::vector<RejectedRow> rejections;  // by line
};

class Importer {
 public:
  // `runtime` must not deliver follow-ups itself (deliver_follow_ups = false): the importer
  // applies them where the file says, or after the last row.
  Importer(RocksStore& store, Runtime& runtime) : store_(store), runtime_(runtime) {}

  // Blocks while kImportInFlightMax rows are in flight.
  void add(ImportRow row);
  // Waits for every row, then applies the follow-ups still pending in the outbox in the order
  // of their triggers' times. Returns the totals.
  ImportTotals finish();

 private:
  struct RowState;

  void prepare(RowState& state);
  void prepare_signup(RowState& state, SignupEvent& signup);
  void prepare_follow_up(RowState& state, Event& event);
  void submit_next(const std::shared_ptr<RowState>& state);
  void on_result(const std::shared_ptr<RowState>& state, EventResult&& result);
  void settle(RowState& state, const Rejection* rejection, size_t event_index);
  void wait_until(const std::function<bool()>& ready);

  RocksStore& store_;
  Runtime& runtime_;
  std::unordered_map<std::string, std::string> carried_codes_;  // code → member (main thread)

  std::mutex mutex_;  // guards everything below
  std::condition_variable changed_;
  size_t in_flight_ = 0;
  size_t signups_in_flight_ = 0;
  // Purchases and holds in flight by id → their member, with a count for repeated ids.
  std::unordered_map<std::string, std::pair<std::string, size_t>> purchases_in_flight_;
  std::unordered_map<std::string, std::pair<std::string, size_t>> holds_in_flight_;
  ImportTotals totals_;
};

}  // namespace loyalty::ctl
