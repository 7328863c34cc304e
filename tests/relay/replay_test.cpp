// 100,000 entries queued for an offline device replay in order, and the relay's memory does
// not grow with the queue: it holds one window of entries at a time. The delivery window
// holds however the pages read ahead fall.
#include <QtTest>

#include "relay_process.hpp"
#include "test_client.hpp"

using namespace parley;
using namespace parley::test;

class ReplayTest : public QObject {
  Q_OBJECT

 private slots:
  void hundredThousandQueuedMessagesReplayInOrder() {
    RelayProcess relay({"--rate", "1000000", "--rate-burst", "1000000", "--durability", "normal"});
    QVERIFY(relay.start());
    TestClient alice("q-alice"), bob("q-bob");
    QVERIFY(alice.connect(relay.url()) && alice.registerAccount()->has_registered());
    QVERIFY(bob.connect(relay.url()) && bob.registerAccount()->has_registered());
    bob.disconnect();

    const int kCount = 100000;
    const std::string filler(200, 'c');  // a typical small ciphertext
    std::deque<std::uint64_t> outstanding;
    for (int i = 0; i < kCount; ++i) {
      outstanding.push_back(alice.post(TestClient::sendFrame("q-bob", std::to_string(i) + ":" + filler)));
      if (outstanding.size() >= 200) {
        auto r = alice.waitResponse(outstanding.front(), 20000);
        QVERIFY(r && r->has_send_ack());
        outstanding.pop_front();
      }
    }
    while (!outstanding.empty()) {
      QVERIFY(alice.waitResponse(outstanding.front(), 20000));
      outstanding.pop_front();
    }
    alice.disconnect();

    const qint64 before = relay.rssKiB();
    QVERIFY(bob.connect(relay.url()));
    QVERIFY(bob.login()->has_logged_in());
    qint64 peak = before;
    for (int i = 0; i < kCount; ++i) {
      auto d = bob.waitDeliver(10000);
      QVERIFY2(d, qPrintable(QString("entry %1 missing").arg(i)));
      const auto& body = d->ciphertext();
      if (body.compare(0, body.find(':'), std::to_string(i)) != 0)
        QFAIL(qPrintable(QString("entry %1 out of order").arg(i)));
      QCOMPARE(d->inbox_seq(), static_cast<std::uint64_t>(i + 1));
      if ((i + 1) % 256 == 0) bob.ack(d->inbox_seq());
      if (i % 5000 == 0) peak = std::max(peak, relay.rssKiB());
    }
    bob.ack(kCount);
    QVERIFY(bob.waitPush([](const auto& f) { return f.has_sync_complete(); }));
    peak = std::max(peak, relay.rssKiB());
    const qint64 queued_kib = kCount * 260 / 1024;  // what holding the queue would cost
    qInfo("relay RSS before replay %lld KiB, peak during replay %lld KiB (queue ~%lld KiB)",
          before, peak, queued_kib);
    if (qEnvironmentVariableIsSet("PARLEY_SANITIZED"))
      QSKIP("order checked; memory is not measurable under a sanitizer");
    // Growth bounded by one window plus SQLite's page cache, far below the queue's size.
    QVERIFY2(peak - before < queued_kib / 2,
             qPrintable(QString("relay grew by %1 KiB").arg(peak - before)));
  }

