#pragma once
// The bytes a device signs to register or log in. Both ends build them with this one
// function so they cannot drift apart; docs/protocol.md, "Auth transcript", spells them out.
#include <cstdint>
#include <string>
#include <string_view>

namespace parley {

enum class AuthPurpose : std::uint8_t { Register = 1, Login = 2 };

// "parley-auth-v1" 0x00 | purpose (1 byte) | relay_id (16) | nonce (32) |
// server_time_ms (8, big-endian) | device_id (4, big-endian) | len(username) (1) | username
// `username` must already be case-folded.
std::string auth_transcript(AuthPurpose purpose, std::string_view relay_id,
                            std::string_view nonce, std::uint64_t server_time_ms,
                            std::uint32_t device_id, std::string_view username);

}  // namespace parley
