// Disappearing messages through the client core against a real relay: a timer set on one
// side reaches the other as a line in both histories; messages sent under it carry it and go
// from each device once read there (ours once the relay has them), with their words out of
// search; an unread one waits for its reader; a group shares one timer; bad timers are
// refused or, from the network, clamped.
#include <QtTest>

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QScopeGuard>

#include "chat_users.hpp"
#include "e2e.pb.h"
#include "messenger.hpp"
#include "test_client.hpp"

using namespace parley::client;
using parley::test::ChatUser;
using parley::test::profileSql;
using parley::test::spinUntil;

namespace {
constexpr int kWaitMs = 15000;

// The timer lines of `u`'s history of `peer`, as (sender, seconds).
QList<QPair<QString, qint64>> timer_lines(const ChatUser& u, const QString& peer) {
  QList<QPair<QString, qint64>> out;
  for (const auto& m : u.m->history(peer))
    if (m.timerChange >= 0) out.append({m.sender, m.timerChange});
  return out;
}

int unread_of(const ChatUser& u, const QString& peer) {
  for (const auto& c : u.m->conversations())
    if (c.peer == peer) return c.unread;
  return -1;
}

bool has(const ChatUser& u, const QString& peer, const QByteArray& id) { return u.find(peer, id).id != 0; }
}  // namespace

class DisappearingTest : public QObject, parley::test::ChatUsers {
  Q_OBJECT

 private slots:
  void initTestCase() { QVERIFY(startWith({"alice", "bob", "carol"})); }
  void cleanupTestCase() { users_.clear(); }

  void aTimerReachesTheOtherSideAsALine() {
    auto& alice = user("alice");
    auto& bob = user("bob");
    QVERIFY(!delivered(alice, bob, "hello").isEmpty());
    const int unread = unread_of(bob, "alice");
    QCOMPARE(alice.m->expireTimer("bob"), 0);

    QSignalSpy changed(bob.m.get(), &Messenger::chatSettingsChanged);
    QString error;
    QVERIFY2(alice.m->setExpireTimer("bob", 2, &error), qPrintable(error));
    QCOMPARE(alice.m->expireTimer("bob"), 2);
    QCOMPARE(timer_lines(alice, "bob"), (QList<QPair<QString, qint64>>{{"alice", 2}}));
    QVERIFY(spinUntil([&] { return bob.m->expireTimer("alice") == 2; }, kWaitMs));
    QCOMPARE(timer_lines(bob, "alice"), (QList<QPair<QString, qint64>>{{"alice", 2}}));
    QVERIFY(!changed.isEmpty());
    // A line is no message: nothing more to read, and the list says what it is.
    QCOMPARE(unread_of(bob, "alice"), unread);
    for (const auto& c : bob.m->conversations())
      if (c.peer == "alice") {
        QCOMPARE(c.expireTimerS, qint64(2));
        QCOMPARE(c.lastTimerChange, qint64(2));
      }
    // The same timer again sends nothing.
    const int queued = alice.m->outboxSize();
    QVERIFY2(alice.m->setExpireTimer("bob", 2, &error), qPrintable(error));
    QCOMPARE(alice.m->outboxSize(), queued);
    QCOMPARE(timer_lines(alice, "bob").size(), 1);

    // Nobody's words: a line cannot be edited, taken back, reacted to or answered.
    qint64 line = 0;
    for (const auto& m : alice.m->history("bob"))
      if (m.timerChange >= 0) line = m.id;
    QVERIFY(spinUntil([&] {
      for (const auto& m : alice.m->history("bob"))
        if (m.id == line) return m.convSeq >= 0;
      return false;
    }, kWaitMs));
    QVERIFY(!alice.m->revisable("bob", line).edit);
    QVERIFY(!alice.m->revisable("bob", line).unsend);
    QVERIFY(!alice.m->editMessage("bob", line, "words", &error));
    QVERIFY(!alice.m->unsendMessage("bob", line, &error));
    QVERIFY(!alice.m->react("bob", line, "👍", &error));
    QVERIFY(!alice.m->sendText("bob", "re", &error, line).has_value());
  }

