// Two clients talking through a relay that lies (hostile_relay.hpp): a third of what the real
// relay sends them arrives mutated on the wire format, some of the rest twice. Whatever it
// sends, a client shows no words its peer did not write, shows none twice, keeps its store
// whole, and once the relay is honest again the two talk as before: no mutated frame left a
// session, a sender key or the store in a state that breaks what comes next.
// PARLEY_FUZZ_SEED picks another sequence of mutations, PARLEY_FUZZ_MESSAGES how many
// messages each side sends meanwhile (40).
#include <QtTest>

#include <set>

#include "chat_users.hpp"
#include "client_user.hpp"
#include "fuzz_settings.hpp"
#include "hostile_relay.hpp"
#include "messenger.hpp"
#include "parley.pb.h"
#include "relay_process.hpp"
#include "test_client.hpp"

using namespace parley;
using namespace parley::client;
using parley::test::HostileRelay;
using parley::test::RelayProcess;
using parley::test::spinUntil;

namespace {

constexpr int kWaitMs = 20000;

// A ChatUser (its messenger, what it received and was told) that also keeps what it wrote
// and any store damage it was told of.
struct Side : parley::test::ChatUser {
  explicit Side(QString n) { name = std::move(n); }
  // The messenger first: closing, it may still report to the lists.
  ~Side() { m.reset(); }
  QStringList damage;         // storeDamageFound
  std::set<QString> written;  // every text this side sent, 1:1 and to the group (each unique)

  void watch() {
    attach();
    QObject::connect(m.get(), &Messenger::storeDamageFound, m.get(),
                     [this](const QString& report) { damage << report; });
  }
  bool online() const { return m->state() == RelayClient::State::Online; }
  void say(const QString& peer, const QString& text) {
    QString error;
    QVERIFY2(m->sendText(peer, text, &error), qPrintable(error));
    written.insert(text);
  }
  void sayToGroup(const QByteArray& gid, const QString& text) {
    QString error;
    QVERIFY2(m->groupSend(gid, text, &error), qPrintable(error));
    written.insert(text);
  }
  // The text of the message `id` in conversation `peer`, as this side shows it.
  QString shown(const QString& peer, const QByteArray& id) const { return find(peer, id).body; }
};

// What `reader` shows in `peer` from `author`: every text is one `author` wrote, none twice
// (each was written once, so a second copy under another id would be a forgery).
void checkShown(const Side& reader, const QString& peer, const Side& author) {
  std::set<QString> texts;
  for (const auto& s : reader.m->history(peer)) {
    if (s.sender != author.name) continue;
    QVERIFY2(s.body.isEmpty() || texts.insert(s.body).second,
             qPrintable(QString("%1 shows %2's \"%3\" twice").arg(reader.name, author.name, s.body.left(80))));
    QVERIFY2(s.body.isEmpty() || author.written.count(s.body),
             qPrintable(QString("%1 shows words %2 never wrote: \"%3\"").arg(reader.name, author.name,
                                                                            s.body.left(80))));
  }
}

// Each side registered through `liar`, in a profile under `home`, and watched.
bool registerThrough(const HostileRelay& liar, const QTemporaryDir& home, std::initializer_list<Side*> sides) {
  for (auto* side : sides) {
    side->m = parley::test::registerClientUser(liar.url(), home.filePath(side->name), side->name, kWaitMs);
    if (!side->m) return false;
    side->watch();
  }
  return true;
}

// A group `admin` makes with `member`, once the member knows of it (empty on failure).
QByteArray groupOfTwo(Side& admin, Side& member, const QString& name) {
  QByteArray gid;
  QString error;
  admin.m->createGroup(name, {member.name}, [&](const QByteArray& id, const QString& e) {
    gid = id;
    error = e;
  });
  if (!spinUntil([&] { return !error.isEmpty() || (!gid.isEmpty() && member.m->groups().contains(gid)); }, kWaitMs) ||
      !error.isEmpty()) {
    qWarning("createGroup: %s", qPrintable(error));
    return {};
  }
  return gid;
}

}  // namespace

class HostileRelayTest : public QObject {
  Q_OBJECT

