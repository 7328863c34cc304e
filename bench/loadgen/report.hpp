#pragma once
// The line protocol between a worker (stdout) and the parent:
//   @barrier NAME        the worker waits for "go" on its stdin
//   @count KEY N         summed over workers
//   @max KEY N           maximum over workers
//   @hist KEY BUCKET N   histogram buckets, summed
//   @error TEXT          a failure; the run is reported as failed
#include <cstdint>
#include <cstdio>
#include <string_view>

#include "histogram.hpp"

namespace parley::loadgen::report {

inline void barrier(std::string_view name) {
  std::printf("@barrier %.*s\n", static_cast<int>(name.size()), name.data());
  std::fflush(stdout);
}
inline void count(std::string_view key, std::uint64_t n) {
  std::printf("@count %.*s %llu\n", static_cast<int>(key.size()), key.data(),
              static_cast<unsigned long long>(n));
}
inline void max(std::string_view key, std::uint64_t n) {
  std::printf("@max %.*s %llu\n", static_cast<int>(key.size()), key.data(),
              static_cast<unsigned long long>(n));
}
inline void histogram(std::string_view key, const Histogram& h) {
  for (std::size_t i = 0; i < Histogram::kBuckets; ++i)
    if (h.count(i))
      std::printf("@hist %.*s %zu %llu\n", static_cast<int>(key.size()), key.data(), i,
                  static_cast<unsigned long long>(h.count(i)));
}
inline void error(std::string_view text) {
  std::printf("@error %.*s\n", static_cast<int>(text.size()), text.data());
  std::fflush(stdout);
}

}  // namespace parley::loadgen::report
