// The members a partition's writer touched lately, so a busy member is not read back from
// storage for every event. Bounded by a member count and by the bytes its members take (a
// busy member holds one lot per unspent purchase, so members grow), least recently used ones
// leave first: memory stays bounded however many members are stored and however busy.
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

// The heap a member takes, roughly: the struct, its lots (each with a typical reference),
// holds, activity months, referral rewards and the strings too long to live inside their
// std::string. Constant time in the number of lots.
size_t approximate_bytes(const MemberState& member);

class MemberCache {
 public:
  // 0 for either limit keeps nothing.
  explicit MemberCache(size_t capacity, size_t byte_capacity = SIZE_MAX)
      : capacity_(capacity), byte_capacity_(byte_capacity) {}
  MemberCache(const MemberCache&) = delete;
  MemberCache& operator=(const MemberCache&) = delete;

  // Removes the member and returns it; nullopt when not cached.
  std::optional<MemberState> take(const std::string& member_id);
  // Keeps the member as the most recently used, evicting the least recently used while past
  // either limit (the member itself too, when it alone is larger than byte_capacity).
  void put(MemberState&& member);

  size_t size() const { return index_.size(); }
  size_t bytes() const { return bytes_; }  // approximate_bytes() of the members held
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  struct Entry {
    MemberState member;
    size_t bytes = 0;
  };
  void evict_oldest();

  size_t capacity_;
  size_t byte_capacity_;
  size_t bytes_ = 0;
  std::list<Entry> recency_;  // most recently used first
  // Keys view the member_id inside recency_'s nodes, which never move.
  std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
};

}  // namespace loyalty
