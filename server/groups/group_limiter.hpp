#pragma once
// Per-group send rate limit: one token bucket per group id, shared by all members' sessions.
#include <string>

#include "session/keyed_rate_limiter.hpp"

namespace parley::groups {

class GroupLimiter : public KeyedRateLimiter<std::string> {
 public:
  using KeyedRateLimiter::KeyedRateLimiter;
};

}  // namespace parley::groups
