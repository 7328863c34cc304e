// What the relay acknowledged survives kill -9 (messages and delivery marks), retries after
// a crash are deduplicated, a disk whose syncs fail stops the relay before it acknowledges
// what may not be on disk, an acknowledgement whose delete waits is made in time, and
// SIGTERM drains and exits cleanly.
#include <QtTest>

#include <map>
#include <optional>
#include <set>

#include "group_helpers.hpp"
#include "relay_process.hpp"
#include "test_client.hpp"

using namespace parley;
using namespace parley::test;

namespace {
// Sends `n` messages from `alice` to `bob` (both online), lets bob ack each, and returns the
// delivery marks alice is pushed, one per ack, in order.
std::vector<wire::DeliveryMark> exchange(TestClient& alice, TestClient& bob, int n) {
  std::vector<wire::DeliveryMark> marks;
  for (int i = 0; i < n; ++i) {
    auto r = alice.send(bob.username(), "m" + std::to_string(i));
    if (!r || !r->has_send_ack()) return {};
    auto d = bob.waitDeliver();
    if (!d) return {};
    bob.ack(d->inbox_seq());
    auto got = alice.waitMarks();
    if (got.size() != 1 || got[0].up_to_conv_seq() != r->send_ack().conv_seq()) return {};
    marks.push_back(got[0]);
  }
  return marks;
}

// A disk that, from fail() until heal(), fails every sync of one file that was written to
// since fail(): the preloaded tests/support/failing_sync.cpp, the trigger a file of its own.
// A sync of older writes succeeds, so a relay that synced a commit only after acknowledging
// it would be seen acknowledging.
class FailingDisk {
 public:
  // Makes `relay`'s next starts preload it for `file` (a name without its directory); false
  // if the shim was not built.
  bool under(RelayProcess& relay, const QString& file) const {
    const QString shim = qEnvironmentVariable("PARLEY_FAILING_SYNC_LIB");
    if (shim.isEmpty()) return false;
    relay.setEnvironmentVariable("LD_PRELOAD", shim);
    relay.setEnvironmentVariable("PARLEY_FAIL_SYNC_OF", file);
    relay.setEnvironmentVariable("PARLEY_FAIL_SYNC_WHEN", trigger());
    // AddressSanitizer wants its runtime loaded first; a preloaded library comes before it.
    const QString asan = qEnvironmentVariable("ASAN_OPTIONS");
    relay.setEnvironmentVariable("ASAN_OPTIONS",
                                 (asan.isEmpty() ? "" : asan + ":") + "verify_asan_link_order=0");
    return true;
  }
  bool fail() const {
    QFile f(trigger());
    return f.open(QIODevice::WriteOnly);
  }
  bool heal() const { return QFile::remove(trigger()); }

