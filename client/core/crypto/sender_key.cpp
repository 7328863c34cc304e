#include "crypto/sender_key.hpp"

#include <algorithm>
#include <cassert>
#include <limits>
#include <stdexcept>
#include <string_view>

#include "crypto/aead.hpp"
#include "crypto/hkdf.hpp"
#include "crypto/skipped_key_age.hpp"

namespace parley::crypto {

namespace {

constexpr std::string_view kMessageKeyInfo = "Parley sender key v1";
constexpr std::uint8_t kMessageVersion = 1;
constexpr std::uint8_t kDistributionVersion = 1;
constexpr std::array<std::uint8_t, 4> kSenderMagic = {'P', 'S', 'K', 'S'};
constexpr std::array<std::uint8_t, 4> kReceiverMagic = {'P', 'S', 'K', 'R'};
constexpr std::uint8_t kSenderFormatVersion = 1;
// The receiver's 2 added when each skipped key was skipped; 1 is still read.
constexpr std::uint8_t kReceiverFormatVersion = 2;
constexpr std::uint32_t kLastIteration = std::numeric_limits<std::uint32_t>::max();
// Smallest possible message: header, an empty plaintext's tag, the signature.
constexpr std::size_t kMinMessageBytes = kSenderKeyHeaderBytes + kAeadTagBytes + kSignatureBytes;

ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::uint32_t get_u32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

// Writes into a buffer allocated once at its exact size (growing a buffer that holds secrets
// would leave unwiped copies behind).
class Writer {
 public:
  explicit Writer(Bytes& out) : w_(out.data()) {}
  void put(ByteView b) { w_ = std::copy(b.begin(), b.end(), w_); }
  void put_byte(std::uint8_t b) { *w_++ = b; }
  void put_be32(std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) *w_++ = static_cast<std::uint8_t>(v >> shift);
  }
  void put_be64(std::uint64_t v) {
    for (int shift = 56; shift >= 0; shift -= 8) *w_++ = static_cast<std::uint8_t>(v >> shift);
  }
  const std::uint8_t* pos() const { return w_; }

 private:
  std::uint8_t* w_;
};

class Reader {
 public:
  explicit Reader(ByteView in) : in_(in) {}
  std::optional<ByteView> take(std::size_t n) {
    if (in_.size() - pos_ < n) return std::nullopt;
    ByteView v = in_.subspan(pos_, n);
    pos_ += n;
    return v;
  }
  std::optional<std::uint32_t> take_u32() {
    auto v = take(4);
    if (!v) return std::nullopt;
    return get_u32(v->data());
  }
  std::optional<std::uint64_t> take_u64() {
    auto hi = take_u32(), lo = take_u32();
    if (!hi || !lo) return std::nullopt;
    return (std::uint64_t{*hi} << 32) | *lo;
  }
  bool done() const { return pos_ == in_.size(); }

