#pragma once
// A token bucket per key, shared by every session: a group's sends (all its members
// together), a user's one-time prekeys handed out (to all fetchers together), the accounts
// registered and the connections opened from one address or network. Any thread (one
// mutex). Buckets that have refilled completely are forgotten once the map grows past a
// bound, so memory follows the keys in use right now.
#include <algorithm>
#include <chrono>
#include <mutex>
#include <unordered_map>

#include "session/rate_limiter.hpp"

namespace parley {

template <class Key, class Hash = std::hash<Key>>
class KeyedRateLimiter {
 public:
  KeyedRateLimiter(double rate, double burst) : rate_(rate), burst_(burst) {}

  bool take(const Key& key, std::chrono::milliseconds* retry_after) {
    const auto now = RateLimiter::Clock::now();
    std::lock_guard lock(mutex_);
    if (buckets_.size() >= prune_at_) {
      prune(now);
      // Amortized: when most keys are still in use, the next pass waits for as many again.
      prune_at_ = std::max(kPruneAt, 2 * buckets_.size());
    }
    auto it = buckets_.try_emplace(key, rate_, burst_).first;
    it->second.last_used = now;
    return it->second.bucket.take(now, retry_after);
  }
  // See RateLimiter::give_back. A bucket forgotten meanwhile was full.
  void give_back(const Key& key) {
    std::lock_guard lock(mutex_);
    if (auto it = buckets_.find(key); it != buckets_.end()) it->second.bucket.give_back();
  }

 private:
  static constexpr std::size_t kPruneAt = 65536;
  struct Entry {
    Entry(double rate, double burst) : bucket(rate, burst) {}
    RateLimiter bucket;
    RateLimiter::Clock::time_point last_used;
  };
  // A bucket idle for burst/rate seconds is full again: forgetting it changes nothing.
  void prune(RateLimiter::Clock::time_point now) {
    const auto full_after = std::chrono::duration<double>(burst_ / rate_);
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      if (now - it->second.last_used > full_after)
        it = buckets_.erase(it);
      else
        ++it;
    }
  }

  const double rate_;
  const double burst_;
  std::mutex mutex_;
  std::unordered_map<Key, Entry, Hash> buckets_;
  std::size_t prune_at_ = kPruneAt;
};

}  // namespace parley
