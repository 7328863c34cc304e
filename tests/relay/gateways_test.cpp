// Two gateways as the multi-gateway tier runs them: two parley-relay processes on one
// PostgreSQL database (the shared store) and one Redis (presence and routing), each holding
// its own connections. A device connected to one gets, live, what was sent on the other:
// 1:1 messages, group messages, delivery marks, presence and typing. A device logging in on
// one closes its older connection on the other. A device gone from both gets what waits at
// its next login on either. Test clusters: scripts/test-postgres and scripts/test-redis (CTest fixtures).
#include <QCryptographicHash>
#include <QDateTime>
#include <QDir>
#include <QProcess>
#include <QtTest>

#include <sodium.h>

#include <csignal>
#include <map>

#include "group_helpers.hpp"
#include "media_requests.hpp"
#include "relay_process.hpp"
#include "test_client.hpp"

using namespace parley;
using namespace parley::test;

namespace {

std::optional<wire::Deliver> nextOfKind(TestClient& c, wire::EntryKind kind, int timeout_ms = 5000) {
  auto f = c.waitPush([kind](const wire::ServerFrame& x) {
    return x.has_deliver() && x.deliver().kind() == kind;
  }, timeout_ms);
  if (!f) return std::nullopt;
  return f->deliver();
}

// A command run by redis-cli on the Redis at `socket`; what it printed.
QString redisAt(const QString& socket, const QStringList& command) {
  QProcess cli;
  cli.start("redis-cli", QStringList{"-s", socket} + command);
  if (!cli.waitForFinished(5000)) return "(redis-cli did not answer)";
  return QString::fromUtf8(cli.readAllStandardOutput()).trimmed();
}

// The same on the test server the gateways share.
QString redis(const QStringList& command) {
  return redisAt(qEnvironmentVariable("PARLEY_TEST_REDIS").mid(QStringLiteral("unix:").size()),
                 command);
}

// The gateway a device's key names ("" when none): the key holds "<gateway>:<login>".
QString gatewayOf(const QString& key) {
  const auto value = redis({"GET", key});
  const auto colon = value.indexOf(':');
  if (colon != 16) return value.isEmpty() ? QString() : "(malformed: " + value + ")";
  return value.left(colon);
}

std::uint64_t loginNumberOf(const QString& key) {
  const auto value = redis({"GET", key});
  return value.mid(value.indexOf(':') + 1).toULongLong();
}

// Whether the one device logged in on `gateway` has made the two inbox reads of its login
// (the login's own, and the one its wake notice asks for) and they are over, so that the
// count stays put until something else makes it read. (A read is counted when it starts;
// one takes a few milliseconds.)
bool loginReadsDone(RelayProcess& gateway) {
  for (int i = 0; i < 100 && metric(gateway, "parley_inbox_reads_total") < 2; ++i) QTest::qWait(50);
  QTest::qWait(300);
  return metric(gateway, "parley_inbox_reads_total") == 2;
}

// SubscribePresence with `names`; the answer.
std::optional<wire::ServerFrame> subscribe(TestClient& c, const std::vector<std::string>& names) {
  wire::ClientFrame f;
  auto* sub = f.mutable_subscribe_presence();  // an empty list is a valid request
  for (const auto& n : names) sub->add_usernames(n);
  return c.request(f);
}

// A Redis of the test's own, on a Unix socket in a temporary directory, keeping nothing on
// disk: for tests that stop it or configure it (the shared one serves the others).
class OwnRedis {
 public:
  explicit OwnRedis(QStringList extra = {}) : extra_(std::move(extra)) {}
  ~OwnRedis() { stop(); }
  bool start() {
    process_.start("redis-server", QStringList{"--port", "0", "--unixsocket", socket(),
                                               "--unixsocketperm", "700", "--save", "",
                                               "--appendonly", "no", "--dir", dir_.path()} +
                                       extra_);
    for (int i = 0; i < 100 && !QFileInfo::exists(socket()); ++i) QTest::qWait(50);
    return QFileInfo::exists(socket());
  }
  void stop() {
    if (process_.state() != QProcess::NotRunning) {
      process_.kill();
      process_.waitForFinished(5000);
    }
    QFile::remove(socket());
  }
  QString socket() const { return dir_.filePath("redis.sock"); }
  QString address() const { return "unix:" + socket(); }
  QString cli(const QStringList& command) const { return redisAt(socket(), command); }

 private:
  QTemporaryDir dir_;
  QStringList extra_;
  QProcess process_;
};

// A file holding `text`, readable by its owner alone unless `others_read`; its path.
QString secretFile(const QTemporaryDir& dir, const QString& name, const QByteArray& text,
                   bool others_read = false) {
  QFile f(dir.filePath(name));
  f.open(QIODevice::WriteOnly);
  f.write(text);
  f.setPermissions(QFile::ReadOwner | QFile::WriteOwner |
                   (others_read ? QFile::ReadOther : QFile::Permissions{}));
  return f.fileName();
}

}  // namespace

class GatewaysTest : public QObject {
  Q_OBJECT
  std::unique_ptr<RelayProcess> a_, b_;
  QString db_;  // their shared store

 private slots:
  void init() {
    const auto redis_url = qEnvironmentVariable("PARLEY_TEST_REDIS");
    if (redis_url.isEmpty() || qEnvironmentVariable("PARLEY_TEST_POSTGRES").isEmpty())
      QFAIL("PARLEY_TEST_REDIS and PARLEY_TEST_POSTGRES are not set: run this through ctest, "
            "which starts both test servers");
    db_ = freshPostgresDatabase();
    QVERIFY(!db_.isEmpty());
    // Each test starts on an empty Redis, as on a fresh database: what an earlier test or an
    // earlier run left within its TTLs (presence, subscriptions) would otherwise answer for
    // the same user names. The server is this run's own (scripts/test-redis).
    QCOMPARE(redis({"FLUSHDB"}), QString("OK"));
    const QStringList shared{"--postgres", db_, "--redis", redis_url};
    a_ = std::make_unique<RelayProcess>(shared);
    b_ = std::make_unique<RelayProcess>(shared);
    QVERIFY(a_->start());
    QVERIFY(b_->start());
  }

