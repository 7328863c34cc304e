// How the client treats a relay's answers beside messages (fake_relay.hpp): a busy, failing
// or rate-limiting relay is tried again after the backoff, a refusal of the credentials is
// not, presence or typing pushed about people the profile does not follow is ignored, and a
// conversation number no relay could give is refused.
#include <QtTest>

#include <QTemporaryDir>

#include "client_user.hpp"
#include "crypto/keys.hpp"
#include "fake_relay.hpp"
#include "messenger.hpp"
#include "test_client.hpp"

using namespace parley;
using namespace parley::client;
using parley::test::FakeRelay;
using parley::test::spinUntil;

namespace {

wire::ServerFrame error(wire::ErrorCode code) {
  wire::ServerFrame f;
  f.mutable_error()->set_code(code);
  f.mutable_error()->set_reason("not now");
  return f;
}

}  // namespace

class ReconnectTest : public QObject {
  Q_OBJECT
  QTemporaryDir home_;

  std::unique_ptr<Messenger> open(const FakeRelay& relay, const QString& name) {
    const auto dir = home_.filePath(name);
    if (!test::saveNewClientProfile(relay.url(), dir, name)) return nullptr;
    return test::openClientProfile(dir);
  }

 private slots:
  void initTestCase() {
    QVERIFY(home_.isValid());
    QVERIFY(crypto::init());
  }

  // Each temporary refusal closes the connection and the next one tries again; the client
  // ends up online. It used to stop for good (INTERNAL, RATE_LIMITED, CHALLENGE_INVALID) or
  // sit connected and "connecting" (UNAVAILABLE).
  void temporaryLoginRefusalsAreRetried() {
    FakeRelay relay;
    QVERIFY(relay.listen());
    QList<wire::ErrorCode> refusals{wire::UNAVAILABLE, wire::INTERNAL, wire::RATE_LIMITED,
                                    wire::CHALLENGE_INVALID};
    relay.answer_login = [&](const wire::Login&) -> std::optional<wire::ServerFrame> {
      if (refusals.isEmpty()) return std::nullopt;
      return error(refusals.takeFirst());
    };
    auto m = open(relay, QStringLiteral("rita"));
    QVERIFY(m);
    m->start();
    // Backoff 0.5, 1, 2 and 4 s, each +-25 %.
    QVERIFY(spinUntil([&] { return m->state() == RelayClient::State::Online; }, 15000));
    QCOMPARE(relay.connections, 5);
    QCOMPARE(relay.logins.size(), 5);
  }

  // A refusal of these credentials ends the attempts.
  void aRefusedLoginIsNotRetried() {
    FakeRelay relay;
    QVERIFY(relay.listen());
    relay.answer_login = [&](const wire::Login&) -> std::optional<wire::ServerFrame> {
      return error(wire::BAD_SIGNATURE);
    };
    auto m = open(relay, QStringLiteral("sam"));
    QVERIFY(m);
    QStringList problems;
    connect(m.get(), &Messenger::problem, this, [&](const QString& p) { problems << p; });
    m->start();
    QVERIFY(spinUntil([&] { return !problems.isEmpty(); }, 5000));
    QTest::qWait(1500);  // past the first backoff
    QCOMPARE(relay.connections, 1);
    QVERIFY(m->state() == RelayClient::State::Offline);
  }

  // Presence and typing about someone this profile does not follow are not taken: a relay
  // making names up would otherwise grow the client's state without a bound.
  void presenceOnlyAboutPeopleFollowed() {
    FakeRelay relay;
    QVERIFY(relay.listen());
    relay.answer = [](const wire::ClientFrame& f) -> std::optional<wire::ServerFrame> {
      if (!f.has_subscribe_presence()) return std::nullopt;
      wire::ServerFrame r;
      r.mutable_presence_snapshot();
      return r;
    };
    auto m = open(relay, QStringLiteral("tess"));
    QVERIFY(m);
    QStringList seen;
    connect(m.get(), &Messenger::presenceChanged, this, [&](const QString& who, bool, qint64) { seen << who; });
    connect(m.get(), &Messenger::typingChanged, this, [&](const QString& who, bool) { seen << who; });
    m->start();
    QVERIFY(spinUntil([&] { return m->state() == RelayClient::State::Online; }, 10000));
    m->subscribePresence({QStringLiteral("uma")});
    for (const auto* who : {"made-up", "uma"}) {
      wire::ServerFrame p;
      p.mutable_presence_update()->set_username(who);
      p.mutable_presence_update()->set_online(true);
      relay.push(p);
      wire::ServerFrame t;
      t.mutable_typing_event()->set_sender(who);
      t.mutable_typing_event()->set_active(true);
      relay.push(t);
    }
    // uma's presence and typing, and the snapshot, which does not list her (not known).
    QVERIFY(spinUntil([&] { return seen.size() >= 3; }, 5000));
    QTest::qWait(100);
    QCOMPARE(seen, (QStringList{"uma", "uma", "uma"}));
  }

