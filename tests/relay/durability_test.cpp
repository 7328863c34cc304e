// What the relay acknowledged survives kill -9, retries after a crash are deduplicated, and
// SIGTERM drains and exits cleanly.
#include <QtTest>

#include <map>
#include <set>

#include "relay_process.hpp"
#include "test_client.hpp"

using namespace parley;
using namespace parley::test;

class DurabilityTest : public QObject {
  Q_OBJECT

 private slots:
  void ackedMessagesSurviveKill9AndRetriesAreDeduplicated() {
    RelayProcess relay;
    QVERIFY(relay.start());
    TestClient alice("k9-alice"), bob("k9-bob");
    QVERIFY(alice.connect(relay.url()) && alice.registerAccount()->has_registered());
    QVERIFY(bob.connect(relay.url()) && bob.registerAccount()->has_registered());
    bob.disconnect();

    // Pipelined sends, so many share each group commit; the relay dies mid-stream.
    const int kCount = 300;
    std::vector<std::string> ids, bodies;
    std::vector<std::uint64_t> requests;
    for (int i = 0; i < kCount; ++i) {
      ids.push_back(TestClient::randomId());
      bodies.push_back("payload-" + std::to_string(i));
      requests.push_back(alice.post(TestClient::sendFrame("k9-bob", bodies[i], ids[i])));
    }
    std::map<int, std::uint64_t> acked;  // index -> conv_seq
    for (int i = 0; i < kCount && acked.size() < 100; ++i) {
      auto r = alice.waitResponse(requests[i]);
      QVERIFY(r && r->has_send_ack());
      acked[i] = r->send_ack().conv_seq();
    }
    relay.kill9();
    alice.disconnect();
    QVERIFY(relay.start());

    // The sender's outbox retries everything not known to be acked -- here, everything.
    QVERIFY(alice.connect(relay.url()) && alice.login()->has_logged_in());
    for (int i = 0; i < kCount; ++i) {
      auto r = alice.request(TestClient::sendFrame("k9-bob", bodies[i], ids[i]));
      QVERIFY(r && r->has_send_ack());
      if (acked.count(i)) {
        QVERIFY(r->send_ack().duplicate());
        QCOMPARE(r->send_ack().conv_seq(), acked[i]);
      }
    }

    QVERIFY(bob.connect(relay.url()));
    QVERIFY(bob.login()->has_logged_in());
    std::set<std::string> got;
    std::uint64_t last_conv = 0, last_inbox = 0;
    while (got.size() < static_cast<std::size_t>(kCount)) {
      auto d = bob.waitDeliver(5000);
      QVERIFY2(d, qPrintable(QString("only %1 of %2 delivered, last inbox_seq %3 conv_seq %4").arg(got.size()).arg(kCount).arg(last_inbox).arg(last_conv)));
      QVERIFY(got.insert(d->client_msg_id()).second);  // exactly once
      QVERIFY(d->conv_seq() > last_conv);
      QVERIFY(d->inbox_seq() > last_inbox);
      last_conv = d->conv_seq();
      last_inbox = d->inbox_seq();
      if (got.size() % 100 == 0) bob.ack(d->inbox_seq());
    }
    QVERIFY(!bob.waitDeliver(300));
  }

  void sigtermClosesConnectionsAndExitsCleanly() {
    RelayProcess relay;
    QVERIFY(relay.start());
    TestClient c("term");
    QVERIFY(c.connect(relay.url()) && c.registerAccount()->has_registered());
    relay.signalTerm();
    QCOMPARE(c.waitClosed(8000), 1001);
    QCOMPARE(relay.waitExit(8000), 0);
    QVERIFY(relay.stderrLog().contains("event=stopped"));
  }
};

QTEST_GUILESS_MAIN(DurabilityTest)
#include "durability_test.moc"
