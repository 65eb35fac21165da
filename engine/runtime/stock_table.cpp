// Units of rewards out and reserved (see stock_table.hpp).
#include "engine/runtime/stock_table.hpp"

#include "engine/check.hpp"

namespace loyalty {
namespace {

int64_t count_of(const std::map<std::string, int64_t, std::less<>>& counts,
                 std::string_view reward_id) {
  const auto it = counts.find(reward_id);
  return it == counts.end() ? 0 : it->second;
}

}  // namespace

bool StockTable::reserve(const Reward& reward) {
  if (!reward.stock) return true;
  std::lock_guard lock(mutex_);
  const int64_t taken = count_of(out_, reward.id) + count_of(reserved_, reward.id);
  if (taken >= *reward.stock) return false;
  reserved_[reward.id] += 1;
  return true;
}

void StockTable::settle(const std::vector<StockChange>& committed,
                        const std::vector<std::string>& reserved) {
  if (committed.empty() && reserved.empty()) return;
  std::lock_guard lock(mutex_);
  for (const StockChange& change : committed) out_[change.reward_id] += change.delta;
  for (const std::string& reward_id : reserved) {
    auto it = reserved_.find(reward_id);
    LOYALTY_CHECK(it != reserved_.end() && it->second > 0);
    if (--it->second == 0) reserved_.erase(it);
  }
}

std::optional<int64_t> StockTable::left(const Reward& reward) const {
  if (!reward.stock) return std::nullopt;
  std::lock_guard lock(mutex_);
  return *reward.stock - count_of(out_, reward.id) - count_of(reserved_, reward.id);
}

int64_t StockTable::out(const std::string& reward_id) const {
  std::lock_guard lock(mutex_);
  return count_of(out_, reward_id);
}

}  // namespace loyalty