 private:
  ByteView in_;
  std::size_t pos_ = 0;
};

// Chain step: message key = HMAC(ck, 0x01), next chain key = HMAC(ck, 0x02).
Secret<32> kdf_ck(Secret<32>& ck) {
  static constexpr std::uint8_t kMsg[1] = {0x01}, kChain[1] = {0x02};
  Secret<32> mk = hmac_sha256(ck.view(), kMsg);
  ck = hmac_sha256(ck.view(), kChain);
  return mk;
}

// Per-message AEAD key || nonce; a deterministic nonce is fine as each key seals one message.
SecureBuffer message_key_material(const Secret<32>& mk) {
  static constexpr std::array<std::uint8_t, 32> kZeroSalt{};
  return hkdf_sha256(kZeroSalt, mk.view(), as_bytes(kMessageKeyInfo), kAeadKeyBytes + kAeadNonceBytes);
}

Bytes encode_header(const SenderKeyId& id, std::uint32_t iteration) {
  Bytes h(kSenderKeyHeaderBytes);
  Writer w(h);
  w.put_byte(kMessageVersion);
  w.put(id);
  w.put_be32(iteration);
  return h;
}

Bytes concat(ByteView a, ByteView b) {
  Bytes out(a.size() + b.size());
  std::copy(b.begin(), b.end(), std::copy(a.begin(), a.end(), out.begin()));
  return out;
}

// What the signature covers: u64 len(ad) || ad || header || ciphertext (unambiguous, since
// the length comes first and the header has a fixed size).
Bytes signed_part(ByteView ad, ByteView header_and_ciphertext) {
  Bytes out(8 + ad.size() + header_and_ciphertext.size());
  Writer w(out);
  w.put_be64(ad.size());
  w.put(ad);
  w.put(header_and_ciphertext);
  return out;
}

std::optional<Bytes> open(const Secret<32>& mk, ByteView header, ByteView ciphertext, ByteView ad) {
  const SecureBuffer km = message_key_material(mk);
  return aead_decrypt(km.view().first(kAeadKeyBytes), km.view().subspan(kAeadKeyBytes), ciphertext,
                      concat(header, ad));
}

// A signing key that libsodium would accept: a canonical point of the main subgroup.
bool usable_signing_key(const PublicKey& k) { return ed25519_to_x25519(k).has_value(); }

}  // namespace

// ---- SenderKeyDistribution ----

Bytes SenderKeyDistribution::encode() const {
  Bytes out(kEncodedBytes);
  Writer w(out);
  w.put_byte(kDistributionVersion);
  w.put(key_id);
  w.put_be32(iteration);
  w.put(chain_key.view());
  w.put(signing_key.view());
  assert(w.pos() == out.data() + out.size());
  return out;
}

std::optional<SenderKeyDistribution> SenderKeyDistribution::decode(ByteView b) {
  if (b.size() != kEncodedBytes || b[0] != kDistributionVersion) return std::nullopt;
  SenderKeyDistribution d;
  std::copy_n(b.begin() + 1, d.key_id.size(), d.key_id.begin());
  d.iteration = get_u32(b.data() + 17);
  d.chain_key = Secret<32>(b.subspan(21, 32));
  d.signing_key = *PublicKey::from(b.subspan(53, 32));
  return d;
}

SenderKeyDistribution SenderKeyDistribution::advanced_to(std::uint32_t to) const {
  SenderKeyDistribution d = *this;
  // Each step's message key is dropped (and wiped) at once: only the chain key is handed on.
  for (; d.iteration < to; ++d.iteration) kdf_ck(d.chain_key);
  return d;
}

// ---- SenderKeySender ----

SenderKeySender SenderKeySender::generate() {
  SenderKeyId id;
  random_bytes(id.data(), id.size());
  Secret<32> ck;
  random_bytes(ck.data(), ck.size());
  return SenderKeySender(id, 0, std::move(ck), IdentityKeyPair::generate());
}

SenderKeyDistribution SenderKeySender::distribution() const {
  SenderKeyDistribution d;
  d.key_id = key_id_;
  d.iteration = iteration_;
  d.chain_key = chain_key_;
  d.signing_key = signing_.public_key();
  return d;
}

Bytes SenderKeySender::encrypt(ByteView plaintext, ByteView associated_data) {
  if (iteration_ == kLastIteration) throw std::logic_error("SenderKeySender::encrypt: chain exhausted");
  const Bytes header = encode_header(key_id_, iteration_);
  const Secret<32> mk = kdf_ck(chain_key_);
  ++iteration_;
  const SecureBuffer km = message_key_material(mk);
  const Bytes ct = aead_encrypt(km.view().first(kAeadKeyBytes), km.view().subspan(kAeadKeyBytes), plaintext,
                                concat(header, associated_data));
  Bytes out(header.size() + ct.size() + kSignatureBytes);
  Writer w(out);
  w.put(header);
  w.put(ct);
  const Signature sig = signing_.sign(signed_part(associated_data, ByteView(out).first(header.size() + ct.size())));
  w.put(sig.view());
  assert(w.pos() == out.data() + out.size());
  return out;
}

