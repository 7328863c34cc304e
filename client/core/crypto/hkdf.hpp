// RFC 5869 HKDF-SHA256 and HMAC-SHA256, on libsodium's crypto_auth_hmacsha256 (1.0.18 has no
// crypto_kdf_hkdf_*).
#pragma once

#include <cstddef>

#include "crypto/secure_bytes.hpp"

namespace parley::crypto {

inline constexpr std::size_t kHmacSha256Bytes = 32;
inline constexpr std::size_t kHkdfMaxLength = 255 * kHmacSha256Bytes;

// HMAC-SHA256 with a key of any length.
Secret<32> hmac_sha256(ByteView key, ByteView message);

// Empty salt means HashLen zero bytes (RFC 5869 2.2). Throws std::invalid_argument if
// length > 255*32 (a programming error, never input-driven).
SecureBuffer hkdf_sha256(ByteView salt, ByteView ikm, ByteView info, std::size_t length);

}  // namespace parley::crypto
