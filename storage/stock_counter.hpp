// How many units of each reward are out (issued and not cancelled), program-wide. Partition
// writers commit their batches' changes concurrently, so each commit adds its change as a
// RocksDB merge operand instead of writing a total it read (which another writer could overwrite
// meanwhile): the "stock" family's values are summed by this operator. Key: reward id; value:
// a big-endian two's-complement int64.
#pragma once

#include <rocksdb/merge_operator.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "engine/stats.hpp"

namespace loyalty::storage {

inline constexpr std::string_view kStockFamily = "stock";
// The totals of active coupons and their points, kept by the same operator in the same family
// under keys no reward id can have (ids are printable ASCII).
inline constexpr std::string_view kCouponsActiveKey = "\x01coupons_active";
inline constexpr std::string_view kCouponPointsKey = "\x01coupon_points";

// The program's figures (engine/stats.hpp), by the same operator in the same family: "\x02",
// big-endian u32 partition, kind byte, bucket (big-endian, sign bit flipped so that keys sort
// as the numbers do), detail byte.
inline constexpr std::string_view kStatsKeyPrefix = "\x02";
std::string stats_key(uint32_t partition, const StatKey& key);
// The prefix of one partition's figures.
std::string stats_partition_prefix(uint32_t partition);
// false unless `bytes` is a whole stats key.
bool parse_stats_key(std::string_view bytes, uint32_t& partition, StatKey& key);

std::string encode_stock_count(int64_t count);
// nullopt unless `bytes` is exactly 8 bytes.
std::optional<int64_t> decode_stock_count(std::string_view bytes);

std::shared_ptr<rocksdb::MergeOperator> stock_count_merge_operator();

}  // namespace loyalty::storage
