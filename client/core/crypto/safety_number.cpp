#include "crypto/safety_number.hpp"

#include <sodium.h>

#include <array>
#include <cstdio>
#include <stdexcept>

namespace parley::crypto {

std::string fingerprint_half(const PublicKey& identity, std::string_view username) {
  if (!init()) throw std::runtime_error("libsodium initialisation failed");
  // hash_0 = SHA-512(version || key || username || key); hash_i = SHA-512(hash_{i-1} || key).
  static constexpr std::uint8_t kVersion[2] = {0, 0};
  std::array<std::uint8_t, crypto_hash_sha512_BYTES> hash{};
  crypto_hash_sha512_state st;
  for (int i = 0; i < kFingerprintIterations; ++i) {
    crypto_hash_sha512_init(&st);
    if (i == 0) {
      crypto_hash_sha512_update(&st, kVersion, sizeof kVersion);
      crypto_hash_sha512_update(&st, identity.bytes.data(), identity.bytes.size());
      crypto_hash_sha512_update(&st, reinterpret_cast<const unsigned char*>(username.data()),
                                username.size());
    } else {
      crypto_hash_sha512_update(&st, hash.data(), hash.size());
    }
    crypto_hash_sha512_update(&st, identity.bytes.data(), identity.bytes.size());
    crypto_hash_sha512_final(&st, hash.data());
  }
  std::string out;
  for (std::size_t chunk = 0; chunk < 6; ++chunk) {
    std::uint64_t v = 0;
    for (std::size_t b = 0; b < 5; ++b) v = (v << 8) | hash[chunk * 5 + b];
    char digits[6];
    std::snprintf(digits, sizeof digits, "%05u", static_cast<unsigned>(v % 100000));
    out += digits;
  }
  return out;
}

std::string safety_number(const PublicKey& our_identity, std::string_view our_username,
                          const PublicKey& their_identity, std::string_view their_username) {
  const std::string ours = fingerprint_half(our_identity, our_username);
  const std::string theirs = fingerprint_half(their_identity, their_username);
  const std::string joined = ours < theirs ? ours + theirs : theirs + ours;
  std::string out;
  for (std::size_t i = 0; i < joined.size(); i += 5) {
    if (i) out += ' ';
    out.append(joined, i, 5);
  }
  return out;
}

}  // namespace parley::crypto
