// The writers' member cache: bounded, least recently used leave first, take() removes.
#include "engine/runtime/member_cache.hpp"

#include <gtest/gtest.h>

namespace loyalty {
namespace {

MemberState member(const std::string& id, Points available) {
  MemberState state;
  state.member_id = id;
  state.balance.available = available;
  return state;
}

TEST(MemberCache, TakeReturnsWhatWasPutAndRemovesIt) {
  MemberCache cache(4);
  cache.put(member("m1", 10));
  std::optional<MemberState> taken = cache.take("m1");
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->balance.available, 10);
  EXPECT_FALSE(cache.take("m1")) << "a taken member is out until put back";
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.misses(), 1u);
}

TEST(MemberCache, TheLeastRecentlyUsedLeavesPastCapacity) {
  MemberCache cache(2);
  cache.put(member("m1", 1));
  cache.put(member("m2", 2));
  cache.put(cache.take("m1").value());  // m1 used again: m2 is now the oldest
  cache.put(member("m3", 3));
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_FALSE(cache.take("m2"));
  EXPECT_TRUE(cache.take("m1"));
  EXPECT_TRUE(cache.take("m3"));
}

Lot lot(uint64_t id) {
  Lot made;
  made.lot_id = id;
  made.reference = "an-event-id-longer-than-the-small-string-buffer-" + std::to_string(id);
  made.points_initial = made.points_remaining = 10;
  return made;
}

// A busy member grows by a lot per purchase: the byte budget evicts by size, not only by count.
TEST(MemberCache, MembersLeaveWhenTheyTakeMoreThanTheByteBudget) {
  MemberState busy = member("busy", 10'000);
  for (uint64_t id = 1; id <= 1000; ++id) busy.lots.push_back(lot(id));
  const size_t busy_bytes = approximate_bytes(busy);
  EXPECT_GT(busy_bytes, 1000 * sizeof(Lot)) << "lots and their references are counted";
  const size_t small_bytes = approximate_bytes(member("m1", 1));
  EXPECT_LT(small_bytes, 1024u);

  MemberCache cache(100, busy_bytes + 2 * small_bytes);
  cache.put(member("m1", 1));
  cache.put(member("m2", 2));
  EXPECT_EQ(cache.bytes(), 2 * small_bytes);
  cache.put(std::move(busy));  // fits with m1 and m2 only just; m3 then pushes m1 out
  cache.put(member("m3", 3));
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_LE(cache.bytes(), busy_bytes + 2 * small_bytes);
  EXPECT_FALSE(cache.take("m1")) << "the least recently used left to make room";
  EXPECT_TRUE(cache.take("busy"));
  EXPECT_EQ(cache.bytes(), 2 * small_bytes) << "what was taken is no longer counted";

  MemberCache tiny(100, small_bytes);
  MemberState big = member("big", 1);
  big.lots.push_back(lot(1));
  tiny.put(std::move(big));
  EXPECT_EQ(tiny.size(), 0u) << "a member larger than the whole budget is not kept";
  EXPECT_EQ(tiny.bytes(), 0u);
}

TEST(MemberCache, CapacityZeroKeepsNothing) {
  MemberCache cache(0);
  cache.put(member("m1", 1));
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(cache.take("m1"));
}

}  // namespace
}  // namespace loyalty
