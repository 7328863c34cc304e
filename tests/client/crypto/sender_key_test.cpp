// Sender keys: ordering, loss, replay, tampering, insider forgery, bounds, late joiners,
// rotation after a removal, persistence.
#include <QtTest>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "crypto/aead.hpp"
#include "crypto/hkdf.hpp"
#include "crypto/sender_key.hpp"
#include "crypto/skipped_key_age.hpp"

using namespace parley::crypto;

namespace {

Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }
const Bytes kAd = text("group:42");

bool delivers(SenderKeyReceiver& to, const Bytes& m, const std::string& expected, const Bytes& ad = kAd) {
  const auto pt = to.decrypt(m, ad);
  return pt && *pt == text(expected);
}

std::string msg(int i) { return "message " + std::to_string(i); }

// The chain and message-key derivation as the design states it, rebuilt here from the
// primitives so the byte-level checks do not go through the code under test.
Secret<32> step(Secret<32>& ck) {
  static constexpr std::uint8_t kMsg[1] = {0x01}, kChain[1] = {0x02};
  Secret<32> mk = hmac_sha256(ck.view(), kMsg);
  ck = hmac_sha256(ck.view(), kChain);
  return mk;
}

// Opens a message's ciphertext with message key mk, skipping the signature entirely.
std::optional<Bytes> open_with(ByteView mk, const Bytes& message, const Bytes& ad) {
  static constexpr std::array<std::uint8_t, 32> kZeroSalt{};
  static const std::string kInfo = "Parley sender key v1";
  const SecureBuffer km = hkdf_sha256(kZeroSalt, mk, ByteView(reinterpret_cast<const std::uint8_t*>(kInfo.data()), kInfo.size()),
                                      kAeadKeyBytes + kAeadNonceBytes);
  const ByteView m(message);
  Bytes full_ad(m.begin(), m.begin() + kSenderKeyHeaderBytes);
  full_ad.insert(full_ad.end(), ad.begin(), ad.end());
  const ByteView ct = m.subspan(kSenderKeyHeaderBytes, m.size() - kSenderKeyHeaderBytes - kSignatureBytes);
  return aead_decrypt(km.view().first(kAeadKeyBytes), km.view().subspan(kAeadKeyBytes), ct, full_ad);
}

bool contains(const Bytes& hay, ByteView needle) {
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

// What the signature covers, per the format comment in sender_key.hpp.
Bytes signed_part(const Bytes& ad, const Bytes& header_and_ciphertext) {
  Bytes out;
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(std::uint64_t{ad.size()} >> shift));
  out.insert(out.end(), ad.begin(), ad.end());
  out.insert(out.end(), header_and_ciphertext.begin(), header_and_ciphertext.end());
  return out;
}

// Builds a message the way a member who knows the chain key (but not the signing secret)
// would: correct header and AEAD, signed with its own key over the same signed part.
Bytes forge(const SenderKeyDistribution& d, std::uint32_t iteration, const Bytes& plaintext, const Bytes& ad,
            const IdentityKeyPair& forger) {
  Secret<32> ck = d.chain_key;
  for (std::uint32_t i = d.iteration; i < iteration; ++i) step(ck);
  const Secret<32> mk = step(ck);
  static constexpr std::array<std::uint8_t, 32> kZeroSalt{};
  static const std::string kInfo = "Parley sender key v1";
  const SecureBuffer km = hkdf_sha256(kZeroSalt, mk.view(), ByteView(reinterpret_cast<const std::uint8_t*>(kInfo.data()), kInfo.size()),
                                      kAeadKeyBytes + kAeadNonceBytes);
  Bytes m{1};
  m.insert(m.end(), d.key_id.begin(), d.key_id.end());
  for (int shift = 24; shift >= 0; shift -= 8) m.push_back(static_cast<std::uint8_t>(iteration >> shift));
  Bytes full_ad = m;
  full_ad.insert(full_ad.end(), ad.begin(), ad.end());
  const Bytes ct = aead_encrypt(km.view().first(kAeadKeyBytes), km.view().subspan(kAeadKeyBytes), plaintext, full_ad);
  m.insert(m.end(), ct.begin(), ct.end());
  const Signature sig = forger.sign(signed_part(ad, m));
  m.insert(m.end(), sig.bytes.begin(), sig.bytes.end());
  return m;
}

