// storage/stall_watch.hpp: what /metrics reports as loyalty_rocksdb_write_stalls_total and
// _write_stall_seconds_total, driven with RocksDB's own stall notices.
#include "storage/stall_watch.hpp"

#include <gtest/gtest.h>

namespace loyalty::storage {
namespace {

using std::chrono::seconds;

rocksdb::WriteStallInfo notice(const std::string& family, rocksdb::WriteStallCondition cur,
                               rocksdb::WriteStallCondition prev) {
  rocksdb::WriteStallInfo info;
  info.cf_name = family;
  info.condition.cur = cur;
  info.condition.prev = prev;
  return info;
}

TEST(StallWatchTest, AnEpisodeRunsFromTheFirstStallBackToNormal) {
  StallWatch watch;
  const StallWatch::Clock::time_point t0{};
  uint64_t episodes = 9;
  double spent = 9;
  watch.read(episodes, spent, t0);
  EXPECT_EQ(episodes, 0u);
  EXPECT_EQ(spent, 0);

  // Delayed, then stopped, then normal: one episode of 5 s.
  watch.changed("ledger", true, t0);
  watch.changed("ledger", true, t0 + seconds(2));
  watch.read(episodes, spent, t0 + seconds(3));
  EXPECT_EQ(episodes, 1u);
  EXPECT_DOUBLE_EQ(spent, 3);  // an ongoing episode counts up to now
  watch.changed("ledger", false, t0 + seconds(5));
  // Another family, overlapping: its own episode.
  watch.changed("members", true, t0 + seconds(4));
  watch.changed("members", false, t0 + seconds(6));
  watch.changed("members", false, t0 + seconds(7));  // normal again: nothing
  watch.read(episodes, spent, t0 + seconds(60));
  EXPECT_EQ(episodes, 2u);
  EXPECT_DOUBLE_EQ(spent, 7);
}

TEST(StallWatchTest, ListensToRocksDbsNotices) {
  StallWatch watch;
  using Condition = rocksdb::WriteStallCondition;
  watch.OnStallConditionsChanged(notice("events", Condition::kDelayed, Condition::kNormal));
  watch.OnStallConditionsChanged(notice("events", Condition::kStopped, Condition::kDelayed));
  watch.OnStallConditionsChanged(notice("events", Condition::kNormal, Condition::kStopped));
  uint64_t episodes = 0;
  double spent = -1;
  watch.read(episodes, spent);
  EXPECT_EQ(episodes, 1u);
  EXPECT_GE(spent, 0);
}

}  // namespace
}  // namespace loyalty::storage