  void aMessageGoesOnceReadAndOursOnceSent() {
    auto& alice = user("alice");
    auto& bob = user("bob");
    QCOMPARE(alice.m->expireTimer("bob"), 2);
    QSignalSpy bob_revised(bob.m.get(), &Messenger::messageRevised);
    const auto id = delivered(alice, bob, "the vault code is 4711");
    QVERIFY(!id.isEmpty());
    QCOMPARE(bob.find("alice", id).expireS, qint64(2));
    QCOMPARE(bob.find("alice", id).expiresAtMs, qint64(0));  // unread: not counting yet
    QString error;
    QCOMPARE(bob.m->search("4711", 10, &error).size(), 1);

    // Ours goes two seconds after the relay took it, read or not.
    QVERIFY(spinUntil([&] { return !has(alice, "bob", id); }, kWaitMs));
    QVERIFY(alice.m->search("4711", 10, &error).isEmpty());

    // Bob's waits for him: still there well after its two seconds.
    QTest::qWait(3000);
    QVERIFY(has(bob, "alice", id));
    const auto before_read = QDateTime::currentMSecsSinceEpoch();
    bob.m->markRead("alice");
    const auto counting = bob.find("alice", id).expiresAtMs;
    QVERIFY(counting >= before_read + 2000);
    QVERIFY(counting <= QDateTime::currentMSecsSinceEpoch() + 2000);
    QVERIFY(spinUntil([&] { return !has(bob, "alice", id); }, kWaitMs));
    QVERIFY(QDateTime::currentMSecsSinceEpoch() >= counting);
    QVERIFY(bob.m->search("4711", 10, &error).isEmpty());
    QVERIFY(spinUntil([&] { return !bob_revised.isEmpty(); }, kWaitMs));
    QCOMPARE(bob_revised.last().at(2).toByteArray(), id);
    // The line saying why stays.
    QCOMPARE(timer_lines(bob, "alice").size(), 1);
  }

  void ourFilesCopyInTheProfileGoesTheUsersOwnStays() {
    auto& alice = user("alice");
    auto& bob = user("bob");
    QCOMPARE(alice.m->expireTimer("bob"), 2);
    // A picture Parley wrote into the profile (as a paste does), and a file of the user's own.
    QVERIFY(QDir().mkpath(alice.dir + "/files"));
    const QString pasted = alice.dir + "/files/Pasted image.png";
    const QString own = home_.filePath("holiday.txt");
    for (const auto& path : {pasted, own}) {
      QFile f(path);
      QVERIFY(f.open(QIODevice::WriteOnly));
      f.write("not much to see");
    }
    for (const auto& [path, caption] : {std::pair{pasted, QString("pasted")}, std::pair{own, QString("own")}}) {
      const auto got = sendFile(alice, bob, path, caption);
      QVERIFY2(got.id != 0, qPrintable(caption));
      QCOMPARE(got.expireS, qint64(2));
      QVERIFY(spinUntil([&] { return !has(alice, "bob", got.clientMsgId); }, kWaitMs));
    }
    QVERIFY(spinUntil([&] { return !QFile::exists(pasted); }, kWaitMs));
    QVERIFY(QFile::exists(own));
  }

  void whatCameToItsEndWhileClosedIsGoneOnOpening() {
    auto& alice = user("alice");
    auto& bob = user("bob");
    QString error;
    QVERIFY2(bob.m->setExpireTimer("alice", 3600, &error), qPrintable(error));
    QVERIFY(spinUntil([&] { return alice.m->expireTimer("bob") == 3600; }, kWaitMs));
    const auto id = delivered(alice, bob, "an hour to live");
    QVERIFY(!id.isEmpty());
    bob.m->markRead("alice");
    QVERIFY(bob.find("alice", id).expiresAtMs > QDateTime::currentMSecsSinceEpoch() + 3000 * 1000);
    // Its hour passes while Bob's Parley is closed.
    bob.m.reset();
    QVERIFY(profileSql(bob.dir, "UPDATE messages SET expires_at_ms = ? WHERE client_msg_id = ?",
                       {QDateTime::currentMSecsSinceEpoch() - 1, id}));
    QVERIFY(bob.reopen());
    QVERIFY(!has(bob, "alice", id));
    QVERIFY(bob.m->search("live", 10, &error).isEmpty());
  }

