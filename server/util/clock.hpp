#pragma once
#include <chrono>
#include <cstdint>

namespace parley {

inline std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// A duration (hours, minutes, ...) as the milliseconds the store's timestamps count.
inline std::uint64_t count_ms(std::chrono::milliseconds d) {
  return static_cast<std::uint64_t>(d.count());
}

}  // namespace parley
