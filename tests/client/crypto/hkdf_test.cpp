// HKDF-SHA256 against RFC 5869 appendix A, test cases 1 to 3.
#include <QtTest>

#include "crypto/hkdf.hpp"
#include "test_hex.hpp"

using namespace parley::crypto;
using parley::crypto::test::hex;
using parley::crypto::test::to_hex;

class HkdfTest : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() { QVERIFY(init()); }

  void rfc5869_data() {
    QTest::addColumn<QByteArray>("ikm");
    QTest::addColumn<QByteArray>("salt");
    QTest::addColumn<QByteArray>("info");
    QTest::addColumn<int>("length");
    QTest::addColumn<QByteArray>("okm");
    QTest::newRow("A.1 basic") << QByteArray("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b")
                               << QByteArray("000102030405060708090a0b0c")
                               << QByteArray("f0f1f2f3f4f5f6f7f8f9") << 42
                               << QByteArray("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                                             "34007208d5b887185865");
    QTest::newRow("A.2 long inputs")
        << QByteArray("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
                      "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
                      "404142434445464748494a4b4c4d4e4f")
        << QByteArray("606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
                      "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
                      "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf")
        << QByteArray("b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
                      "d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeef"
                      "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
        << 82
        << QByteArray("b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
                      "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
                      "cc30c58179ec3e87c14c01d5c1f3434f1d87");
    QTest::newRow("A.3 empty salt and info")
        << QByteArray("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b") << QByteArray() << QByteArray()
        << 42
        << QByteArray("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
                      "9d201395faa4b61a96c8");
  }

  void rfc5869() {
    QFETCH(QByteArray, ikm);
    QFETCH(QByteArray, salt);
    QFETCH(QByteArray, info);
    QFETCH(int, length);
    QFETCH(QByteArray, okm);
    const Bytes i = hex(ikm.toStdString()), s = hex(salt.toStdString()), f = hex(info.toStdString());
    const SecureBuffer out = hkdf_sha256(s, i, f, static_cast<std::size_t>(length));
    QCOMPARE(out.size(), static_cast<std::size_t>(length));
    QCOMPARE(to_hex(out.view()), okm);
  }

  void prefixOfLongerOutput() {
    // Expand is a stream: a shorter length is a prefix of a longer one.
    const Bytes ikm = hex("0b0b0b0b");
    const SecureBuffer a = hkdf_sha256({}, ikm, {}, 20), b = hkdf_sha256({}, ikm, {}, 100);
    QVERIFY(constant_time_equal(a.view(), b.view().first(20)));
  }

  void maximumLength() {
    const Bytes ikm = hex("01");
    QCOMPARE(hkdf_sha256({}, ikm, {}, kHkdfMaxLength).size(), kHkdfMaxLength);
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, hkdf_sha256({}, ikm, {}, kHkdfMaxLength + 1));
  }
};

QTEST_GUILESS_MAIN(HkdfTest)
#include "hkdf_test.moc"