  void offLeavesNewMessagesAlone() {
    auto& alice = user("alice");
    auto& bob = user("bob");
    QString error;
    QVERIFY2(alice.m->setExpireTimer("bob", 0, &error), qPrintable(error));
    QVERIFY(spinUntil([&] { return bob.m->expireTimer("alice") == 0; }, kWaitMs));
    QCOMPARE(timer_lines(bob, "alice").last(), (QPair<QString, qint64>{"alice", 0}));
    const auto id = delivered(alice, bob, "this one stays");
    QVERIFY(!id.isEmpty());
    bob.m->markRead("alice");
    QCOMPARE(bob.find("alice", id).expireS, qint64(0));
    QCOMPARE(bob.find("alice", id).expiresAtMs, qint64(0));
  }

  void badTimersAreRefusedAndClampedFromTheNetwork() {
    auto& alice = user("alice");
    auto& bob = user("bob");
    QString error;
    QVERIFY(!alice.m->setExpireTimer("bob", -1, &error));
    QVERIFY(!alice.m->setExpireTimer("bob", Messenger::kMaxExpireTimerS + 1, &error));
    QVERIFY(error.contains("365 days"));
    QVERIFY(!alice.m->setExpireTimer("nobody", 60, &error));
    QVERIFY(error.contains("no conversation"));
    // A client other than Parley asks for more than a year: it gets a year.
    const auto id = sendDoctored(
        alice, [](Messenger& m) {
          QString e;
          return m.setExpireTimer("bob", 60, &e);
        },
        [](parley::e2e::Content& c) { c.set_expire_timer_s(0xFFFFFFFFu); });
    QVERIFY(!id.isEmpty());
    QVERIFY(spinUntil([&] { return bob.m->expireTimer("alice") == Messenger::kMaxExpireTimerS; }, kWaitMs));
    QVERIFY2(bob.m->setExpireTimer("alice", 0, &error), qPrintable(error));
    QVERIFY(spinUntil([&] { return alice.m->expireTimer("bob") == 0; }, kWaitMs));

    // The relay's order decides, not the sender's clock: one stamped at the end of time (a
    // clock gone wrong, or a hostile peer) still gives way to a later change, on both sides.
    QVERIFY(!sendDoctored(
                 alice, [](Messenger& m) {
                   QString e;
                   return m.setExpireTimer("bob", 300, &e);
                 },
                 [](parley::e2e::Content& c) { c.set_client_ts_ms(~std::uint64_t{0}); })
                 .isEmpty());
    QVERIFY(spinUntil([&] { return bob.m->expireTimer("alice") == 300; }, kWaitMs));
    QVERIFY2(bob.m->setExpireTimer("alice", 0, &error), qPrintable(error));
    QCOMPARE(bob.m->expireTimer("alice"), 0);
    QVERIFY(spinUntil([&] { return alice.m->expireTimer("bob") == 0; }, kWaitMs));
  }

  void crossingChangesSettleAlikeOnBothSides() {
    auto& alice = user("alice");
    auto& bob = user("bob");
    const auto numbered = [](const ChatUser& u, const QString& peer) {
      int n = 0;
      for (const auto& m : u.m->history(peer)) n += m.timerChange >= 0 && m.convSeq >= 0;
      return n;
    };
    // The line the relay numbered last: the change in force.
    const auto last = [](const ChatUser& u, const QString& peer) {
      qint64 seconds = -1;
      for (const auto& m : u.m->history(peer))
        if (m.timerChange >= 0 && m.convSeq >= 0) seconds = m.timerChange;
      return seconds;
    };
    const int alices = numbered(alice, "bob"), bobs = numbered(bob, "alice");
    QString error;
    // Neither has the other's before making its own: the relay's order decides, alike for both.
    QVERIFY2(alice.m->setExpireTimer("bob", 60, &error), qPrintable(error));
    QVERIFY2(bob.m->setExpireTimer("alice", 120, &error), qPrintable(error));
    QVERIFY(spinUntil([&] { return numbered(alice, "bob") >= alices + 2 && numbered(bob, "alice") >= bobs + 2; },
                      kWaitMs));
    QVERIFY(spinUntil([&] { return alice.m->expireTimer("bob") == bob.m->expireTimer("alice"); }, kWaitMs));
    QCOMPARE(alice.m->expireTimer("bob"), last(alice, "bob"));
    QCOMPARE(bob.m->expireTimer("alice"), last(bob, "alice"));
    QVERIFY(last(alice, "bob") == 60 || last(alice, "bob") == 120);
    QVERIFY2(bob.m->setExpireTimer("alice", 0, &error), qPrintable(error));
    QVERIFY(spinUntil([&] { return alice.m->expireTimer("bob") == 0; }, kWaitMs));
  }

