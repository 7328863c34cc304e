#pragma once
// What per-address limits count under (gateway/client_address.hpp): an IPv4 address, or the
// /64 an IPv6 address belongs to (one host commonly holds a whole /64, so counting single
// IPv6 addresses would give it 2^64 allowances).
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace parley {

struct AddressKey {
  std::array<unsigned char, 16> bytes{};  // IPv4: 4 bytes then zeros, and family 4
  std::uint8_t family = 0;                 // 4 or 6
  bool operator==(const AddressKey&) const = default;
};

// The network an address key belongs to, for budgets one holder of many addresses must not
// multiply: an IPv4 /24 or an IPv6 /48 (what a site or a hosting customer is commonly
// routed). Its family (24 or 48) keeps it apart from any address key.
inline AddressKey network_of(const AddressKey& k) {
  AddressKey n;
  const std::size_t bytes = k.family == 4 ? 3 : 6;
  for (std::size_t i = 0; i < bytes; ++i) n.bytes[i] = k.bytes[i];
  n.family = k.family == 4 ? 24 : 48;
  return n;
}

struct AddressKeyHash {
  std::size_t operator()(const AddressKey& k) const {
    std::uint64_t a, b;
    std::memcpy(&a, k.bytes.data(), 8);
    std::memcpy(&b, k.bytes.data() + 8, 8);
    return static_cast<std::size_t>((a ^ (b * 0x9e3779b97f4a7c15ull) ^ k.family) * 0xff51afd7ed558ccdull);
  }
};

}  // namespace parley