  void cleanup() {
    a_.reset();
    b_.reset();
  }

  // Alice on gateway a, Bob on gateway b: Bob has her message the moment it is stored, not
  // at his next login, and Alice has his delivery mark the moment he acknowledges it.
  void aMessageAndItsMarkCrossGateways() {
    auto alice = TestClient::registered(a_->url(), "x-alice");
    auto bob = TestClient::registered(b_->url(), "x-bob");
    QVERIFY(alice && bob);
    QTRY_COMPARE(gatewayOf("parley:at:x-bob:1").size(), 16);
    QTRY_COMPARE(gatewayOf("parley:at:x-alice:1").size(), 16);
    QVERIFY(gatewayOf("parley:at:x-bob:1") != gatewayOf("parley:at:x-alice:1"));
    QVERIFY(loginReadsDone(*b_));
    const auto reads = metric(*b_, "parley_inbox_reads_total");
    auto sent = alice->send("x-bob", "ciphertext for bob");
    QVERIFY(sent && sent->has_send_ack());
    // Well before any login or poll would bring it: pushed.
    auto got = bob->waitDeliver(3000);
    QVERIFY2(got, "the message did not reach the other gateway's connection");
    QCOMPARE(got->ciphertext(), std::string("ciphertext for bob"));
    QCOMPARE(got->sender(), std::string("x-alice"));
    bob->ack(got->inbox_seq());
    const auto marks = alice->waitMarks();
    QCOMPARE(marks.size(), std::size_t{1});
    QCOMPARE(marks[0].reader(), std::string("x-bob"));
    QCOMPARE(marks[0].up_to_conv_seq(), sent->send_ack().conv_seq());
    QVERIFY(metric(*b_, "parley_routed_notices_received_total") >= 1);
    QVERIFY(metric(*a_, "parley_routed_notices_received_total") >= 1);
    // The notice carried the message: b pushed it without reading the store.
    QCOMPARE(metric(*b_, "parley_routed_entries_received_total"), 1.0);
    QCOMPARE(metric(*b_, "parley_inbox_reads_total"), reads);
    // The notice said which of Alice's marks it follows (none): sent without a read.
    QCOMPARE(metric(*a_, "parley_marks_out_of_order_total"), 0.0);
  }

  // A tier being upgraded: a gateway that reads notices of version 1, or has not said which
  // it reads, gets their older form, which it can parse. The message still crosses live,
  // read from the store there instead of carried.
  void aGatewayReadingOlderNoticesGetsTheirOlderForm() {
    // b beats (and says again which version it reads) every 20 minutes, not every 40 s, so no
    // beat undoes what the test writes.
    b_ = std::make_unique<RelayProcess>(QStringList{"--postgres", db_, "--redis",
                                                    qEnvironmentVariable("PARLEY_TEST_REDIS"),
                                                    "--presence-ttl-seconds", "3600"});
    QVERIFY(b_->start());
    auto alice = TestClient::registered(a_->url(), "o-alice");
    auto bob = TestClient::registered(b_->url(), "o-bob");
    QVERIFY(alice && bob);
    QTRY_COMPARE(gatewayOf("parley:at:o-bob:1").size(), 16);
    const auto b = gatewayOf("parley:at:o-bob:1");
    QTRY_COMPARE(redis({"HGET", "parley:notices", b}), QString("2"));  // said with its beat
    QVERIFY(loginReadsDone(*b_));
    const auto crosses = [&](const std::string& text) {
      if (!alice->send("o-bob", text)) return false;
      auto got = bob->waitDeliver(3000);
      if (!got || got->ciphertext() != text) return false;
      bob->ack(got->inbox_seq());
      return true;
    };
    QCOMPARE(redis({"HSET", "parley:notices", b, "1"}), QString("0"));
    QVERIFY2(crosses("read from the store"), "the older form did not reach the gateway");
    QCOMPARE(metric(*b_, "parley_routed_entries_received_total"), 0.0);
    QCOMPARE(redis({"HDEL", "parley:notices", b}), QString("1"));
    QVERIFY(crosses("read from the store again"));
    QCOMPARE(metric(*b_, "parley_routed_entries_received_total"), 0.0);
    QCOMPARE(redis({"HSET", "parley:notices", b, "2"}), QString("1"));
    const auto reads = metric(*b_, "parley_inbox_reads_total");
    QVERIFY(crosses("carried"));
    QCOMPARE(metric(*b_, "parley_routed_entries_received_total"), 1.0);
    QCOMPARE(metric(*b_, "parley_inbox_reads_total"), reads);
  }

