#pragma once
// Recognises bytes that are nothing but complete, masked WebSocket pong frames (RFC 6455
// 5.5.3), the only traffic an idle client sends: the parked read path consumes those
// without starting a Beast read (which would then stay pending, with its buffer, until the
// client's next message). Anything else, including a partial pong, is left to Beast.
#include <cstddef>
#include <span>

namespace parley {

// Largest run of bytes worth checking: two pongs with the maximum 125-byte payload.
inline constexpr std::size_t kMaxPongRun = 2 * (2 + 4 + 125);

inline bool only_complete_pongs(std::span<const unsigned char> bytes) {
  if (bytes.empty()) return false;
  while (!bytes.empty()) {
    if (bytes.size() < 6) return false;
    // FIN, no RSV bits, opcode 0xA; client frames are always masked, control payloads <= 125.
    if (bytes[0] != 0x8A || (bytes[1] & 0x80) == 0) return false;
    const std::size_t len = bytes[1] & 0x7F;
    if (len > 125 || bytes.size() < 6 + len) return false;
    bytes = bytes.subspan(6 + len);
  }
  return true;
}

}  // namespace parley
