// A sender key that never came, through the client core against a real relay: a member whose
// copy of another's key is gone asks its owner for it again once a group message of theirs
// waits for it, gets the very distribution it was once given, and reads what waited; nobody
// else gets anything for asking: not someone outside the group, not a member naming a key
// that is not the one it was given, not a request in a form no Parley client writes. The copy
// kept to send again goes once the member shows it holds the key.
#include <QtTest>

#include "chat_users.hpp"
#include "e2e.pb.h"
#include "messenger.hpp"
#include "test_client.hpp"

using namespace parley::client;
using parley::test::ChatUser;
using parley::test::profileSql;
using parley::test::spinUntil;

namespace {
constexpr int kWaitMs = 20000;

// How many sender keys of `sender` a closed profile keeps (-1: could not read it).
int keys_of(const ChatUser& u, const QString& sender) {
  QVariant n;
  if (!profileSql(u.dir, "SELECT COUNT(*) FROM sender_keys WHERE sender = ?", {sender}, &n)) return -1;
  return n.toInt();
}

bool shows(const ChatUser& u, const QString& peer, const QString& body) {
  for (const auto& m : u.m->history(peer))
    if (m.body == body) return true;
  return false;
}
}  // namespace

class SenderKeyRequestTest : public QObject, parley::test::ChatUsers {
  Q_OBJECT

  QByteArray gid_;
  QByteArray bobs_key_;  // the id of bob's sender key for gid_

  // `from` queues a SENDER_KEY_REQUEST to bob (a doctored text: no Parley client asks for a
  // key it does not wait for), then bob answers a ping `from` sends after it, and `from` has
  // the answer: whatever bob sent because of the request has reached `from` by then, since
  // bob handles his inbox in order and sends his outbox in order.
  void askBob(ChatUser& from, const QByteArray& group_id, const QByteArray& key_id) {
    auto& bob = user("bob");
    const auto asked = sendDoctored(
        from,
        [](Messenger& m) {
          QString error;
          return m.sendText("bob", "about to ask", &error).has_value();
        },
        [&](parley::e2e::Content& c) {
          c.Clear();
          c.set_type(parley::e2e::SENDER_KEY_REQUEST);
          c.set_group_id(group_id.toStdString());
          c.set_sender_key_id(key_id.toStdString());
        });
    QVERIFY(!asked.isEmpty());
    QVERIFY(!delivered(from, bob, "ping " + from.name).isEmpty());
    QVERIFY(!delivered(bob, from, "pong " + from.name).isEmpty());
  }

 private slots:
  void initTestCase() {
    QVERIFY(startWith({"alice", "bob", "carol", "mallory"}));
    gid_ = makeGroup(user("alice"), "keys", {"bob", "carol"});
    QVERIFY(!gid_.isEmpty());
    const auto group = Messenger::groupPeer(gid_);
    for (const auto* name : {"bob", "carol"})
      QVERIFY(spinUntil([&] { return user(name).m->groups().contains(gid_); }, kWaitMs));
    QString error;
    QVERIFY2(user("bob").m->groupSend(gid_, "hello group", &error), qPrintable(error));
    for (const auto* name : {"alice", "carol"})
      QVERIFY(spinUntil([&] { return shows(user(name), group, "hello group"); }, kWaitMs));
    auto& carol = user("carol");
    carol.m.reset();
    QVariant key;
    QVERIFY(profileSql(carol.dir, "SELECT key_id FROM sender_keys WHERE sender = 'bob'", {}, &key));
    bobs_key_ = key.toByteArray();
    QCOMPARE(bobs_key_.size(), 16);
    QVERIFY(carol.reopen());
  }
  void cleanupTestCase() { users_.clear(); }

  // Someone outside the group, naming the group and bob's key exactly, gets nothing.
  void nobodyOutsideTheGroupGetsAKey() {
    auto& mallory = user("mallory");
    askBob(mallory, gid_, bobs_key_);
    mallory.m.reset();
    QCOMPARE(keys_of(mallory, "bob"), 0);
    QVERIFY(mallory.reopen());
  }