  void aGroupSharesOneTimer() {
    auto& alice = user("alice");
    auto& bob = user("bob");
    auto& carol = user("carol");
    const auto gid = makeGroup(alice, "vanishing", {"bob", "carol"});
    QVERIFY(!gid.isEmpty());
    QString error;
    const auto peer = Messenger::groupPeer(gid);
    // Any member may set it.
    QVERIFY(spinUntil([&] { return bob.m->groups().contains(gid); }, kWaitMs));
    QVERIFY2(bob.m->setExpireTimer(peer, 3600, &error), qPrintable(error));
    QVERIFY(spinUntil([&] { return alice.m->expireTimer(peer) == 3600 && carol.m->expireTimer(peer) == 3600; },
                      kWaitMs));
    QCOMPARE(timer_lines(carol, peer), (QList<QPair<QString, qint64>>{{"bob", 3600}}));
    const auto id = alice.m->groupSend(gid, "gone within the hour", &error);
    QVERIFY2(id.has_value(), qPrintable(error));
    QVERIFY(carol.waitReceived(*id));
    QCOMPARE(carol.find(peer, *id).expireS, qint64(3600));
    QCOMPARE(timer_lines(bob, peer).size(), 1);
    QCOMPARE(carol.find(peer, *id).expiresAtMs, qint64(0));
    carol.m->markRead(peer);
    QVERIFY(carol.find(peer, *id).expiresAtMs > QDateTime::currentMSecsSinceEpoch());
    QVERIFY(spinUntil([&] { return alice.find(peer, *id).expiresAtMs > 0; }, kWaitMs));
    QVERIFY2(carol.problems.isEmpty(), qPrintable(carol.problems.join("; ")));
  }

  // A default timer goes to the chats we start, as their first change so the first message
  // carries it, and to the groups we create; not to a chat the other side started.
  void theDefaultTimerGoesToChatsWeStart() {
    auto& alice = user("alice");
    auto& bob = user("bob");
    auto& dave = join("dave");
    QVERIFY(dave.m);
    QString error;
    QCOMPARE(dave.m->defaultExpireTimer(), 0);
    QVERIFY(!dave.m->setDefaultExpireTimer(-1, &error));
    QVERIFY(!dave.m->setDefaultExpireTimer(Messenger::kMaxExpireTimerS + 1, &error));
    QVERIFY2(dave.m->setDefaultExpireTimer(86400, &error), qPrintable(error));
    auto back_to_none = qScopeGuard([&dave] {
      QString ignored;
      if (dave.m) dave.m->setDefaultExpireTimer(0, &ignored);
    });
    QCOMPARE(dave.m->defaultExpireTimer(), 86400);

    // alice started this one: dave's answer keeps her (lack of a) timer.
    QVERIFY(!delivered(alice, dave, "welcome, dave").isEmpty());
    QVERIFY(!delivered(dave, alice, "thanks").isEmpty());
    QCOMPARE(dave.m->expireTimer("alice"), 0);
    QVERIFY(timer_lines(dave, "alice").isEmpty());

    // dave starts one with bob: the change first, then the message under it.
    const auto id = delivered(dave, bob, "first words");
    QVERIFY(!id.isEmpty());
    QCOMPARE(dave.m->expireTimer("bob"), 86400);
    QCOMPARE(timer_lines(dave, "bob"), (QList<QPair<QString, qint64>>{{"dave", 86400}}));
    QCOMPARE(bob.find("dave", id).expireS, qint64(86400));
    QVERIFY(spinUntil([&] { return bob.m->expireTimer("dave") == 86400; }, kWaitMs));
    QCOMPARE(timer_lines(bob, "dave"), (QList<QPair<QString, qint64>>{{"dave", 86400}}));
    // Only the first time: the next message sends no second change.
    QVERIFY(!delivered(dave, bob, "second words").isEmpty());
    QCOMPARE(timer_lines(dave, "bob").size(), 1);

    // A group dave creates.
    const auto gid = makeGroup(dave, "fading", {"bob"});
    QVERIFY(!gid.isEmpty());
    QCOMPARE(dave.m->expireTimer(Messenger::groupPeer(gid)), 86400);
    QVERIFY(spinUntil([&] { return bob.m->expireTimer(Messenger::groupPeer(gid)) == 86400; }, kWaitMs));

    // Kept in the profile.
    QVERIFY(dave.reopen());
    QCOMPARE(dave.m->defaultExpireTimer(), 86400);
    QVERIFY(dave.m->setDefaultExpireTimer(0, &error));
    QCOMPARE(dave.m->defaultExpireTimer(), 0);
    QVERIFY2(dave.problems.isEmpty(), qPrintable(dave.problems.join("; ")));
  }