 private:
  QString trigger() const { return scratch_.filePath("disk-fails"); }
  QTemporaryDir scratch_;
};

// Registers `alice` and `bob` on `relay` and leaves bob offline, his messages waiting.
bool registerSenderAndOfflineRecipient(RelayProcess& relay, TestClient& alice, TestClient& bob) {
  if (!alice.connect(relay.url()) || !alice.registerAccount()->has_registered()) return false;
  if (!bob.connect(relay.url()) || !bob.registerAccount()->has_registered()) return false;
  bob.disconnect();
  return true;
}

// Logs in as `bob` and takes the `expected` entries waiting for him, acking them, and then
// whatever more comes within half a second: the client_msg_ids in the order they came.
// Empty if one came twice or out of order.
std::vector<std::string> drainInbox(TestClient& bob, const QUrl& url, std::size_t expected) {
  if (!bob.connect(url) || !bob.login()->has_logged_in()) return {};
  std::vector<std::string> ids;
  std::set<std::string> seen;
  std::uint64_t last_inbox = 0;
  while (auto d = bob.waitDeliver(ids.size() < expected ? 10000 : 500)) {
    if (!seen.insert(d->client_msg_id()).second || d->inbox_seq() <= last_inbox) return {};
    last_inbox = d->inbox_seq();
    ids.push_back(d->client_msg_id());
    bob.ack(last_inbox);
  }
  return ids;
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

  // A disk that stops syncing (EIO from fdatasync): the relay must not acknowledge a message
  // whose commit it could not sync. It stops at once, saying why and nothing of the message;
  // started again on a working disk, it delivers what it acknowledged and, once the sender
  // retries, the message it did not, each exactly once.
  void aFailedWalSyncStopsTheRelayBeforeItAcknowledges() {
    FailingDisk disk;
    RelayProcess relay;
    QVERIFY2(disk.under(relay, "relay.db-wal"), "PARLEY_FAILING_SYNC_LIB is not set");
    QVERIFY(relay.start());
    TestClient alice("fs-alice"), bob("fs-bob");
    QVERIFY(registerSenderAndOfflineRecipient(relay, alice, bob));
    const std::string before = TestClient::randomId();
    auto acked = alice.request(TestClient::sendFrame("fs-bob", "before", before));
    QVERIFY(acked && acked->has_send_ack());

    QVERIFY(disk.fail());
    const std::string after = TestClient::randomId();
    const std::string body = "ciphertext-that-must-not-be-logged";
    const auto request = alice.post(TestClient::sendFrame("fs-bob", body, after));
    QVERIFY(!alice.waitResponse(request, 10000));
    QCOMPARE(relay.waitExit(5000), -1);
    QVERIFY(!relay.running());  // -1 and not running: ended by a signal (abort)
    const auto log = relay.stderrLog();
    QVERIFY2(log.contains("syncing relay.db-wal failed") && log.contains("check the disk"),
             log.right(2000).constData());
    QVERIFY(!log.contains(QByteArray::fromStdString(body)));

    QVERIFY(disk.heal());
    alice.disconnect();
    QVERIFY(relay.start());
    QVERIFY(alice.connect(relay.url()) && alice.login()->has_logged_in());
    auto retried = alice.request(TestClient::sendFrame("fs-bob", body, after));
    QVERIFY(retried && retried->has_send_ack());
    QVERIFY(retried->send_ack().conv_seq() > acked->send_ack().conv_seq());
    const std::vector<std::string> expected{before, after};
    QCOMPARE(drainInbox(bob, relay.url(), expected.size()), expected);
  }

  // A checkpoint whose sync of relay.db fails stops the relay too, after the commit it
  // followed was synced to the WAL: nothing acknowledged before it is lost, and the message
  // whose commit it followed, unacknowledged, comes back as a duplicate when retried.
  void aFailedCheckpointSyncStopsTheRelayAndLosesNothingAcknowledged() {
    FailingDisk disk;
    RelayProcess relay;
    QVERIFY2(disk.under(relay, "relay.db"), "PARLEY_FAILING_SYNC_LIB is not set");
    QVERIFY(relay.start());
    TestClient alice("fc-alice"), bob("fc-bob");
    QVERIFY(registerSenderAndOfflineRecipient(relay, alice, bob));
    QVERIFY(disk.fail());

    // One message per commit, until the WAL holds enough pages for a checkpoint (a few
    // hundred messages; bounded well above that).
    std::vector<std::string> ids;
    std::optional<std::string> unacknowledged;
    for (int i = 0; i < 5000 && !unacknowledged; ++i) {
      ids.push_back(TestClient::randomId());
      auto r = alice.request(TestClient::sendFrame("fc-bob", "m" + std::to_string(i), ids.back()));
      if (!r) unacknowledged = ids.back();
      else QVERIFY(r->has_send_ack() && !r->send_ack().duplicate());
    }
    QVERIFY2(unacknowledged, "no checkpoint ran within 5,000 commits");
    QCOMPARE(relay.waitExit(5000), -1);
    QVERIFY(!relay.running());
    const auto log = relay.stderrLog();
    QVERIFY2(log.contains("checkpointing relay.db-wal failed") && log.contains("check the disk"),
             log.right(2000).constData());

    QVERIFY(disk.heal());
    alice.disconnect();
    QVERIFY(relay.start());
    QVERIFY(alice.connect(relay.url()) && alice.login()->has_logged_in());
    auto retried = alice.request(
        TestClient::sendFrame("fc-bob", "m" + std::to_string(ids.size() - 1), *unacknowledged));
    QVERIFY(retried && retried->has_send_ack());
    QVERIFY(retried->send_ack().duplicate());
    QCOMPARE(drainInbox(bob, relay.url(), ids.size()), ids);
  }

  // A mark is stored with the ack that raised it, and its version counter with it: after
  // kill -9 the sender still finds the mark at login, and later marks keep rising.
  void deliveryMarksSurviveKill9AndKeepRising() {
    RelayProcess relay;
    QVERIFY(relay.start());
    TestClient alice("rk-alice"), bob("rk-bob");
    QVERIFY(alice.connect(relay.url()) && alice.registerAccount()->has_registered());
    QVERIFY(bob.connect(relay.url()) && bob.registerAccount()->has_registered());
    const auto marks = exchange(alice, bob, 3);
    QCOMPARE(marks.size(), 3u);
    QVERIFY(marks[0].version() < marks[1].version() && marks[1].version() < marks[2].version());
    // Nothing waits in any inbox: the marks are not entries.
    QVERIFY(spinUntil([&] { return metric(relay, "parley_inbox_depth") == 0; }, 5000));

    relay.kill9();
    alice.disconnect();
    bob.disconnect();
    QVERIFY(relay.start());
    QVERIFY(alice.connect(relay.url()) && alice.login(0, 0)->has_logged_in());
    auto again = alice.waitMarks();
    QCOMPARE(again.size(), 1u);
    QCOMPARE(again[0].up_to_conv_seq(), 3u);
    QCOMPARE(again[0].version(), marks[2].version());
    alice.disconnect();
    QVERIFY(alice.connect(relay.url()) && alice.login(0, marks[2].version())->has_logged_in());
    QVERIFY(alice.waitMarks(300).empty());
    QVERIFY(bob.connect(relay.url()) && bob.login(0)->has_logged_in());
    const auto later = exchange(alice, bob, 1);
    QCOMPARE(later.size(), 1u);
    QVERIFY(later[0].version() > marks[2].version());
  }

  // A power cut under --durability normal can take back the last commits after their entries
  // were pushed and acknowledged: the device's saved cursor is then past everything the
  // relay still has. Copying the data directory while the relay idles, and putting the copy
  // back after the relay is killed, takes back every commit made in between. The device
  // must still log in with its cursor, and the next entry must get a seq above it (one at
  // or below it would be skipped by the replay, and deleted by the login, unseen).
  void cursorPastCommitsAPowerCutTookBackStillWorks() {
    RelayProcess relay({"--durability", "normal"});
    QVERIFY(relay.start());
    TestClient alice("pc-alice"), bob("pc-bob");
    QVERIFY(alice.connect(relay.url()) && alice.registerAccount()->has_registered());
    QVERIFY(bob.connect(relay.url()) && bob.registerAccount()->has_registered());
    alice.disconnect();
    bob.disconnect();
    relay.kill9();
    QVERIFY(relay.start());  // this run's start is stored before anything else
    QTemporaryDir snapshot;
    QVERIFY(relay.copyStoreTo(snapshot.path()));

    QVERIFY(alice.connect(relay.url()) && alice.login()->has_logged_in());
    QVERIFY(bob.connect(relay.url()) && bob.login()->has_logged_in());
    std::uint64_t cursor = 0;
    for (int i = 0; i < 3; ++i) {
      QVERIFY(alice.send("pc-bob", "lost " + std::to_string(i))->has_send_ack());
      auto d = bob.waitDeliver();
      QVERIFY(d);
      cursor = d->inbox_seq();
      bob.ack(cursor);
    }
    QVERIFY(spinUntil([&] { return metric(relay, "parley_inbox_depth") == 0; }, 5000));
    relay.kill9();
    alice.disconnect();
    bob.disconnect();
    QVERIFY(relay.restoreStoreFrom(snapshot.path()));

    QVERIFY(relay.start());
    QVERIFY(bob.connect(relay.url()));
    auto li = bob.login(cursor);
    QVERIFY2(li && li->has_logged_in(), li && li->has_error() ? li->error().reason().c_str() : "");
    QVERIFY(alice.connect(relay.url()) && alice.login()->has_logged_in());
    QVERIFY(alice.send("pc-bob", "after")->has_send_ack());
    auto d = bob.waitDeliver();
    QVERIFY(d);
    QCOMPARE(d->ciphertext(), std::string("after"));
    QVERIFY(d->inbox_seq() > cursor);
    bob.ack(d->inbox_seq());
    bob.disconnect();
    // And the next login with the new cursor replays nothing again.
    QVERIFY(bob.connect(relay.url()) && bob.login(d->inbox_seq())->has_logged_in());
    QVERIFY(!bob.waitDeliver(300));
  }

  // An ack that covers only group events is not deleted at once (it raises no mark, nobody
  // waits for it): it is made when the connection ends, or with the next ack that matters.
  void waitingEventAckIsDeletedAtCloseOrWithTheNextMessage() {
    RelayProcess relay;
    QVERIFY(relay.start());
    TestClient alice("rc-alice"), bob("rc-bob");
    QVERIFY(alice.connect(relay.url()) && alice.registerAccount()->has_registered());
    QVERIFY(bob.connect(relay.url()) && bob.registerAccount()->has_registered());
    auto created = alice.request(createGroupFrame(alice, {"rc-bob"}));
    QVERIFY(created && created->has_group_created());
    auto event = [](TestClient& c) {
      return c.waitPush([](const wire::ServerFrame& x) {
        return x.has_deliver() && x.deliver().kind() == wire::GROUP_EVENT;
      });
    };
    auto a_event = event(alice), b_event = event(bob);
    QVERIFY(a_event && b_event);
    alice.ack(a_event->deliver().inbox_seq());
    bob.ack(b_event->deliver().inbox_seq());
    QTest::qWait(300);
    QCOMPARE(metric(relay, "parley_inbox_depth"), 2.0);
    bob.disconnect();
    QVERIFY(spinUntil([&] { return metric(relay, "parley_inbox_depth") == 1; }, 5000));

    // Bob sends to alice: her ack of the event and the message together is deleted at once,
    // and bob's mark for his message arrives.
    QVERIFY(bob.connect(relay.url()) && bob.login(b_event->deliver().inbox_seq())->has_logged_in());
    QVERIFY(bob.send("rc-alice", "back")->has_send_ack());
    auto d = alice.waitDeliver();
    QVERIFY(d && d->kind() == wire::MESSAGE);
    alice.ack(d->inbox_seq());
    QCOMPARE(bob.waitMarks().size(), 1u);
    QVERIFY(spinUntil([&] { return metric(relay, "parley_inbox_depth") == 0; }, 5000));
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

  // A client that never answers the close: the relay stops at the drain's deadline with the
  // connection still open, and destroys it cleanly (under ASan in the debug preset, where a
  // connection outliving the state its destructor reports to would be a use after free).
  void aClientThatNeverAnswersTheCloseDoesNotHoldTheExit() {
    RelayProcess relay;
    QVERIFY(relay.start());
    TestClient c("silent");
    QVERIFY(c.connect(relay.url()) && c.registerAccount()->has_registered());
    relay.signalTerm();
    // No event loop runs while waiting: the client's socket never answers the relay's close.
    QCOMPARE(relay.waitExit(15000), 0);
    const auto log = relay.stderrLog();
    QVERIFY2(log.contains("event=drain_deadline connections_left=1"), log.constData());
    QVERIFY(log.contains("event=stopped"));
  }
};

QTEST_GUILESS_MAIN(DurabilityTest)
#include "durability_test.moc"
