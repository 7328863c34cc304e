// Identity (Ed25519) and Diffie-Hellman (X25519) keys.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "crypto/secure_bytes.hpp"

namespace parley::crypto {

inline constexpr std::size_t kPublicKeyBytes = 32;
inline constexpr std::size_t kSignatureBytes = 64;

// X25519 or Ed25519 public key; which one is told by context. Public, so == need not be
// constant time.
struct PublicKey {
  std::array<std::uint8_t, kPublicKeyBytes> bytes{};
  bool operator==(const PublicKey&) const = default;
  ByteView view() const { return {bytes.data(), bytes.size()}; }
  static std::optional<PublicKey> from(ByteView b);  // nullopt unless exactly 32 bytes
};

struct Signature {
  std::array<std::uint8_t, kSignatureBytes> bytes{};
  ByteView view() const { return {bytes.data(), bytes.size()}; }
  static std::optional<Signature> from(ByteView b);  // nullopt unless exactly 64 bytes
};

// Long-term identity: Ed25519 for signatures; its birationally equivalent X25519 form is
// used for X3DH so one key serves both (as in XEdDSA-less designs using libsodium).
class IdentityKeyPair {
 public:
  static IdentityKeyPair generate();
  // secret64 is libsodium's seed||public layout; refused unless the public half matches the seed.
  static std::optional<IdentityKeyPair> from_secret(ByteView secret64);
  // Deterministic from a 32-byte seed (RFC 8032 "secret key").
  static std::optional<IdentityKeyPair> from_seed(ByteView seed32);

  const PublicKey& public_key() const { return public_; }
  ByteView secret_bytes() const { return secret_.view(); }
  Signature sign(ByteView message) const;
  Secret<32> dh_secret() const;  // crypto_sign_ed25519_sk_to_curve25519
  PublicKey dh_public() const;   // crypto_sign_ed25519_pk_to_curve25519

 private:
  IdentityKeyPair() = default;
  Secret<64> secret_;
  PublicKey public_;
};

bool verify(const PublicKey& ed25519_public, ByteView message, const Signature& sig);
// nullopt if the point is invalid or of small order.
std::optional<PublicKey> ed25519_to_x25519(const PublicKey& ed25519_public);

// X25519 key pair (ephemeral, signed prekey, one-time prekey, ratchet key).
class KeyPair {
 public:
  static KeyPair generate();
  static std::optional<KeyPair> from_secret(ByteView secret32);
  const PublicKey& public_key() const { return public_; }
  ByteView secret_bytes() const { return secret_.view(); }

 private:
  KeyPair() = default;
  Secret<32> secret_;
  PublicKey public_;
};

// X25519; nullopt if the shared point is all-zero (a small-order public key).
std::optional<Secret<32>> dh(ByteView our_secret32, const PublicKey& their_public);

}  // namespace parley::crypto
