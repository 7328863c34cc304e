#pragma once
// A token bucket: `rate` tokens a second up to `burst`. One per connection, used on its
// strand only.
#include <algorithm>
#include <chrono>

namespace parley {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  RateLimiter(double rate, double burst) : rate_(rate), burst_(burst), tokens_(burst) {}

  // Takes one token; false (and how long until one is free) when there is none.
  bool take(Clock::time_point now, std::chrono::milliseconds* retry_after) {
    refill(now);
    if (tokens_ >= 1.0) {
      tokens_ -= 1.0;
      return true;
    }
    if (retry_after)
      *retry_after = std::chrono::milliseconds(static_cast<long>((1.0 - tokens_) / rate_ * 1000) + 1);
    return false;
  }
  // A token taken for something that then did not happen comes back (never past the burst).
  void give_back() { tokens_ = std::min(burst_, tokens_ + 1.0); }

 private:
  // A time before the last refill (read before this bucket was made, or by another thread
  // first) refills nothing: taken as negative, it would take tokens away.
  void refill(Clock::time_point now) {
    if (now <= last_) return;
    const double elapsed = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
  }

  double rate_;
  double burst_;
  double tokens_;
  Clock::time_point last_ = Clock::now();
};

}  // namespace parley
