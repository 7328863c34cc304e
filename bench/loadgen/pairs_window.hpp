#pragma once
// How a pairs run is measured, shared by parley-loadgen and parley-mqtt-anchor so that the
// two tables mean the same thing. Every message carries, in its first 8 bytes, the time it
// was due (steady clock, ns). After the warm-up a window of `duration` opens: a delivery
// that arrives inside it counts toward the rate, and one that was due inside it has its
// latency (arrival - due time) recorded.
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>

#include "histogram.hpp"

namespace parley::loadgen {

class PairsWindow {
 public:
  using Clock = std::chrono::steady_clock;

  void open(Clock::time_point start, double warmup_seconds, double duration_seconds) {
    from_ = start + std::chrono::duration_cast<Clock::duration>(
                        std::chrono::duration<double>(warmup_seconds));
    to_ = from_ + std::chrono::duration_cast<Clock::duration>(
                      std::chrono::duration<double>(duration_seconds));
  }
  Clock::time_point opens() const { return from_; }
  Clock::time_point closes() const { return to_; }

  // Writes `due` into the payload's first 8 bytes (at least 8 long).
  static void stamp(std::string& payload, Clock::time_point due) {
    const std::int64_t ns = due.time_since_epoch().count();
    std::memcpy(payload.data(), &ns, sizeof ns);
  }
  // `payload` holds at least 8 bytes, the stamp first.
  void delivered(const char* payload, Clock::time_point now) {
    std::int64_t ns = 0;
    std::memcpy(&ns, payload, sizeof ns);
    const Clock::time_point due{Clock::duration(ns)};
    ++delivered_;
    if (now >= from_ && now < to_) ++delivered_in_window_;
    if (due >= from_ && due < to_)
      latency_.record(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(now - due).count()));
  }

  std::uint64_t delivered_total() const { return delivered_; }
  std::uint64_t delivered_in_window() const { return delivered_in_window_; }
  const Histogram& latency() const { return latency_; }

 private:
  Clock::time_point from_, to_;
  std::uint64_t delivered_ = 0, delivered_in_window_ = 0;
  Histogram latency_;
};

}  // namespace parley::loadgen
