// Mentions: which "@name" in a text names a member (util/mentions.hpp), and, against a real
// relay, a group message from someone else naming us counted unread in its conversation until
// read, an edit deciding anew, and neither our own words nor a 1:1 chat ever counting.
#include <QtTest>

#include "chat_users.hpp"
#include "messenger.hpp"
#include "test_client.hpp"
#include "util/mentions.hpp"

using namespace parley::client;
using parley::test::spinUntil;

namespace {
constexpr int kWaitMs = 15000;

int mentions_in(const parley::test::ChatUser& u, const QString& peer) {
  for (const auto& c : u.m->conversations())
    if (c.peer == peer) return c.unreadMentions;
  return -1;
}
}  // namespace

class MentionsTest : public QObject, parley::test::ChatUsers {
  Q_OBJECT

 private slots:
  void whatNamesAMember_data() {
    QTest::addColumn<QString>("text");
    QTest::addColumn<QStringList>("found");  // "start:length:name"
    QTest::newRow("start") << "@bob look" << QStringList{"0:4:bob"};
    QTest::newRow("case") << "hi @Bob!" << QStringList{"3:4:bob"};
    QTest::newRow("sentence end") << "ask @bob." << QStringList{"4:4:bob"};
    QTest::newRow("name ending in a dot") << "ask @dot.. now" << QStringList{"4:5:dot."};
    QTest::newRow("dash after") << "@bob- and @carol" << QStringList{"0:4:bob", "10:6:carol"};
    QTest::newRow("not a member") << "@bobby @zed" << QStringList{};
    QTest::newRow("inside a word") << "mail bob@bob.org or x@bob" << QStringList{};
    QTest::newRow("after punctuation") << "(@bob) «@carol»" << QStringList{"1:4:bob", "8:6:carol"};
    QTest::newRow("alone, doubled") << "@ @@bob" << QStringList{"3:4:bob"};
    QTest::newRow("too long") << "@" + QString(40, 'b') << QStringList{};
    QTest::newRow("one after another") << "@bob.@carol" << QStringList{"0:4:bob", "5:6:carol"};
    QTest::newRow("in a link") << "see https://social.example/@bob" << QStringList{};
  }
  void whatNamesAMember() {
    QFETCH(QString, text);
    QFETCH(QStringList, found);
    const QSet<QString> members{"bob", "carol", "dot."};
    QStringList got;
    for (const auto& m : findMentions(text, [&](const QString& n) { return members.contains(n); }))
      got << QStringLiteral("%1:%2:%3").arg(m.start).arg(m.length).arg(m.username);
    QCOMPARE(got, found);
  }

  void boundedOnHostileText() {
    // 64 KiB of "@a" and of one long name run: each read once, at most kMaxMentions reported.
    const QString many = QString("@bob ").repeated(13000);
    int asked = 0;
    const auto found = findMentions(many, [&](const QString&) { return ++asked, true; });
    QCOMPARE(found.size(), kMaxMentions);
    QCOMPARE(asked, kMaxMentions);
    const QString run = "@" + QString("a.").repeated(32000);
    asked = 0;
    QVERIFY(findMentions(run, [&](const QString&) { return ++asked, true; }).isEmpty());
    QCOMPARE(asked, 0);
    QVERIFY(mentions("hey @alice", "alice"));
    QVERIFY(!mentions("hey alice", "alice"));
  }

  void initTestCase() { QVERIFY(startWith({"alice", "bob", "carol"})); }
  void cleanupTestCase() { users_.clear(); }

  void aGroupMessageNamingUsCountsUntilRead() {
    auto& alice = user("alice");
    auto& bob = user("bob");
    auto& carol = user("carol");
    const auto gid = makeGroup(alice, "planning", {"bob", "carol"});
    QVERIFY(!gid.isEmpty());
    const auto group = Messenger::groupPeer(gid);
    // The members hear of the group before they can write to it.
    QVERIFY(spinUntil([&] { return bob.m->groups().contains(gid) && carol.m->groups().contains(gid); }, kWaitMs));
    QString error;
    const auto send_group = [&](parley::test::ChatUser& from, const QString& text) {
      const auto id = from.m->groupSend(gid, text, &error);
      if (!id) qWarning("groupSend: %s", qPrintable(error));
      return id.value_or(QByteArray());
    };
    const auto plain = send_group(bob, "who books the hall?");
    const auto named = send_group(bob, "@alice can you? cc @carol");
    const auto own = send_group(alice, "I will, @alice is on it");
    QVERIFY(alice.waitReceived(named) && carol.waitReceived(named) && bob.waitReceived(own));
    QVERIFY(!alice.find(group, plain).mentionsMe);
    QVERIFY(alice.find(group, named).mentionsMe);
    QVERIFY(carol.find(group, named).mentionsMe);
    QVERIFY(!bob.find(group, named).mentionsMe);  // his own words
    QVERIFY(!alice.find(group, own).mentionsMe);  // naming ourselves calls nobody
    QCOMPARE(mentions_in(alice, group), 1);
    QCOMPARE(mentions_in(bob, group), 0);
    // What a notification reads: the message by its sender and id, in its own chat only.
    const auto looked_up = alice.m->message(group, "bob", named);
    QVERIFY(looked_up && looked_up->mentionsMe);
    QCOMPARE(looked_up->id, alice.find(group, named).id);
    QVERIFY(!alice.m->message("bob", "bob", named));
    QVERIFY(!alice.m->message(group, "carol", named));

    // An edit decides anew: carol is no longer named, alice still is.
    QVERIFY2(bob.m->editMessage(group, bob.find(group, named).id, "@alice can you?", &error), qPrintable(error));
    QVERIFY(spinUntil([&] { return carol.find(group, named).body == "@alice can you?"; }, kWaitMs));
    QVERIFY(!carol.find(group, named).mentionsMe);
    QCOMPARE(mentions_in(carol, group), 0);
    QVERIFY(spinUntil([&] { return alice.find(group, named).body == "@alice can you?"; }, kWaitMs));
    QCOMPARE(mentions_in(alice, group), 1);

    // Read, it no longer counts.
    alice.m->markRead(group);
    QCOMPARE(mentions_in(alice, group), 0);

    // A 1:1 chat has no mentions: it is all for us anyway.
    const auto direct = send(bob, "alice", "@alice see above");
    QVERIFY(alice.waitReceived(direct));
    QVERIFY(!alice.find("bob", direct).mentionsMe);
    QCOMPARE(mentions_in(alice, "bob"), 0);
  }
};

QTEST_MAIN(MentionsTest)
#include "mentions_test.moc"
