#include "store/inbox_weights.hpp"

namespace parley::store {

namespace {

// A weight never goes below zero: a row's bytes leaving a weight that was summed without it
// (the table and the cache disagreeing) must not wrap it round to "full".
std::uint64_t moved(std::uint64_t value, std::int64_t delta) {
  const auto next = static_cast<std::int64_t>(value) + delta;
  return next > 0 ? static_cast<std::uint64_t>(next) : 0;
}

}  // namespace

const InboxWeights::Weight& InboxWeights::add_summed(DevicePk device, Weight weight) {
  senders_ += weight.by_sender.size();
  journal_.push_back({device, true, {}, 0, 0});
  return devices_.insert_or_assign(device, std::move(weight)).first->second;
}

void InboxWeights::adjust(DevicePk device, std::string_view sender, std::int64_t delta) {
  auto it = devices_.find(device);
  if (it == devices_.end()) return;
  auto& weight = it->second;
  journal_.push_back({device, false, std::string(sender), weight.total, weight.from(sender)});
  weight.total = moved(weight.total, delta);
  if (sender.empty()) return;
  auto from = weight.by_sender.find(sender);
  if (from == weight.by_sender.end()) {
    if (delta <= 0) return;
    weight.by_sender.emplace(std::string(sender), static_cast<std::uint64_t>(delta));
    ++senders_;
    return;
  }
  from->second = moved(from->second, delta);
  if (from->second == 0) {
    // A sender whose rows have all gone leaves nothing behind: a device that once heard from
    // many people keeps only those still waiting.
    weight.by_sender.erase(from);
    --senders_;
  }
}

void InboxWeights::take_back() {
  for (auto change = journal_.rbegin(); change != journal_.rend(); ++change) {
    auto it = devices_.find(change->device);
    if (it == devices_.end()) continue;
    auto& weight = it->second;
    if (change->summed) {
      senders_ -= weight.by_sender.size();
      devices_.erase(it);
      continue;
    }
    weight.total = change->total;
    if (change->sender.empty()) continue;
    auto from = weight.by_sender.find(change->sender);
    if (change->from == 0) {
      if (from != weight.by_sender.end()) {
        weight.by_sender.erase(from);
        --senders_;
      }
    } else if (from != weight.by_sender.end()) {
      from->second = change->from;
    } else {
      weight.by_sender.emplace(std::move(change->sender), change->from);
      ++senders_;
    }
  }
  journal_.clear();
}

void InboxWeights::clear() {
  devices_.clear();
  senders_ = 0;
  journal_.clear();
}

}  // namespace parley::store