SenderKeyReceiver receiver_for(const SenderKeySender& s) {
  auto r = SenderKeyReceiver::from_distribution(s.distribution());
  if (!r) throw std::runtime_error("from_distribution failed");
  return std::move(*r);
}

}  // namespace

class SenderKeyTest : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() { QVERIFY(init()); }

  void distributionRoundTrip() {
    auto sender = SenderKeySender::generate();
    sender.encrypt(text("advance"), kAd);
    const auto d = sender.distribution();
    QCOMPARE(d.iteration, 1u);
    QVERIFY(d.key_id == sender.key_id());
    const Bytes enc = d.encode();
    QCOMPARE(enc.size(), SenderKeyDistribution::kEncodedBytes);
    const auto back = SenderKeyDistribution::decode(enc);
    QVERIFY(back);
    QVERIFY(back->key_id == d.key_id);
    QCOMPARE(back->iteration, d.iteration);
    QVERIFY(constant_time_equal(back->chain_key.view(), d.chain_key.view()));
    QCOMPARE(back->signing_key, d.signing_key);
    QVERIFY(!SenderKeyDistribution::decode({}));
    QVERIFY(!SenderKeyDistribution::decode(ByteView(enc).first(enc.size() - 1)));
    Bytes longer = enc;
    longer.push_back(0);
    QVERIFY(!SenderKeyDistribution::decode(longer));
    Bytes bad_version = enc;
    bad_version[0] = 2;
    QVERIFY(!SenderKeyDistribution::decode(bad_version));

    // Two generated senders share nothing.
    const auto other = SenderKeySender::generate().distribution();
    QVERIFY(other.key_id != d.key_id);
    QVERIFY(!constant_time_equal(other.chain_key.view(), d.chain_key.view()));
    QVERIFY(other.signing_key != d.signing_key);
  }

  void inOrderToThreeReceivers() {
    auto sender = SenderKeySender::generate();
    std::vector<SenderKeyReceiver> rs;
    for (int i = 0; i < 3; ++i) rs.push_back(receiver_for(sender));
    for (int i = 0; i < 300; ++i) {
      const Bytes m = sender.encrypt(text(msg(i)), kAd);
      const auto hdr = sender_key_header(m);
      QVERIFY(hdr);
      QVERIFY(hdr->first == sender.key_id());
      QCOMPARE(hdr->second, static_cast<std::uint32_t>(i));
      for (auto& r : rs) QVERIFY(delivers(r, m, msg(i)));
    }
    for (auto& r : rs) {
      QCOMPARE(r.iteration(), 300u);
      QCOMPARE(r.stored_skipped_keys(), std::size_t{0});
    }
    // Empty plaintext and empty associated data are fine.
    const Bytes empty = sender.encrypt({}, {});
    for (auto& r : rs) QVERIFY(delivers(r, empty, "", {}));
  }

  void outOfOrderAndLost() {
    auto sender = SenderKeySender::generate();
    auto r = receiver_for(sender);
    std::vector<Bytes> ms;
    for (int i = 0; i < 40; ++i) ms.push_back(sender.encrypt(text(msg(i)), kAd));
    std::vector<int> order(40);
    for (int i = 0; i < 40; ++i) order[static_cast<std::size_t>(i)] = i;
    std::mt19937 rng(7);
    std::shuffle(order.begin(), order.end(), rng);
    const std::vector<int> lost = {order[0], order[1], order[2], order[3], order[4]};
    for (std::size_t k = 5; k < order.size(); ++k) QVERIFY(delivers(r, ms[static_cast<std::size_t>(order[k])], msg(order[k])));
    // Exactly the lost messages' keys remain (none of them was the last, or it is derived later).
    const std::size_t expect = static_cast<std::size_t>(std::count_if(lost.begin(), lost.end(), [&](int i) {
      return static_cast<std::uint32_t>(i) < r.iteration();
    }));
    QCOMPARE(r.stored_skipped_keys(), expect);
    // A lost message arriving very late still opens.
    QVERIFY(delivers(r, ms[static_cast<std::size_t>(lost[0])], msg(lost[0])));
  }

  void replayRejectedStateIntact() {
    auto sender = SenderKeySender::generate();
    auto r = receiver_for(sender);
    std::vector<Bytes> ms;
    for (int i = 0; i < 6; ++i) ms.push_back(sender.encrypt(text(msg(i)), kAd));
    QVERIFY(delivers(r, ms[0], msg(0)));
    QVERIFY(delivers(r, ms[3], msg(3)));  // skips 1, 2
    QVERIFY(delivers(r, ms[2], msg(2)));  // from a skipped key
    const Bytes before = r.serialize();
    QVERIFY(!r.decrypt(ms[0], kAd));  // in-chain replay
    QVERIFY(!r.decrypt(ms[3], kAd));  // replay of the newest
    QVERIFY(!r.decrypt(ms[2], kAd));  // replay of a skipped key, deleted on use
    QVERIFY(r.serialize() == before);
    QCOMPARE(r.stored_skipped_keys(), std::size_t{1});
    QVERIFY(delivers(r, ms[1], msg(1)));
    QVERIFY(delivers(r, ms[5], msg(5)));
    QVERIFY(delivers(r, ms[4], msg(4)));
    QCOMPARE(r.stored_skipped_keys(), std::size_t{0});
  }

  void tamperingRejected() {
    auto sender = SenderKeySender::generate();
    auto r = receiver_for(sender);
    const Bytes m0 = sender.encrypt(text("first"), kAd);
    const Bytes m1 = sender.encrypt(text("attack at dawn"), kAd);
    // m1 first so that m0 takes the skipped-key path and m1 the chain path afterwards.
    for (const Bytes* m : {&m1, &m0}) {
      const Bytes before = r.serialize();
      for (std::size_t bit = 0; bit < m->size() * 8; ++bit) {
        Bytes bad = *m;
        bad[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
        if (r.decrypt(bad, kAd)) QFAIL(qPrintable(QStringLiteral("bit %1 flipped was accepted").arg(bit)));
      }
      QVERIFY(!r.decrypt(*m, text("group:43")));  // other associated data
      QVERIFY(!r.decrypt(ByteView(*m).first(m->size() - 1), kAd));
      Bytes longer = *m;
      longer.push_back(0);
      QVERIFY(!r.decrypt(longer, kAd));
      QVERIFY(!r.decrypt({}, kAd));
      QVERIFY(r.serialize() == before);
      QVERIFY(delivers(r, *m, m == &m1 ? "attack at dawn" : "first"));
    }
  }

  void forgedByMemberRejected() {
    auto sender = SenderKeySender::generate();
    const auto d = sender.distribution();  // what every member, the forger included, holds
    auto r = receiver_for(sender);
    const auto forger = IdentityKeyPair::generate();

    const Bytes forged = forge(d, 0, text("send me your password"), kAd, forger);
    // The forgery is well formed: a receiver that trusted the forger's key would accept it,
    // and its ciphertext opens with the chain's message key.
    SenderKeyDistribution trusting = d;
    trusting.signing_key = forger.public_key();
    auto dupe = SenderKeyReceiver::from_distribution(trusting);
    QVERIFY(dupe);
    QVERIFY(delivers(*dupe, forged, "send me your password"));
    Secret<32> ck = d.chain_key;
    QVERIFY(open_with(step(ck).view(), forged, kAd));

    const Bytes before = r.serialize();
    QVERIFY(!r.decrypt(forged, kAd));
    QVERIFY(!r.decrypt(forge(d, 5, text("ahead"), kAd, forger), kAd));
    QVERIFY(r.serialize() == before);
    // Nor can it re-sign a genuine message (same header and ciphertext, its own signature).
    const Bytes genuine = sender.encrypt(text("real"), kAd);
    Bytes resigned(genuine.begin(), genuine.end() - static_cast<std::ptrdiff_t>(kSignatureBytes));
    const Signature sig = forger.sign(signed_part(kAd, resigned));
    resigned.insert(resigned.end(), sig.bytes.begin(), sig.bytes.end());
    QVERIFY(!r.decrypt(resigned, kAd));
    QVERIFY(r.serialize() == before);
    QVERIFY(delivers(r, genuine, "real"));

    // The signature covers the associated data too (Poly1305 does not commit to its key, so
    // the AEAD alone would not stop a member re-targeting a signed ciphertext).
    const Bytes body(genuine.begin(), genuine.end() - static_cast<std::ptrdiff_t>(kSignatureBytes));
    const auto genuine_sig = Signature::from(ByteView(genuine).last(kSignatureBytes));
    QVERIFY(verify(d.signing_key, signed_part(kAd, body), *genuine_sig));
    QVERIFY(!verify(d.signing_key, signed_part(text("group:43"), body), *genuine_sig));

    // A correctly signed message whose AEAD fails leaves the receiver as it was (only a
    // signer can produce one, so use the receiver that trusts the forger).
    Bytes bad_ct = forge(d, 3, text("x"), kAd, forger);
    bad_ct.resize(bad_ct.size() - kSignatureBytes);
    bad_ct[kSenderKeyHeaderBytes] ^= 1;
    const Signature bad_sig = forger.sign(signed_part(kAd, bad_ct));
    bad_ct.insert(bad_ct.end(), bad_sig.bytes.begin(), bad_sig.bytes.end());
    const Bytes dupe_before = dupe->serialize();
    QVERIFY(!dupe->decrypt(bad_ct, kAd));
    QVERIFY(dupe->serialize() == dupe_before);
    QVERIFY(delivers(*dupe, forge(d, 3, text("y"), kAd, forger), "y"));
  }

  void tooFarAheadRejected() {
    auto sender = SenderKeySender::generate();
    auto r = receiver_for(sender);
    std::vector<Bytes> ms;
    for (std::uint32_t i = 0; i <= SenderKeyReceiver::kMaxSkip + 1; ++i) ms.push_back(sender.encrypt(text("x"), kAd));
    const Bytes before = r.serialize();
    QVERIFY(!r.decrypt(ms.back(), kAd));  // 1001 ahead
    QVERIFY(r.serialize() == before);
    QCOMPARE(r.stored_skipped_keys(), std::size_t{0});
    QVERIFY(delivers(r, ms[SenderKeyReceiver::kMaxSkip], "x"));  // exactly 1000 ahead: fine
    QCOMPARE(r.stored_skipped_keys(), std::size_t{SenderKeyReceiver::kMaxSkip});
    QVERIFY(delivers(r, ms.back(), "x"));
    QVERIFY(delivers(r, ms[0], "x"));
  }

  void storedSkippedKeysBounded() {
    auto sender = SenderKeySender::generate();
    auto r = receiver_for(sender);
    std::vector<Bytes> ms;
    for (int i = 0; i <= 3000; ++i) ms.push_back(sender.encrypt(text(msg(i)), kAd));
    QVERIFY(delivers(r, ms[1000], msg(1000)));
    QVERIFY(delivers(r, ms[2000], msg(2000)));
    QVERIFY(delivers(r, ms[3000], msg(3000)));
    QCOMPARE(r.stored_skipped_keys(), SenderKeyReceiver::kMaxStoredSkipped);
    // 2998 were skipped; the oldest 998 were evicted.
    QVERIFY(!r.decrypt(ms[0], kAd));
    QVERIFY(!r.decrypt(ms[997], kAd));
    QVERIFY(delivers(r, ms[998], msg(998)));
    QVERIFY(delivers(r, ms[2999], msg(2999)));
  }

  void lateJoinerCannotReadThePast() {
    auto sender = SenderKeySender::generate();
    std::vector<Bytes> ms;
    for (int i = 0; i < 5; ++i) ms.push_back(sender.encrypt(text(msg(i)), kAd));
    const auto d = sender.distribution();
    QCOMPARE(d.iteration, 5u);
    auto late = SenderKeyReceiver::from_distribution(d);
    QVERIFY(late);
    const Bytes before = late->serialize();
    for (const auto& m : ms) QVERIFY(!late->decrypt(m, kAd));
    QVERIFY(late->serialize() == before);
    // Nor by hand: no key derived forward from its chain key opens an earlier message.
    Secret<32> ck = d.chain_key;
    for (int i = 0; i < 50; ++i) {
      const Secret<32> mk = step(ck);
      for (const auto& m : ms) QVERIFY(!open_with(mk.view(), m, kAd));
    }
    const Bytes m5 = sender.encrypt(text(msg(5)), kAd);
    QVERIFY(delivers(*late, m5, msg(5)));
    // Positive control for open_with: the chain key does open the next message.
    Secret<32> ck5 = d.chain_key;
    QVERIFY(open_with(step(ck5).view(), m5, kAd));
  }

  // A distribution moved on along its chain (a key sent again to a member who lost it): the
  // same key from that step, equal to the sender's own distribution there; it opens what
  // came from that step on and nothing before; asked to go back, it stays where it is.
  void advancedDistributionOpensFromItsStepOnly() {
    auto sender = SenderKeySender::generate();
    const auto at0 = sender.distribution();
    std::vector<Bytes> ms;
    for (int i = 0; i < 8; ++i) ms.push_back(sender.encrypt(text(msg(i)), kAd));
    const auto at5 = at0.advanced_to(5);
    QCOMPARE(at5.iteration, 5u);
    QVERIFY(at5.key_id == at0.key_id);
    QVERIFY(at5.signing_key.view().size() == at0.signing_key.view().size() &&
            std::equal(at5.signing_key.view().begin(), at5.signing_key.view().end(), at0.signing_key.view().begin()));
    QVERIFY(!std::equal(at5.chain_key.view().begin(), at5.chain_key.view().end(), at0.chain_key.view().begin()));
    // By hand: five steps of the stated chain from the first chain key.
    Secret<32> ck = at0.chain_key;
    for (int i = 0; i < 5; ++i) step(ck);
    QVERIFY(std::equal(ck.view().begin(), ck.view().end(), at5.chain_key.view().begin()));
    auto r = SenderKeyReceiver::from_distribution(at5);
    QVERIFY(r);
    for (int i = 0; i < 5; ++i) QVERIFY(!r->decrypt(ms[static_cast<std::size_t>(i)], kAd));
    QVERIFY(delivers(*r, ms[6], msg(6)));
    QVERIFY(delivers(*r, ms[5], msg(5)));
    const auto back = at5.advanced_to(2);
    QCOMPARE(back.iteration, 5u);
    QVERIFY(std::equal(back.chain_key.view().begin(), back.chain_key.view().end(), at5.chain_key.view().begin()));
  }

  void rotationAfterRemoval() {
    auto old_sender = SenderKeySender::generate();
    const auto old_d = old_sender.distribution();
    auto staying = receiver_for(old_sender);
    auto removed = receiver_for(old_sender);
    std::vector<Bytes> old_ms;
    for (int i = 0; i < 10; ++i) old_ms.push_back(old_sender.encrypt(text(msg(i)), kAd));
    // The removed member saw some, so it holds skipped keys and an advanced chain key too.
    for (int i : {0, 3, 7}) {
      QVERIFY(delivers(removed, old_ms[static_cast<std::size_t>(i)], msg(i)));
      QVERIFY(delivers(staying, old_ms[static_cast<std::size_t>(i)], msg(i)));
    }
    QCOMPARE(removed.stored_skipped_keys(), std::size_t{5});

    // Rotation: a new sender key, distributed to the remaining members only.
    auto new_sender = SenderKeySender::generate();
    const auto new_d = new_sender.distribution();
    auto staying_new = SenderKeyReceiver::from_distribution(new_d);
    QVERIFY(staying_new);
    QVERIFY(new_d.key_id != old_d.key_id);
    QVERIFY(new_d.signing_key != old_d.signing_key);

    std::vector<Bytes> new_ms;
    for (int i = 0; i < 5; ++i) new_ms.push_back(new_sender.encrypt(text("secret " + std::to_string(i)), kAd));
    for (int i = 0; i < 5; ++i) QVERIFY(delivers(*staying_new, new_ms[static_cast<std::size_t>(i)], "secret " + std::to_string(i)));

    // Through the API: wrong key id, and with the id patched to the old one, a bad signature.
    const Bytes removed_state = removed.serialize();
    for (const auto& m : new_ms) {
      QVERIFY(!removed.decrypt(m, kAd));
      QVERIFY(!staying.decrypt(m, kAd));
      Bytes patched = m;
      std::copy(old_d.key_id.begin(), old_d.key_id.end(), patched.begin() + 1);
      QVERIFY(!removed.decrypt(patched, kAd));
    }
    QVERIFY(removed.serialize() == removed_state);
    // A receiver only takes messages under its own key id, even when signed by its key.
    SenderKeyDistribution renamed = new_d;
    renamed.key_id[0] ^= 1;
    auto wrong_id = SenderKeyReceiver::from_distribution(renamed);
    QVERIFY(wrong_id);
    QVERIFY(!wrong_id->decrypt(new_sender.encrypt(text("z"), kAd), kAd));

    // At the byte level: every secret the removed member holds (the old distribution's chain
    // key, its current chain key and skipped message keys, all parsed from its own state), and
    // every key derivable from them well past the bounds, used both as a message key and raw
    // as an AEAD key, opens none of the new messages.
    std::vector<Secret<32>> held;
    held.push_back(old_d.chain_key);
    const ByteView st(removed_state);
    const std::size_t ck_at = 4 + 1 + 16 + 4, count_at = ck_at + 32 + 32;
    held.emplace_back(st.subspan(ck_at, 32));
    const std::uint32_t count = (std::uint32_t{st[count_at]} << 24) | (std::uint32_t{st[count_at + 1]} << 16) |
                                (std::uint32_t{st[count_at + 2]} << 8) | std::uint32_t{st[count_at + 3]};
    QCOMPARE(count, 5u);
    for (std::uint32_t i = 0; i < count; ++i) held.emplace_back(st.subspan(count_at + 4 + i * 36 + 4, 32));
    QCOMPARE(held.size(), std::size_t{7});

    std::vector<Secret<32>> candidates = held;
    for (const auto& start : {held[0], held[1]}) {
      Secret<32> ck = start;
      for (int i = 0; i < 1100; ++i) {
        candidates.push_back(step(ck));
        candidates.push_back(ck);
      }
    }
    // Positive controls: the same routine opens an old message with a key the removed member
    // derives, and a new message with a key from the new chain.
    {
      Secret<32> ck = old_d.chain_key;
      QVERIFY(open_with(step(ck).view(), old_ms[0], kAd));
      Secret<32> nck = new_d.chain_key;
      QVERIFY(open_with(step(nck).view(), new_ms[0], kAd));
    }
    const ByteView new_ck = new_d.chain_key.view();
    for (const auto& m : new_ms) {
      const ByteView ct = ByteView(m).subspan(kSenderKeyHeaderBytes, m.size() - kSenderKeyHeaderBytes - kSignatureBytes);
      const ByteView nonce = ByteView(m).first(kAeadNonceBytes);  // any nonce: the key is what matters
      for (const auto& k : candidates) {
        QVERIFY(!open_with(k.view(), m, kAd));
        QVERIFY(!aead_decrypt(k.view(), nonce, ct, kAd));
        QVERIFY(!constant_time_equal(k.view(), new_ck));
      }
    }
    QVERIFY(!contains(removed_state, new_ck));
    QVERIFY(!contains(old_d.encode(), new_ck));
  }

  void skippedKeysExpire() {
    const std::uint64_t t0 = wall_clock_ms() - 30ull * 24 * 3600 * 1000;  // a month ago
    auto sender = SenderKeySender::generate();
    auto r = receiver_for(sender);
    std::vector<Bytes> ms;
    for (int i = 0; i < 4; ++i) ms.push_back(sender.encrypt(text(msg(i)), kAd));
    QVERIFY(r.decrypt(ms[3], kAd, t0));  // 0..2 skipped at t0
    QCOMPARE(r.stored_skipped_keys(), std::size_t{3});

    // Within the age a skipped key opens its message; past it, nothing, and nothing changes.
    QVERIFY(r.decrypt(ms[0], kAd, t0 + kMaxSkippedKeyAgeMs));
    QVERIFY(!r.decrypt(ms[1], kAd, t0 + kMaxSkippedKeyAgeMs + 1));
    QCOMPARE(r.stored_skipped_keys(), std::size_t{2});
    // When each was skipped is stored with it.
    auto stored = SenderKeyReceiver::deserialize(r.serialize());
    QVERIFY(stored && !stored->decrypt(ms[1], kAd, t0 + kMaxSkippedKeyAgeMs + 1));
    // The next message that opens drops every expired key.
    QVERIFY(stored->decrypt(sender.encrypt(text("next"), kAd), kAd, t0 + kMaxSkippedKeyAgeMs + 1));
    QCOMPARE(stored->stored_skipped_keys(), std::size_t{0});
    // expire_skipped drops them without a message; keys dated ahead of the clock are dated
    // now.
    QVERIFY(r.expire_skipped(t0 - 1000));
    QVERIFY(!r.expire_skipped(t0 - 1000));
    QCOMPARE(r.stored_skipped_keys(), std::size_t{2});
    QVERIFY(r.expire_skipped(t0 - 1000 + kMaxSkippedKeyAgeMs + 1));
    QCOMPARE(r.stored_skipped_keys(), std::size_t{0});

    // The format before (version 1) had no time: its keys count from when they are read.
    auto r1 = receiver_for(sender);
    std::vector<Bytes> more;
    for (int i = 0; i < 2; ++i) more.push_back(sender.encrypt(text(msg(i)), kAd));
    QVERIFY(r1.decrypt(more[1], kAd, t0));
    const Bytes v2 = r1.serialize();
    Bytes v1(v2.begin(), v2.end() - 8);
    v1[4] = 1;
    auto from_v1 = SenderKeyReceiver::deserialize(v1);
    QVERIFY(from_v1);
    QVERIFY(!from_v1->expire_skipped(t0 + kMaxSkippedKeyAgeMs + 1));
    QVERIFY(delivers(*from_v1, more[0], msg(0)));
  }

  void serializeMidStream() {
    auto sender = SenderKeySender::generate();
    auto r = receiver_for(sender);
    std::vector<Bytes> ms;
    for (int i = 0; i < 8; ++i) ms.push_back(sender.encrypt(text(msg(i)), kAd));
    QVERIFY(delivers(r, ms[0], msg(0)));
    QVERIFY(delivers(r, ms[4], msg(4)));  // 1..3 skipped
    QVERIFY(delivers(r, ms[2], msg(2)));

    const Bytes s_blob = sender.serialize();
    const Bytes r_blob = r.serialize();
    auto sender2 = SenderKeySender::deserialize(s_blob);
    auto r2 = SenderKeyReceiver::deserialize(r_blob);
    QVERIFY(sender2 && r2);
    QVERIFY(sender2->serialize() == s_blob);
    QVERIFY(r2->serialize() == r_blob);
    QVERIFY(sender2->key_id() == sender.key_id());
    QCOMPARE(sender2->iteration(), 8u);
    QVERIFY(r2->key_id() == r.key_id());
    QCOMPARE(r2->stored_skipped_keys(), std::size_t{2});

    // Replays stay replays, skipped keys survive, and the restored sender continues the chain.
    QVERIFY(!r2->decrypt(ms[0], kAd));
    QVERIFY(!r2->decrypt(ms[2], kAd));
    QVERIFY(!r2->decrypt(ms[4], kAd));
    QVERIFY(delivers(*r2, ms[3], msg(3)));
    QVERIFY(delivers(*r2, ms[1], msg(1)));
    QVERIFY(delivers(*r2, ms[6], msg(6)));
    const Bytes m8 = sender2->encrypt(text(msg(8)), kAd);
    QCOMPARE(sender_key_header(m8)->second, 8u);
    QVERIFY(delivers(*r2, m8, msg(8)));
    QVERIFY(delivers(*r2, ms[5], msg(5)));
    QVERIFY(delivers(*r2, ms[7], msg(7)));
    // A distribution from the restored sender is the same key.
    QCOMPARE(sender2->distribution().signing_key, sender.distribution().signing_key);
  }

  void garbageDeserialization() {
    auto sender = SenderKeySender::generate();
    auto r = receiver_for(sender);
    std::vector<Bytes> ms;
    for (int i = 0; i < 4; ++i) ms.push_back(sender.encrypt(text(msg(i)), kAd));
    QVERIFY(delivers(r, ms[3], msg(3)));  // three skipped keys in the state
    const Bytes good_s = sender.serialize(), good_r = r.serialize();
    QVERIFY(SenderKeySender::deserialize(good_s));
    QVERIFY(SenderKeyReceiver::deserialize(good_r));

    for (const Bytes* good : {&good_s, &good_r}) {
      const bool is_sender = good == &good_s;
      auto ok = [&](ByteView b) {
        return is_sender ? SenderKeySender::deserialize(b).has_value() : SenderKeyReceiver::deserialize(b).has_value();
      };
      QVERIFY(!ok({}));
      QVERIFY(!ok(Bytes(good->size(), 0xAB)));
      for (std::size_t n = 0; n < good->size(); ++n) QVERIFY(!ok(ByteView(*good).first(n)));
      Bytes longer = *good;
      longer.push_back(0);
      QVERIFY(!ok(longer));
      Bytes bad_magic = *good;
      bad_magic[0] ^= 1;
      QVERIFY(!ok(bad_magic));
      Bytes bad_version = *good;
      bad_version[4] = 99;
      QVERIFY(!ok(bad_version));
    }
    // Cross-type blobs.
    QVERIFY(!SenderKeySender::deserialize(good_r));
    QVERIFY(!SenderKeyReceiver::deserialize(good_s));
    // Sender: a signing secret whose public half does not match its seed.
    Bytes bad_pub = good_s;
    bad_pub.back() ^= 1;
    QVERIFY(!SenderKeySender::deserialize(bad_pub));
    // Receiver: an invalid signing key; skipped keys out of order or not below the chain.
    // An entry: iteration (4), mk (32), when it was skipped (8).
    const std::size_t pk_at = 4 + 1 + 16 + 4 + 32, entries_at = pk_at + 32 + 4, entry = 44;
    Bytes zero_pk = good_r;
    std::fill_n(zero_pk.begin() + static_cast<std::ptrdiff_t>(pk_at), 32, 0);
    QVERIFY(!SenderKeyReceiver::deserialize(zero_pk));
    Bytes dup = good_r;  // second entry's iteration := first's
    std::copy_n(good_r.begin() + static_cast<std::ptrdiff_t>(entries_at), 4, dup.begin() + static_cast<std::ptrdiff_t>(entries_at + entry));
    QVERIFY(!SenderKeyReceiver::deserialize(dup));
    Bytes at_chain = good_r;  // last entry's iteration (2) := 4, where the chain is
    at_chain[entries_at + 2 * entry + 3] = 4;
    QVERIFY(!SenderKeyReceiver::deserialize(at_chain));
    Bytes huge_count = good_r;
    huge_count[entries_at - 4] = 0xFF;
    QVERIFY(!SenderKeyReceiver::deserialize(huge_count));

    // Distribution with an unusable signing key, and header parsing on short input.
    auto d = sender.distribution();
    d.signing_key = PublicKey{};
    QVERIFY(!SenderKeyReceiver::from_distribution(d));
    QVERIFY(!sender_key_header({}));
    QVERIFY(!sender_key_header(ByteView(ms[0]).first(kSenderKeyHeaderBytes + kAeadTagBytes + kSignatureBytes - 1)));
    Bytes v2 = ms[0];
    v2[0] = 2;
    QVERIFY(!sender_key_header(v2));

    std::mt19937 rng(99);
    for (int i = 0; i < 3000; ++i) {
      Bytes junk(rng() % 300);
      for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
      if (i % 3 == 0 && junk.size() >= 5) {  // get past the magic and version sometimes
        const char* magic = i % 2 ? "PSKS" : "PSKR";
        std::copy_n(magic, 4, junk.begin());
        junk[4] = 1;
      }
      // Must not crash; results irrelevant.
      SenderKeySender::deserialize(junk);
      SenderKeyReceiver::deserialize(junk);
      SenderKeyDistribution::decode(junk);
      r.decrypt(junk, kAd);
    }
    QVERIFY(delivers(r, ms[0], msg(0)));
  }
};

QTEST_GUILESS_MAIN(SenderKeyTest)
#include "sender_key_test.moc"
