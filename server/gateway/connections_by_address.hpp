#pragma once
// How many WebSocket connections each client address (client_address.hpp) and each network
// (an IPv4 /24, an IPv6 /48: network_of) holds, against caps (--max-connections-per-address,
// --max-connections-per-network): accounts cost nothing, so without them one host could open
// connections, each with its own budgets (frames per second, store jobs, send queue), as many
// as it liked, and the holder of a routed /48 has 65,536 /64s, each an address here. HTTP
// connections that have not upgraded are not counted (each has 30 s to send its request).
// Any thread (one mutex); an address or network holding none is forgotten.
#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "util/address_key.hpp"

namespace parley {

class ConnectionsByAddress {
 public:
  enum class Admission { Admitted, AddressFull, NetworkFull };

  // 0: no cap of that kind.
  ConnectionsByAddress(std::uint32_t max_per_address, std::uint32_t max_per_network)
      : max_address_(max_per_address), max_network_(max_per_network) {}

  // Counts one more for `key` and its network; nothing counted unless admitted.
  Admission admit(const AddressKey& key) {
    const auto network = network_of(key);
    std::lock_guard lock(mutex_);
    if (max_address_ && held(key) >= max_address_) return Admission::AddressFull;
    if (max_network_ && held(network) >= max_network_) return Admission::NetworkFull;
    if (max_address_) ++counts_[key];
    if (max_network_) ++counts_[network];
    return Admission::Admitted;
  }
  // For a connection admit() counted.
  void release(const AddressKey& key) {
    const auto network = network_of(key);
    std::lock_guard lock(mutex_);
    drop(key);
    drop(network);
  }
  std::uint32_t held_for_test(const AddressKey& key) {
    std::lock_guard lock(mutex_);
    return held(key);
  }

 private:
  std::uint32_t held(const AddressKey& key) const {
    const auto it = counts_.find(key);
    return it == counts_.end() ? 0 : it->second;
  }
  void drop(const AddressKey& key) {
    const auto it = counts_.find(key);
    if (it != counts_.end() && --it->second == 0) counts_.erase(it);
  }

  const std::uint32_t max_address_;
  const std::uint32_t max_network_;
  std::mutex mutex_;
  // Address keys and network keys together: their families (4 / 6 against 24 / 48) keep them
  // apart.
  std::unordered_map<AddressKey, std::uint32_t, AddressKeyHash> counts_;
};

}  // namespace parley