  // An entry carried without the gateways' key (kept in the store, never in Redis) is
  // refused, its announcement kept: whoever can publish on Redis cannot push a made-up
  // message in place of the stored one at that seq, whose ack would then delete the real
  // one. A made-up announcement costs one read, not a read for ever.
  void aCarriedEntryNeedsTheGatewaysKey() {
    auto alice = TestClient::registered(a_->url(), "f-alice");
    auto bob = TestClient::registered(b_->url(), "f-bob");
    QVERIFY(alice && bob);
    QTRY_COMPARE(gatewayOf("parley:at:f-bob:1").size(), 16);
    const auto channel = "parley:gw:" + gatewayOf("parley:at:f-bob:1");
    QVERIFY(loginReadsDone(*b_));
    QVERIFY(alice->send("f-bob", "one"));
    auto got = bob->waitDeliver(3000);
    QVERIFY(got);
    const auto next = got->inbox_seq() + 1;
    bob->ack(got->inbox_seq());
    // Bob's next entry as a carried notice announces it, well formed and fresh, its MAC made
    // under a key of the forger's own.
    auto text = QString("A f-bob 1 %1 f-alice 1 1 000102030405060708090a0b0c0d0e0f 9 %2 0 Zm9yZ2Vk")
                    .arg(next)
                    .arg(QDateTime::currentMSecsSinceEpoch())
                    .toStdString();
    unsigned char key[crypto_auth_KEYBYTES], mac[crypto_auth_BYTES];
    randombytes_buf(key, sizeof key);
    crypto_auth(mac, reinterpret_cast<const unsigned char*>(text.data()), text.size(), key);
    char b64[sodium_base64_ENCODED_LEN(sizeof mac, sodium_base64_VARIANT_ORIGINAL_NO_PADDING)];
    sodium_bin2base64(b64, sizeof b64, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    text += std::string(" ") + b64;
    const auto reads = metric(*b_, "parley_inbox_reads_total");
    QCOMPARE(redis({"PUBLISH", channel, QString::fromStdString(text)}), QString("1"));
    QVERIFY2(!bob->waitDeliver(500), "a forged entry was pushed");
    QCOMPARE(metric(*b_, "parley_routed_entries_refused_total"), 1.0);
    // Announced all the same, so read once, and found not to be there.
    QCOMPARE(metric(*b_, "parley_inbox_reads_total"), reads + 1);
    // An announcement of a seq far ahead, as anyone on Redis can make: read once, then the
    // store's word stands (before, the session read again after every empty read).
    QCOMPARE(redis({"PUBLISH", channel, "A f-bob 1 999999999"}), QString("1"));
    QTest::qWait(500);
    QCOMPARE(metric(*b_, "parley_inbox_reads_total"), reads + 2);
    QVERIFY(alice->send("f-bob", "two"));
    got = bob->waitDeliver(3000);
    QVERIFY(got);
    QCOMPARE(got->inbox_seq(), next);
    QCOMPARE(got->ciphertext(), std::string("two"));
    QCOMPARE(metric(*b_, "parley_routed_entries_received_total"), 2.0);
    QCOMPARE(metric(*b_, "parley_inbox_reads_total"), reads + 2);  // "two" came carried
  }

  // A routing key damaged in the database (edited by hand, or restored from elsewhere) stops a
  // gateway at start with what to do, rather than have it MAC with a key the others do not
  // share. The gateways already running keep theirs.
  void aDamagedRoutingKeyStopsAGatewayAndSaysWhatToDo() {
    QProcess psql;
    psql.start("psql", {db_, "-qAtc", "UPDATE meta SET value = '\\x0102' WHERE key = 'routing_key'"});
    QVERIFY(psql.waitForFinished(30000) && psql.exitCode() == 0);
    QTemporaryDir dir;
    const auto refused = runRelay({"--listen", "127.0.0.1:0", "--data-dir", dir.path(), "--postgres",
                                   db_, "--redis", qEnvironmentVariable("PARLEY_TEST_REDIS")},
                                  15000);
    QVERIFY2(refused.code > 0, refused.err.constData());
    QVERIFY2(refused.err.contains("is 2 bytes, not 32") &&
                 refused.err.contains("DELETE FROM meta WHERE key = 'routing_key'"),
             refused.err.constData());
    auto alice = TestClient::registered(a_->url(), "r-alice");
    auto bob = TestClient::registered(b_->url(), "r-bob");
    QVERIFY(alice && bob);
    QTRY_COMPARE(gatewayOf("parley:at:r-bob:1").size(), 16);
    QVERIFY(alice->send("r-bob", "still carried"));
    const auto got = bob->waitDeliver(3000);
    QVERIFY(got && got->ciphertext() == "still carried");
  }

  // A group whose members are on both gateways: one GroupSend on a, fanned out there, reaches
  // the member on b as it reaches the member on a.
  void aGroupMessageReachesMembersOnBothGateways() {
    auto alice = TestClient::registered(a_->url(), "y-alice");
    auto bob = TestClient::registered(b_->url(), "y-bob");
    auto carol = TestClient::registered(a_->url(), "y-carol");
    QVERIFY(alice && bob && carol);
    // Routing knows a device once its login's key is in Redis (a notice sent before goes
    // nowhere: docs/architecture.md, 8.3).
    QTRY_COMPARE(gatewayOf("parley:at:y-bob:1").size(), 16);
    auto created = alice->request(createGroupFrame(*alice, {"y-bob", "y-carol"}));
    QVERIFY(created && created->has_group_created());
    const auto gid = created->group_created().group_id();
    QVERIFY(alice->request(groupSendFrame(gid, "to the group")));
    for (auto* member : {bob.get(), carol.get()}) {
      auto d = nextOfKind(*member, wire::GROUP_MESSAGE);
      QVERIFY2(d, qPrintable(QString::fromStdString(member->username()) + " missed it"));
      QCOMPARE(d->ciphertext(), std::string("to the group"));
      QCOMPARE(d->group_id(), gid);
    }
  }

  // Bob's device logs in again on the other gateway: his connection on the first is closed
  // as displaced, as on one relay, and Redis names the new gateway.
  void aLoginOnTheOtherGatewayClosesTheOldConnection() {
    auto first = TestClient::registered(a_->url(), "z-bob");
    QVERIFY(first);
    QTRY_COMPARE(gatewayOf("parley:at:z-bob:1").size(), 16);
    const auto on_a = gatewayOf("parley:at:z-bob:1");
    TestClient second("z-bob", 1, first->identity());
    QVERIFY(second.connect(b_->url()));
    QVERIFY(second.login()->has_logged_in());
    QCOMPARE(first->waitClosed(), 4001);
    // The old connection's going does not take the new one's entry with it.
    QTRY_VERIFY(gatewayOf("parley:at:z-bob:1") != on_a);
    QCOMPARE(gatewayOf("parley:at:z-bob:1").size(), 16);
    QTest::qWait(300);
    QCOMPARE(gatewayOf("parley:at:z-bob:1").size(), 16);
    // And once more on the same gateway: the connection it replaces there leaves the
    // device's entry to the new one, which still gets, live, what is sent on the other.
    const auto on_b = gatewayOf("parley:at:z-bob:1");
    TestClient third("z-bob", 1, first->identity());
    QVERIFY(third.connect(b_->url()));
    QVERIFY(third.login()->has_logged_in());
    QCOMPARE(second.waitClosed(), 4001);
    QTest::qWait(300);
    QCOMPARE(gatewayOf("parley:at:z-bob:1"), on_b);
    auto alice = TestClient::registered(a_->url(), "z-alice");
    QVERIFY(alice && alice->send("z-bob", "still here?"));
    auto got = third.waitDeliver(3000);
    QVERIFY(got);
    QCOMPARE(got->ciphertext(), std::string("still here?"));
  }

  // A device that left keeps no presence in Redis, and what is sent meanwhile waits in the
  // shared store for its next login, whichever gateway that is on.
  void aDeviceGoneFromBothGetsItsMessagesOnEither() {
    auto alice = TestClient::registered(a_->url(), "w-alice");
    auto bob = TestClient::registered(b_->url(), "w-bob");
    QVERIFY(alice && bob);
    QTRY_COMPARE(gatewayOf("parley:at:w-bob:1").size(), 16);
    bob->disconnect();
    QTRY_COMPARE(gatewayOf("parley:at:w-bob:1"), QString());
    QVERIFY(alice->send("w-bob", "while you were away"));
    TestClient again("w-bob", 1, bob->identity());
    QVERIFY(again.connect(a_->url()));
    QVERIFY(again.login()->has_logged_in());
    auto got = again.waitDeliver();
    QVERIFY(got);
    QCOMPARE(got->ciphertext(), std::string("while you were away"));
  }

  // A displacement notice names the login it ends: one that ended an older login of the
  // device here (late, or forged) leaves the newer connection alone; the one naming it
  // closes it. Neither compares clocks. Malformed notices are dropped.
  void aDisplacementNoticeEndsOnlyTheLoginItNames() {
    auto bob = TestClient::registered(a_->url(), "d-bob");
    QVERIFY(bob);
    QTRY_COMPARE(gatewayOf("parley:at:d-bob:1").size(), 16);
    const auto channel = "parley:gw:" + gatewayOf("parley:at:d-bob:1");
    const auto login = loginNumberOf("parley:at:d-bob:1");
    QVERIFY(login >= 1);
    for (const auto& junk : {"D d-bob 1", "D D-Bob 1 99", "D d-bob one 99", "X d-bob 1 99",
                             "W d-bob 1 2", "P d-bob 1 -1"})
      QCOMPARE(redis({"PUBLISH", channel, junk}), QString("1"));
    QCOMPARE(redis({"PUBLISH", channel, QString("D d-bob 1 %1").arg(login - 1)}), QString("1"));
    QCOMPARE(bob->waitClosed(500), -1);
    QVERIFY(bob->send("d-bob", "to myself, still connected"));
    QCOMPARE(redis({"PUBLISH", channel, QString("D d-bob 1 %1").arg(login)}), QString("1"));
    QCOMPARE(bob->waitClosed(), 4001);
  }

  // Notices published while a device's key was missing (Redis restarted empty, a login's
  // first moments) went nowhere. When a gateway's link to Redis comes back, it sets its
  // devices' keys again and each connection reads the store again: the message that was
  // announced to no one arrives anyway, without another notice or a new login.
  void aNoticeLostWhileRedisWasAwayIsMadeUp() {
    auto alice = TestClient::registered(a_->url(), "r-alice");
    auto bob = TestClient::registered(b_->url(), "r-bob");
    QVERIFY(alice && bob);
    QTRY_COMPARE(gatewayOf("parley:at:r-bob:1").size(), 16);
    const auto on_b = gatewayOf("parley:at:r-bob:1");
    // Bob's own login was woken once its key was set (the login's wake notice).
    QTRY_VERIFY(metric(*b_, "parley_routed_notices_received_total") >= 1);
    QCOMPARE(redis({"DEL", "parley:at:r-bob:1"}), QString("1"));
    QVERIFY(alice->send("r-bob", "announced to nobody"));
    QVERIFY2(!bob->waitDeliver(1000), "delivered without a notice: the test proves nothing");
    QVERIFY(redis({"CLIENT", "KILL", "TYPE", "pubsub"}).toInt() >= 2);
    auto got = bob->waitDeliver(5000);
    QVERIFY2(got, "the message waited for a notice that was lost");
    QCOMPARE(got->ciphertext(), std::string("announced to nobody"));
    QTRY_COMPARE(gatewayOf("parley:at:r-bob:1"), on_b);
  }

  // Redis drops the gateways' command links but not their subscriptions (a timeout, a
  // proxy restarting): no gateway wakes its devices, since none lost what was published to
  // it. A notice that was on a broken link is sent again on the next, so it is not lost.
  void aNoticeOnABrokenCommandLinkIsSentAgain() {
    auto alice = TestClient::registered(a_->url(), "l-alice");
    auto bob = TestClient::registered(b_->url(), "l-bob");
    QVERIFY(alice && bob);
    QTRY_COMPARE(gatewayOf("parley:at:l-bob:1").size(), 16);
    QTRY_COMPARE(gatewayOf("parley:at:l-alice:1").size(), 16);
    QVERIFY(redis({"CLIENT", "KILL", "TYPE", "normal"}).toInt() >= 2);
    QVERIFY(alice->send("l-bob", "sent as the link broke"));
    auto got = bob->waitDeliver(3000);
    QVERIFY2(got, "the notice on the broken link was lost");
    QCOMPARE(got->ciphertext(), std::string("sent as the link broke"));
  }

  // A gateway killed in the middle of a group's fan-out: another gateway finds the fan-out
  // still behind at two looks (--fanout-take-over-seconds apart) and finishes it, with no
  // new send to the group and no restart. The member last in the fan-out's order, who had
  // not got everything, gets the rest, in order, once.
  void aFanOutADeadGatewayLeftIsTakenOver() {
    const auto redis = qEnvironmentVariable("PARLEY_TEST_REDIS");
    const QStringList shared{"--postgres", db_, "--redis", redis};
    // One inbox row per step: the fan-out of 40 entries to 60 members takes a while.
    RelayProcess dying(shared + QStringList{"--fanout-chunk", "1", "--group-rate", "1000",
                                            "--group-rate-burst", "1000"});
    RelayProcess survivor(shared + QStringList{"--fanout-take-over-seconds", "3"});
    QVERIFY(dying.start());
    QVERIFY(survivor.start());
    std::vector<std::string> members;
    for (int i = 0; i < 59; ++i) {
      members.push_back("t-m" + std::to_string(i));
      QVERIFY(registerOffline(survivor, members.back()));
    }
    // Registered last, so last in every round of the fan-out.
    auto watcher = TestClient::registered(survivor.url(), "t-watcher");
    QVERIFY(watcher);
    members.push_back("t-watcher");
    auto sender = TestClient::registered(dying.url(), "t-sender");
    QVERIFY(sender);
    auto created = sender->request(createGroupFrame(*sender, members));
    QVERIFY(created && created->has_group_created());
    const auto gid = created->group_created().group_id();
    constexpr int kMessages = 40;
    std::vector<std::uint64_t> asked;
    for (int i = 0; i < kMessages; ++i)
      asked.push_back(sender->post(groupSendFrame(gid, "m" + std::to_string(i))));
    for (auto id : asked) {
      auto r = sender->waitResponse(id, 10000);
      QVERIFY2(r && r->has_send_ack(), r ? r->DebugString().c_str() : "no answer");
    }
    dying.kill9();
    std::vector<std::string> got;
    while (auto d = nextOfKind(*watcher, wire::GROUP_MESSAGE, 300)) got.push_back(d->ciphertext());
    qInfo("the watcher had %zu of %d at the kill", got.size(), kMessages);
    QVERIFY2(got.size() < std::size_t{kMessages},
             "the fan-out was done before the kill: the test proves nothing");
    while (got.size() < std::size_t{kMessages}) {
      auto d = nextOfKind(*watcher, wire::GROUP_MESSAGE, 15000);
      QVERIFY2(d, qPrintable(QString("%1 of %2 arrived: the rest were not taken over")
                                 .arg(got.size())
                                 .arg(kMessages)));
      got.push_back(d->ciphertext());
    }
    for (int i = 0; i < kMessages; ++i) QCOMPARE(got[i], "m" + std::to_string(i));
    QVERIFY(!nextOfKind(*watcher, wire::GROUP_MESSAGE, 300));
    QVERIFY(survivor.stderrLog().contains("event=fanout_take_over"));
  }

  // The gateways call their scripts by SHA-1. Redis forgetting them without a restart
  // (SCRIPT FLUSH by hand) costs the commands of one batch, not routing: the next batch
  // goes on a new link that loads them again, and the message it announces brings the one
  // whose notice was refused with it.
  void routingOutlivesFlushedScripts() {
    auto alice = TestClient::registered(a_->url(), "s-alice");
    auto bob = TestClient::registered(b_->url(), "s-bob");
    QVERIFY(alice && bob);
    QTRY_COMPARE(gatewayOf("parley:at:s-bob:1").size(), 16);
    QCOMPARE(redis({"SCRIPT", "FLUSH"}), QString("OK"));
    QVERIFY(alice->send("s-bob", "first"));
    QTest::qWait(200);
    QVERIFY(alice->send("s-bob", "second"));
    for (const auto* body : {"first", "second"}) {
      auto got = bob->waitDeliver(3000);
      QVERIFY2(got, "routing stopped once Redis forgot the scripts");
      QCOMPARE(got->ciphertext(), std::string(body));
    }
  }

  // A device running out of one-time prekeys hears of it wherever it is connected, not only
  // when the fetch that used them up came through its own gateway.
  void thePrekeyWarningReachesTheOwnerOnTheOtherGateway() {
    auto owner = TestClient::registered(b_->url(), "p-owner");
    auto asker = TestClient::registered(a_->url(), "p-asker");
    QVERIFY(owner && asker);
    QTRY_COMPARE(gatewayOf("parley:at:p-owner:1").size(), 16);
    auto stored = owner->request(owner->prekeyUploadFrame(std::string(32, 's'), 3));
    QVERIFY(stored && stored->has_prekeys_stored());
    wire::ClientFrame fetch;
    fetch.mutable_fetch_prekey_bundle()->set_username("p-owner");
    auto bundle = asker->request(fetch);
    QVERIFY(bundle && bundle->has_prekey_bundle());
    auto low = owner->waitPush([](const auto& f) { return f.has_prekeys_low(); }, 3000);
    QVERIFY2(low, "the owner on the other gateway was not told");
    QCOMPARE(low->prekeys_low().one_time_prekeys_left(), 2u);
  }

  // Presence is mutual whatever gateway each side is on: the subscriptions live in Redis,
  // and each change reaches every device of every mutual subscriber, as on one relay
  // (messaging_test's presenceIsMutual, here with Alice and Eve on a and Bob on b).
  void presenceIsMutualAcrossGateways() {
    auto alice = TestClient::registered(a_->url(), "g-alice");
    auto bob = TestClient::registered(b_->url(), "g-bob");
    auto eve = TestClient::registered(a_->url(), "g-eve");
    QVERIFY(alice && bob && eve);
    for (const auto* key : {"parley:at:g-alice:1", "parley:at:g-bob:1", "parley:at:g-eve:1"})
      QTRY_COMPARE(gatewayOf(key).size(), 16);
    const auto presence = [](const wire::ServerFrame& x) { return x.has_presence_update(); };
    // Eve watches Alice, who does not watch her: Eve learns nothing.
    QCOMPARE(subscribe(*eve, {"g-alice"})->presence_snapshot().users_size(), 0);
    QCOMPARE(subscribe(*alice, {"g-bob"})->presence_snapshot().users_size(), 0);
    auto b = subscribe(*bob, {"g-alice", "G-Alice", "g-eve"});  // a repeat counts once
    QVERIFY(b && b->has_presence_snapshot());
    QCOMPARE(b->presence_snapshot().users_size(), 1);
    QCOMPARE(b->presence_snapshot().users(0).username(), std::string("g-alice"));
    QVERIFY(b->presence_snapshot().users(0).online());
    auto on = alice->waitPush(presence);
    QVERIFY2(on, "Bob's subscription on b did not reach Alice on a");
    QCOMPARE(on->presence_update().username(), std::string("g-bob"));
    QVERIFY(on->presence_update().online());
    // Subscriptions outlive the connection, but not for ever: they carry a TTL.
    QVERIFY(redis({"TTL", "parley:sub:g-bob"}).toInt() > 0);

    bob->disconnect();
    auto off = alice->waitPush(presence);
    QVERIFY(off);
    QCOMPARE(off->presence_update().username(), std::string("g-bob"));
    QVERIFY(!off->presence_update().online());
    QVERIFY(off->presence_update().last_seen_ms() > 0);
    QVERIFY(!eve->waitPush(presence, 200));
    // Alice subscribing again sees Bob's last-seen time, kept in Redis.
    auto again = subscribe(*alice, {"g-bob"});
    QCOMPARE(again->presence_snapshot().users_size(), 1);
    QVERIFY(!again->presence_snapshot().users(0).online());
    QCOMPARE(again->presence_snapshot().users(0).last_seen_ms(),
             off->presence_update().last_seen_ms());

    // Back, now on a: his subscriptions were kept, so Alice hears he is online.
    TestClient bob_again("g-bob", 1, bob->identity());
    QVERIFY(bob_again.connect(a_->url()));
    QVERIFY(bob_again.login()->has_logged_in());
    auto back = alice->waitPush(presence);
    QVERIFY(back && back->presence_update().online());
    // His device moving to b is not going offline and coming back: Alice hears nothing.
    TestClient bob_moved("g-bob", 1, bob->identity());
    QVERIFY(bob_moved.connect(b_->url()));
    QVERIFY(bob_moved.login()->has_logged_in());
    QCOMPARE(bob_again.waitClosed(), 4001);
    QVERIFY(!alice->waitPush(presence, 500));

    // Alice stops following Bob: he is told she is no longer visible, and her leaving later
    // reaches him no more.
    QCOMPARE(subscribe(*alice, {})->presence_snapshot().users_size(), 0);
    auto gone = bob_moved.waitPush(presence);
    QVERIFY(gone);
    QCOMPARE(gone->presence_update().username(), std::string("g-alice"));
    QVERIFY(!gone->presence_update().online());
    QCOMPARE(gone->presence_update().last_seen_ms(), 0u);
    alice->disconnect();
    QVERIFY(!bob_moved.waitPush(presence, 300));
  }

  // A gateway that dies says nothing; once it has not beaten for its presence TTL, a live
  // one tells the dead one's users' mutual subscribers they went offline, last seen at its
  // last beat, and their keys go. Each gateway's deadline is its own (a and b keep 120 s).
  // One only silent that long (stopped, as a long pause or a cut link would leave it) is
  // taken for dead the same way, and once back, with its link to Redis made again, finds
  // its users offline and says they are online again.
  void aDeadGatewaysUsersGoOfflineASilentOnesComeBack() {
    const QStringList tier{"--postgres", db_, "--redis", qEnvironmentVariable("PARLEY_TEST_REDIS"),
                           "--presence-ttl-seconds", "3"};
    RelayProcess c(tier), d(tier);
    QVERIFY(c.start());
    QVERIFY(d.start());
    auto alice = TestClient::registered(c.url(), "z-alice");
    auto bob = TestClient::registered(d.url(), "z-bob");
    auto eve = TestClient::registered(a_->url(), "z-eve");  // on a gateway of a 120 s TTL
    QVERIFY(alice && bob && eve);
    QTRY_COMPARE(gatewayOf("parley:at:z-alice:1").size(), 16);
    const auto hers = gatewayOf("parley:at:z-alice:1");
    QVERIFY(subscribe(*alice, {"z-bob"}));
    QVERIFY(subscribe(*eve, {"z-bob"}));
    auto b = subscribe(*bob, {"z-alice", "z-eve"});
    QVERIFY(b && b->presence_snapshot().users_size() == 2);
    const auto presence = [](const wire::ServerFrame& x) { return x.has_presence_update(); };
    const auto heard = [&](bool online) {
      return spinUntil([&] {
        const auto p = bob->waitPush(presence, 200);
        return p && p->presence_update().username() == "z-alice" && p->presence_update().online() == online;
      }, 15000);
    };

    QCOMPARE(::kill(static_cast<pid_t>(c.pid()), SIGSTOP), 0);
    const bool taken = heard(false);
    QCOMPARE(::kill(static_cast<pid_t>(c.pid()), SIGCONT), 0);
    QVERIFY2(taken, "the silent gateway was not taken for dead");
    // Its command link cut (not the subscriptions: a notice published while d's was being
    // made again would be lost), as after a link lost to a pause: it sets its keys again.
    // (Bob's own gateway, its link cut too, may first tell him where Alice stood then.)
    QVERIFY(redis({"CLIENT", "KILL", "TYPE", "normal"}).toInt() >= 2);
    QVERIFY2(heard(true), "the gateway back did not say its user is online");
    QCOMPARE(gatewayOf("parley:at:z-alice:1"), hers);

    spinUntil([&] { return !bob->waitPush(presence, 300); }, 3000);  // repeats of the above
    const auto before = static_cast<std::uint64_t>(QDateTime::currentMSecsSinceEpoch());
    c.kill9();
    auto off = bob->waitPush(presence, 15000);
    QVERIFY2(off, "nobody said Alice's gateway died");
    QCOMPARE(off->presence_update().username(), std::string("z-alice"));
    QVERIFY(!off->presence_update().online());
    // Her last beat: at most a third of the TTL before the kill (and within a second of
    // this machine's clock, Redis's being its own).
    QVERIFY(off->presence_update().last_seen_ms() + 2000 >= before - 1000);
    QVERIFY(off->presence_update().last_seen_ms() <= before + 1000);
    QCOMPARE(redis({"EXISTS", "parley:at:z-alice:1"}), QString("0"));
    QCOMPARE(redis({"EXISTS", "parley:held:" + hers}), QString("0"));
    QCOMPARE(redis({"ZSCORE", "parley:gateways", hers}), QString());
    // Eve, on a gateway still beating, stays online.
    QVERIFY(!bob->waitPush(presence, 500));
    auto again = subscribe(*bob, {"z-alice", "z-eve"});
    QCOMPARE(again->presence_snapshot().users_size(), 2);
    for (const auto& u : again->presence_snapshot().users())
      QCOMPARE(u.online(), u.username() == "z-eve");
  }

  // Typing reaches a recipient on the other gateway who follows the typist, and nobody
  // else's; notices forged or malformed on the channel are dropped.
  void typingCrossesGatewaysToContactsOnly() {
    auto alice = TestClient::registered(a_->url(), "k-alice");
    auto bob = TestClient::registered(b_->url(), "k-bob");
    auto stranger = TestClient::registered(a_->url(), "k-stranger");
    QVERIFY(alice && bob && stranger);
    QTRY_COMPARE(gatewayOf("parley:at:k-bob:1").size(), 16);
    QVERIFY(subscribe(*bob, {"k-alice"}));  // Bob follows Alice: she is a contact
    const auto channel = "parley:gw:" + gatewayOf("parley:at:k-bob:1");
    for (const auto& junk : {"Y k-bob k-alice 2", "Y k-bob K-Alice 1", "Y k-bob k-bob 1",
                             "S k-bob k-alice 1", "S k-bob k-alice yes 0", "S k-bob k-bob 1 0"})
      QCOMPARE(redis({"PUBLISH", channel, junk}), QString("1"));
    wire::ClientFrame f;
    f.mutable_typing()->set_recipient("k-bob");
    f.mutable_typing()->set_active(true);
    stranger->post(f);  // not followed by Bob: dropped
    alice->post(f);
    auto t = bob->waitPush([](const auto& x) { return x.has_typing_event() || x.has_presence_update(); });
    QVERIFY2(t && t->has_typing_event(), "no typing event, or a malformed notice got through");
    QCOMPARE(t->typing_event().sender(), std::string("k-alice"));
    QVERIFY(t->typing_event().active());
    QVERIFY(!bob->waitPush([](const auto& x) { return x.has_typing_event(); }, 300));
  }

  // With Redis away nobody can say who is mutual: a subscription is refused for a moment
  // (UNAVAILABLE, with a retry time), not answered with an empty snapshot that the client
  // would take for "no contact is visible". Once Redis is back it is answered again.
  void aSubscriptionWhileRedisIsAwayIsRefusedForAMoment() {
    OwnRedis redis;
    QVERIFY(redis.start());
    RelayProcess gateway({"--postgres", db_, "--redis", redis.address()});
    QVERIFY(gateway.start());
    auto alice = TestClient::registered(gateway.url(), "u-alice");
    QVERIFY(alice);
    QVERIFY(subscribe(*alice, {"u-bob"})->has_presence_snapshot());

    redis.stop();
    auto refused = subscribe(*alice, {"u-bob"});
    QVERIFY2(refused && refused->has_error(),
             refused ? refused->DebugString().c_str() : "no answer");
    QCOMPARE(refused->error().code(), wire::UNAVAILABLE);
    QCOMPARE(refused->error().retry_after_ms(), 1000u);
    // Asked again while the gateway cannot even connect: the same.
    auto again = subscribe(*alice, {"u-bob"});
    QVERIFY(again && again->has_error());
    QCOMPARE(again->error().code(), wire::UNAVAILABLE);

    // Back (empty): the gateway sets its devices' keys again, and answers again.
    QVERIFY(redis.start());
    QTRY_COMPARE_WITH_TIMEOUT(redis.cli({"EXISTS", "parley:at:u-alice:1"}), QString("1"), 15000);
    auto answered = subscribe(*alice, {"u-bob"});
    QVERIFY2(answered && answered->has_presence_snapshot(),
             answered ? answered->DebugString().c_str() : "no answer");
  }

  // Redis restarted empty has lost every subscription set. The gateways, subscribed again,
  // wake their connections, and each sets its subscription again: presence works both ways
  // as before, and each subscriber is told where its contacts stand now.
  void presenceSurvivesARedisRestart() {
    OwnRedis redis;
    QVERIFY(redis.start());
    const QStringList tier{"--postgres", db_, "--redis", redis.address()};
    RelayProcess c(tier), d(tier);
    QVERIFY(c.start());
    QVERIFY(d.start());
    auto alice = TestClient::registered(c.url(), "v-alice");
    auto bob = TestClient::registered(d.url(), "v-bob");
    QVERIFY(alice && bob);
    QTRY_COMPARE(redis.cli({"EXISTS", "parley:at:v-bob:1"}), QString("1"));
    QVERIFY(subscribe(*alice, {"v-bob"}));
    QVERIFY(subscribe(*bob, {"v-alice", "v-nobody"})->presence_snapshot().users(0).online());
    const auto presence = [](const wire::ServerFrame& x) { return x.has_presence_update(); };
    QVERIFY(alice->waitPush(presence));  // Bob's subscription made them mutual

    redis.stop();
    QVERIFY(redis.start());
    QTRY_COMPARE_WITH_TIMEOUT(redis.cli({"SCARD", "parley:sub:v-bob"}), QString("2"), 15000);
    QTRY_COMPARE_WITH_TIMEOUT(redis.cli({"SCARD", "parley:sub:v-alice"}), QString("1"), 15000);
    // Bob hears of each of his targets, at last as they stand: Alice online, the stranger
    // not visible. (Alice may first show offline, while her gateway has not yet set her
    // subscription again.)
    std::map<std::string, bool> heard;
    QString order;
    const std::map<std::string, bool> now{{"v-alice", true}, {"v-nobody", false}};
    QVERIFY2(spinUntil([&] {
      if (auto p = bob->waitPush(presence, 200)) {
        heard[p->presence_update().username()] = p->presence_update().online();
        order += QString::fromStdString(p->presence_update().username()) +
                 (p->presence_update().online() ? "+ " : "- ");
      }
      return heard == now;
    }, 10000), qPrintable("heard, in order: " + order));
    // Nothing older comes after (a snapshot taken before a notice it crossed on its way).
    spinUntil([&] {
      if (auto p = bob->waitPush(presence, 100))
        heard[p->presence_update().username()] = p->presence_update().online();
      return false;
    }, 1000);
    QCOMPARE(heard, now);
    alice->disconnect();
    std::optional<wire::ServerFrame> off;
    QVERIFY(spinUntil([&] {
      off = bob->waitPush(presence, 200);
      return off && !off->presence_update().online() && off->presence_update().username() == "v-alice";
    }, 10000));
    QVERIFY(off->presence_update().last_seen_ms() > 0);
  }

  // A Redis that asks for a password gets it from a file only its owner can read (never the
  // command line, which anyone on the host can see). Without it, or with a wrong one, the
  // gateway stops at start with Redis's reason and without repeating what it sent.
  void aRedisPasswordComesFromAnOwnerOnlyFile() {
    OwnRedis redis({"--requirepass", "correct horse"});
    QVERIFY(redis.start());
    QTemporaryDir dir;
    const auto secret = [&](const QString& name, const QByteArray& text, bool others_read) {
      return secretFile(dir, name, text, others_read);
    };
    const auto run = [&](const QStringList& extra) {
      const auto r = runRelay(QStringList{"--listen", "127.0.0.1:0", "--data-dir", dir.filePath("data"),
                                          "--postgres", db_, "--redis", redis.address()} + extra,
                              15000);
      return std::make_pair(r.code, r.err);
    };
    auto [code, err] = run({});
    QVERIFY2(code != 0 && err.contains("NOAUTH"), err.constData());
    QVERIFY2(err.contains("--redis-password-file"), err.constData());  // says what to do
    std::tie(code, err) = run({"--redis-password-file", secret("wrong", "a guess\n", false)});
    QVERIFY2(code != 0 && err.contains("WRONGPASS"), err.constData());
    QVERIFY(!err.contains("a guess"));
    std::tie(code, err) = run({"--redis-password-file", secret("open", "correct horse\n", true)});
    QCOMPARE(code, 2);
    QVERIFY2(err.contains("chmod 600"), err.constData());
    std::tie(code, err) = run({"--redis-user", "parley"});
    QCOMPARE(code, 2);
    QVERIFY2(err.contains("needs --redis-password-file"), err.constData());

    RelayProcess gateway({"--postgres", db_, "--redis", redis.address(), "--redis-password-file",
                          secret("right", "correct horse\n", false)});
    QVERIFY(gateway.start());
    auto alice = TestClient::registered(gateway.url(), "w-alice");
    QVERIFY(alice);
    QVERIFY(subscribe(*alice, {"w-bob"})->has_presence_snapshot());
    QVERIFY(!gateway.stderrLog().contains("correct horse"));
  }

  // Gateways given one media directory and one token key: an upload begun on one goes on
  // with the same token on the other, and a file uploaded through one downloads through the
  // other with that one's token. A gateway with another key refuses them; a key file others
  // may read, or one too short, stops a gateway at start.
  void mediaCrossesGatewaysSharingTheirBlobsAndKey() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const auto key = secretFile(dir, "media.key", "S3bQ0Zb1v1nH2yG8kq9rjvH1mX3yZb8l0xq3cVq1hWc=\n");
    const auto redis = qEnvironmentVariable("PARLEY_TEST_REDIS");
    const QStringList tier{"--postgres", db_, "--redis", redis, "--media-dir", dir.filePath("media"),
                           "--media-key-file", key};
    RelayProcess c(tier), d(tier);
    QVERIFY(c.start());
    QVERIFY(d.start());
    auto alice = TestClient::registered(c.url(), "m-alice");
    auto bob = TestClient::registered(d.url(), "m-bob");
    QVERIFY(alice && bob);
    QByteArray data(600 * 1000, Qt::Uninitialized);
    for (qsizetype i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 7919) >> 3);
    const auto granted = createUpload(*alice, static_cast<std::uint64_t>(data.size()));
    QVERIFY(granted && granted->has_upload_granted());
    const auto g = granted->upload_granted();
    QCOMPARE(patch(c.url(), g, 0, data.left(250000)).status, 204);
    // Her connection to c drops; the rest goes through d, with c's token.
    const auto h = head(d.url(), g);
    QCOMPARE(h.status, 200);
    QCOMPARE(h.header("Upload-Offset"), QByteArray("250000"));
    const auto done = patch(d.url(), g, 250000, data.mid(250000));
    QCOMPARE(done.status, 201);
    QCOMPARE(done.header("ETag"),
             "\"" + QCryptographicHash::hash(data, QCryptographicHash::Sha256).toHex() + "\"");
    QVERIFY(QDir(dir.filePath("media/staging")).isEmpty());  // its staged name went with the record
    // Bob, on d, downloads it through c with d's token, and a range of it through d.
    const auto token = downloadToken(*bob);
    QVERIFY(!token.empty());
    QCOMPARE(get(c.url(), token, g.media_id()).body, data);
    const auto part = get(d.url(), token, g.media_id(), "bytes=599990-");
    QCOMPARE(part.status, 206);
    QCOMPARE(part.body, data.right(10));
    // Gateways a and b have keys of their own: neither takes the tier's tokens.
    QCOMPARE(get(a_->url(), token, g.media_id()).status, 401);
    QCOMPARE(head(b_->url(), g).status, 401);

