// Cluster mode's member search merges every partition's page (api/member_search.hpp): members in
// id order up to the limit, never past the smallest cursor of a partition that has more (what
// lies beyond it there was not looked at yet), so following the cursors skips no member.
#include "api/member_search.hpp"

#include <gtest/gtest.h>

namespace loyalty::api {
namespace {

PartitionPage page(std::vector<std::string> ids, std::optional<std::string> next) {
  PartitionPage out;
  for (std::string& id : ids) out.members.emplace_back(id, boost::json::value(id));
  out.next_cursor = std::move(next);
  return out;
}

std::vector<std::string> ids(const std::vector<boost::json::value>& views) {
  std::vector<std::string> out;
  for (const boost::json::value& view : views) out.emplace_back(view.as_string());
  return out;
}

TEST(MemberSearchMerge, StopsAtTheSmallestCursorOfAPartitionWithMore) {
  auto [views, next] =
      merge_partition_pages({page({"a", "d"}, "d"), page({"b", "e", "f"}, std::nullopt)}, 10);
  EXPECT_EQ(ids(views), (std::vector<std::string>{"a", "b", "d"}))
      << "e and f wait: the first partition was not looked at past d";
  EXPECT_EQ(next, "d");
}

TEST(MemberSearchMerge, CutsAtTheLimitAndEndsWhenNoPartitionHasMore) {
  auto [views, next] = merge_partition_pages(
      {page({"a", "c"}, std::nullopt), page({"b", "d"}, std::nullopt), page({}, {})}, 3);
  EXPECT_EQ(ids(views), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(next, "c");
  auto [all, end] =
      merge_partition_pages({page({"a", "c"}, std::nullopt), page({"b"}, std::nullopt)}, 3);
  EXPECT_EQ(ids(all), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(end, std::nullopt);
}

TEST(MemberSearchMerge, APartitionThatLookedAtNothingStillHoldsTheOthersBack) {
  // A partition whose page examined its budget without a match answers no member but a cursor.
  auto [views, next] = merge_partition_pages({page({}, "m"), page({"a", "x"}, std::nullopt)}, 5);
  EXPECT_EQ(ids(views), (std::vector<std::string>{"a"}));
  EXPECT_EQ(next, "m");
}

}  // namespace
}  // namespace loyalty::api
