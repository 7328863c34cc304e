#pragma once
// Changes to counters kept in the database, summed in memory over a transaction and written
// once at its commit: many jobs of a batch change the same few counters (every member's ack
// the same log entries' references, every fan-out step the same sender's weight), so each is
// written once per batch instead of once per job. The journal holds what the running job
// added, so a job rolled back to its savepoint takes back only its own changes; a whole
// batch rolled back forgets them all.
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace parley::store {

template <class Key, class Delta = std::int64_t>
class DeferredSums {
 public:
  void add(const Key& key, const Delta& delta) {
    if (delta == Delta{}) return;
    auto it = sums_.try_emplace(key).first;
    it->second += delta;
    journal_.emplace_back(it, delta);
  }
  // What is summed for `key` and not yet written.
  Delta unwritten(const Key& key) const {
    const auto it = sums_.find(key);
    return it == sums_.end() ? Delta{} : it->second;
  }
  // What is summed for the keys from `lo` to `hi` (both included) and not yet written.
  Delta unwritten_between(const Key& lo, const Key& hi) const {
    Delta sum{};
    for (auto it = sums_.lower_bound(lo); it != sums_.end() && !(hi < it->first); ++it)
      sum += it->second;
    return sum;
  }
  // The running job's changes stay (its savepoint was released, or a new one begins).
  void keep() { journal_.clear(); }
  // The running job was rolled back to its savepoint.
  void take_back() {
    for (auto& [it, delta] : journal_) it->second -= delta;
    journal_.clear();
  }
  // The whole transaction was rolled back.
  void forget() {
    journal_.clear();
    sums_.clear();
  }
  // Calls write(key, sum) for every sum that is not zero, in key order, and starts afresh.
  template <class Write>
  void flush(Write&& write) {
    journal_.clear();
    for (const auto& [key, sum] : sums_)
      if (!(sum == Delta{})) write(key, sum);
    sums_.clear();
  }

 private:
  using Sums = std::map<Key, Delta>;
  Sums sums_;
  std::vector<std::pair<typename Sums::iterator, Delta>> journal_;
};

// Sums keyed by (name, number), e.g. a group's log entries, flushed as runs: write(name, lo,
// hi, sum) once for each run of consecutive numbers under one name whose sums are equal. A
// batch's acks and fan-out steps change whole ranges of entries alike, so the ~60 entries a
// commit of a fan-out to 1,000 members touches are a few runs, each one statement.
template <class Write>
void flush_runs(DeferredSums<std::pair<std::string, std::uint64_t>>& sums, Write&& write) {
  std::string name;
  std::uint64_t lo = 0, hi = 0;
  std::int64_t run_sum = 0;  // 0: no run yet (a zero sum is never flushed)
  sums.flush([&](const std::pair<std::string, std::uint64_t>& key, std::int64_t sum) {
    if (sum == run_sum && key.second == hi + 1 && key.first == name) {
      hi = key.second;
      return;
    }
    if (run_sum != 0) write(std::as_const(name), lo, hi, run_sum);
    name = key.first;
    lo = hi = key.second;
    run_sum = sum;
  });
  if (run_sum != 0) write(std::as_const(name), lo, hi, run_sum);
}

}  // namespace parley::store
