#pragma once
// The open-loop schedule shared by parley-loadgen's pairs and parley-mqtt-anchor, so both
// offer load the same way: each pair sends every `interval`, the pairs' schedules staggered
// over one interval, and a send that comes due while kOpenLoopCap of the pair's messages are
// still in flight is skipped and counted (an overloaded server shows as skipped sends, not as
// an unbounded queue in the client). A message is stamped with the time it was due, not the
// time it left, so a late tick counts against the latency.
#include <chrono>
#include <cstdint>

namespace parley::loadgen {

constexpr std::uint64_t kOpenLoopCap = 1000;  // in flight per pair before sends are skipped

// The interval between one pair's sends when `pairs` pairs offer `rate` msgs/s together.
inline std::chrono::nanoseconds per_pair_interval(double pairs, double rate) {
  return std::chrono::nanoseconds(static_cast<std::int64_t>(1e9 * pairs / rate));
}

// Pairs: a range of objects with `next_due` (a steady_clock time_point) and `in_flight`.
template <class Pairs>
void stagger_schedules(Pairs& pairs, std::chrono::steady_clock::time_point start,
                       std::chrono::nanoseconds interval) {
  const auto n = static_cast<std::int64_t>(pairs.size());
  std::int64_t i = 0;
  for (auto& p : pairs) p.next_due = start + interval * i++ / n;
}

// Sends whatever came due by `now`: send(pair, due_time).
template <class Pairs, class Send>
void send_due(Pairs& pairs, std::chrono::steady_clock::time_point now,
              std::chrono::nanoseconds interval, Send&& send, std::uint64_t& skipped) {
  for (auto& p : pairs) {
    while (p.next_due <= now) {
      if (p.in_flight < kOpenLoopCap) send(p, p.next_due);
      else ++skipped;
      p.next_due += interval;
    }
  }
}

}  // namespace parley::loadgen