  // A client that does not ack gets one window and no more, and each ack opens the window by
  // what it acknowledges. The relay reads 256-entry pages ahead of its pushes, so a window of
  // 300 ends inside the second page and the third is read while the second is held.
  void replayStopsAtTheDeliveryWindow() {
    RelayProcess relay({"--delivery-window", "300", "--durability", "normal", "--rate", "1000000",
                        "--rate-burst", "1000000"});
    QVERIFY(relay.start());
    TestClient alice("w-alice"), bob("w-bob");
    QVERIFY(alice.connect(relay.url()) && alice.registerAccount()->has_registered());
    QVERIFY(bob.connect(relay.url()) && bob.registerAccount()->has_registered());
    bob.disconnect();
    const std::uint64_t kCount = 700;
    std::deque<std::uint64_t> outstanding;
    for (std::uint64_t i = 1; i <= kCount; ++i)
      outstanding.push_back(alice.post(TestClient::sendFrame("w-bob", std::to_string(i))));
    for (const auto id : outstanding) {
      const auto r = alice.waitResponse(id);
      QVERIFY(r && r->has_send_ack());
    }

    QVERIFY(bob.connect(relay.url()));
    QVERIFY(bob.login()->has_logged_in());
    std::uint64_t received = 0;
    const auto receiveUpTo = [&](std::uint64_t last) {
      while (received < last) {
        auto d = bob.waitDeliver();
        if (!d || d->inbox_seq() != received + 1 || d->ciphertext() != std::to_string(received + 1))
          return false;
        ++received;
      }
      return !bob.waitDeliver(300);  // and nothing beyond it
    };
    const auto synced = [&](int timeout_ms) {
      return bob.waitPush([](const auto& f) { return f.has_sync_complete(); }, timeout_ms);
    };
    QVERIFY2(receiveUpTo(300), qPrintable(QString("stopped at %1").arg(received)));
    QVERIFY(!synced(0));
    bob.ack(120);
    QVERIFY2(receiveUpTo(420), qPrintable(QString("stopped at %1").arg(received)));
    QVERIFY(!synced(0));
    bob.ack(420);
    QVERIFY2(receiveUpTo(kCount), qPrintable(QString("stopped at %1").arg(received)));
    const auto done = synced(5000);  // once the last entry is queued, before its ack
    QVERIFY(done);
    QCOMPARE(done->sync_complete().inbox_seq(), kCount);
  }

  // A client that stops acking while large entries wait: the relay holds what the window
  // let it push plus at most the page it had read, not the rest of the inbox page by page.
  void stalledClientHoldsNoMoreThanItsPages() {
    RelayProcess relay({"--delivery-window", "10", "--durability", "normal", "--rate", "1000000",
                        "--rate-burst", "1000000"});
    QVERIFY(relay.start());
    TestClient alice("b-alice"), bob("b-bob");
    QVERIFY(alice.connect(relay.url()) && alice.registerAccount()->has_registered());
    QVERIFY(bob.connect(relay.url()) && bob.registerAccount()->has_registered());
    bob.disconnect();
    const int kCount = 120;
    const std::string big(200 * 1024, 'b');  // the largest ciphertext a device may get
    std::deque<std::uint64_t> outstanding;
    for (int i = 0; i < kCount; ++i) {
      outstanding.push_back(alice.post(TestClient::sendFrame("b-bob", big)));
      if (outstanding.size() >= 8 || i == kCount - 1) {
        while (!outstanding.empty()) {
          const auto r = alice.waitResponse(outstanding.front(), 20000);
          QVERIFY(r && r->has_send_ack());
          outstanding.pop_front();
        }
      }
    }
    alice.disconnect();

    const qint64 before = relay.rssKiB();
    QVERIFY(bob.connect(relay.url()));
    QVERIFY(bob.login()->has_logged_in());
    for (int i = 1; i <= 10; ++i) {
      const auto d = bob.waitDeliver(10000);
      QVERIFY2(d && d->inbox_seq() == static_cast<std::uint64_t>(i),
               qPrintable(QString("entry %1 missing").arg(i)));
    }
    QVERIFY(!bob.waitDeliver(1000));  // the window is full; whatever it reads, it reads now
    const qint64 grown = relay.rssKiB() - before;
    const qint64 rest_kib = (kCount - 10) * 200;  // what holding the rest would cost
    qInfo("relay grew by %lld KiB while the client held back (the rest: %lld KiB)", grown,
          rest_kib);
    bob.ack(10);
    QCOMPARE(bob.waitDeliver(10000)->inbox_seq(), 11u);  // and the window opens again
    if (qEnvironmentVariableIsSet("PARLEY_SANITIZED"))
      QSKIP("delivery checked; memory is not measurable under a sanitizer");
    QVERIFY2(grown < rest_kib / 3, qPrintable(QString("relay grew by %1 KiB").arg(grown)));
  }
};

QTEST_GUILESS_MAIN(ReplayTest)
#include "replay_test.moc"
