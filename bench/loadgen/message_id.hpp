#pragma once
// client_msg_ids made the way the desktop client makes them (parley/message_id.hpp:
// time-ordered, 74 random bits), so the relay's dedup index sees the same access pattern.
// The random bits come from a generator seeded once per thread from libsodium: an id needs
// to be unique, not secret, and randombytes_buf is a getrandom() system call per id, which
// the loadgen's share of the two cores paid once per message.
#include <sodium.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>

#include "parley/message_id.hpp"

namespace parley::loadgen {

inline std::string new_message_id() {
  thread_local std::mt19937_64 bits = [] {
    std::seed_seq seed{randombytes_random(), randombytes_random(), randombytes_random(),
                       randombytes_random()};
    return std::mt19937_64(seed);
  }();
  const std::uint64_t a = bits(), b = bits();
  std::array<std::uint8_t, 10> random{};
  std::memcpy(random.data(), &a, 8);
  std::memcpy(random.data() + 8, &b, 2);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  const auto id = make_message_id(static_cast<std::uint64_t>(ms.count()), random);
  return std::string(reinterpret_cast<const char*>(id.data()), id.size());
}

}  // namespace parley::loadgen
