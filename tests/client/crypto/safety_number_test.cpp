// Safety numbers: symmetric, well formed, and sensitive to both keys and names.
#include <QtTest>

#include <QRegularExpression>

#include "crypto/safety_number.hpp"

using namespace parley::crypto;

class SafetyNumberTest : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() { QVERIFY(init()); }

  void sameOnBothSidesAndWellFormed() {
    const auto a = IdentityKeyPair::generate().public_key();
    const auto b = IdentityKeyPair::generate().public_key();
    const std::string ours = safety_number(a, "alice", b, "bob");
    const std::string theirs = safety_number(b, "bob", a, "alice");
    QCOMPARE(ours, theirs);
    QCOMPARE(ours.size(), std::size_t{60 + 11});
    static const QRegularExpression kFormat("^\\d{5}( \\d{5}){11}$");
    QVERIFY2(kFormat.match(QString::fromStdString(ours)).hasMatch(), ours.c_str());
  }

  void deterministic() {
    const auto a = IdentityKeyPair::generate().public_key();
    const auto b = IdentityKeyPair::generate().public_key();
    QCOMPARE(safety_number(a, "alice", b, "bob"), safety_number(a, "alice", b, "bob"));
  }

  void changesWhenEitherKeyOrNameChanges() {
    const auto a = IdentityKeyPair::generate().public_key();
    const auto b = IdentityKeyPair::generate().public_key();
    const auto c = IdentityKeyPair::generate().public_key();
    const std::string base = safety_number(a, "alice", b, "bob");
    QVERIFY(safety_number(c, "alice", b, "bob") != base);
    QVERIFY(safety_number(a, "alice", c, "bob") != base);
    QVERIFY(safety_number(a, "alice", b, "bobby") != base);
    PublicKey flipped = b;
    flipped.bytes[31] ^= 0x01;
    QVERIFY(safety_number(a, "alice", flipped, "bob") != base);
  }

  void halfIsThirtyDigits() {
    const auto a = IdentityKeyPair::generate().public_key();
    const std::string half = fingerprint_half(a, "alice");
    QCOMPARE(half.size(), std::size_t{30});
    const std::string full = safety_number(a, "alice", IdentityKeyPair::generate().public_key(), "bob");
    std::string digits;
    for (char ch : full)
      if (ch != ' ') digits += ch;
    QVERIFY(digits.substr(0, 30) == half || digits.substr(30) == half);
  }
};

QTEST_GUILESS_MAIN(SafetyNumberTest)
#include "safety_number_test.moc"
