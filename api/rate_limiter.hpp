// Rate limiting (api.md "Errors": 429 rate_limited with Retry-After): a token bucket per API
// key and one per member (member tokens), sized by server.toml [rate_limits].
// Thread-safety: TokenBucket is a plain value (no locking); RateLimiter is safe to call from
// any thread (sharded mutexes).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "api/auth.hpp"
#include "api/http_message.hpp"
#include "api/server_config.hpp"

namespace loyalty::api {

// `rate_per_s` tokens per second, at most `burst` held; a request takes one. A new bucket is
// full. Time is microseconds on a monotonic clock, passed in by the caller. Tokens are counted
// in millionths, so that refill is exact integer arithmetic (elapsed µs × rate): no rounding
// drift. `rate_per_s` and `burst` are at least 1.
class TokenBucket {
 public:
  TokenBucket(int64_t rate_per_s, int64_t burst, int64_t now_us);

  // 0 when a token was taken; otherwise the microseconds until one will be there (nothing is
  // taken then).
  int64_t try_take(int64_t now_us);

  // Whether the bucket is full at `now_us`: then forgetting it loses nothing (a new bucket is
  // full too), which is what lets idle buckets be evicted.
  bool full_at(int64_t now_us) const;

  int64_t last_used_us() const { return last_used_us_; }

 private:
  void refill(int64_t now_us);

  int64_t rate_per_s_;
  int64_t burst_micro_;   // burst × 10^6
  int64_t tokens_micro_;  // tokens × 10^6
  int64_t refilled_at_us_;
  int64_t last_used_us_;
};

// The answer to one request: allowed, or refused with the whole seconds to wait (at least 1).
struct RateDecision {
  bool allowed = true;
  int64_t retry_after_s = 0;
};

class RateLimiter {
 public:
  // Monotonic microseconds; steady_clock when not given.
  using MonotonicClock = std::function<int64_t()>;

  explicit RateLimiter(const RateLimitsConfig& config, MonotonicClock clock = {});
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // A request by the API key named `key_name` (the configured name, unique per key).
  RateDecision take_for_key(std::string_view key_name);
  // A request made with a member token for `member_id`: every token of one member shares a
  // bucket, so minting new tokens does not buy more requests.
  RateDecision take_for_member(std::string_view member_id);

  // The bucket `principal` draws from: its member's for a member token, its key's otherwise.
  RateDecision take_for(const Principal& principal);

  // Member buckets held now (for tests).
  size_t member_bucket_count() const;

 private:
  static constexpr size_t kShards = 16;

  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, TokenBucket> buckets;
  };

  // `capacity` is the most buckets the shard may hold; when a new one does not fit, the full
  // (idle) ones are dropped, and if none is, the least recently used one.
  RateDecision take(Shard& shard, std::string_view id, int64_t rate_per_s, int64_t burst,
                    size_t capacity);

  RateLimitsConfig config_;
  MonotonicClock clock_;
  std::array<Shard, kShards> key_shards_;
  std::array<Shard, kShards> member_shards_;
};

// 429 rate_limited with `Retry-After: <retry_after_s>`.
HttpResponse rate_limited_response(int64_t retry_after_s);

}  // namespace loyalty::api
