#pragma once
// Latency histogram with fixed log-spaced buckets (about 3 % wide), so histograms from
// several worker processes merge exactly by adding counts; percentiles are read from the
// merged counts, never averaged.
#include <array>
#include <bit>
#include <cstdint>

namespace parley::loadgen {

class Histogram {
 public:
  // Values are microseconds. Below 64 each value has its own bucket; above, each power of
  // two is split into 32 buckets. 2^40 us (12 days) is far beyond anything measured.
  static constexpr std::size_t kLinear = 64;
  static constexpr std::size_t kSubBuckets = 32;
  static constexpr std::size_t kBuckets = kLinear + 35 * kSubBuckets;

  static std::size_t index_of(std::uint64_t us) {
    if (us < kLinear) return static_cast<std::size_t>(us);
    const int msb = 63 - std::countl_zero(us);  // >= 6
    const int shift = msb - 5;                  // keep 6 significant bits: 32..63
    const auto mantissa = static_cast<std::size_t>(us >> shift) - kSubBuckets;
    const auto i = kLinear + static_cast<std::size_t>(shift - 1) * kSubBuckets + mantissa;
    return i < kBuckets ? i : kBuckets - 1;
  }
  // The upper edge of a bucket: a reported percentile never understates the latency.
  static std::uint64_t upper_of(std::size_t i) {
    if (i < kLinear) return i;
    const auto shift = (i - kLinear) / kSubBuckets + 1;
    const auto mantissa = (i - kLinear) % kSubBuckets + kSubBuckets;
    return ((mantissa + 1) << shift) - 1;
  }

  void record(std::uint64_t us) {
    ++counts_[index_of(us)];
    ++total_;
  }
  void add(std::size_t bucket, std::uint64_t count) {
    if (bucket >= kBuckets) return;
    counts_[bucket] += count;
    total_ += count;
  }
  std::uint64_t total() const { return total_; }
  std::uint64_t count(std::size_t bucket) const { return counts_[bucket]; }

  // The smallest recorded bucket edge at or above fraction q of the values (q in 0..1).
  std::uint64_t percentile(double q) const {
    if (total_ == 0) return 0;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_));
    if (rank >= total_) rank = total_ - 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen > rank) return upper_of(i);
    }
    return upper_of(kBuckets - 1);
  }

 private:
  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t total_ = 0;
};

}  // namespace parley::loadgen
