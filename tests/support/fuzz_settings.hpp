#pragma once
// What every fuzz test reads from its environment. A fixed seed by default, so a CI run
// meets the same sequence each time and a failure replays; PARLEY_FUZZ_SEED and the test's
// own counts (PARLEY_FUZZ_FRAMES, ...) explore others and longer ones.
#include <cstdint>
#include <cstdlib>

namespace parley::test {

inline constexpr std::uint64_t kDefaultFuzzSeed = 20261207;

// The number in environment variable `name`, or `fallback` when it is unset or empty.
inline std::uint64_t fuzzSetting(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

inline std::uint64_t fuzzSeed() { return fuzzSetting("PARLEY_FUZZ_SEED", kDefaultFuzzSeed); }

}  // namespace parley::test