// Format v1: "PSKS" | version | key_id (16) | iteration (BE32) | chain_key (32) |
// Ed25519 secret (64, libsodium seed||public).
Bytes SenderKeySender::serialize() const {
  Bytes out(kSenderMagic.size() + 1 + 16 + 4 + 32 + 64);
  Writer w(out);
  w.put(kSenderMagic);
  w.put_byte(kSenderFormatVersion);
  w.put(key_id_);
  w.put_be32(iteration_);
  w.put(chain_key_.view());
  w.put(signing_.secret_bytes());
  assert(w.pos() == out.data() + out.size());
  return out;
}

std::optional<SenderKeySender> SenderKeySender::deserialize(ByteView in) {
  Reader r(in);
  auto magic = r.take(kSenderMagic.size());
  if (!magic || !std::equal(magic->begin(), magic->end(), kSenderMagic.begin())) return std::nullopt;
  auto version = r.take(1);
  if (!version || (*version)[0] != kSenderFormatVersion) return std::nullopt;
  auto id = r.take(16);
  auto iteration = r.take_u32();
  auto ck = r.take(32);
  auto secret = r.take(64);
  if (!id || !iteration || !ck || !secret || !r.done()) return std::nullopt;
  auto signing = IdentityKeyPair::from_secret(*secret);  // refuses a mismatched public half
  if (!signing) return std::nullopt;
  SenderKeyId key_id;
  std::copy(id->begin(), id->end(), key_id.begin());
  return SenderKeySender(key_id, *iteration, Secret<32>(*ck), std::move(*signing));
}

// ---- SenderKeyReceiver ----

std::optional<SenderKeyReceiver> SenderKeyReceiver::from_distribution(const SenderKeyDistribution& d) {
  if (d.iteration == kLastIteration || !usable_signing_key(d.signing_key)) return std::nullopt;
  return SenderKeyReceiver(d.key_id, d.iteration, d.chain_key, d.signing_key);
}

std::optional<Bytes> SenderKeyReceiver::decrypt(ByteView message, ByteView associated_data) {
  return decrypt(message, associated_data, wall_clock_ms());
}

bool SenderKeyReceiver::expire_skipped(std::uint64_t now_ms) {
  return expire_skipped_keys(skipped_, now_ms);
}

std::optional<Bytes> SenderKeyReceiver::decrypt(ByteView message, ByteView associated_data,
                                                std::uint64_t now_ms) {
  const auto hdr = sender_key_header(message);
  if (!hdr || !constant_time_equal(hdr->first, key_id_)) return std::nullopt;
  const std::uint32_t n = hdr->second;
  const ByteView header = message.first(kSenderKeyHeaderBytes);
  const ByteView signed_message = message.first(message.size() - kSignatureBytes);
  const ByteView ciphertext = signed_message.subspan(kSenderKeyHeaderBytes);
  const auto sig = Signature::from(message.last(kSignatureBytes));

  // The signature first: nothing below runs (no key derivation, no state) for a message the
  // sender did not sign, whoever else knows the chain key.
  if (!verify(signing_key_, signed_part(associated_data, signed_message), *sig)) return std::nullopt;

  if (n < iteration_) {
    // A key skipped earlier: used once, then deleted (so a replay finds nothing). Below the
    // chain and not stored: used already, evicted, or before our distribution. An expired
    // one opens nothing, as if it were gone already.
    for (auto it = skipped_.begin(); it != skipped_.end(); ++it) {
      if (it->iteration != n) continue;
      if (skipped_key_expired(it->skipped_ms, now_ms)) return std::nullopt;
      auto pt = open(it->mk, header, ciphertext, associated_data);
      if (pt) {
        skipped_.erase(it);
        expire_skipped(now_ms);
      }
      return pt;
    }
    return std::nullopt;
  }
  // The sender never uses the last iteration (it could not advance past it).
  if (n - iteration_ > kMaxSkip || n == kLastIteration) return std::nullopt;

  // Work on copies; commit only once the message authenticates.
  Secret<32> ck = chain_key_;
  std::deque<SkippedKey> fresh;
  for (std::uint32_t i = iteration_; i < n; ++i) fresh.push_back(SkippedKey{i, kdf_ck(ck), now_ms});
  const Secret<32> mk = kdf_ck(ck);
  auto pt = open(mk, header, ciphertext, associated_data);
  if (!pt) return std::nullopt;

  chain_key_ = std::move(ck);
  iteration_ = n + 1;
  for (auto& k : fresh) skipped_.push_back(std::move(k));
  while (skipped_.size() > kMaxStoredSkipped) skipped_.pop_front();
  expire_skipped(now_ms);
  return pt;
}