  // The relay forgets subscriptions when it restarts. After each login the client sends its
  // set again by itself (not waiting for the app to ask), and someone the answer does not
  // list is no longer shown online: nothing would say when they went.
  void presenceIsFollowedAgainAfterAReconnect() {
    FakeRelay relay;
    QVERIFY(relay.listen());
    QList<QStringList> sets;
    bool list_uma = true;
    relay.answer = [&](const wire::ClientFrame& f) -> std::optional<wire::ServerFrame> {
      if (!f.has_subscribe_presence()) return std::nullopt;
      QStringList names;
      for (const auto& n : f.subscribe_presence().usernames()) names << QString::fromStdString(n);
      sets << names;
      wire::ServerFrame r;
      auto* snapshot = r.mutable_presence_snapshot();
      if (list_uma) {
        auto* u = snapshot->add_users();
        u->set_username("uma");
        u->set_online(true);
      }
      return r;
    };
    auto m = open(relay, QStringLiteral("ursula"));
    QVERIFY(m);
    QList<bool> uma;
    connect(m.get(), &Messenger::presenceChanged, this, [&](const QString& who, bool online, qint64) {
      if (who == "uma") uma << online;
    });
    m->start();
    QVERIFY(spinUntil([&] { return m->state() == RelayClient::State::Online; }, 10000));
    m->subscribePresence({QStringLiteral("uma")});
    QVERIFY(spinUntil([&] { return uma == QList<bool>{true}; }, 5000));
    list_uma = false;  // the restarted relay: uma no longer follows us back
    relay.dropClient();
    QVERIFY(spinUntil([&] { return sets.size() == 2; }, 10000));
    QCOMPARE(sets[1], QStringList{"uma"});
    QVERIFY(spinUntil([&] { return uma == (QList<bool>{true, false}); }, 5000));
  }

  // A subscription the relay cannot take now (UNAVAILABLE: gateways whose Redis is away;
  // RATE_LIMITED) is sent again once the time it names has passed, without the app asking,
  // and the answer then shows who is online.
  void aRefusedSubscriptionIsSentAgainWhenTheRelaySays() {
    FakeRelay relay;
    QVERIFY(relay.listen());
    int asked = 0;
    relay.answer = [&](const wire::ClientFrame& f) -> std::optional<wire::ServerFrame> {
      if (!f.has_subscribe_presence()) return std::nullopt;
      wire::ServerFrame r;
      if (++asked == 1) {
        r.mutable_error()->set_code(wire::UNAVAILABLE);
        r.mutable_error()->set_retry_after_ms(300);
        return r;
      }
      auto* u = r.mutable_presence_snapshot()->add_users();
      u->set_username("uma");
      u->set_online(true);
      return r;
    };
    auto m = open(relay, QStringLiteral("xena"));
    QVERIFY(m);
    QList<bool> uma;
    connect(m.get(), &Messenger::presenceChanged, this, [&](const QString& who, bool online, qint64) {
      if (who == "uma") uma << online;
    });
    m->start();
    QVERIFY(spinUntil([&] { return m->state() == RelayClient::State::Online; }, 10000));
    m->subscribePresence({QStringLiteral("uma")});
    QVERIFY(spinUntil([&] { return asked == 1; }, 5000));
    QTest::qWait(150);
    QCOMPARE(asked, 1);  // not before the time named
    QVERIFY(spinUntil([&] { return uma == QList<bool>{true}; }, 5000));
    QCOMPARE(asked, 2);
  }

  // A conv_seq past what SQLite keeps as an integer: dropped with a problem, and acknowledged
  // so it does not block the inbox.
  void anImpossibleConversationNumberIsRefused() {
    FakeRelay relay;
    QVERIFY(relay.listen());
    auto m = open(relay, QStringLiteral("vera"));
    QVERIFY(m);
    QStringList problems;
    connect(m.get(), &Messenger::problem, this, [&](const QString& p) { problems << p; });
    m->start();
    QVERIFY(spinUntil([&] { return m->state() == RelayClient::State::Online; }, 10000));
    wire::ServerFrame f;
    auto* d = f.mutable_deliver();
    d->set_inbox_seq(1);
    d->set_sender("walt");
    d->set_sender_device(1);
    d->set_kind(wire::MESSAGE);
    d->set_conv_seq(std::uint64_t{1} << 63);
    d->set_ciphertext("x");
    d->set_client_msg_id(std::string(16, 'i'));
    relay.push(f);
    QVERIFY(spinUntil([&] { return !relay.acks.isEmpty() && relay.acks.back() == 1; }, 5000));
    QVERIFY2(problems.filter("impossible number").size() == 1, qPrintable(problems.join("; ")));
  }
};

QTEST_GUILESS_MAIN(ReconnectTest)
#include "reconnect_test.moc"