  void aRefusedChangeGivesWayToTheOneBefore() {
    auto& erin = join("erin");
    QVERIFY(erin.m);
    const QString nobody = QStringLiteral("nobody-on-this-relay");
    // The timer in force each time one of erin's lines failed, and at each settings change.
    QList<qint64> at_failure, at_change;
    // The connections end with this test (erin's messenger lives on, and its later failures
    // must not reach these lists).
    QObject scope;
    const auto watch = [&] {
      QObject::connect(erin.m.get(), &Messenger::messageStatusChanged, &scope,
                       [&](const QString& peer, const QByteArray&, int status) {
                         if (peer == nobody && status == int(MessageStatus::Failed))
                           at_failure.append(erin.m->expireTimer(nobody));
                       });
      QObject::connect(erin.m.get(), &Messenger::chatSettingsChanged, &scope, [&](const QString& peer) {
        if (peer == nobody) at_change.append(erin.m->expireTimer(nobody));
      });
    };
    watch();
    QString error;
    QVERIFY(!send(erin, nobody, "anyone there?").isEmpty());
    QVERIFY(spinUntil([&] { return at_failure.size() == 1; }, kWaitMs));
    at_failure.clear();
    at_change.clear();
    // Refused (no such user): shown at once, then off again, and said so.
    QVERIFY2(erin.m->setExpireTimer(nobody, 3600, &error), qPrintable(error));
    QCOMPARE(erin.m->expireTimer(nobody), 3600);
    QVERIFY(spinUntil([&] { return at_failure.size() == 1; }, kWaitMs));
    QCOMPARE(at_failure, QList<qint64>{0});
    QCOMPARE(at_change, (QList<qint64>{3600, 0}));
    QCOMPARE(timer_lines(erin, nobody), (QList<QPair<QString, qint64>>{{"erin", 3600}}));

    // A change numbered earlier (as if the user had been there once) is what comes back; of
    // two of ours refused, the later holds until it is refused too.
    erin.m.reset();
    QVERIFY(profileSql(erin.dir,
                       "INSERT INTO messages(peer, sender, client_msg_id, conv_seq, body, status, client_ts_ms,"
                       " server_ts_ms, received_ms, kind, expire_s) VALUES(?, ?, ?, 7, '', 11, 1, 1, 1, 1, 600)",
                       {nobody, nobody, QByteArray(16, 'x')}));
    QVERIFY(profileSql(erin.dir, "UPDATE conversations SET expire_timer_s = 600, expire_timer_seq = 7 WHERE peer = ?",
                       {nobody}));
    QVERIFY(erin.reopen(false));
    at_failure.clear();
    at_change.clear();
    watch();
    QCOMPARE(erin.m->expireTimer(nobody), 600);
    QVERIFY(erin.m->setExpireTimer(nobody, 3600, &error));
    QVERIFY(erin.m->setExpireTimer(nobody, 120, &error));
    QCOMPARE(erin.m->expireTimer(nobody), 120);
    erin.m->start();
    QVERIFY(spinUntil([&] { return at_failure.size() == 2; }, kWaitMs));
    QCOMPARE(at_failure, (QList<qint64>{120, 600}));
    QCOMPARE(at_change, (QList<qint64>{3600, 120, 600}));
    // What is sent there now carries the timer in force.
    const auto id = send(erin, nobody, "under the old timer");
    QCOMPARE(erin.find(nobody, id).expireS, qint64(600));
    QVERIFY(spinUntil([&] { return at_failure.size() == 3; }, kWaitMs));

    // A change to `seconds` made offline, then what happened meanwhile (`doctor`), then the
    // refusal.
    const auto refused_after = [&](int seconds, const QStringList& doctor) {
      if (!erin.reopen(false)) return false;
      QString why;
      if (!erin.m->setExpireTimer(nobody, seconds, &why) || erin.m->expireTimer(nobody) != seconds) return false;
      erin.m.reset();
      for (const auto& statement : doctor)
        if (!profileSql(erin.dir, statement, {})) return false;
      at_failure.clear();
      if (!erin.reopen(false)) return false;
      watch();
      erin.m->start();
      return spinUntil([&] { return at_failure.size() == 1; }, kWaitMs);
    };
    const QString line = "INSERT INTO messages(peer, sender, client_msg_id, conv_seq, body, status, client_ts_ms,"
                         " received_ms, kind, expire_s) VALUES('" + nobody + "', '%1', x'%2', %3, '', %4, 1, 1, 1, %5)";
    // Refused after an earlier change of ours was numbered while it waited (its number in
    // force, its value not): the earlier holds.
    QVERIFY(refused_after(3600, {line.arg("erin", QString(32, 'a'), "9", "1", "300"),
                                 "UPDATE conversations SET expire_timer_seq = 9 WHERE peer = '" + nobody + "'"}));
    QCOMPARE(erin.m->expireTimer(nobody), 300);
    // Of another change of ours still waiting and one received after it, the received one.
    QVERIFY(refused_after(1800, {line.arg("erin", QString(32, 'b'), "NULL", "0", "45"),
                                 line.arg(nobody, QString(32, 'c'), "11", "11", "900")}));
    QCOMPARE(erin.m->expireTimer(nobody), 900);
  }