  // A member asks for a key that is not the one bob gave them: nothing, even when their own
  // copy of his key is gone.
  void aMemberGetsOnlyTheKeyItWasGiven() {
    auto& carol = user("carol");
    carol.m.reset();
    QVERIFY(profileSql(carol.dir, "DELETE FROM sender_keys WHERE sender = 'bob'", {}));
    QVERIFY(carol.reopen());
    auto other = bobs_key_;
    other[0] = static_cast<char>(other[0] ^ 0x5a);
    askBob(carol, gid_, other);
    carol.m.reset();
    QCOMPARE(keys_of(carol, "bob"), 0);
    QVERIFY(carol.reopen());
  }

  // A request bob cannot read (a key id of the wrong length) is refused in a line.
  void aMalformedRequestIsRefusedInALine() {
    auto& bob = user("bob");
    bob.problems.clear();
    askBob(user("mallory"), gid_, bobs_key_.left(5));
    QVERIFY2(bob.problems.join('\n').contains("mallory asked for a group key in a form"),
             qPrintable(bob.problems.join(" | ")));
  }

  // Carol lost bob's key (the last case deleted it). His next group message waits for it on
  // her device; she asks him, he sends the copy she was given (at the step of the chain she
  // had it from), and what waited opens, in its place. Alice, who kept hers, is not involved.
  void aLostKeyIsAskedForAndWhatWaitedOpens() {
    auto& bob = user("bob");
    auto& carol = user("carol");
    const auto group = Messenger::groupPeer(gid_);
    QString error;
    const auto waited = bob.m->groupSend(gid_, "while your key was lost", &error);
    QVERIFY2(waited, qPrintable(error));
    QVERIFY(spinUntil([&] { return shows(user("alice"), group, "while your key was lost"); }, kWaitMs));
    QVERIFY2(spinUntil([&] { return carol.find(group, *waited).body == "while your key was lost"; }, kWaitMs),
             qPrintable("carol never read it; told: " + carol.problems.join(" | ")));
    // And his key works on: the next one opens at once.
    const auto next = bob.m->groupSend(gid_, "and after", &error);
    QVERIFY2(next, qPrintable(error));
    QVERIFY(carol.waitReceived(*next, kWaitMs));
    carol.m.reset();
    QCOMPARE(keys_of(carol, "bob"), 1);
    // Nothing waits and nothing is asked for any more.
    QVariant left;
    QVERIFY(profileSql(carol.dir, "SELECT (SELECT COUNT(*) FROM pending_group_messages) +"
                                  " (SELECT COUNT(*) FROM sender_key_requests)", {}, &left));
    QCOMPARE(left.toInt(), 0);
    QVERIFY(carol.reopen());
  }

  // Bob keeps what he gave each member only until they show they hold it: alice reads his
  // message, and her copy goes; carol's, who has read nothing, stays (for a week at most).
  void aReadMessageEndsTheCopyKeptToSendAgain() {
    auto& bob = user("bob");
    QString error;
    const auto id = bob.m->groupSend(gid_, "read me", &error);
    QVERIFY2(id, qPrintable(error));
    auto& alice = user("alice");
    QVERIFY(alice.waitReceived(*id, kWaitMs));
    alice.m->markRead(Messenger::groupPeer(gid_));
    QVERIFY(spinUntil([&] { return bob.m->readCount(gid_, *id) >= 1; }, kWaitMs));
    bob.m.reset();
    QVariant kept;
    QVERIFY(profileSql(bob.dir, "SELECT group_concat(username) FROM (SELECT username FROM group_members WHERE"
                                " key_sent_distribution IS NOT NULL ORDER BY username)", {}, &kept));
    QCOMPARE(kept.toString(), QString("carol"));
    QVERIFY(bob.reopen());
  }
};

QTEST_GUILESS_MAIN(SenderKeyRequestTest)
#include "sender_key_request_test.moc"
