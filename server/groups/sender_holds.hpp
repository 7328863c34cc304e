#pragma once
// Keeps a sender's messages to a group in order when one of them is refused for a while (the
// group's rate, or the sender's entries not yet fanned out). A client sends its queue without
// waiting for each answer, so requests behind the refused one are already on their way; were
// one of them taken a moment later, it would be logged ahead of the refused one, which the
// client offers again only after the wait. So the sender is held for that group for
// kHoldFor: whatever it had sent behind the refused request is refused too, and the client
// offers them all again, in order, after at least a second (Messenger clamps every wait to
// one). kHoldFor is no longer than that, so a sender is never held past its own retry.
//
// Store thread only: read and written by the group requests' store jobs, whose order is the
// order the relay takes them in. Holds that have run out are forgotten once the map grows
// past a bound, so memory follows the senders held right now. A hold follows the
// transaction of the job that placed it (store/transaction_memory.hpp): when that is rolled
// back and its jobs run again, a job that passed before is not refused for a hold placed
// after it, nor the refused one for its own hold, which would change its answer.
#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "store/records.hpp"
#include "store/transaction_memory.hpp"

namespace parley::groups {

class SenderHolds final : public store::TransactionMemory {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kHoldFor{1000};

  // `sender` was refused a request to `group_id` at `now`.
  void hold(store::DevicePk sender, const std::string& group_id, Clock::time_point now) {
    if (holds_.size() >= prune_at_) {
      std::erase_if(holds_, [&](const auto& h) { return h.second <= now; });
      prune_at_ = std::max(kPruneAt, 2 * holds_.size());
    }
    const auto [it, placed] = holds_.try_emplace(Key{sender, group_id}, now + kHoldFor);
    journal_.push_back({it->first, placed ? std::nullopt : std::optional(it->second)});
    it->second = now + kHoldFor;
  }

  void committed() override { journal_.clear(); }
  void rolled_back() override {
    for (auto change = journal_.rbegin(); change != journal_.rend(); ++change) {
      if (change->was) holds_[change->key] = *change->was;
      else holds_.erase(change->key);
    }
    journal_.clear();
  }

  // How much longer `sender`'s requests to `group_id` wait (0: they go).
  std::chrono::milliseconds held_for(store::DevicePk sender, const std::string& group_id,
                                     Clock::time_point now) const {
    const auto it = holds_.find({sender, group_id});
    if (it == holds_.end() || it->second <= now) return std::chrono::milliseconds{0};
    return std::chrono::ceil<std::chrono::milliseconds>(it->second - now);
  }

 private:
  using Key = std::pair<store::DevicePk, std::string>;
  struct KeyHash {
    std::size_t operator()(const Key& k) const {
      return std::hash<std::string>{}(k.second) ^ (std::hash<store::DevicePk>{}(k.first) * 0x9e3779b97f4a7c15ULL);
    }
  };
  static constexpr std::size_t kPruneAt = 65536;
  std::unordered_map<Key, Clock::time_point, KeyHash> holds_;
  struct Change {
    Key key;
    std::optional<Clock::time_point> was;  // none: the hold was placed, not moved
  };
  std::vector<Change> journal_;  // this transaction's holds, oldest first
  std::size_t prune_at_ = kPruneAt;
};

}  // namespace parley::groups