  void aReplyComingAfterItsMessageWentKeepsNoWordsOfIt() {
    auto& alice = user("alice");
    auto& bob = user("bob");
    auto& carol = user("carol");
    const auto gid = makeGroup(alice, "short-lived", {"bob", "carol"});
    QVERIFY(!gid.isEmpty());
    const auto peer = Messenger::groupPeer(gid);
    QVERIFY(spinUntil([&] { return bob.m->groups().contains(gid) && carol.m->groups().contains(gid); }, kWaitMs));
    QString error;
    QVERIFY2(alice.m->setExpireTimer(peer, 2, &error), qPrintable(error));
    QVERIFY(spinUntil([&] { return bob.m->expireTimer(peer) == 2 && carol.m->expireTimer(peer) == 2; }, kWaitMs));
    const auto id = alice.m->groupSend(gid, "the meeting point is the old mill", &error);
    QVERIFY2(id.has_value(), qPrintable(error));
    QVERIFY(bob.waitReceived(*id) && carol.waitReceived(*id));
    // Bob reads it at once and it goes from his device; Carol answers it later.
    bob.m->markRead(peer);
    QVERIFY(spinUntil([&] { return !has(bob, peer, *id); }, kWaitMs));
    const auto reply = carol.m->groupSend(gid, "on my way", &error, carol.find(peer, *id).id);
    QVERIFY2(reply.has_value(), qPrintable(error));
    QVERIFY(bob.waitReceived(*reply));
    const auto got = bob.find(peer, *reply);
    QCOMPARE(got.reply.clientMsgId, *id);
    QVERIFY(got.reply.text.isEmpty());
    QVERIFY(got.reply.expired);
    QVERIFY(!got.reply.unsent);  // nobody deleted it
    QVERIFY(bob.m->search("mill", 10, &error).isEmpty());
  }
};

QTEST_GUILESS_MAIN(DisappearingTest)
#include "disappearing_test.moc"
