// Double Ratchet: ordering, loss, replay, tampering, forged headers, bounds, simultaneous
// starts, persistence.
#include <QtTest>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "crypto/ratchet.hpp"
#include "crypto/skipped_key_age.hpp"
#include "crypto/x3dh.hpp"

using namespace parley::crypto;

namespace {

Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }

struct Party {
  IdentityKeyPair identity = IdentityKeyPair::generate();
  KeyPair signed_prekey = KeyPair::generate();
  PrekeyBundle bundle() const {
    PrekeyBundle b;
    b.identity_key = identity.public_key();
    b.signed_prekey_id = 1;
    b.signed_prekey = signed_prekey.public_key();
    b.signed_prekey_signature = identity.sign(signed_prekey.public_key().view());
    return b;
  }
};

// initiator -> responder session pair, built from a real X3DH run.
struct Pair {
  RatchetSession alice, bob;
};

Pair start() {
  const Party a, b;
  auto init = x3dh_initiate(a.identity, b.bundle());
  auto resp = x3dh_respond(b.identity, b.signed_prekey, nullptr, a.identity.public_key(), init->ephemeral_key);
  return {RatchetSession::initiate(init->shared_secret, b.signed_prekey.public_key(), init->associated_data),
          RatchetSession::respond(resp->shared_secret, b.signed_prekey, resp->associated_data)};
}

bool delivers(RatchetSession& to, const RatchetMessage& m, const std::string& expected) {
  const auto pt = to.decrypt(m);
  return pt && *pt == text(expected);
}

}  // namespace

