#pragma once
// Protocol limits that both ends enforce. docs/protocol.md, "Limits", lists them for readers.
#include <cstddef>
#include <cstdint>

namespace parley::limits {

// One WebSocket message: the relay's default and its smallest allowed --max-frame-bytes, so
// a Send carrying a full-size ciphertext always fits.
inline constexpr std::size_t kMaxFrameBytes = 256 * 1024;
inline constexpr std::size_t kMaxCiphertextBytes = 200 * 1024; // one device's ciphertext
inline constexpr std::size_t kMaxDevicesPerSend = 16;
inline constexpr std::size_t kClientMsgIdBytes = 16;
inline constexpr std::size_t kGroupIdBytes = 16;
inline constexpr std::size_t kPublicKeyBytes = 32;
inline constexpr std::size_t kSignatureBytes = 64;
inline constexpr std::size_t kNonceBytes = 32;
inline constexpr std::size_t kRelayIdBytes = 16;
inline constexpr std::size_t kMaxPrekeysPerUpload = 200;
inline constexpr std::size_t kMaxPrekeyStock = 1000;
inline constexpr std::size_t kPrekeyLowWatermark = 10;
inline constexpr std::size_t kMaxPresenceSubscriptions = 1000;
inline constexpr std::uint32_t kMaxDeviceId = 0x7fffffff;

}  // namespace parley::limits
