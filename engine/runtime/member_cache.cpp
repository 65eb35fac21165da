#include "engine/runtime/member_cache.hpp"

#include "engine/check.hpp"

namespace loyalty {
namespace {

// What a lot's reference (an event id, up to 128 characters, usually 10-40) is counted as: a
// busy member has thousands of lots, and put() runs for every member of every batch, so the
// lots are counted by their number, not visited.
constexpr size_t kLotReferenceBytes = 40;

size_t heap_bytes(const std::string& text) {
  return text.capacity() > std::string().capacity() ? text.capacity() + 1 : 0;
}

}  // namespace

size_t approximate_bytes(const MemberState& member) {
  size_t bytes = sizeof(MemberState);
  for (const std::string* text :
       {&member.member_id, &member.phone, &member.card_no, &member.profile_json,
        &member.referral_code, &member.referred_by, &member.referee_reward_trigger}) {
    bytes += heap_bytes(*text);
  }
  bytes += member.lots.capacity() * (sizeof(Lot) + kLotReferenceBytes);
  for (const Hold& hold : member.holds) {
    bytes += sizeof(Hold) + heap_bytes(hold.hold_id) + hold.takes.capacity() * sizeof(LotTake);
  }
  bytes += member.activity.capacity() * sizeof(MonthActivity);
  bytes += member.referral_rewards.capacity() * sizeof(ReferralReward);
  return bytes;
}

std::optional<MemberState> MemberCache::take(const std::string& member_id) {
  const auto found = index_.find(member_id);
  if (found == index_.end()) {
    ++misses_;
    return std::nullopt;
  }
  ++hits_;
  const auto node = found->second;
  index_.erase(found);  // before the move empties the key it views
  bytes_ -= node->bytes;
  std::optional<MemberState> member(std::move(node->member));
  recency_.erase(node);
  return member;
}

void MemberCache::put(MemberState&& member) {
  if (capacity_ == 0 || byte_capacity_ == 0) return;
  LOYALTY_CHECK(!index_.contains(member.member_id));  // taken before the batch changed it
  const size_t member_bytes = approximate_bytes(member);
  recency_.push_front({std::move(member), member_bytes});
  index_.emplace(recency_.front().member.member_id, recency_.begin());
  bytes_ += member_bytes;
  while (!recency_.empty() && (index_.size() > capacity_ || bytes_ > byte_capacity_)) {
    evict_oldest();
  }
}

void MemberCache::evict_oldest() {
  const Entry& oldest = recency_.back();
  index_.erase(oldest.member.member_id);
  bytes_ -= oldest.bytes;
  recency_.pop_back();
}

}  // namespace loyalty
