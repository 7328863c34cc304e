#pragma once
// The header of a WebSocket frame the relay sends (RFC 6455, section 5.2): one final, binary,
// unmasked frame per message, no extensions (the relay negotiates no permessage-deflate).
// What Beast would put before the same payload; the gateway writes it itself when it gathers
// several queued frames into one socket write, followed by the frame's envelope (a Deliver's
// fields but its body or ciphertext, or the whole of a small frame: session/frame.hpp), so
// header and envelope are one buffer.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "session/frame.hpp"

namespace parley {

struct FrameHeader {
  // Not `= default`, which value-initialisation would turn into zeroing all of `bytes` for
  // every frame written: only the first `size` are ever read.
  FrameHeader() {}
  std::array<unsigned char, 10 + Frame::kMaxEnvelope> bytes;
  std::uint8_t size = 0;
};

// Writes into `h` the header of a binary frame of `payload_size` bytes.
inline void write_binary_frame_header(std::uint64_t payload_size, FrameHeader& h) {
  h.bytes[0] = 0x82;  // FIN, opcode 2 (binary)
  if (payload_size < 126) {
    h.bytes[1] = static_cast<unsigned char>(payload_size);
    h.size = 2;
  } else if (payload_size <= 0xffff) {
    h.bytes[1] = 126;
    h.bytes[2] = static_cast<unsigned char>(payload_size >> 8);
    h.bytes[3] = static_cast<unsigned char>(payload_size);
    h.size = 4;
  } else {
    h.bytes[1] = 127;
    for (int i = 0; i < 8; ++i)
      h.bytes[2 + i] = static_cast<unsigned char>(payload_size >> (8 * (7 - i)));
    h.size = 10;
  }
}

// Writes into `h` the WebSocket header of `frame`, then its envelope: everything before
// frame.bytes().
inline void write_frame_head(const Frame& frame, FrameHeader& h) {
  write_binary_frame_header(frame.size(), h);
  const std::span<unsigned char, Frame::kMaxEnvelope> after(h.bytes.data() + h.size,
                                                             Frame::kMaxEnvelope);
  h.size = static_cast<std::uint8_t>(h.size + frame.write_envelope(after));
}

// The same, returned (tests).
inline FrameHeader binary_frame_header(std::uint64_t payload_size) {
  FrameHeader h;
  write_binary_frame_header(payload_size, h);
  return h;
}
inline FrameHeader frame_head(const Frame& frame) {
  FrameHeader h;
  write_frame_head(frame, h);
  return h;
}

}  // namespace parley
