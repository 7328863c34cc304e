#include "parley/message_id.hpp"

namespace parley {

MessageId make_message_id(std::uint64_t unix_ms, std::span<const std::uint8_t, 10> random) {
  MessageId id{};
  for (int i = 0; i < 6; ++i) id[i] = static_cast<std::uint8_t>(unix_ms >> (8 * (5 - i)));
  for (int i = 0; i < 10; ++i) id[6 + i] = random[i];
  id[6] = static_cast<std::uint8_t>(0x70 | (id[6] & 0x0f));  // version 7
  id[8] = static_cast<std::uint8_t>(0x80 | (id[8] & 0x3f));  // variant 10
  return id;
}

}  // namespace parley
