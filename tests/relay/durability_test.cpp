// What the relay acknowledged survives kill -9, retries after a crash are deduplicated, an
// acknowledgement whose delete a crash lost means a redelivery and never a loss, and SIGTERM
// drains and exits cleanly.
#include <QtTest>

#include <map>
#include <set>

#include "group_helpers.hpp"
#include "relay_process.hpp"
#include "test_client.hpp"

using namespace parley;
using namespace parley::test;

namespace {
// Sends `n` messages from `alice` to `bob` (both online), lets bob ack each, and returns the
// delivery receipts alice receives, in order.
std::vector<wire::Deliver> exchange(TestClient& alice, TestClient& bob, int n,
                                    std::vector<std::string>& ids) {
  std::vector<wire::Deliver> receipts;
  for (int i = 0; i < n; ++i) {
    ids.push_back(TestClient::randomId());
    auto r = alice.send(bob.username(), "m" + std::to_string(i), ids.back());
    if (!r || !r->has_send_ack()) return {};
    auto d = bob.waitDeliver();
    if (!d) return {};
    bob.ack(d->inbox_seq());
    auto receipt = alice.waitDeliver();
    if (!receipt || receipt->kind() != wire::DELIVERY_RECEIPT) return {};
    receipts.push_back(*receipt);
  }
  return receipts;
}
}  // namespace

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

  // An ack that covers only delivery receipts is not deleted at once (it writes no receipt,
  // nobody waits for it). Lost in a crash, the receipts come again: never a loss.
  void receiptAckLostInACrashMeansRedeliveryNeverLoss() {
    RelayProcess relay;
    QVERIFY(relay.start());
    TestClient alice("rk-alice"), bob("rk-bob");
    QVERIFY(alice.connect(relay.url()) && alice.registerAccount()->has_registered());
    QVERIFY(bob.connect(relay.url()) && bob.registerAccount()->has_registered());
    std::vector<std::string> ids;
    const auto receipts = exchange(alice, bob, 3, ids);
    QCOMPARE(receipts.size(), 3u);
    alice.ack(receipts.back().inbox_seq());
    // Bob's acks (messages) were deleted; alice's ack of her receipts is still waiting.
    QVERIFY(spinUntil([&] { return metric(relay, "parley_inbox_depth") == 3; }, 5000));
    QTest::qWait(200);
    QCOMPARE(metric(relay, "parley_inbox_depth"), 3.0);

    relay.kill9();
    alice.disconnect();
    bob.disconnect();
    QVERIFY(relay.start());
    // A client that did not record its ack (last_acked 0) gets the same receipts again...
    QVERIFY(alice.connect(relay.url()) && alice.login(0)->has_logged_in());
    for (int i = 0; i < 3; ++i) {
      auto r = alice.waitDeliver();
      QVERIFY(r);
      QCOMPARE(r->kind(), wire::DELIVERY_RECEIPT);
      QCOMPARE(r->inbox_seq(), receipts[i].inbox_seq());
      QCOMPARE(r->client_msg_id(), ids[i]);
    }
    QVERIFY(!alice.waitDeliver(300));
    alice.disconnect();
    // ...and one that did (its login's last_acked) gets nothing, and the login deletes them.
    QVERIFY(alice.connect(relay.url()) && alice.login(receipts.back().inbox_seq())->has_logged_in());
    QVERIFY(!alice.waitDeliver(300));
    QVERIFY(spinUntil([&] { return metric(relay, "parley_inbox_depth") == 0; }, 5000));
    // Bob's messages were acknowledged before the crash and stay gone.
    QVERIFY(bob.connect(relay.url()) && bob.login(0)->has_logged_in());
    QVERIFY(!bob.waitDeliver(300));
  }

  // The waiting delete is made when the connection ends, and as soon as an ack covers an
  // entry that needs a receipt.
  void waitingReceiptAckIsDeletedAtCloseOrWithTheNextMessage() {
    RelayProcess relay;
    QVERIFY(relay.start());
    TestClient alice("rc-alice"), bob("rc-bob");
    QVERIFY(alice.connect(relay.url()) && alice.registerAccount()->has_registered());
    QVERIFY(bob.connect(relay.url()) && bob.registerAccount()->has_registered());
    std::vector<std::string> ids;
    auto receipts = exchange(alice, bob, 2, ids);
    QCOMPARE(receipts.size(), 2u);
    alice.ack(receipts.back().inbox_seq());
    QVERIFY(spinUntil([&] { return metric(relay, "parley_inbox_depth") == 2; }, 5000));
    alice.disconnect();
    QVERIFY(spinUntil([&] { return metric(relay, "parley_inbox_depth") == 0; }, 5000));

    // Bob sends to alice: her ack of receipts and a message together is deleted at once,
    // and bob's receipt for his message arrives.
    QVERIFY(alice.connect(relay.url()) && alice.login(receipts.back().inbox_seq())->has_logged_in());
    receipts = exchange(alice, bob, 1, ids);
    QCOMPARE(receipts.size(), 1u);
    alice.ack(receipts.back().inbox_seq());  // waits: a receipt only
    const auto id = TestClient::randomId();
    QVERIFY(bob.send("rc-alice", "back", id)->has_send_ack());
    auto d = alice.waitDeliver();
    QVERIFY(d && d->kind() == wire::MESSAGE);
    alice.ack(d->inbox_seq());
    auto r = bob.waitDeliver();
    QVERIFY(r && r->kind() == wire::DELIVERY_RECEIPT && r->client_msg_id() == id);
    // Alice's inbox is empty; bob holds only that receipt.
    QVERIFY(spinUntil([&] { return metric(relay, "parley_inbox_depth") == 1; }, 5000));
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