 private slots:
  void aLyingRelayNeitherForgesNorBreaks() {
    QTemporaryDir home;
    RelayProcess relay({"--rate", "100000", "--rate-burst", "100000"});
    QVERIFY(relay.start());
    HostileRelay liar(relay.url(), parley::test::fuzzSeed());
    QVERIFY(liar.listen());

    Side alice("alice"), bob("bob");
    QVERIFY(registerThrough(liar, home, {&alice, &bob}));

    // Honest at first: sessions both ways and a group of the two.
    alice.say("bob", "hello bob");
    bob.say("alice", "hello alice");
    const auto gid = groupOfTwo(alice, bob, "liars' club");
    QVERIFY(!gid.isEmpty());
    alice.sayToGroup(gid, "welcome");
    const auto group = Messenger::groupPeer(gid);
    QVERIFY(spinUntil([&] {
      return bob.m->history("alice").size() >= 2 && alice.m->history("bob").size() >= 2 &&
             bob.m->history(group).size() >= 1;
    }, kWaitMs));

    // Lying: a third of the relay's frames mutated, a twentieth of the rest twice.
    liar.mutate_percent = 33;
    liar.duplicate_percent = 5;
    const auto rounds = static_cast<int>(parley::test::fuzzSetting("PARLEY_FUZZ_MESSAGES", 40));
    for (int i = 0; i < rounds; ++i) {
      bob.say("alice", QString("bob to alice %1").arg(i));
      alice.say("bob", QString("alice to bob %1").arg(i));
      if (i % 4 == 0) {
        bob.sayToGroup(gid, QString("bob to the group %1").arg(i));
        alice.sayToGroup(gid, QString("alice to the group %1").arg(i));
      }
      if (i % 10 == 0) {
        alice.m->markRead("bob");
        bob.m->setTyping("alice", true);
      }
      QTest::qWait(25);
    }
    QTest::qWait(3000);  // the lies in flight land
    qInfo("the relay's frames: %d passed, %d mutated, %d sent twice", liar.passed, liar.mutated,
          liar.duplicated);
    qInfo("meanwhile alice's chat with bob shows %lld messages, bob's with alice %lld; told their "
          "users: %s",
          static_cast<long long>(alice.m->history("bob").size()),
          static_cast<long long>(bob.m->history("alice").size()),
          qPrintable((alice.problems + bob.problems).join(" | ").left(1500)));

    // Honest again, both reconnecting as after any outage.
    liar.mutate_percent = 0;
    liar.duplicate_percent = 0;
    for (auto* side : {&alice, &bob}) {
      side->m->stop();
      side->m->start();
    }
    QVERIFY(spinUntil([&] { return alice.online() && bob.online(); }, kWaitMs));

    QString error;
    const auto to_alice = bob.m->sendText("alice", "after the lies", &error);
    QVERIFY2(to_alice, qPrintable(error));
    bob.written.insert("after the lies");
    const auto to_bob = alice.m->sendText("bob", "still here", &error);
    QVERIFY2(to_bob, qPrintable(error));
    alice.written.insert("still here");
    const auto to_group = bob.m->groupSend(gid, "the group too", &error);
    QVERIFY2(to_group, qPrintable(error));
    bob.written.insert("the group too");
    QVERIFY2(spinUntil([&] { return alice.shown("bob", *to_alice) == "after the lies"; }, kWaitMs),
             "alice does not show bob's message after the relay turned honest");
    QVERIFY2(spinUntil([&] { return bob.shown("alice", *to_bob) == "still here"; }, kWaitMs),
             "bob does not show alice's message after the relay turned honest");
    QVERIFY2(spinUntil([&] { return alice.shown(group, *to_group) == "the group too"; }, kWaitMs),
             "alice does not show bob's group message after the relay turned honest");

    checkShown(alice, "bob", bob);
    checkShown(bob, "alice", alice);
    checkShown(alice, group, bob);
    checkShown(bob, group, alice);
    // What the user is told names what went wrong in a line, however long the lie.
    for (const auto& text : alice.problems + bob.problems)
      QVERIFY2(text.size() <= 300, qPrintable("told the user: " + text.left(400) + "..."));
    QVERIFY2(alice.damage.isEmpty(), qPrintable(alice.damage.join("; ")));
    QVERIFY2(bob.damage.isEmpty(), qPrintable(bob.damage.join("; ")));
  }

  // The relay loses one frame: bob's sender key on its way to alice (a mutated copy, which
  // alice cannot decrypt, comes to the same). Bob's group messages wait on alice's device
  // until she has asked him for it again and he has sent it; then they open, the first too.
  void aSenderKeyTheRelayLostIsAskedForAgain() {
    QTemporaryDir home;
    RelayProcess relay;
    QVERIFY(relay.start());
    HostileRelay liar(relay.url(), parley::test::fuzzSeed());
    QVERIFY(liar.listen());
    Side alice("alice"), bob("bob");
    QVERIFY(registerThrough(liar, home, {&alice, &bob}));
    alice.say("bob", "hello bob");
    bob.say("alice", "hello alice");
    QVERIFY(spinUntil([&] { return alice.m->history("bob").size() >= 2 && bob.m->history("alice").size() >= 2; },
                      kWaitMs));
    // From here the next message of bob's that the relay hands to anyone pairwise is lost:
    // his sender key, which he sends alice once he takes the group's CREATED event.
    bool lose = true;
    liar.swallow = [&](const QByteArray& bytes) {
      parley::wire::ServerFrame f;
      if (!lose || !f.ParseFromArray(bytes.constData(), static_cast<int>(bytes.size())) || !f.has_deliver() ||
          f.deliver().kind() != parley::wire::MESSAGE || f.deliver().sender() != "bob")
        return false;
      lose = false;
      return true;
    };
    const auto gid = groupOfTwo(alice, bob, "lost and found");
    QVERIFY(!gid.isEmpty());
    QString error;
    const auto first = bob.m->groupSend(gid, "can you read this", &error);
    QVERIFY2(first, qPrintable(error));
    const auto group = Messenger::groupPeer(gid);
    QVERIFY2(spinUntil([&] { return alice.shown(group, *first) == "can you read this"; }, kWaitMs),
             qPrintable("alice never read bob's first group message; told: " + alice.problems.join(" | ")));
    QCOMPARE(liar.swallowed, 1);
    const auto second = bob.m->groupSend(gid, "and this", &error);
    QVERIFY2(second, qPrintable(error));
    QVERIFY(spinUntil([&] { return alice.shown(group, *second) == "and this"; }, kWaitMs));
  }
};

QTEST_GUILESS_MAIN(HostileRelayTest)
#include "hostile_relay_test.moc"
