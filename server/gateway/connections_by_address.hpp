#pragma once
// How many WebSocket connections each client address (client_address.hpp) holds, against a
// cap (--max-connections-per-address): accounts cost nothing, so without it one host could
// open connections, each with its own budgets (frames per second, store jobs, send queue),
// as many as it liked. HTTP connections that have not upgraded are not counted (each has 30 s
// to send its request).
// Any thread (one mutex); an address holding none is forgotten.
#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "util/address_key.hpp"

namespace parley {

class ConnectionsByAddress {
 public:
  explicit ConnectionsByAddress(std::uint32_t max_per_address) : max_(max_per_address) {}

  // Counts one more for `key`; false (nothing counted) when it already holds the cap.
  bool admit(const AddressKey& key) {
    std::lock_guard lock(mutex_);
    auto& n = counts_[key];
    if (n >= max_) {
      if (n == 0) counts_.erase(key);
      return false;
    }
    ++n;
    return true;
  }
  void release(const AddressKey& key) {
    std::lock_guard lock(mutex_);
    const auto it = counts_.find(key);
    if (it == counts_.end()) return;
    if (--it->second == 0) counts_.erase(it);
  }
  std::uint32_t held_for_test(const AddressKey& key) {
    std::lock_guard lock(mutex_);
    const auto it = counts_.find(key);
    return it == counts_.end() ? 0 : it->second;
  }

 private:
  const std::uint32_t max_;
  std::mutex mutex_;
  std::unordered_map<AddressKey, std::uint32_t, AddressKeyHash> counts_;
};

}  // namespace parley
