// Token buckets with lazy refill (no timer thread): a bucket is brought up to date when it is
// used. Buckets live in sharded maps so that requests of different callers rarely contend.
#include "api/rate_limiter.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <string>

#include "api/problem.hpp"

namespace loyalty::api {
namespace {

constexpr int64_t kMicro = 1'000'000;  // units of a token, and µs per second

int64_t steady_now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

size_t shard_of(std::string_view id, size_t shards) {
  return std::hash<std::string_view>{}(id) % shards;
}

// burst 0 means "one second's worth", and never less than one request.
int64_t effective_burst(uint32_t rps, uint32_t burst) {
  return std::max<int64_t>(1, burst == 0 ? rps : burst);
}

}  // namespace

TokenBucket::TokenBucket(int64_t rate_per_s, int64_t burst, int64_t now_us)
    : rate_per_s_(std::max<int64_t>(1, rate_per_s)),
      burst_micro_(std::max<int64_t>(1, burst) * kMicro),
      tokens_micro_(burst_micro_),
      refilled_at_us_(now_us),
      last_used_us_(now_us) {}

void TokenBucket::refill(int64_t now_us) {
  if (now_us <= refilled_at_us_) return;  // a clock that stands still (or a racing reader)
  const int64_t elapsed_us = now_us - refilled_at_us_;
  const int64_t missing_micro = burst_micro_ - tokens_micro_;
  // Compared by division first, so that a long idle time cannot overflow the product.
  if (elapsed_us >= (missing_micro + rate_per_s_ - 1) / rate_per_s_) {
    tokens_micro_ = burst_micro_;
  } else {
    tokens_micro_ += elapsed_us * rate_per_s_;
  }
  refilled_at_us_ = now_us;
}

int64_t TokenBucket::try_take(int64_t now_us) {
  refill(now_us);
  last_used_us_ = std::max(last_used_us_, now_us);
  if (tokens_micro_ >= kMicro) {
    tokens_micro_ -= kMicro;
    return 0;
  }
  return (kMicro - tokens_micro_ + rate_per_s_ - 1) / rate_per_s_;  // ≥ 1: tokens < 1
}

bool TokenBucket::full_at(int64_t now_us) const {
  const int64_t elapsed_us = std::max<int64_t>(0, now_us - refilled_at_us_);
  return elapsed_us >= (burst_micro_ - tokens_micro_ + rate_per_s_ - 1) / rate_per_s_;
}

RateLimiter::RateLimiter(const RateLimitsConfig& config, MonotonicClock clock)
    : config_(config), clock_(clock ? std::move(clock) : MonotonicClock(&steady_now_us)) {}

RateDecision RateLimiter::take_for_key(std::string_view key_name) {
  if (config_.per_key_rps == 0) return {};
  Shard& shard = key_shards_[shard_of(key_name, kShards)];
  // Keys are the configured ones, so this map cannot grow past their number.
  return take(shard, key_name, config_.per_key_rps,
              effective_burst(config_.per_key_rps, config_.per_key_burst),
              std::numeric_limits<size_t>::max());
}

RateDecision RateLimiter::take_for_member(std::string_view member_id) {
  if (config_.per_member_token_rps == 0) return {};
  Shard& shard = member_shards_[shard_of(member_id, kShards)];
  const size_t capacity = std::max<size_t>(1, config_.member_buckets_max / kShards);
  return take(shard, member_id, config_.per_member_token_rps,
              effective_burst(config_.per_member_token_rps, config_.per_member_token_burst),
              capacity);
}

RateDecision RateLimiter::take(Shard& shard, std::string_view id, int64_t rate_per_s, int64_t burst,
                               size_t capacity) {
  const int64_t now_us = clock_();
  std::lock_guard lock(shard.mutex);
  auto it = shard.buckets.find(std::string(id));
  if (it == shard.buckets.end()) {
    if (shard.buckets.size() >= capacity) {
      std::erase_if(shard.buckets,
                    [now_us](const auto& entry) { return entry.second.full_at(now_us); });
    }
    if (shard.buckets.size() >= capacity) {
      // Every bucket is in use: the least recently used caller starts afresh. Memory stays
      // bounded; the cost is one extra burst for that caller.
      const auto oldest = std::min_element(
          shard.buckets.begin(), shard.buckets.end(), [](const auto& a, const auto& b) {
            return a.second.last_used_us() < b.second.last_used_us();
          });
      shard.buckets.erase(oldest);
    }
    it = shard.buckets.emplace(std::string(id), TokenBucket(rate_per_s, burst, now_us)).first;
  }
  const int64_t wait_us = it->second.try_take(now_us);
  if (wait_us == 0) return {};
  const int64_t wait_s = (wait_us + 999'999) / 1'000'000;  // Retry-After: whole seconds, up
  return RateDecision{false, std::max<int64_t>(1, wait_s)};
}

RateDecision RateLimiter::take_for(const Principal& principal) {
  if (principal.member_scope) return take_for_member(*principal.member_scope);
  return take_for_key(principal.name);
}

HttpResponse rate_limited_response(int64_t retry_after_s) {
  HttpResponse response = problem_response(
      ErrorCode::rate_limited,
      "too many requests for this credential; retry after " + std::to_string(retry_after_s) + " s");
  response.set(http::field::retry_after, std::to_string(retry_after_s));
  return response;
}

size_t RateLimiter::member_bucket_count() const {
  size_t count = 0;
  for (const Shard& shard : member_shards_) {
    std::lock_guard lock(shard.mutex);
    count += shard.buckets.size();
  }
  return count;
}

}  // namespace loyalty::api
