#include "store/inbox_weights.hpp"

#include <algorithm>
#include <tuple>

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
  journal_.push_back({device, true, 0, 0, 0});
  return devices_.insert_or_assign(device, std::move(weight)).first->second;
}

void InboxWeights::adjust(DevicePk device, DevicePk sender, std::int64_t delta) {
  auto it = devices_.find(device);
  if (it == devices_.end()) return;
  auto& weight = it->second;
  const auto from = weight.from(sender);
  journal_.push_back({device, false, sender, weight.total, from});
  weight.total = moved(weight.total, delta);
  set_from(weight, sender, moved(from, delta));
}

void InboxWeights::set_from(Weight& weight, DevicePk sender, std::uint64_t bytes) {
  // A sender whose rows have all gone keeps its entry at 0, so that the next message of the
  // conversation finds it instead of allocating it again (one node per message otherwise,
  // made at the append and freed at the ack); shed_if_over drops such entries first. An
  // absent sender already weighs 0: none is made for it (nor by a rollback, which must not
  // allocate).
  if (auto it = weight.by_sender.find(sender); it != weight.by_sender.end()) {
    it->second = bytes;
  } else if (bytes > 0) {
    weight.by_sender.emplace(sender, bytes);
    ++senders_;
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
    set_from(weight, change->sender, change->from);
  }
  journal_.clear();
}

void InboxWeights::clear() {
  devices_.clear();
  senders_ = 0;
  journal_.clear();
}

bool InboxWeights::within_bounds() const {
  return devices_.size() <= kMaxDevices && senders_ <= kMaxSenders;
}

void InboxWeights::shed_if_over() {
  if (within_bounds()) return;
  // Senders with nothing waiting go first: they cost nothing to forget (from() says 0
  // without them), so a device that once heard from many people keeps only those waiting.
  for (auto& [device, weight] : devices_)
    senders_ -= std::erase_if(weight.by_sender, [](const auto& s) { return s.second == 0; });
  if (within_bounds()) {
    journal_.clear();
    return;  // no device need be summed again
  }
  // Cheapest first: a long inbox is what costs a long read to sum again, and an empty one
  // next to nothing. (A device whose inbox grew since its sum may be dearer than it says;
  // it costs one long read, and then says so.)
  std::vector<std::tuple<std::uint64_t, std::uint64_t, DevicePk>> by_cost;
  by_cost.reserve(devices_.size());
  for (const auto& [device, weight] : devices_)
    by_cost.emplace_back(weight.rows_read, weight.total, device);
  std::ranges::sort(by_cost);
  for (const auto& [rows, total, device] : by_cost) {
    if (devices_.size() <= kMaxDevices / 2 && senders_ <= kMaxSenders / 2) break;
    auto it = devices_.find(device);
    senders_ -= it->second.by_sender.size();
    devices_.erase(it);
  }
  journal_.clear();
}

}  // namespace parley::store
