// Group fan-out at scale: a kill -9 in the middle of fanning out to 500 members loses and
// duplicates nothing, and a sender's SendAck never waits for the fan-out of a 1000-member
// group, and the sender of a group that size gets its delivery marks in pages.
#include <QtTest>

#include <QElapsedTimer>

#include <chrono>
#include <set>

#include "group_helpers.hpp"
#include "relay_process.hpp"
#include "test_client.hpp"

using namespace parley;
using namespace parley::test;

namespace {

// Registers members that are then offline: one connection each, opened and closed in turn,
// so the test never holds many sockets.
bool registerMany(RelayProcess& relay, const std::string& prefix, int n,
                  std::vector<std::string>& names, std::vector<Identity>* ids = nullptr) {
  for (int i = 0; i < n; ++i) {
    names.push_back(prefix + std::to_string(i));
    TestClient c(names.back());
    if (!c.connect(relay.url())) return false;
    auto r = c.registerAccount();
    if (!r || !r->has_registered()) return false;
    if (ids) ids->push_back(c.identity());
  }
  return true;
}

bool waitMetric(RelayProcess& relay, const char* name, double want, int timeout_ms) {
  return spinUntil([&] { return metric(relay, name) == want; }, timeout_ms);
}

}  // namespace

class GroupsSlowTest : public QObject {
  Q_OBJECT

 private slots:
  void kill9DuringFanoutResumesExactly() {
    // One inbox append per fan-out step: the fan-out then takes thousands of steps however
    // fast the machine, so the kill below lands mid-way (with the default 256 appends a
    // step, 40 entries already in the log went out in two steps of 64-entry ranges, before
    // the test could look).
    RelayProcess relay({"--rate", "100000", "--rate-burst", "100000", "--group-rate", "1000",
                        "--group-rate-burst", "1000", "--group-pending-max", "1000",
                        "--fanout-chunk", "1"});
    QVERIFY(relay.start());
    auto sender = TestClient::registered(relay.url(), "k9g-sender");
    QVERIFY(sender);
    std::vector<std::string> names;
    std::vector<Identity> ids;
    QVERIFY(registerMany(relay, "k9g-", 499, names, &ids));
    auto r = sender->request(createGroupFrame(*sender, names), 20000);
    QVERIFY(r && r->has_group_created());
    const auto gid = r->group_created().group_id();
    // The CREATED event reaches all 500 inboxes. (Wait for the depth itself: right after
    // GroupCreated the backlog gauge may still read 0 because fan-out has not started.)
    QVERIFY(waitMetric(relay, "parley_inbox_depth", 500, 30000));
    QVERIFY(waitMetric(relay, "parley_group_fanout_backlog", 0, 30000));
    QCOMPARE(metric(relay, "parley_inbox_depth"), 500.0);

    const int kMessages = 200;
    std::vector<std::uint64_t> rids;
    for (int i = 0; i < kMessages; ++i)
      rids.push_back(sender->post(groupSendFrame(gid, "fan " + std::to_string(i))));
    for (auto rid : rids) {
      auto a = sender->waitResponse(rid, 20000);
      QVERIFY(a && a->has_send_ack());
    }
    // Kill once the fan-out is well under way, so the durable cursor is mid-log and
    // mid-range (one member's row a step).
    double at_kill = 0;
    QVERIFY(spinUntil([&] { return (at_kill = metric(relay, "parley_inbox_depth")) > 500 + 499.0 * 5; },
                      30000));
    relay.kill9();
    sender->disconnect();
    qInfo("killed after about %g of %d inbox copies", at_kill - 500, 499 * kMessages);
    QVERIFY(at_kill < 500 + 499.0 * kMessages);
    QVERIFY(relay.start());

    // Recovery finishes the fan-out: every member but the sender has every message once.
    const double want = 500 + 499.0 * kMessages;
    QVERIFY2(waitMetric(relay, "parley_inbox_depth", want, 60000),
             qPrintable(QString("inbox depth stuck at %1").arg(metric(relay, "parley_inbox_depth"))));
    QCOMPARE(metric(relay, "parley_group_fanout_backlog"), 0.0);
    QTest::qWait(300);  // and nothing more arrives
    QCOMPARE(metric(relay, "parley_inbox_depth"), want);

    // A handful of members, spread over the device order, see each message exactly once, in
    // group order.
    for (std::size_t i : {0, 1, 137, 256, 400, 498}) {
      TestClient c(names[i], 1, ids[i]);
      QVERIFY(c.connect(relay.url()));
      auto li = c.login(0);
      QVERIFY(li && li->has_logged_in());
      std::uint64_t next = 1;  // group seq: the CREATED event, then the messages
      while (auto d = c.waitDeliver(1000)) {
        QCOMPARE(d->group_id(), gid);
        QCOMPARE(d->conv_seq(), next);
        QCOMPARE(d->kind(), next == 1 ? wire::GROUP_EVENT : wire::GROUP_MESSAGE);
        if (next > 1) QCOMPARE(d->ciphertext(), "fan " + std::to_string(next - 2));
        ++next;
      }
      QCOMPARE(next, static_cast<std::uint64_t>(kMessages) + 2);
    }
    QVERIFY(!relay.stderrLog().contains("fanout_step_failed"));

    // Every member acknowledges everything (a login naming its inbox tail does), then the
    // sender logs in: its 499 delivery marks come in pages, by version, each covering the
    // messages from the first one (seq 2, after the CREATED event) to the last.
    for (std::size_t i = 0; i < names.size(); ++i) {
      TestClient c(names[i], 1, ids[i]);
      QVERIFY(c.connect(relay.url()));
      auto li = c.login(0);
      QVERIFY(li && li->has_logged_in());
      c.disconnect();
      QVERIFY(c.connect(relay.url()));
      QVERIFY(c.login(li->logged_in().inbox_tail_seq())->has_logged_in());
    }
    TestClient s("k9g-sender", 1, sender->identity());
    QVERIFY(s.connect(relay.url()) && s.login(0, 0)->has_logged_in());
    std::set<std::string> readers;
    std::uint64_t last_version = 0;
    int frames = 0;
    while (readers.size() < names.size()) {
      const auto marks = s.waitMarks();
      QVERIFY2(!marks.empty(), qPrintable(QString("%1 of %2 marks").arg(readers.size()).arg(names.size())));
      QVERIFY(marks.size() <= 256);
      ++frames;
      for (const auto& m : marks) {
        QVERIFY(m.version() > last_version);
        last_version = m.version();
        QCOMPARE(m.group_id(), gid);
        QCOMPARE(m.from_conv_seq(), 2u);
        QCOMPARE(m.up_to_conv_seq(), static_cast<std::uint64_t>(kMessages) + 1);
        QVERIFY(readers.insert(m.reader()).second);
      }
    }
    QVERIFY(frames >= 2);
    QVERIFY(s.waitMarks(300).empty());
  }

