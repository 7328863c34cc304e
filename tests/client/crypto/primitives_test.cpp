// The libsodium primitives through our wrappers: RFC 7748 (X25519), RFC 8032 (Ed25519),
// draft-irtf-cfrg-xchacha-03 A.3.1 (XChaCha20-Poly1305), plus the wrappers' own contracts.
#include <QtTest>

#include "crypto/aead.hpp"
#include "crypto/keys.hpp"
#include "crypto/secure_bytes.hpp"
#include "test_hex.hpp"

using namespace parley::crypto;
using parley::crypto::test::hex;
using parley::crypto::test::to_hex;

namespace {

PublicKey pk(std::string_view h) { return *PublicKey::from(hex(h)); }

const char* kXKey = "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f";
const char* kXNonce = "404142434445464748494a4b4c4d4e4f5051525354555657";
const char* kXAad = "50515253c0c1c2c3c4c5c6c7";
const char* kXPlain =
    "4c616469657320616e642047656e746c656d656e206f662074686520636c6173"
    "73206f66202739393a204966204920636f756c64206f6666657220796f75206f"
    "6e6c79206f6e652074697020666f7220746865206675747572652c2073756e73"
    "637265656e20776f756c642062652069742e";
const char* kXCipher =
    "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
    "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
    "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
    "21f9664c97637da9768812f615c68b13b52e";
const char* kXTag = "c0875924c1c7987947deafd8780acf49";

}  // namespace

