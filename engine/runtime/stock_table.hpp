// Single mode's program-wide stock of rewards (domain.md: "stock is never oversold, however many
// redeem at once"). Members of one reward's redemptions are in every partition, so the units
// are counted here, shared by all writers: those out (committed) and those reserved by
// redemptions in batches not yet committed. A redemption gets a unit only while
// out + reserved < stock; its batch's commit turns the reservation into a unit out, or gives
// it back when the redemption was refused or the commit failed.
// Thread-safety: all methods from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/apply.hpp"
#include "engine/program.hpp"

namespace loyalty {

class StockTable {
 public:
  // `out`: the committed counts (MemberStore::load_stock_counts) when the runtime starts.
  explicit StockTable(std::map<std::string, int64_t, std::less<>> out) : out_(std::move(out)) {}

  // Reserves one unit of `reward` when one is left; returns whether it did.
  bool reserve(const Reward& reward);
  // A batch ended: its committed changes (empty when the commit failed) become units out, and
  // its reservations (reward ids, one per unit) are given back.
  void settle(const std::vector<StockChange>& committed, const std::vector<std::string>& reserved);
  // Units the program may still issue: stock − out − reserved (nullopt: no stock limit).
  std::optional<int64_t> left(const Reward& reward) const;
  int64_t out(const std::string& reward_id) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, int64_t, std::less<>> out_;
  std::map<std::string, int64_t, std::less<>> reserved_;
};

}  // namespace loyalty