  void sendAckDoesNotWaitForFanout() {
    // Steps of 16 rows: the forty entries below, one range per member, are then 63 commits
    // of rows naming forty entries each, so the fan-out is still going when the 1:1 Send is
    // answered even where its commits are quick (a step alone is not synced:
    // store_worker.cpp, finish) and the 1:1 round trip slow (on a quick machine: answered
    // after 2-3 ms, the fan-out done after 80; steps of 4 rows took as long).
    RelayProcess relay({"--rate", "100000", "--rate-burst", "100000", "--fanout-chunk", "16"});
    QVERIFY(relay.start());
    auto sender = TestClient::registered(relay.url(), "big-sender");
    QVERIFY(sender);
    std::vector<std::string> names;
    QVERIFY(registerMany(relay, "big-", 999, names));
    auto r = sender->request(createGroupFrame(*sender, names), 20000);
    QVERIFY(r && r->has_group_created());
    const auto gid = r->group_created().group_id();
    QVERIFY(waitMetric(relay, "parley_inbox_depth", 1000, 30000));
    QVERIFY(waitMetric(relay, "parley_group_fanout_backlog", 0, 30000));
    QCOMPARE(metric(relay, "parley_inbox_depth"), 1000.0);

    // Forty messages (within --group-rate-burst's 50): 39,960 inbox copies to write. Every
    // ack arrives while copies are still owed.
    const int kMessages = 40;
    std::vector<std::uint64_t> rids;
    for (int i = 0; i < kMessages; ++i) rids.push_back(sender->post(groupSendFrame(gid, "big")));
    for (auto rid : rids) {
      auto a = sender->waitResponse(rid, 20000);
      QVERIFY(a && a->has_send_ack());
    }
    const auto backlog = metric(relay, "parley_group_fanout_backlog");
    const auto depth = metric(relay, "parley_inbox_depth");
    qInfo("after the last ack: backlog %g entries, inbox depth %g", backlog, depth);
    QVERIFY(backlog > 0);
    QVERIFY(depth < 1000 + 999.0 * kMessages);

    // Fan-out runs in chunks between other jobs: a 1:1 Send made now is answered while the
    // fan-out is still going, not after it.
    QElapsedTimer clock;
    clock.start();
    auto one = sender->send(names[0], "1:1 during fan-out");
    QVERIFY(one && one->has_send_ack());
    const auto send_ms = clock.elapsed();
    const auto backlog_after = metric(relay, "parley_group_fanout_backlog");
    QVERIFY(waitMetric(relay, "parley_group_fanout_backlog", 0, 60000));
    qInfo("1:1 SendAck after %lld ms with %g entries still owed; fan-out done after %lld ms",
          static_cast<long long>(send_ms), backlog_after, static_cast<long long>(clock.elapsed()));
    QVERIFY(backlog_after > 0);
    QCOMPARE(metric(relay, "parley_inbox_depth"), 1000 + 999.0 * kMessages + 1);
    QCOMPARE(metric(relay, "parley_group_fanout_deliveries_total"), 1000 + 999.0 * kMessages);
  }
};

QTEST_GUILESS_MAIN(GroupsSlowTest)
#include "groups_slow_test.moc"
