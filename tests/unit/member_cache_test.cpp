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

TEST(MemberCache, CapacityZeroKeepsNothing) {
  MemberCache cache(0);
  cache.put(member("m1", 1));
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(cache.take("m1"));
}

}  // namespace
}  // namespace loyalty
