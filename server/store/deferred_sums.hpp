#pragma once
// Changes to counters kept in the database, summed in memory over a transaction and written
// once at its commit: many jobs of a batch change the same few counters (every member's ack
// the same log entries' references, every fan-out step the same sender's weight), so each is
// written once per batch instead of once per job. The journal holds what the running job
// added, so a job rolled back to its savepoint takes back only its own changes; a whole
// batch rolled back forgets them all.
#include <cassert>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace parley::store {

template <class Key, class Delta = std::int64_t, class Less = std::less<Key>>
class DeferredSums {
 public:
  // `key` is a Key, or with a transparent Less anything it compares with a Key and a Key
  // can be made from (copied only when new).
  template <class K = Key>
  void add(const K& key, const Delta& delta) {
    if (delta == Delta{}) return;
    auto it = sums_.lower_bound(key);
    if (it == sums_.end() || sums_.key_comp()(key, it->first))
      it = sums_.emplace_hint(it, Key(key), Delta{});
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
  using Sums = std::map<Key, Delta, Less>;
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
    assert(hi < std::numeric_limits<std::uint64_t>::max());  // hi + 1 below is its end
    if (delta == 0 || hi < lo) return;
    steps_.add(Probe{name, lo}, delta);
    steps_.add(Probe{name, hi + 1}, -delta);
  }
  void keep() { steps_.keep(); }
  void take_back() { steps_.take_back(); }
  void forget() { steps_.forget(); }
  template <class Write>
  void flush(Write&& write) {
    const std::string* name = nullptr;  // the map's own key: flush hands keys by reference
    std::uint64_t from = 0;
    std::int64_t sum = 0;  // over this name's steps so far; back to 0 after its last
    steps_.flush([&](const At& at, std::int64_t delta) {
      if (name == nullptr || at.first != *name) {
        name = &at.first;
        sum = 0;
      }
      if (sum != 0) write(std::as_const(*name), from, at.second - 1, sum);
      sum += delta;
      from = at.second;
    });
  }

 private:
  using At = std::pair<std::string, std::uint64_t>;
  using Probe = std::pair<std::string_view, std::uint64_t>;
  struct Before {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      const std::string_view an = a.first, bn = b.first;
      return an < bn || (an == bn && a.second < b.second);
    }
  };
  DeferredSums<At, std::int64_t, Before> steps_;
};

}  // namespace parley::store
