// Double Ratchet (Signal spec, revision 1) without header encryption: the header travels in
// clear and is authenticated as AEAD associated data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>

#include "crypto/keys.hpp"
#include "crypto/secure_bytes.hpp"

namespace parley::crypto {

struct RatchetHeader {
  static constexpr std::size_t kEncodedBytes = 40;
  PublicKey dh;
  std::uint32_t previous_chain_length = 0;
  std::uint32_t message_number = 0;
  Bytes encode() const;  // dh || pn (BE32) || n (BE32)
  static std::optional<RatchetHeader> decode(ByteView);  // nullopt unless exactly 40 bytes
};

struct RatchetMessage {
  RatchetHeader header;
  Bytes ciphertext;  // AEAD ciphertext||tag
};

class RatchetSession {
 public:
  // Most message keys one message may make us skip (per chain, as in the spec)...
  static constexpr std::uint32_t kMaxSkip = 1000;
  // ...and most skipped keys kept in total; the oldest are evicted first. None is kept
  // longer than kMaxSkippedKeyAgeMs (crypto/skipped_key_age.hpp).
  static constexpr std::size_t kMaxStoredSkipped = 2000;

  // Alice (X3DH initiator): Bob's signed prekey is his first ratchet public key. Throws
  // std::invalid_argument if that key is a small-order point (X3DH would already have refused it).
  static RatchetSession initiate(const Secret<32>& shared_secret, const PublicKey& their_ratchet_key,
                                 Bytes associated_data);
  // Bob: his signed prekey pair is his first ratchet key pair. He cannot send until he has
  // decrypted a first message (can_send() is false until then).
  static RatchetSession respond(const Secret<32>& shared_secret, const KeyPair& our_ratchet_key,
                                Bytes associated_data);

  bool can_send() const { return st_.cks.has_value(); }
  // Throws std::logic_error if !can_send().
  RatchetMessage encrypt(ByteView plaintext);
  // nullopt on authentication failure, replay (key used, deleted or expired), or too many
  // skipped keys; the session is then exactly as before the call. `now_ms` is the wall
  // clock (wall_clock_ms()); a success also drops the keys that have expired by then.
  std::optional<Bytes> decrypt(const RatchetMessage& message, std::uint64_t now_ms);
  std::optional<Bytes> decrypt(const RatchetMessage& message);
  // Drops the skipped keys older than the maximum age at `now_ms`, and dates `now_ms` any
  // dated later; true if anything changed (the state is then worth storing again).
  bool expire_skipped(std::uint64_t now_ms);

  // Versioned binary format including skipped keys and when each was skipped (a key read
  // from the older format without that counts from the read). It holds secrets: the caller must only
  // store it encrypted, and should wipe its copy (secure_zero) after use.
  Bytes serialize() const;
  static std::optional<RatchetSession> deserialize(ByteView);

  std::size_t stored_skipped_keys() const { return skipped_.size(); }
  // X3DH's Encode(IK_A) || Encode(IK_B): which identity keys this session belongs to.
  ByteView associated_data() const { return ad_; }

 private:
  // Everything the ratchet steps mutate, small enough to copy per decrypt so that a failed
  // decrypt can simply drop its copy.
  struct Chains {
    KeyPair dhs;
    std::optional<PublicKey> dhr;
    Secret<32> rk;
    std::optional<Secret<32>> cks, ckr;
    std::uint32_t ns = 0, nr = 0, pn = 0;
  };
  struct SkippedKey {
    PublicKey dh;
    std::uint32_t n;
    Secret<32> mk;
    std::uint64_t skipped_ms;  // wall clock
  };

  RatchetSession(Chains chains, Bytes associated_data)
      : st_(std::move(chains)), ad_(std::move(associated_data)) {}
  static bool skip_to(Chains& c, std::uint32_t until, std::uint64_t now_ms,
                      std::deque<SkippedKey>& out);
  static bool dh_ratchet(Chains& c, const PublicKey& their_key);
  std::optional<Bytes> open(const Secret<32>& mk, const RatchetMessage& m) const;

  Chains st_;
  Bytes ad_;
  std::deque<SkippedKey> skipped_;  // oldest first
};

}  // namespace parley::crypto
