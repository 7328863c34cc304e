#pragma once
// client_msg_ids made the way the desktop client makes them (parley/message_id.hpp:
// time-ordered, 74 random bits), so the relay's dedup index sees the same access pattern.
#include <sodium.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <string>

#include "parley/message_id.hpp"

namespace parley::loadgen {

inline std::string new_message_id() {
  std::array<std::uint8_t, 10> random{};
  randombytes_buf(random.data(), random.size());
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  const auto id = make_message_id(static_cast<std::uint64_t>(ms.count()), random);
  return std::string(reinterpret_cast<const char*>(id.data()), id.size());
}

}  // namespace parley::loadgen
