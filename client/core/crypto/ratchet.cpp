#include "crypto/ratchet.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string_view>

#include "crypto/aead.hpp"
#include "crypto/hkdf.hpp"
#include "crypto/skipped_key_age.hpp"

namespace parley::crypto {

namespace {

constexpr std::string_view kRootInfo = "Parley ratchet v1";
constexpr std::string_view kMessageKeyInfo = "Parley message keys v1";
constexpr std::array<std::uint8_t, 4> kMagic = {'P', 'R', 'S', 'S'};
// 2 added when each skipped key was skipped; 1 is still read.
constexpr std::uint8_t kFormatVersion = 2;

ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

void put_u32(Bytes& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

std::uint32_t get_u32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

// KDF_RK: HKDF(salt = rk, ikm = dh_out, info) -> new root key || chain key.
void kdf_rk(Secret<32>& rk, const Secret<32>& dh_out, Secret<32>& chain_key) {
  const SecureBuffer okm = hkdf_sha256(rk.view(), dh_out.view(), as_bytes(kRootInfo), 64);
  rk = Secret<32>(okm.view().first(32));
  chain_key = Secret<32>(okm.view().subspan(32, 32));
}

// KDF_CK: message key = HMAC(ck, 0x01), next chain key = HMAC(ck, 0x02).
Secret<32> kdf_ck(Secret<32>& ck) {
  static constexpr std::uint8_t kMsg[1] = {0x01}, kChain[1] = {0x02};
  Secret<32> mk = hmac_sha256(ck.view(), kMsg);
  ck = hmac_sha256(ck.view(), kChain);
  return mk;
}

// Per-message AEAD key and nonce; the nonce may be deterministic because each message key
// encrypts exactly one message.
SecureBuffer message_key_material(const Secret<32>& mk) {
  static constexpr std::array<std::uint8_t, 32> kZeroSalt{};
  return hkdf_sha256(kZeroSalt, mk.view(), as_bytes(kMessageKeyInfo), kAeadKeyBytes + kAeadNonceBytes);
}

Bytes aead_ad(const Bytes& session_ad, const RatchetHeader& h) {
  Bytes ad = session_ad;
  const Bytes enc = h.encode();
  ad.insert(ad.end(), enc.begin(), enc.end());
  return ad;
}

}  // namespace

Bytes RatchetHeader::encode() const {
  Bytes out(dh.bytes.begin(), dh.bytes.end());
  put_u32(out, previous_chain_length);
  put_u32(out, message_number);
  return out;
}

std::optional<RatchetHeader> RatchetHeader::decode(ByteView b) {
  if (b.size() != kEncodedBytes) return std::nullopt;
  RatchetHeader h;
  std::copy_n(b.begin(), 32, h.dh.bytes.begin());
  h.previous_chain_length = get_u32(b.data() + 32);
  h.message_number = get_u32(b.data() + 36);
  return h;
}

RatchetSession RatchetSession::initiate(const Secret<32>& shared_secret,
                                        const PublicKey& their_ratchet_key, Bytes associated_data) {
  Chains c{KeyPair::generate(), their_ratchet_key, shared_secret, std::nullopt, std::nullopt};
  auto d = dh(c.dhs.secret_bytes(), their_ratchet_key);
  if (!d) throw std::invalid_argument("RatchetSession::initiate: unusable ratchet key");
  c.cks.emplace();
  kdf_rk(c.rk, *d, *c.cks);
  return RatchetSession(std::move(c), std::move(associated_data));
}

RatchetSession RatchetSession::respond(const Secret<32>& shared_secret, const KeyPair& our_ratchet_key,
                                       Bytes associated_data) {
  Chains c{our_ratchet_key, std::nullopt, shared_secret, std::nullopt, std::nullopt};
  return RatchetSession(std::move(c), std::move(associated_data));
}

RatchetMessage RatchetSession::encrypt(ByteView plaintext) {
  if (!st_.cks) throw std::logic_error("RatchetSession::encrypt: no sending chain yet");
  if (st_.ns == std::numeric_limits<std::uint32_t>::max())
    throw std::logic_error("RatchetSession::encrypt: sending chain exhausted");
  RatchetMessage m;
  m.header = {st_.dhs.public_key(), st_.pn, st_.ns};
  const Secret<32> mk = kdf_ck(*st_.cks);
  ++st_.ns;
  const SecureBuffer km = message_key_material(mk);
  m.ciphertext = aead_encrypt(km.view().first(kAeadKeyBytes), km.view().subspan(kAeadKeyBytes),
                              plaintext, aead_ad(ad_, m.header));
  return m;
}

std::optional<Bytes> RatchetSession::open(const Secret<32>& mk, const RatchetMessage& m) const {
  const SecureBuffer km = message_key_material(mk);
  return aead_decrypt(km.view().first(kAeadKeyBytes), km.view().subspan(kAeadKeyBytes),
                      m.ciphertext, aead_ad(ad_, m.header));
}

bool RatchetSession::skip_to(Chains& c, std::uint32_t until, std::uint64_t now_ms,
                             std::deque<SkippedKey>& out) {
  if (std::uint64_t{c.nr} + kMaxSkip < until) return false;
  if (!c.ckr) return true;
  while (c.nr < until) {
    out.push_back(SkippedKey{*c.dhr, c.nr, kdf_ck(*c.ckr), now_ms});
    ++c.nr;
  }
  return true;
}

bool RatchetSession::dh_ratchet(Chains& c, const PublicKey& their_key) {
  c.pn = c.ns;
  c.ns = 0;
  c.nr = 0;
  c.dhr = their_key;
  auto d = dh(c.dhs.secret_bytes(), their_key);
  if (!d) return false;
  c.ckr.emplace();
  kdf_rk(c.rk, *d, *c.ckr);
  c.dhs = KeyPair::generate();
  d = dh(c.dhs.secret_bytes(), their_key);
  if (!d) return false;
  c.cks.emplace();
  kdf_rk(c.rk, *d, *c.cks);
  return true;
}

std::optional<Bytes> RatchetSession::decrypt(const RatchetMessage& m) {
  return decrypt(m, wall_clock_ms());
}

bool RatchetSession::expire_skipped(std::uint64_t now_ms) {
  return expire_skipped_keys(skipped_, now_ms);
}

std::optional<Bytes> RatchetSession::decrypt(const RatchetMessage& m, std::uint64_t now_ms) {
  const RatchetHeader& h = m.header;
  // A key skipped earlier: used once, then deleted (so a replay finds nothing). An expired
  // one opens nothing, as if it were gone already.
  for (auto it = skipped_.begin(); it != skipped_.end(); ++it) {
    if (it->n == h.message_number && it->dh == h.dh) {
      if (skipped_key_expired(it->skipped_ms, now_ms)) return std::nullopt;
      auto pt = open(it->mk, m);
      if (pt) {
        skipped_.erase(it);
        expire_skipped(now_ms);
      }
      return pt;
    }
  }

  // Work on a copy; commit only once the message authenticates.
  Chains next = st_;
  std::deque<SkippedKey> fresh;
  if (!next.dhr || *next.dhr != h.dh) {
    if (!skip_to(next, h.previous_chain_length, now_ms, fresh)) return std::nullopt;
    if (!dh_ratchet(next, h.dh)) return std::nullopt;
  }
  // An initiator's session knows the responder's first ratchet key (their signed prekey)
  // before any receiving chain exists: a header naming that key has nothing to open it.
  if (!next.ckr) return std::nullopt;
  // Below nr in the current chain and not among the skipped keys: already used (replay).
  if (h.message_number < next.nr) return std::nullopt;
  if (!skip_to(next, h.message_number, now_ms, fresh)) return std::nullopt;
  const Secret<32> mk = kdf_ck(*next.ckr);
  ++next.nr;
  auto pt = open(mk, m);
  if (!pt) return std::nullopt;

  st_ = std::move(next);
  for (auto& k : fresh) skipped_.push_back(std::move(k));
  while (skipped_.size() > kMaxStoredSkipped) skipped_.pop_front();
  expire_skipped(now_ms);
  return pt;
}

// Format v2: "PRSS" | version | dhs secret(32) | flags (1 dhr, 2 cks, 4 ckr) | rk(32) |
// [dhr(32)] [cks(32)] [ckr(32)] | ns nr pn (BE32) | ad_len (BE32) ad | count (BE32) |
// count * (dh(32) n(BE32) mk(32) skipped_ms(BE64)). v1 had no skipped_ms.
Bytes RatchetSession::serialize() const {
  // Allocated once at its exact size: growing it would leave unwiped copies of secrets behind.
  const std::size_t size = kMagic.size() + 1 + 32 + 1 + 32 +
                           32 * (std::size_t{st_.dhr.has_value()} + st_.cks.has_value() + st_.ckr.has_value()) +
                           3 * 4 + 4 + ad_.size() + 4 + skipped_.size() * (32 + 4 + 32 + 8);
  Bytes out(size);
  std::uint8_t* w = out.data();
  auto put = [&w](ByteView b) { w = std::copy(b.begin(), b.end(), w); };
  auto put_byte = [&w](std::uint8_t b) { *w++ = b; };
  auto put_be32 = [&w](std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) *w++ = static_cast<std::uint8_t>(v >> shift);
  };
  auto put_be64 = [&w](std::uint64_t v) {
    for (int shift = 56; shift >= 0; shift -= 8) *w++ = static_cast<std::uint8_t>(v >> shift);
  };
  put(kMagic);
  put_byte(kFormatVersion);
  put(st_.dhs.secret_bytes());
  put_byte(static_cast<std::uint8_t>((st_.dhr ? 1 : 0) | (st_.cks ? 2 : 0) | (st_.ckr ? 4 : 0)));
  put(st_.rk.view());
  if (st_.dhr) put(st_.dhr->view());
  if (st_.cks) put(st_.cks->view());
  if (st_.ckr) put(st_.ckr->view());
  put_be32(st_.ns);
  put_be32(st_.nr);
  put_be32(st_.pn);
  put_be32(static_cast<std::uint32_t>(ad_.size()));
  put(ad_);
  put_be32(static_cast<std::uint32_t>(skipped_.size()));
  for (const auto& k : skipped_) {
    put(k.dh.view());
    put_be32(k.n);
    put(k.mk.view());
    put_be64(k.skipped_ms);
  }
  assert(w == out.data() + out.size());
  return out;
}

std::optional<RatchetSession> RatchetSession::deserialize(ByteView in) {
  std::size_t pos = 0;
  auto take = [&](std::size_t n) -> std::optional<ByteView> {
    if (in.size() - pos < n) return std::nullopt;
    ByteView v = in.subspan(pos, n);
    pos += n;
    return v;
  };
  auto take_u32 = [&]() -> std::optional<std::uint32_t> {
    auto v = take(4);
    if (!v) return std::nullopt;
    return get_u32(v->data());
  };

  auto magic = take(kMagic.size());
  if (!magic || !std::equal(magic->begin(), magic->end(), kMagic.begin())) return std::nullopt;
  auto version = take(1);
  if (!version || ((*version)[0] != kFormatVersion && (*version)[0] != 1)) return std::nullopt;
  const bool has_skipped_ms = (*version)[0] >= 2;
  auto dhs_secret = take(32);
  auto flags = take(1);
  auto rk = take(32);
  if (!dhs_secret || !flags || !rk || ((*flags)[0] & ~0x07) != 0) return std::nullopt;
  auto dhs = KeyPair::from_secret(*dhs_secret);
  if (!dhs) return std::nullopt;

  Chains c{std::move(*dhs), std::nullopt, Secret<32>(*rk), std::nullopt, std::nullopt};
  const std::uint8_t f = (*flags)[0];
  if (f & 1) {
    auto b = take(32);
    if (!b) return std::nullopt;
    c.dhr = PublicKey::from(*b);
  }
  if (f & 2) {
    auto b = take(32);
    if (!b) return std::nullopt;
    c.cks.emplace(*b);
  }
  if (f & 4) {
    auto b = take(32);
    if (!b) return std::nullopt;
    c.ckr.emplace(*b);
  }
  // A receiving chain always belongs to a known remote ratchet key.
  if (c.ckr && !c.dhr) return std::nullopt;
  auto ns = take_u32(), nr = take_u32(), pn = take_u32(), ad_len = take_u32();
  if (!ns || !nr || !pn || !ad_len) return std::nullopt;
  c.ns = *ns;
  c.nr = *nr;
  c.pn = *pn;
  auto ad = take(*ad_len);
  auto count = take_u32();
  if (!ad || !count || *count > kMaxStoredSkipped) return std::nullopt;

  RatchetSession s(std::move(c), Bytes(ad->begin(), ad->end()));
  const std::uint64_t read_ms = wall_clock_ms();
  for (std::uint32_t i = 0; i < *count; ++i) {
    auto dh_key = take(32);
    auto n = take_u32();
    auto mk = take(32);
    if (!dh_key || !n || !mk) return std::nullopt;
    std::uint64_t skipped_ms = read_ms;
    if (has_skipped_ms) {
      auto hi = take_u32(), lo = take_u32();
      if (!hi || !lo) return std::nullopt;
      skipped_ms = (std::uint64_t{*hi} << 32) | *lo;
    }
    s.skipped_.push_back(SkippedKey{*PublicKey::from(*dh_key), *n, Secret<32>(*mk), skipped_ms});
  }
  if (pos != in.size()) return std::nullopt;
  return s;
}

}  // namespace parley::crypto