// Format v2: "PSKR" | version | key_id (16) | iteration (BE32) | chain_key (32) |
// signing_key (32) | count (BE32) | count * (iteration (BE32) | mk (32) | skipped_ms (BE64)),
// iterations increasing. v1 had no skipped_ms.
Bytes SenderKeyReceiver::serialize() const {
  Bytes out(kReceiverMagic.size() + 1 + 16 + 4 + 32 + 32 + 4 + skipped_.size() * (4 + 32 + 8));
  Writer w(out);
  w.put(kReceiverMagic);
  w.put_byte(kReceiverFormatVersion);
  w.put(key_id_);
  w.put_be32(iteration_);
  w.put(chain_key_.view());
  w.put(signing_key_.view());
  w.put_be32(static_cast<std::uint32_t>(skipped_.size()));
  for (const auto& k : skipped_) {
    w.put_be32(k.iteration);
    w.put(k.mk.view());
    w.put_be64(k.skipped_ms);
  }
  assert(w.pos() == out.data() + out.size());
  return out;
}

std::optional<SenderKeyReceiver> SenderKeyReceiver::deserialize(ByteView in) {
  Reader r(in);
  auto magic = r.take(kReceiverMagic.size());
  if (!magic || !std::equal(magic->begin(), magic->end(), kReceiverMagic.begin())) return std::nullopt;
  auto version = r.take(1);
  if (!version || ((*version)[0] != kReceiverFormatVersion && (*version)[0] != 1))
    return std::nullopt;
  const bool has_skipped_ms = (*version)[0] >= 2;
  auto id = r.take(16);
  auto iteration = r.take_u32();
  auto ck = r.take(32);
  auto pk = r.take(32);
  auto count = r.take_u32();
  if (!id || !iteration || !ck || !pk || !count || *count > kMaxStoredSkipped) return std::nullopt;
  const PublicKey signing_key = *PublicKey::from(*pk);
  if (!usable_signing_key(signing_key)) return std::nullopt;

  SenderKeyId key_id;
  std::copy(id->begin(), id->end(), key_id.begin());
  SenderKeyReceiver s(key_id, *iteration, Secret<32>(*ck), signing_key);
  const std::uint64_t read_ms = wall_clock_ms();
  for (std::uint32_t i = 0; i < *count; ++i) {
    auto n = r.take_u32();
    auto mk = r.take(32);
    const auto skipped_ms = has_skipped_ms ? r.take_u64() : std::optional(read_ms);
    if (!n || !mk || !skipped_ms) return std::nullopt;
    // Strictly increasing and below the chain: no duplicates, nothing the chain still gives.
    if (*n >= *iteration || (!s.skipped_.empty() && *n <= s.skipped_.back().iteration)) return std::nullopt;
    s.skipped_.push_back(SkippedKey{*n, Secret<32>(*mk), *skipped_ms});
  }
  if (!r.done()) return std::nullopt;
  return s;
}

std::optional<std::pair<SenderKeyId, std::uint32_t>> sender_key_header(ByteView message) {
  if (message.size() < kMinMessageBytes || message[0] != kMessageVersion) return std::nullopt;
  SenderKeyId id;
  std::copy_n(message.begin() + 1, id.size(), id.begin());
  return std::pair{id, get_u32(message.data() + 17)};
}

}  // namespace parley::crypto
