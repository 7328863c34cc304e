#pragma once
#include <chrono>
#include <cstdint>

namespace parley {

inline std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// Milliseconds on the steady clock since its epoch: for intervals kept as plain numbers
// (an atomic, or 32 bits where a connection has only padding to spare).
inline std::int64_t steady_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A duration (hours, minutes, ...) as the milliseconds the store's timestamps count.
inline std::uint64_t count_ms(std::chrono::milliseconds d) {
  return static_cast<std::uint64_t>(d.count());
}

// Seconds from `start` to now, for the latency histograms.
inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace parley
