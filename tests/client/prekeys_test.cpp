// One-time prekeys against a relay that keeps saying the stock is empty (fake_relay.hpp):
// the client tops up, but keeps at most a bounded number of secrets, and sends keys it made
// earlier before making more.
#include <QtTest>

#include <QSqlQuery>
#include <QTemporaryDir>
#include <set>

#include "client_user.hpp"
#include "crypto/keys.hpp"
#include "fake_relay.hpp"
#include "messenger.hpp"
#include "store/database.hpp"
#include "test_client.hpp"
#include "sealed_db.hpp"

using namespace parley;
using namespace parley::client;
using parley::test::FakeRelay;
using parley::test::spinUntil;

class PrekeysTest : public QObject {
  Q_OBJECT
  QTemporaryDir home_;

 private slots:
  void initTestCase() {
    QVERIFY(home_.isValid());
    QVERIFY(crypto::init());
  }

  void anEmptyStockSaidOverAndOverMakesBoundedKeys() {
    FakeRelay relay;
    QVERIFY(relay.listen());
    // Keys the relay was given, by id. An upload sent again while the previous one is not yet
    // answered carries the same keys, so uploads alone say nothing about how many exist.
    std::set<std::uint32_t> uploaded;
    relay.answer = [&](const wire::ClientFrame& f) -> std::optional<wire::ServerFrame> {
      if (!f.has_upload_prekeys()) return std::nullopt;
      for (const auto& k : f.upload_prekeys().one_time_prekeys()) uploaded.insert(k.id());
      wire::ServerFrame r;
      r.mutable_prekeys_stored()->set_one_time_prekeys_left(0);
      return r;
    };
    const auto dir = home_.filePath("vic");
    QVERIFY(test::saveNewClientProfile(relay.url(), dir, QStringLiteral("vic")));
    auto m = test::openClientProfile(dir);
    QVERIFY(m);
    m->start();
    QVERIFY(spinUntil([&] { return m->state() == RelayClient::State::Online; }, 10000));
    const auto say_empty = [&] {
      wire::ServerFrame low;
      low.mutable_prekeys_low()->set_one_time_prekeys_left(0);
      relay.push(low);
      QTest::qWait(20);
    };
    // Up to the cap (100 at a time, however slowly the machine answers), then as often again:
    // no key past it.
    for (int i = 0; i < 500 && uploaded.size() < 1000; ++i) say_empty();
    QCOMPARE(uploaded.size(), std::size_t{1000});
    for (int i = 0; i < 30; ++i) say_empty();
    QTest::qWait(1000);  // the last answers in, on a slow machine too
    QCOMPARE(uploaded.size(), std::size_t{1000});
    m.reset();
    QString error;
    auto db = parley::test::openStore(dir + "/parley.db", &error);
    QVERIFY2(db, qPrintable(error));
    QSqlQuery q(db->db());
    QVERIFY(q.exec("SELECT COUNT(*) FROM prekeys WHERE kind = 2") && q.next());
    QCOMPARE(q.value(0).toInt(), 1000);
  }
};

QTEST_GUILESS_MAIN(PrekeysTest)
#include "prekeys_test.moc"
