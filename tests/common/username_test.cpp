#include <QtTest>

#include "parley/username.hpp"

class UsernameTest : public QObject {
  Q_OBJECT

 private slots:
  void folds_data() {
    QTest::addColumn<QString>("raw");
    QTest::addColumn<QString>("folded");
    QTest::newRow("lower") << "alice" << "alice";
    QTest::newRow("upper") << "ALICE" << "alice";
    QTest::newRow("mixed with marks") << "Al.Ice_9-x" << "al.ice_9-x";
    QTest::newRow("min length") << "abc" << "abc";
    QTest::newRow("max length") << QString(32, 'z') << QString(32, 'z');
  }
  void folds() {
    QFETCH(QString, raw);
    QFETCH(QString, folded);
    std::string why;
    QCOMPARE(QString::fromStdString(parley::fold_username(raw.toStdString(), &why)), folded);
    QVERIFY(why.empty());
  }

  void rejects_data() {
    QTest::addColumn<QByteArray>("raw");
    QTest::newRow("empty") << QByteArray("");
    QTest::newRow("short") << QByteArray("ab");
    QTest::newRow("long") << QByteArray(33, 'a');
    QTest::newRow("digit first") << QByteArray("9lives");
    QTest::newRow("dot first") << QByteArray(".hidden");
    QTest::newRow("space") << QByteArray("a b");
    QTest::newRow("slash") << QByteArray("a/b");
    QTest::newRow("nul") << QByteArray("abc\0def", 7);
    QTest::newRow("utf8") << QByteArray("m\xc3\xbcller");
    QTest::newRow("double dot") << QByteArray("a..b");
  }
  void rejects() {
    QFETCH(QByteArray, raw);
    std::string why;
    QVERIFY(parley::fold_username(std::string_view(raw.constData(), raw.size()), &why).empty());
    QVERIFY(!why.empty());
  }
};

QTEST_GUILESS_MAIN(UsernameTest)
#include "username_test.moc"
