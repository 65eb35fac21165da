// The members a partition's writer touched lately, so a busy member is not read back from
// storage for every event. Bounded by a member count (least recently used ones leave first),
// so memory stays bounded however many members are stored.
// Coherence: only the partition's writer changes its members, and it takes a member out of
// the cache while a batch works on it and puts it back only once that batch is committed; a
// batch that fails to commit leaves the member out, to be read again from storage.
// Thread-safety: none; one per partition writer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "engine/member_state.hpp"

namespace loyalty {

class MemberCache {
 public:
  explicit MemberCache(size_t capacity) : capacity_(capacity) {}
  MemberCache(const MemberCache&) = delete;
  MemberCache& operator=(const MemberCache&) = delete;

  // Removes the member and returns it; nullopt when not cached.
  std::optional<MemberState> take(const std::string& member_id);
  // Keeps the member as the most recently used, evicting the least recently used past
  // capacity. A capacity of 0 keeps nothing.
  void put(MemberState&& member);

  size_t size() const { return index_.size(); }
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  size_t capacity_;
  std::list<MemberState> recency_;  // most recently used first
  // Keys view the member_id inside recency_'s nodes, which never move.
  std::unordered_map<std::string_view, std::list<MemberState>::iterator> index_;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
};

}  // namespace loyalty
