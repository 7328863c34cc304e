#pragma once
// A Prometheus histogram of durations: fixed bucket bounds, relaxed atomic counts. Statistics
// only: observe() may race render(), which then shows a count one behind another.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace parley {

class Histogram {
 public:
  static constexpr std::size_t kMaxBuckets = 16;

  // Upper bounds in seconds, ascending, kept by reference: a static array's.
  template <std::size_t N>
  explicit Histogram(const std::array<double, N>& bounds) : bounds_(bounds) {
    static_assert(N <= kMaxBuckets);
  }

  void observe(double seconds) {
    std::size_t i = 0;
    while (i < bounds_.size() && seconds > bounds_[i]) ++i;
    counts_[i].fetch_add(1, std::memory_order_relaxed);
    micros_.fetch_add(static_cast<std::uint64_t>(seconds * 1e6), std::memory_order_relaxed);
  }

  // Appends the _bucket, _sum and _count series of `name`, with `labels` (`key="value"`
  // pairs, comma-separated, or empty) on each. HELP and TYPE are the caller's, once per name.
  void render(std::string& out, std::string_view name, std::string_view labels) const;

 private:
  std::span<const double> bounds_;
  std::array<std::atomic<std::uint64_t>, kMaxBuckets + 1> counts_{};
  std::atomic<std::uint64_t> micros_{0};
};

}  // namespace parley
