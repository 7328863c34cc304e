// Sender keys for group messages (after Signal's published sender-key design): each member
// has one symmetric hash chain per group, distributed to the other members over the pairwise
// Double Ratchet, and signs every group message with an Ed25519 key that only it holds, so a
// member who knows the chain key can read but not forge. Removing a member means every
// remaining sender generates a new SenderKeySender and distributes it to the others only.
//
// Message format v1 (all integers big-endian):
//   version (1, = 1) | key_id (16) | iteration (4) | XChaCha20-Poly1305 ciphertext||tag |
//   Ed25519 signature (64)
// The AEAD associated data is header || caller's associated data. The signature covers
// u64 len(ad) || ad || header || ciphertext: the associated data is signed too, because
// Poly1305 is not key-committing and a member who knows the message key could otherwise
// find other associated data under which the same signed ciphertext authenticates.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <utility>

#include "crypto/keys.hpp"
#include "crypto/secure_bytes.hpp"

namespace parley::crypto {

using SenderKeyId = std::array<std::uint8_t, 16>;

inline constexpr std::size_t kSenderKeyHeaderBytes = 1 + 16 + 4;

// Sent to each member over the pairwise Double Ratchet. Holds a secret: wipe the encoding
// (secure_zero) once it has been encrypted.
struct SenderKeyDistribution {
  static constexpr std::size_t kEncodedBytes = 1 + 16 + 4 + 32 + 32;
  SenderKeyId key_id{};            // random id of this sender key (one per rotation)
  std::uint32_t iteration = 0;     // chain position chain_key is at
  Secret<32> chain_key;
  PublicKey signing_key;           // Ed25519 public key
  // version (1) | key_id (16) | iteration (BE32) | chain_key (32) | signing_key (32)
  Bytes encode() const;
  // nullopt unless exactly kEncodedBytes with a known version.
  static std::optional<SenderKeyDistribution> decode(ByteView);
  // The same key from a later step of its chain (`to`; never an earlier one): what a holder of
  // this distribution could work out alone, so handing it on reveals nothing more. Takes
  // to - iteration steps of two HMACs each.
  SenderKeyDistribution advanced_to(std::uint32_t to) const;
};

// Our own sending chain for one group.
class SenderKeySender {
 public:
  // Fresh random key_id, random chain key at iteration 0, fresh Ed25519 signing key pair.
  static SenderKeySender generate();

  // At the current iteration, so a member added now cannot read earlier messages.
  SenderKeyDistribution distribution() const;
  const SenderKeyId& key_id() const { return key_id_; }
  std::uint32_t iteration() const { return iteration_; }

  // Header || ciphertext || signature. Throws std::logic_error once the chain is exhausted
  // (2^32 - 1 messages; rotate long before).
  Bytes encrypt(ByteView plaintext, ByteView associated_data);

  // Versioned; holds the chain key and the signing secret: store it only encrypted.
  Bytes serialize() const;
  static std::optional<SenderKeySender> deserialize(ByteView);

 private:
  SenderKeySender(const SenderKeyId& id, std::uint32_t iteration, Secret<32> chain_key,
                  IdentityKeyPair signing)
      : key_id_(id), iteration_(iteration), chain_key_(std::move(chain_key)), signing_(std::move(signing)) {}

  SenderKeyId key_id_;
  std::uint32_t iteration_;
  Secret<32> chain_key_;
  IdentityKeyPair signing_;  // an Ed25519 key pair used only for this sender key
};

// One per (group, member, key_id).
class SenderKeyReceiver {
 public:
  // Most message keys one message may make us skip...
  static constexpr std::uint32_t kMaxSkip = 1000;
  // ...and most skipped keys kept in total; the oldest are evicted first. None is kept
  // longer than kMaxSkippedKeyAgeMs (crypto/skipped_key_age.hpp).
  static constexpr std::size_t kMaxStoredSkipped = 2000;

  // nullopt if the signing key is not a usable Ed25519 public key or the chain is exhausted.
  static std::optional<SenderKeyReceiver> from_distribution(const SenderKeyDistribution&);

  // Checks the key id, then the signature, then the AEAD. nullopt on any failure, a replay
  // (key used or never held), a message before the distribution's iteration, or one more
  // than kMaxSkip ahead, or a skipped key that has expired; the receiver is then exactly as
  // before the call. `now_ms` is the wall clock (wall_clock_ms()); a success also drops the
  // keys that have expired by then.
  std::optional<Bytes> decrypt(ByteView message, ByteView associated_data, std::uint64_t now_ms);
  std::optional<Bytes> decrypt(ByteView message, ByteView associated_data);
  // Drops the skipped keys older than the maximum age at `now_ms`, and dates `now_ms` any
  // dated later; true if anything changed (the state is then worth storing again).
  bool expire_skipped(std::uint64_t now_ms);

  const SenderKeyId& key_id() const { return key_id_; }
  const PublicKey& signing_key() const { return signing_key_; }
  std::uint32_t iteration() const { return iteration_; }  // next iteration the chain gives
  std::size_t stored_skipped_keys() const { return skipped_.size(); }

  // Versioned, including skipped keys; holds secrets: store it only encrypted.
  Bytes serialize() const;
  static std::optional<SenderKeyReceiver> deserialize(ByteView);

 private:
  struct SkippedKey {
    std::uint32_t iteration;
    Secret<32> mk;
    std::uint64_t skipped_ms;  // wall clock
  };
  SenderKeyReceiver(const SenderKeyId& id, std::uint32_t iteration, Secret<32> chain_key,
                    const PublicKey& signing_key)
      : key_id_(id), iteration_(iteration), chain_key_(std::move(chain_key)), signing_key_(signing_key) {}

  SenderKeyId key_id_;
  std::uint32_t iteration_;
  Secret<32> chain_key_;
  PublicKey signing_key_;
  std::deque<SkippedKey> skipped_;  // increasing iteration, oldest first
};

// key_id and iteration from a message's header, for routing it to the right receiver without
// decrypting. Unauthenticated: nullopt only if the message is too short or of an unknown version.
std::optional<std::pair<SenderKeyId, std::uint32_t>> sender_key_header(ByteView message);

}  // namespace parley::crypto
