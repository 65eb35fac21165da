// The "stock" family's summing merge operator (see stock_counter.hpp).
#include "storage/stock_counter.hpp"

#include <rocksdb/slice.h>

#include "storage/keys.hpp"

namespace loyalty::storage {
namespace {

class StockCountAdd final : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice& /*key*/, const rocksdb::Slice* existing,
             const rocksdb::Slice& value, std::string* new_value,
             rocksdb::Logger* /*logger*/) const override {
    int64_t sum = 0;
    if (existing != nullptr) {
      const std::optional<int64_t> before =
          decode_stock_count({existing->data(), existing->size()});
      if (!before) return false;  // RocksDB reports the key as corrupt
      sum = *before;
    }
    const std::optional<int64_t> change = decode_stock_count({value.data(), value.size()});
    if (!change) return false;
    // Two's complement wrap-around is what a counter of at most 10^9 units never reaches.
    sum = static_cast<int64_t>(static_cast<uint64_t>(sum) + static_cast<uint64_t>(*change));
    *new_value = encode_stock_count(sum);
    return true;
  }
  const char* Name() const override { return "loyalty.StockCountAdd"; }
};

}  // namespace

namespace {
constexpr uint64_t kSignBit = uint64_t{1} << 63;
constexpr size_t kStatsKeySize = 1 + 4 + 1 + 8 + 1;
}  // namespace

std::string stats_partition_prefix(uint32_t partition) {
  std::string key(kStatsKeyPrefix);
  append_u32_be(key, partition);
  return key;
}

std::string stats_key(uint32_t partition, const StatKey& stat) {
  std::string key = stats_partition_prefix(partition);
  key.push_back(static_cast<char>(stat.kind));
  append_u64_be(key, static_cast<uint64_t>(stat.bucket) ^ kSignBit);
  key.push_back(static_cast<char>(stat.detail));
  return key;
}

bool parse_stats_key(std::string_view bytes, uint32_t& partition, StatKey& stat) {
  if (bytes.size() != kStatsKeySize || !bytes.starts_with(kStatsKeyPrefix)) return false;
  const std::optional<uint32_t> p = read_u32_be(bytes.substr(1, 4));
  const std::optional<uint64_t> bucket = read_u64_be(bytes.substr(6, 8));
  if (!p || !bucket) return false;
  partition = *p;
  stat.kind = static_cast<StatKind>(static_cast<uint8_t>(bytes[5]));
  stat.bucket = static_cast<int64_t>(*bucket ^ kSignBit);
  stat.detail = static_cast<uint8_t>(bytes[14]);
  return true;
}

std::string encode_stock_count(int64_t count) {
  std::string bytes;
  append_u64_be(bytes, static_cast<uint64_t>(count));
  return bytes;
}

std::optional<int64_t> decode_stock_count(std::string_view bytes) {
  const std::optional<uint64_t> raw = read_u64_be(bytes);
  if (!raw) return std::nullopt;
  return static_cast<int64_t>(*raw);
}

std::shared_ptr<rocksdb::MergeOperator> stock_count_merge_operator() {
  static const std::shared_ptr<rocksdb::MergeOperator> kOperator =
      std::make_shared<StockCountAdd>();
  return kOperator;
}

}  // namespace loyalty::storage
