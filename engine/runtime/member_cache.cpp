#include "engine/runtime/member_cache.hpp"

#include "engine/check.hpp"

namespace loyalty {

std::optional<MemberState> MemberCache::take(const std::string& member_id) {
  const auto found = index_.find(member_id);
  if (found == index_.end()) {
    ++misses_;
    return std::nullopt;
  }
  ++hits_;
  const auto node = found->second;
  index_.erase(found);  // before the move empties the key it views
  std::optional<MemberState> member(std::move(*node));
  recency_.erase(node);
  return member;
}

void MemberCache::put(MemberState&& member) {
  if (capacity_ == 0) return;
  LOYALTY_CHECK(!index_.contains(member.member_id));  // taken before the batch changed it
  recency_.push_front(std::move(member));
  index_.emplace(recency_.front().member_id, recency_.begin());
  if (index_.size() > capacity_) {
    index_.erase(recency_.back().member_id);
    recency_.pop_back();
  }
}

}  // namespace loyalty