class RatchetTest : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() { QVERIFY(init()); }

  void headerRoundTrip() {
    RatchetHeader h{KeyPair::generate().public_key(), 0x01020304, 0xA0B0C0D0};
    const Bytes enc = h.encode();
    QCOMPARE(enc.size(), RatchetHeader::kEncodedBytes);
    QCOMPARE(enc[32], std::uint8_t{0x01});  // big-endian
    QCOMPARE(enc[39], std::uint8_t{0xD0});
    const auto back = RatchetHeader::decode(enc);
    QVERIFY(back);
    QCOMPARE(back->dh, h.dh);
    QCOMPARE(back->previous_chain_length, h.previous_chain_length);
    QCOMPARE(back->message_number, h.message_number);
    QVERIFY(!RatchetHeader::decode(Bytes(39)));
    QVERIFY(!RatchetHeader::decode(Bytes(41)));
  }

  void inOrderExchange() {
    auto [alice, bob] = start();
    QVERIFY(alice.can_send());
    QVERIFY(!bob.can_send());  // Bob speaks only after hearing from Alice
    QVERIFY_THROWS_EXCEPTION(std::logic_error, bob.encrypt(text("too early")));
    QVERIFY(delivers(bob, alice.encrypt(text("hi bob")), "hi bob"));
    QVERIFY(bob.can_send());
    QVERIFY(delivers(alice, bob.encrypt(text("hi alice")), "hi alice"));
    QVERIFY(delivers(bob, alice.encrypt(text("")), ""));
  }

  void manyRoundTripsAndBursts() {
    auto [alice, bob] = start();
    QVERIFY(delivers(bob, alice.encrypt(text("hello")), "hello"));
    for (int i = 0; i < 200; ++i) {
      const std::string s = "turn " + std::to_string(i);
      if (i % 2 == 0)
        QVERIFY(delivers(alice, bob.encrypt(text(s)), s));
      else
        QVERIFY(delivers(bob, alice.encrypt(text(s)), s));
    }
    for (int burst = 0; burst < 5; ++burst) {
      RatchetSession& from = burst % 2 ? alice : bob;
      RatchetSession& to = burst % 2 ? bob : alice;
      for (int i = 0; i < 50; ++i) {
        const std::string s = "burst " + std::to_string(burst) + "/" + std::to_string(i);
        QVERIFY(delivers(to, from.encrypt(text(s)), s));
      }
    }
    QCOMPARE(alice.stored_skipped_keys(), std::size_t{0});
    QCOMPARE(bob.stored_skipped_keys(), std::size_t{0});
  }

  void ciphertextsDifferForSamePlaintext() {
    auto [alice, bob] = start();
    const auto m1 = alice.encrypt(text("same"));
    const auto m2 = alice.encrypt(text("same"));
    QVERIFY(m1.ciphertext != m2.ciphertext);
  }

  void outOfOrderWithinChain() {
    auto [alice, bob] = start();
    std::vector<RatchetMessage> sent;
    for (int i = 0; i < 10; ++i) sent.push_back(alice.encrypt(text("m" + std::to_string(i))));
    std::vector<int> order{9, 0, 5, 1, 8, 2, 7, 3, 6, 4};
    for (int i : order) QVERIFY(delivers(bob, sent[i], "m" + std::to_string(i)));
    QCOMPARE(bob.stored_skipped_keys(), std::size_t{0});
  }

  void outOfOrderAcrossDhRatchetStep() {
    auto [alice, bob] = start();
    const auto a0 = alice.encrypt(text("a0"));
    const auto a1 = alice.encrypt(text("a1"));
    QVERIFY(delivers(bob, a0, "a0"));
    const auto b0 = bob.encrypt(text("b0"));
    QVERIFY(delivers(alice, b0, "b0"));
    // Alice's new chain (after the DH step) arrives before the rest of her old one.
    const auto a2 = alice.encrypt(text("a2"));
    const auto a3 = alice.encrypt(text("a3"));
    QVERIFY(!(a2.header.dh == a1.header.dh));
    QCOMPARE(a2.header.previous_chain_length, std::uint32_t{2});
    QVERIFY(delivers(bob, a3, "a3"));
    QCOMPARE(bob.stored_skipped_keys(), std::size_t{2});  // a1 (old chain) and a2
    QVERIFY(delivers(bob, a1, "a1"));
    QVERIFY(delivers(bob, a2, "a2"));
    QCOMPARE(bob.stored_skipped_keys(), std::size_t{0});
  }

  void lostMessagesDoNotBlockLaterOnes() {
    auto [alice, bob] = start();
    for (int i = 0; i < 5; ++i) alice.encrypt(text("lost"));  // never delivered
    QVERIFY(delivers(bob, alice.encrypt(text("arrives")), "arrives"));
    QVERIFY(delivers(alice, bob.encrypt(text("reply")), "reply"));
    for (int i = 0; i < 3; ++i) bob.encrypt(text("lost too"));
    QVERIFY(delivers(alice, bob.encrypt(text("still fine")), "still fine"));
    QVERIFY(delivers(bob, alice.encrypt(text("and back")), "and back"));
  }

  void replayRejectedAndHarmless() {
    auto [alice, bob] = start();
    const auto m0 = alice.encrypt(text("once"));
    const auto m1 = alice.encrypt(text("skipped then used"));
    const auto m2 = alice.encrypt(text("two"));
    QVERIFY(delivers(bob, m0, "once"));
    QVERIFY(delivers(bob, m2, "two"));
    QVERIFY(delivers(bob, m1, "skipped then used"));
    const Bytes before = bob.serialize();
    QVERIFY(!bob.decrypt(m0));  // current chain, below nr
    QVERIFY(!bob.decrypt(m1));  // its skipped key is deleted
    QVERIFY(!bob.decrypt(m2));
    QVERIFY(bob.serialize() == before);  // nothing moved
    // Replay from a chain that is no longer the current one.
    QVERIFY(delivers(alice, bob.encrypt(text("b")), "b"));
    QVERIFY(delivers(bob, alice.encrypt(text("new chain")), "new chain"));
    const Bytes before2 = bob.serialize();
    QVERIFY(!bob.decrypt(m2));
    QVERIFY(bob.serialize() == before2);
    QVERIFY(delivers(bob, alice.encrypt(text("after replays")), "after replays"));
    QVERIFY(delivers(alice, bob.encrypt(text("both ways")), "both ways"));
  }

  void tamperingRejectedAndSessionSurvives() {
    auto [alice, bob] = start();
    QVERIFY(delivers(bob, alice.encrypt(text("warm up")), "warm up"));
    QVERIFY(delivers(alice, bob.encrypt(text("ack")), "ack"));
    const auto m = alice.encrypt(text("genuine"));
    const Bytes before = bob.serialize();

    RatchetMessage bad = m;
    bad.ciphertext[0] ^= 0x01;
    QVERIFY(!bob.decrypt(bad));
    bad = m;
    bad.ciphertext.back() ^= 0x80;  // tag
    QVERIFY(!bob.decrypt(bad));
    bad = m;
    bad.header.dh.bytes[5] ^= 0x01;  // an unknown ratchet key: triggers a DH step on a copy
    QVERIFY(!bob.decrypt(bad));
    bad = m;
    bad.header.message_number += 1;
    QVERIFY(!bob.decrypt(bad));
    bad = m;
    bad.header.previous_chain_length ^= 0x01;  // authenticated as AD
    QVERIFY(!bob.decrypt(bad));
    bad = m;
    bad.ciphertext.resize(3);
    QVERIFY(!bob.decrypt(bad));
    QVERIFY(bob.serialize() == before);

    QVERIFY(delivers(bob, m, "genuine"));
    QVERIFY(delivers(alice, bob.encrypt(text("still talking")), "still talking"));
  }

  // Before Bob answers, Alice's session holds his signed prekey as the peer's ratchet key but
  // no receiving chain. A message naming that key (anyone can: the prekey is public) must be
  // refused without touching the chain that is not there, and leave the session as it was.
  void headerNamingTheSignedPrekeyBeforeAnyReplyIsRefused() {
    const Party a, b;
    auto init = x3dh_initiate(a.identity, b.bundle());
    QVERIFY(init);
    auto alice = RatchetSession::initiate(init->shared_secret, b.signed_prekey.public_key(),
                                          init->associated_data);
    const Bytes before = alice.serialize();
    for (std::uint32_t n : {0u, 1u, 5u}) {
      RatchetMessage forged;
      forged.header = {b.signed_prekey.public_key(), 0, n};
      forged.ciphertext = Bytes(40, 0);
      QVERIFY(!alice.decrypt(forged));
    }
    QVERIFY(alice.serialize() == before);
    // The session still works once Bob really answers.
    auto resp = x3dh_respond(b.identity, b.signed_prekey, nullptr, a.identity.public_key(),
                             init->ephemeral_key);
    QVERIFY(resp);
    auto bob = RatchetSession::respond(resp->shared_secret, b.signed_prekey, resp->associated_data);
    QVERIFY(delivers(bob, alice.encrypt(text("hi bob")), "hi bob"));
    QVERIFY(delivers(alice, bob.encrypt(text("hi alice")), "hi alice"));
  }

  void tooManySkippedRejected() {
    auto [alice, bob] = start();
    QVERIFY(delivers(bob, alice.encrypt(text("first")), "first"));
    for (std::uint32_t i = 0; i < RatchetSession::kMaxSkip + 1; ++i) alice.encrypt(text("x"));
    const auto far = alice.encrypt(text("too far"));
    const Bytes before = bob.serialize();
    QVERIFY(!bob.decrypt(far));
    QVERIFY(bob.serialize() == before);

    // Exactly kMaxSkip skipped is still accepted.
    auto [a2, b2] = start();
    QVERIFY(delivers(b2, a2.encrypt(text("first")), "first"));
    for (std::uint32_t i = 0; i < RatchetSession::kMaxSkip; ++i) a2.encrypt(text("x"));
    QVERIFY(delivers(b2, a2.encrypt(text("just in reach")), "just in reach"));
    QCOMPARE(b2.stored_skipped_keys(), std::size_t{RatchetSession::kMaxSkip});
  }

  void storedSkippedKeysAreBounded() {
    auto [alice, bob] = start();
    std::vector<RatchetMessage> oldest;
    // Several chains, each leaving kMaxSkip skipped keys behind.
    for (int round = 0; round < 3; ++round) {
      for (std::uint32_t i = 0; i < RatchetSession::kMaxSkip; ++i) {
        auto m = alice.encrypt(text("skipped"));
        if (round == 0 && i < 3) oldest.push_back(std::move(m));
      }
      QVERIFY(delivers(bob, alice.encrypt(text("end of chain")), "end of chain"));
      QVERIFY(delivers(alice, bob.encrypt(text("turn")), "turn"));
      QVERIFY(bob.stored_skipped_keys() <= RatchetSession::kMaxStoredSkipped);
    }
    QCOMPARE(bob.stored_skipped_keys(), RatchetSession::kMaxStoredSkipped);
    QVERIFY(!bob.decrypt(oldest[0]));  // evicted first
  }

  void skippedKeysExpire() {
    const std::uint64_t t0 = wall_clock_ms();
    auto [alice, bob] = start();
    const auto late = alice.encrypt(text("late"));
    const auto later = alice.encrypt(text("later"));
    const auto pt = bob.decrypt(alice.encrypt(text("now")), t0);
    QVERIFY(pt && *pt == text("now"));
    QCOMPARE(bob.stored_skipped_keys(), std::size_t{2});

    // Within the age a skipped key opens its message...
    auto young = RatchetSession::deserialize(bob.serialize());
    QVERIFY(young && young->decrypt(late, t0 + kMaxSkippedKeyAgeMs));
    // ...past it, it opens nothing, and the refusal changes nothing.
    auto old = RatchetSession::deserialize(bob.serialize());
    QVERIFY(old && !old->decrypt(late, t0 + kMaxSkippedKeyAgeMs + 1));
    QCOMPARE(old->stored_skipped_keys(), std::size_t{2});
    // The next message that opens drops every expired key.
    const auto next = old->decrypt(alice.encrypt(text("next")), t0 + kMaxSkippedKeyAgeMs + 1);
    QVERIFY(next && *next == text("next"));
    QCOMPARE(old->stored_skipped_keys(), std::size_t{0});
    QVERIFY(!old->decrypt(later, t0));

    // expire_skipped drops them without a message.
    QVERIFY(!bob.expire_skipped(t0 + kMaxSkippedKeyAgeMs));
    QCOMPARE(bob.stored_skipped_keys(), std::size_t{2});
    // Keys dated ahead of the clock (it was set back since) are dated now, not kept until
    // that date comes: a date far ahead cannot keep a key for good.
    const std::uint64_t earlier = t0 - 1000;
    QVERIFY(bob.expire_skipped(earlier));
    QCOMPARE(bob.stored_skipped_keys(), std::size_t{2});
    QVERIFY(!bob.expire_skipped(earlier));  // nothing more to change
    QVERIFY(bob.expire_skipped(earlier + kMaxSkippedKeyAgeMs + 1));
    QCOMPARE(bob.stored_skipped_keys(), std::size_t{0});
  }

  void whenAKeyWasSkippedSurvivesStorage() {
    const std::uint64_t t0 = wall_clock_ms() - 30ull * 24 * 3600 * 1000;  // a month ago
    auto [alice, bob] = start();
    const auto late = alice.encrypt(text("late"));
    QVERIFY(bob.decrypt(alice.encrypt(text("now")), t0));
    const Bytes v2 = bob.serialize();
    auto stored = RatchetSession::deserialize(v2);
    QVERIFY(stored);
    QVERIFY(stored->expire_skipped(t0 + kMaxSkippedKeyAgeMs + 1));

    // The format before (version 1) had no time: its keys count from when they are read.
    Bytes v1(v2.begin(), v2.end() - 8);
    v1[4] = 1;
    auto from_v1 = RatchetSession::deserialize(v1);
    QVERIFY(from_v1);
    QCOMPARE(from_v1->stored_skipped_keys(), std::size_t{1});
    QVERIFY(!from_v1->expire_skipped(t0 + kMaxSkippedKeyAgeMs + 1));
    const auto pt = from_v1->decrypt(late);
    QVERIFY(pt && *pt == text("late"));
  }

  void simultaneousInitiation() {
    // Both send a first message before hearing from the other: two sessions per pair, one
    // per direction of initiation, and every message decrypts.
    const Party a, b;
    auto a_init = x3dh_initiate(a.identity, b.bundle());
    auto b_init = x3dh_initiate(b.identity, a.bundle());
    QVERIFY(a_init && b_init);
    auto a_out = RatchetSession::initiate(a_init->shared_secret, b.signed_prekey.public_key(), a_init->associated_data);
    auto b_out = RatchetSession::initiate(b_init->shared_secret, a.signed_prekey.public_key(), b_init->associated_data);
    const auto from_a = a_out.encrypt(text("hello from a"));
    const auto from_b = b_out.encrypt(text("hello from b"));

    auto b_resp = x3dh_respond(b.identity, b.signed_prekey, nullptr, a.identity.public_key(), a_init->ephemeral_key);
    auto a_resp = x3dh_respond(a.identity, a.signed_prekey, nullptr, b.identity.public_key(), b_init->ephemeral_key);
    QVERIFY(a_resp && b_resp);
    auto b_in = RatchetSession::respond(b_resp->shared_secret, b.signed_prekey, b_resp->associated_data);
    auto a_in = RatchetSession::respond(a_resp->shared_secret, a.signed_prekey, a_resp->associated_data);
    QVERIFY(delivers(b_in, from_a, "hello from a"));
    QVERIFY(delivers(a_in, from_b, "hello from b"));
    // The two sessions do not mix.
    QVERIFY(!b_in.decrypt(b_out.encrypt(text("wrong session"))));

    // Both sessions carry traffic both ways.
    QVERIFY(delivers(a_out, b_in.encrypt(text("b replies on a's session")), "b replies on a's session"));
    QVERIFY(delivers(b_out, a_in.encrypt(text("a replies on b's session")), "a replies on b's session"));
    QVERIFY(delivers(b_in, a_out.encrypt(text("a again")), "a again"));
    QVERIFY(delivers(a_in, b_out.encrypt(text("b again")), "b again"));
  }

  void serializeMidConversation() {
    auto [alice, bob] = start();
    QVERIFY(delivers(bob, alice.encrypt(text("one")), "one"));
    QVERIFY(delivers(alice, bob.encrypt(text("two")), "two"));
    const auto pending1 = alice.encrypt(text("pending 1"));
    const auto pending2 = alice.encrypt(text("pending 2"));
    QVERIFY(delivers(bob, alice.encrypt(text("three")), "three"));
    QCOMPARE(bob.stored_skipped_keys(), std::size_t{2});

    auto bob2 = RatchetSession::deserialize(bob.serialize());
    auto alice2 = RatchetSession::deserialize(alice.serialize());
    QVERIFY(bob2 && alice2);
    QCOMPARE(bob2->stored_skipped_keys(), std::size_t{2});
    QVERIFY(bob2->serialize() == bob.serialize());
    QVERIFY(delivers(*bob2, pending2, "pending 2"));
    QVERIFY(delivers(*bob2, pending1, "pending 1"));
    QVERIFY(delivers(*alice2, bob2->encrypt(text("four")), "four"));
    QVERIFY(delivers(*bob2, alice2->encrypt(text("five")), "five"));

    // A responder that has not yet received anything also round-trips.
    auto [a3, b3] = start();
    auto b3_copy = RatchetSession::deserialize(b3.serialize());
    QVERIFY(b3_copy && !b3_copy->can_send());
    QVERIFY(delivers(*b3_copy, a3.encrypt(text("late start")), "late start"));
  }

  void deserializeGarbage() {
    auto [alice, bob] = start();
    QVERIFY(delivers(bob, alice.encrypt(text("x")), "x"));
    alice.encrypt(text("skip"));
    QVERIFY(delivers(bob, alice.encrypt(text("y")), "y"));
    const Bytes good = bob.serialize();
    QVERIFY(RatchetSession::deserialize(good));

    QVERIFY(!RatchetSession::deserialize({}));
    QVERIFY(!RatchetSession::deserialize(Bytes(200, 0xAB)));
    for (std::size_t n = 0; n < good.size(); ++n)  // every truncation
      QVERIFY(!RatchetSession::deserialize(ByteView(good).first(n)));
    Bytes longer = good;
    longer.push_back(0);
    QVERIFY(!RatchetSession::deserialize(longer));
    Bytes bad_version = good;
    bad_version[4] = 99;
    QVERIFY(!RatchetSession::deserialize(bad_version));
    Bytes bad_flags = good;
    bad_flags[4 + 1 + 32] |= 0x80;
    QVERIFY(!RatchetSession::deserialize(bad_flags));

    std::mt19937 rng(1234);
    for (int i = 0; i < 2000; ++i) {
      Bytes junk(rng() % 300);
      for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
      RatchetSession::deserialize(junk);  // must not crash; result irrelevant
    }
  }
};

QTEST_GUILESS_MAIN(RatchetTest)
#include "ratchet_test.moc"