class PrimitivesTest : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() {
    QVERIFY(init());
    QVERIFY(init());  // idempotent
  }

  void x25519Rfc7748Section52_data() {
    QTest::addColumn<QByteArray>("scalar");
    QTest::addColumn<QByteArray>("u");
    QTest::addColumn<QByteArray>("out");
    QTest::newRow("vector 1") << QByteArray("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4")
                              << QByteArray("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c")
                              << QByteArray("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
    QTest::newRow("vector 2") << QByteArray("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d")
                              << QByteArray("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493")
                              << QByteArray("95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957");
  }
  void x25519Rfc7748Section52() {
    QFETCH(QByteArray, scalar);
    QFETCH(QByteArray, u);
    QFETCH(QByteArray, out);
    const auto shared = dh(hex(scalar.toStdString()), pk(u.toStdString()));
    QVERIFY(shared);
    QCOMPARE(to_hex(shared->view()), out);
  }

  void x25519Rfc7748Section61() {
    const auto alice = KeyPair::from_secret(hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
    const auto bob = KeyPair::from_secret(hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"));
    QVERIFY(alice && bob);
    QCOMPARE(to_hex(alice->public_key().view()),
             QByteArray("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"));
    QCOMPARE(to_hex(bob->public_key().view()),
             QByteArray("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"));
    const auto k1 = dh(alice->secret_bytes(), bob->public_key());
    const auto k2 = dh(bob->secret_bytes(), alice->public_key());
    QVERIFY(k1 && k2);
    const QByteArray expected("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    QCOMPARE(to_hex(k1->view()), expected);
    QCOMPARE(to_hex(k2->view()), expected);
  }

  void x25519RefusesAllZeroResult() {
    const auto k = KeyPair::generate();
    QVERIFY(!dh(k.secret_bytes(), PublicKey{}));  // the zero point has small order
    QVERIFY(!dh(hex("00"), k.public_key()));      // wrong secret size
    QVERIFY(!KeyPair::from_secret(hex("0102")));
  }

  void ed25519Rfc8032_data() {
    QTest::addColumn<QByteArray>("seed");
    QTest::addColumn<QByteArray>("pub");
    QTest::addColumn<QByteArray>("msg");
    QTest::addColumn<QByteArray>("sig");
    QTest::newRow("test 1") << QByteArray("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                            << QByteArray("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
                            << QByteArray()
                            << QByteArray("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
                                          "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
    QTest::newRow("test 2") << QByteArray("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
                            << QByteArray("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
                            << QByteArray("72")
                            << QByteArray("92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
                                          "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00");
  }
  void ed25519Rfc8032() {
    QFETCH(QByteArray, seed);
    QFETCH(QByteArray, pub);
    QFETCH(QByteArray, msg);
    QFETCH(QByteArray, sig);
    const auto id = IdentityKeyPair::from_seed(hex(seed.toStdString()));
    QVERIFY(id);
    QCOMPARE(to_hex(id->public_key().view()), pub);
    const Bytes m = hex(msg.toStdString());
    const Signature s = id->sign(m);
    QCOMPARE(to_hex(s.view()), sig);
    QVERIFY(verify(id->public_key(), m, s));

    Bytes other = m;
    other.push_back(0x00);
    QVERIFY(!verify(id->public_key(), other, s));
    Signature bad = s;
    bad.bytes[10] ^= 0x01;
    QVERIFY(!verify(id->public_key(), m, bad));

    // Saved and reloaded through secret_bytes(): same key.
    const auto again = IdentityKeyPair::from_secret(id->secret_bytes());
    QVERIFY(again);
    QCOMPARE(again->public_key(), id->public_key());
  }

  void identityFromSecretRefusesMismatchedPublicHalf() {
    const auto id = IdentityKeyPair::generate();
    Bytes secret(id.secret_bytes().begin(), id.secret_bytes().end());
    secret[40] ^= 0x01;  // corrupt the embedded public key
    QVERIFY(!IdentityKeyPair::from_secret(secret));
    QVERIFY(!IdentityKeyPair::from_secret(hex("00")));
  }

  void identityDhFormAgreesWithX25519() {
    // The converted identity keys do Diffie-Hellman like any X25519 pair.
    const auto a = IdentityKeyPair::generate();
    const auto b = IdentityKeyPair::generate();
    const auto b_x = ed25519_to_x25519(b.public_key());
    QVERIFY(b_x);
    QCOMPARE(*b_x, b.dh_public());
    const auto k1 = dh(a.dh_secret().view(), b.dh_public());
    const auto k2 = dh(b.dh_secret().view(), a.dh_public());
    QVERIFY(k1 && k2);
    QVERIFY(constant_time_equal(k1->view(), k2->view()));
  }

  void xchachaDraft03A31() {
    const Bytes key = hex(kXKey), nonce = hex(kXNonce), aad = hex(kXAad), pt = hex(kXPlain);
    const Bytes ct = aead_encrypt(key, nonce, pt, aad);
    QCOMPARE(to_hex(ct), QByteArray(kXCipher) + QByteArray(kXTag));
    const auto back = aead_decrypt(key, nonce, ct, aad);
    QVERIFY(back);
    QVERIFY(*back == pt);
  }

  void aeadRejectsAnyFlippedBit() {
    const Bytes key = hex(kXKey), nonce = hex(kXNonce), aad = hex(kXAad), pt = hex(kXPlain);
    const Bytes ct = aead_encrypt(key, nonce, pt, aad);
    // Every bit of ciphertext and tag, and a few of the AD, key and nonce.
    for (std::size_t bit = 0; bit < ct.size() * 8; ++bit) {
      Bytes c = ct;
      c[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
      QVERIFY2(!aead_decrypt(key, nonce, c, aad), qPrintable(QString("bit %1").arg(bit)));
    }
    for (std::size_t i = 0; i < aad.size(); ++i) {
      Bytes a = aad;
      a[i] ^= 0x80;
      QVERIFY(!aead_decrypt(key, nonce, ct, a));
    }
    Bytes k = key, n = nonce;
    k[0] ^= 1;
    n[23] ^= 1;
    QVERIFY(!aead_decrypt(k, nonce, ct, aad));
    QVERIFY(!aead_decrypt(key, n, ct, aad));
    QVERIFY(!aead_decrypt(key, nonce, Bytes(ct.begin(), ct.end() - 1), aad));  // truncated
    QVERIFY(!aead_decrypt(key, nonce, Bytes(5), aad));                         // shorter than a tag
    QVERIFY(!aead_decrypt(Bytes(31), nonce, ct, aad));
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, aead_encrypt(key, Bytes(12), pt, aad));
  }

  void aeadEmptyPlaintext() {
    const Bytes key = hex(kXKey), nonce = hex(kXNonce);
    const Bytes ct = aead_encrypt(key, nonce, {}, {});
    QCOMPARE(ct.size(), kAeadTagBytes);
    const auto back = aead_decrypt(key, nonce, ct, {});
    QVERIFY(back && back->empty());
  }

  void secretsAndBuffers() {
    QVERIFY(constant_time_equal(hex("0102"), hex("0102")));
    QVERIFY(!constant_time_equal(hex("0102"), hex("0103")));
    QVERIFY(!constant_time_equal(hex("0102"), hex("010200")));
    QVERIFY(constant_time_equal({}, {}));

    Secret<32> a;
    random_bytes(a.data(), a.size());
    const Secret<32> copy = a;
    Secret<32> moved = std::move(a);
    QVERIFY(constant_time_equal(copy.view(), moved.view()));
    QVERIFY(constant_time_equal(a.view(), Secret<32>().view()));  // moved-from is wiped
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, Secret<32>(hex("00")));

    SecureBuffer b(hex("0a0b0c"));
    SecureBuffer c = b;
    SecureBuffer d = std::move(b);
    QCOMPARE(b.size(), std::size_t{0});
    QVERIFY(constant_time_equal(c.view(), d.view()));
    QCOMPARE(d.size(), std::size_t{3});
  }
};

QTEST_GUILESS_MAIN(PrimitivesTest)
#include "primitives_test.moc"
