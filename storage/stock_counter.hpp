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

namespace loyalty::storage {

inline constexpr std::string_view kStockFamily = "stock";
// The totals of active coupons and their points, kept by the same operator in the same family
// under keys no reward id can have (ids are printable ASCII).
inline constexpr std::string_view kCouponsActiveKey = "\x01coupons_active";
inline constexpr std::string_view kCouponPointsKey = "\x01coupon_points";

std::string encode_stock_count(int64_t count);
// nullopt unless `bytes` is exactly 8 bytes.
std::optional<int64_t> decode_stock_count(std::string_view bytes);

std::shared_ptr<rocksdb::MergeOperator> stock_count_merge_operator();

}  // namespace loyalty::storage
