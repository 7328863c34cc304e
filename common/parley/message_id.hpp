#pragma once
// Message ids (client_msg_id): 16 bytes in the UUIDv7 layout (RFC 9562): the sender's Unix
// time in milliseconds, big-endian, then 74 random bits. Time first makes ids made later
// sort later, so the relay's dedup index (keyed by the id, docs/protocol.md) grows at its
// right edge instead of touching a random page of a large B-tree for every message. Nothing
// relies on the order for correctness: the relay accepts any 16 bytes.
#include <array>
#include <cstdint>
#include <span>

namespace parley {

using MessageId = std::array<std::uint8_t, 16>;

// `random` supplies the 74 random bits (its first 10 bytes, less the 6 bits the layout
// reserves for the version and variant).
MessageId make_message_id(std::uint64_t unix_ms, std::span<const std::uint8_t, 10> random);

}  // namespace parley
