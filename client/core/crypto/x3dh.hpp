// X3DH key agreement (Signal spec, revision 1) with Ed25519 identity keys converted to
// X25519 for the Diffie-Hellman steps. Encode(PK) is the raw 32-byte key.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>

#include "crypto/keys.hpp"
#include "crypto/secure_bytes.hpp"

namespace parley::crypto {

// HKDF info string of the X3DH KDF.
inline constexpr char kX3dhInfo[] = "Parley X3DH v1";

struct PrekeyBundle {
  PublicKey identity_key;  // Ed25519
  std::uint32_t signed_prekey_id = 0;
  PublicKey signed_prekey;  // X25519
  Signature signed_prekey_signature;  // Ed25519 signature by identity_key over signed_prekey.bytes
  std::optional<std::pair<std::uint32_t, PublicKey>> one_time_prekey;
};

struct X3dhInitiation {
  Secret<32> shared_secret;
  PublicKey ephemeral_key;
  std::uint32_t signed_prekey_id = 0;
  std::optional<std::uint32_t> one_time_prekey_id;
  Bytes associated_data;  // Encode(IK_A) || Encode(IK_B), Ed25519 forms, initiator first
};

// nullopt if the signed prekey signature does not verify or a DH fails.
std::optional<X3dhInitiation> x3dh_initiate(const IdentityKeyPair& ours, const PrekeyBundle& theirs);

struct X3dhResponse {
  Secret<32> shared_secret;
  Bytes associated_data;  // same bytes as the initiator's
};

std::optional<X3dhResponse> x3dh_respond(const IdentityKeyPair& ours, const KeyPair& our_signed_prekey,
                                         const KeyPair* our_one_time_prekey,
                                         const PublicKey& their_identity_key,
                                         const PublicKey& their_ephemeral_key);

// Whether a session's associated data is that of an X3DH run between these two identity keys,
// whichever of them started it: the identity a session is bound to, read from the session.
bool associated_data_binds(ByteView associated_data, const PublicKey& a, const PublicKey& b);

}  // namespace parley::crypto
