// Claims that span partitions while a batch is in flight: identifiers (phone, card, referral
// code) and idempotency keys. A member's own partition serialises its events, but two
// members in different partitions could race for the same phone number or reuse the same
// event id at the same moment; a claim makes the second one see the first before either is
// committed. Claims are released after the claiming batch commits (or fails).
// Thread-safety: all methods from any thread.
#pragma once

#include <array>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace loyalty {

class ClaimTable {
 public:
  // True when `key` is now (or already was) claimed by `owner`; false when another owner
  // holds it.
  bool claim(const std::string& key, std::string_view owner);
  void release(const std::string& key, std::string_view owner);

 private:
  struct Shard {
    std::mutex mutex;
    std::unordered_map<std::string, std::string> owners;
  };
  Shard& shard_for(const std::string& key);
  std::array<Shard, 64> shards_;
};

}  // namespace loyalty
