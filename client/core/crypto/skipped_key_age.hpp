#pragma once
// How long a skipped message key (Double Ratchet or sender key) is kept. A message waits on a
// relay at most its retention (30 days by default) and is then deleted, so a key older than
// this can open nothing still on its way; kept, it would only let a later theft of the
// profile read the one message it was made for. The spec asks for such a bound ("delete
// skipped message keys after an appropriate time"); the count bound alone kept a key for good
// once no more messages arrived.
#include <chrono>
#include <cstdint>

namespace parley::crypto {

inline constexpr std::uint64_t kMaxSkippedKeyAgeMs =
    std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::days{45}).count();

// Wall-clock milliseconds since the epoch: when a key was skipped survives a restart.
inline std::uint64_t wall_clock_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// A key dated after `now_ms` (skipped while the clock ran ahead, or stored so) is not expired
// here; expire_skipped dates it `now_ms`, so it cannot outlive its age by a date far ahead.
inline bool skipped_key_expired(std::uint64_t skipped_ms, std::uint64_t now_ms) {
  return now_ms > skipped_ms && now_ms - skipped_ms > kMaxSkippedKeyAgeMs;
}

// Drops from `keys` (a deque or vector of skipped keys, each with `skipped_ms`) those expired
// at `now_ms`, and dates `now_ms` any dated later; true if anything changed.
template <class Keys>
bool expire_skipped_keys(Keys& keys, std::uint64_t now_ms) {
  bool redated = false;
  for (auto& k : keys) {
    if (k.skipped_ms > now_ms) {
      k.skipped_ms = now_ms;
      redated = true;
    }
  }
  const auto dropped = std::erase_if(
      keys, [now_ms](const auto& k) { return skipped_key_expired(k.skipped_ms, now_ms); });
  return dropped > 0 || redated;
}

}  // namespace parley::crypto
