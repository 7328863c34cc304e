// How the client logs in again against a relay that says "not now" (fake_relay.hpp): a busy,
// failing or rate-limiting relay is tried again after the backoff, a refusal of the
// credentials is not, and a challenge refused leaves no connection hanging in "connecting".
#include <QtTest>

#include <QTemporaryDir>

#include "client_user.hpp"
#include "crypto/keys.hpp"
#include "fake_relay.hpp"
#include "messenger.hpp"
#include "profile/profile.hpp"
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
    Profile p{dir, name, relay.url(), 1, crypto::IdentityKeyPair::generate()};
    QString error;
    if (!p.save(&error)) return nullptr;
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
};

QTEST_GUILESS_MAIN(ReconnectTest)
#include "reconnect_test.moc"
