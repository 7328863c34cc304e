// X3DH: both sides agree, bad bundles are refused, the associated data is ordered and tells
// whose keys a session belongs to.
#include <QtTest>

#include "crypto/x3dh.hpp"

using namespace parley::crypto;

namespace {

// Bob's published keys, with the secrets he keeps.
struct Bob {
  IdentityKeyPair identity = IdentityKeyPair::generate();
  KeyPair signed_prekey = KeyPair::generate();
  KeyPair one_time = KeyPair::generate();

  PrekeyBundle bundle(bool with_one_time) const {
    PrekeyBundle b;
    b.identity_key = identity.public_key();
    b.signed_prekey_id = 7;
    b.signed_prekey = signed_prekey.public_key();
    b.signed_prekey_signature = identity.sign(signed_prekey.public_key().view());
    if (with_one_time) b.one_time_prekey = std::make_pair(std::uint32_t{42}, one_time.public_key());
    return b;
  }
};

}  // namespace

class X3dhTest : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() { QVERIFY(init()); }

  void agreement_data() {
    QTest::addColumn<bool>("with_one_time");
    QTest::newRow("with one-time prekey") << true;
    QTest::newRow("without one-time prekey") << false;
  }
  void agreement() {
    QFETCH(bool, with_one_time);
    const auto alice = IdentityKeyPair::generate();
    const Bob bob;
    const auto init = x3dh_initiate(alice, bob.bundle(with_one_time));
    QVERIFY(init);
    QCOMPARE(init->signed_prekey_id, std::uint32_t{7});
    QCOMPARE(init->one_time_prekey_id.has_value(), with_one_time);
    if (with_one_time) QCOMPARE(*init->one_time_prekey_id, std::uint32_t{42});

    const auto resp = x3dh_respond(bob.identity, bob.signed_prekey, with_one_time ? &bob.one_time : nullptr,
                                   alice.public_key(), init->ephemeral_key);
    QVERIFY(resp);
    QVERIFY(constant_time_equal(init->shared_secret.view(), resp->shared_secret.view()));
    QVERIFY(init->associated_data == resp->associated_data);

    // Forgetting (or wrongly adding) the one-time prekey gives a different secret.
    const auto wrong = x3dh_respond(bob.identity, bob.signed_prekey, with_one_time ? nullptr : &bob.one_time,
                                    alice.public_key(), init->ephemeral_key);
    QVERIFY(wrong);
    QVERIFY(!constant_time_equal(init->shared_secret.view(), wrong->shared_secret.view()));
  }

  void freshEphemeralEachTime() {
    const auto alice = IdentityKeyPair::generate();
    const Bob bob;
    const auto a = x3dh_initiate(alice, bob.bundle(true));
    const auto b = x3dh_initiate(alice, bob.bundle(true));
    QVERIFY(a && b);
    QVERIFY(!(a->ephemeral_key == b->ephemeral_key));
    QVERIFY(!constant_time_equal(a->shared_secret.view(), b->shared_secret.view()));
  }

  void badSignatureRefused() {
    const auto alice = IdentityKeyPair::generate();
    const Bob bob;
    PrekeyBundle b = bob.bundle(true);
    b.signed_prekey_signature.bytes[0] ^= 0x01;
    QVERIFY(!x3dh_initiate(alice, b));

    // A valid signature by someone else over the same key.
    b = bob.bundle(true);
    b.signed_prekey_signature = IdentityKeyPair::generate().sign(b.signed_prekey.view());
    QVERIFY(!x3dh_initiate(alice, b));

    // A substituted signed prekey under the original signature.
    b = bob.bundle(true);
    b.signed_prekey = KeyPair::generate().public_key();
    QVERIFY(!x3dh_initiate(alice, b));
  }

  void impersonatedIdentityDisagrees() {
    // Mallory claims to be Alice to Bob: Bob derives a different secret.
    const auto alice = IdentityKeyPair::generate();
    const auto mallory = IdentityKeyPair::generate();
    const Bob bob;
    const auto init = x3dh_initiate(mallory, bob.bundle(false));
    QVERIFY(init);
    const auto resp = x3dh_respond(bob.identity, bob.signed_prekey, nullptr, alice.public_key(),
                                   init->ephemeral_key);
    QVERIFY(resp);
    QVERIFY(!constant_time_equal(init->shared_secret.view(), resp->shared_secret.view()));
  }

  void associatedDataIsInitiatorThenResponder() {
    const auto alice = IdentityKeyPair::generate();
    const Bob bob;
    const auto init = x3dh_initiate(alice, bob.bundle(false));
    QVERIFY(init);
    QCOMPARE(init->associated_data.size(), std::size_t{64});
    const Bytes first(init->associated_data.begin(), init->associated_data.begin() + 32);
    const Bytes second(init->associated_data.begin() + 32, init->associated_data.end());
    QVERIFY(first == Bytes(alice.public_key().bytes.begin(), alice.public_key().bytes.end()));
    QVERIFY(second == Bytes(bob.identity.public_key().bytes.begin(), bob.identity.public_key().bytes.end()));
  }

  // What a stored session says about whose keys it belongs to, in either role.
  void associatedDataBindsBothKeysOnly() {
    const auto alice = IdentityKeyPair::generate();
    const auto carol = IdentityKeyPair::generate();
    const Bob bob;
    const auto init = x3dh_initiate(alice, bob.bundle(false));
    QVERIFY(init);
    const auto& a = alice.public_key();
    const auto& b = bob.identity.public_key();
    QVERIFY(associated_data_binds(init->associated_data, a, b));
    QVERIFY(associated_data_binds(init->associated_data, b, a));
    QVERIFY(!associated_data_binds(init->associated_data, a, carol.public_key()));
    QVERIFY(!associated_data_binds(init->associated_data, carol.public_key(), b));
    QVERIFY(!associated_data_binds(ByteView(init->associated_data).first(32), a, b));
  }

  void smallOrderEphemeralRefused() {
    const auto alice = IdentityKeyPair::generate();
    const Bob bob;
    QVERIFY(!x3dh_respond(bob.identity, bob.signed_prekey, nullptr, alice.public_key(), PublicKey{}));
  }
};

QTEST_GUILESS_MAIN(X3dhTest)
#include "x3dh_test.moc"