    const auto refused = [&](const QString& file) {
      const auto r = runRelay({"--listen", "127.0.0.1:0", "--data-dir", dir.filePath("refused"),
                               "--media-key-file", file});
      return std::make_pair(r.code, r.err);
    };
    auto [code, err] = refused(secretFile(dir, "open.key", "S3bQ0Zb1v1nH2yG8kq9rjvH1mX3yZb8l0xq3cVq1hWc=\n", true));
    QCOMPARE(code, 2);
    QVERIFY2(err.contains("chmod 600"), err.constData());
    std::tie(code, err) = refused(secretFile(dir, "short.key", "password\n"));
    QCOMPARE(code, 2);
    QVERIFY2(err.contains("at least 32"), err.constData());
    QVERIFY(!err.contains("password"));
  }

  // Routing needs the shared store: a relay given Redis without PostgreSQL refuses to start,
  // saying why, as it does an address it cannot parse.
  void redisWithoutASharedStoreIsRefused() {
    auto r = runRelay({"--listen", "127.0.0.1:0", "--redis", qEnvironmentVariable("PARLEY_TEST_REDIS")});
    QCOMPARE(r.code, 2);
    QVERIFY(r.err.contains("--postgres"));
    r = runRelay({"--listen", "127.0.0.1:0", "--postgres", "host=/nonexistent", "--redis", "no-port"});
    QCOMPARE(r.code, 2);
    QVERIFY(r.err.contains("HOST:PORT"));
    // SQLite has one writer: more store connections need PostgreSQL.
    r = runRelay({"--listen", "127.0.0.1:0", "--store-connections", "2"});
    QCOMPARE(r.code, 2);
    QVERIFY(r.err.contains("--postgres"));
  }
};

QTEST_GUILESS_MAIN(GatewaysTest)
#include "gateways_test.moc"
