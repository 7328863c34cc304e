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
#include <string_view>
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

// Changes to counters of consecutive numbered things under a name (a group's log entries),
// each change made to a whole range of them at once and summed as DeferredSums sums: every
// member's ack and every fan-out step change the references of a range of up to 64 entries.
// Kept as differences at the ranges' ends, so a change costs two entries whatever its
// length, and written as runs: write(name, lo, hi, sum) once for each run of consecutive
// numbers under one name whose sums are equal, one statement each. A batch's acks and steps
// change whole ranges alike, so the ~60 entries a commit of a fan-out to 1,000 members
// touches are a few runs.
class RangeSums {
 public:
  void add(std::string_view name, std::uint64_t lo, std::uint64_t hi, std::int64_t delta) {
    if (delta == 0 || hi < lo) return;
    step(name, lo, delta);
    step(name, hi + 1, -delta);
  }
  void keep() { journal_.clear(); }
  void take_back() {
    for (auto& [it, delta] : journal_) it->second -= delta;
    journal_.clear();
  }
  void forget() {
    journal_.clear();
    steps_.clear();
  }
  template <class Write>
  void flush(Write&& write) {
    journal_.clear();
    const std::string* name = nullptr;
    std::uint64_t from = 0;
    std::int64_t sum = 0;  // over this name's steps so far; back to 0 after its last
    for (const auto& [at, delta] : steps_) {
      if (delta == 0) continue;
      if (name == nullptr || at.first != *name) {
        name = &at.first;
        sum = 0;
      }
      if (sum != 0) write(std::as_const(*name), from, at.second - 1, sum);
      sum += delta;
      from = at.second;
    }
    steps_.clear();
  }

 private:
  using At = std::pair<std::string, std::uint64_t>;
  // Compares an At with a (string_view, number) too: a step's name is copied only when new.
  struct Before {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      const std::string_view an = a.first, bn = b.first;
      return an < bn || (an == bn && a.second < b.second);
    }
  };
  using Steps = std::map<At, std::int64_t, Before>;

  void step(std::string_view name, std::uint64_t at, std::int64_t delta) {
    const std::pair<std::string_view, std::uint64_t> key{name, at};
    auto it = steps_.lower_bound(key);
    if (it == steps_.end() || Before{}(key, it->first))
      it = steps_.emplace_hint(it, At{std::string(name), at}, 0);
    it->second += delta;
    journal_.emplace_back(it, delta);
  }

  Steps steps_;
  std::vector<std::pair<Steps::iterator, std::int64_t>> journal_;
};

}  // namespace parley::store
