#include "crypto/x3dh.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <initializer_list>

#include "crypto/hkdf.hpp"

namespace parley::crypto {

namespace {

// SK = HKDF(salt = 32 zero bytes, IKM = F || DH1 || DH2 || DH3 [|| DH4]) with F = 32 0xFF
// bytes, as the spec prescribes for X25519 (domain separation from XEdDSA).
Secret<32> kdf(std::initializer_list<const Secret<32>*> dhs) {
  SecureBuffer ikm(32 * (1 + dhs.size()));
  std::fill_n(ikm.data(), 32, std::uint8_t{0xFF});
  std::size_t off = 32;
  for (const auto* d : dhs) {
    std::copy_n(d->data(), 32, ikm.data() + off);
    off += 32;
  }
  static constexpr std::array<std::uint8_t, 32> kZeroSalt{};
  const ByteView info(reinterpret_cast<const std::uint8_t*>(kX3dhInfo), std::strlen(kX3dhInfo));
  const SecureBuffer okm = hkdf_sha256(kZeroSalt, ikm.view(), info, 32);
  return Secret<32>(okm.view());
}

Bytes associated_data(const PublicKey& initiator, const PublicKey& responder) {
  Bytes ad(initiator.bytes.begin(), initiator.bytes.end());
  ad.insert(ad.end(), responder.bytes.begin(), responder.bytes.end());
  return ad;
}

}  // namespace

std::optional<X3dhInitiation> x3dh_initiate(const IdentityKeyPair& ours, const PrekeyBundle& theirs) {
  if (!verify(theirs.identity_key, theirs.signed_prekey.view(), theirs.signed_prekey_signature))
    return std::nullopt;
  const auto their_ik = ed25519_to_x25519(theirs.identity_key);
  if (!their_ik) return std::nullopt;

  const Secret<32> our_ik = ours.dh_secret();
  const KeyPair ek = KeyPair::generate();
  auto dh1 = dh(our_ik.view(), theirs.signed_prekey);  // DH(IK_A, SPK_B)
  auto dh2 = dh(ek.secret_bytes(), *their_ik);         // DH(EK_A, IK_B)
  auto dh3 = dh(ek.secret_bytes(), theirs.signed_prekey);  // DH(EK_A, SPK_B)
  if (!dh1 || !dh2 || !dh3) return std::nullopt;

  X3dhInitiation out;
  if (theirs.one_time_prekey) {
    auto dh4 = dh(ek.secret_bytes(), theirs.one_time_prekey->second);  // DH(EK_A, OPK_B)
    if (!dh4) return std::nullopt;
    out.shared_secret = kdf({&*dh1, &*dh2, &*dh3, &*dh4});
    out.one_time_prekey_id = theirs.one_time_prekey->first;
  } else {
    out.shared_secret = kdf({&*dh1, &*dh2, &*dh3});
  }
  out.ephemeral_key = ek.public_key();
  out.signed_prekey_id = theirs.signed_prekey_id;
  out.associated_data = associated_data(ours.public_key(), theirs.identity_key);
  return out;
}

std::optional<X3dhResponse> x3dh_respond(const IdentityKeyPair& ours, const KeyPair& our_signed_prekey,
                                         const KeyPair* our_one_time_prekey,
                                         const PublicKey& their_identity_key,
                                         const PublicKey& their_ephemeral_key) {
  const auto their_ik = ed25519_to_x25519(their_identity_key);
  if (!their_ik) return std::nullopt;
  const Secret<32> our_ik = ours.dh_secret();
  auto dh1 = dh(our_signed_prekey.secret_bytes(), *their_ik);       // DH(SPK_B, IK_A)
  auto dh2 = dh(our_ik.view(), their_ephemeral_key);                 // DH(IK_B, EK_A)
  auto dh3 = dh(our_signed_prekey.secret_bytes(), their_ephemeral_key);  // DH(SPK_B, EK_A)
  if (!dh1 || !dh2 || !dh3) return std::nullopt;

  X3dhResponse out;
  if (our_one_time_prekey != nullptr) {
    auto dh4 = dh(our_one_time_prekey->secret_bytes(), their_ephemeral_key);  // DH(OPK_B, EK_A)
    if (!dh4) return std::nullopt;
    out.shared_secret = kdf({&*dh1, &*dh2, &*dh3, &*dh4});
  } else {
    out.shared_secret = kdf({&*dh1, &*dh2, &*dh3});
  }
  out.associated_data = associated_data(their_identity_key, ours.public_key());
  return out;
}

bool associated_data_binds(ByteView ad, const PublicKey& a, const PublicKey& b) {
  const auto is = [&](const PublicKey& first, const PublicKey& second) {
    return ad.size() == 64 && std::equal(first.bytes.begin(), first.bytes.end(), ad.begin()) &&
           std::equal(second.bytes.begin(), second.bytes.end(), ad.begin() + 32);
  };
  return is(a, b) || is(b, a);
}

}  // namespace parley::crypto
