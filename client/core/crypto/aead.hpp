// XChaCha20-Poly1305-IETF: 24-byte nonces are large enough to pick at random, and the
// ratchet derives a fresh key per message anyway.
#pragma once

#include <cstddef>
#include <optional>

#include "crypto/secure_bytes.hpp"

namespace parley::crypto {

inline constexpr std::size_t kAeadKeyBytes = 32, kAeadNonceBytes = 24, kAeadTagBytes = 16;

// Returns ciphertext||tag. Throws std::invalid_argument on a wrong key or nonce size (a
// programming error).
Bytes aead_encrypt(ByteView key32, ByteView nonce24, ByteView plaintext, ByteView ad);
// nullopt on any authentication failure or wrong sizes.
std::optional<Bytes> aead_decrypt(ByteView key32, ByteView nonce24, ByteView ciphertext, ByteView ad);

}  // namespace parley::crypto
