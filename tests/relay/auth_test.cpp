// Registration and login against a real relay: good and bad signatures, replayed
// challenges, taken and invalid names.
#include <QtTest>

#include "parley/auth_transcript.hpp"
#include "relay_process.hpp"
#include "test_client.hpp"

using namespace parley;
using namespace parley::test;

class AuthTest : public QObject {
  Q_OBJECT
  RelayProcess relay_;

 private slots:
  void initTestCase() { QVERIFY(relay_.start()); }

  void registerThenLogin() {
    TestClient alice("Alice");
    QVERIFY(alice.connect(relay_.url()));
    auto r = alice.registerAccount();
    QVERIFY(r && r->has_registered());
    QCOMPARE(r->registered().username(), std::string("alice"));  // case-folded
    // Registration logs the device in: an authenticated request works at once.
    wire::ClientFrame f;
    f.mutable_fetch_prekey_bundle()->set_username("alice");
    auto b = alice.request(f);
    QVERIFY(b && b->has_prekey_bundle());
    alice.disconnect();

    QVERIFY(alice.connect(relay_.url()));
    auto l = alice.login();
    QVERIFY(l && l->has_logged_in());
    QCOMPARE(l->logged_in().username(), std::string("alice"));
  }

  void takenNameIsRefusedWhateverItsCase() {
    TestClient first("bob");
    QVERIFY(first.connect(relay_.url()));
    QVERIFY(first.registerAccount()->has_registered());
    TestClient second("BOB");
    QVERIFY(second.connect(relay_.url()));
    auto r = second.registerAccount();
    QVERIFY(r && r->has_error());
    QCOMPARE(r->error().code(), wire::USERNAME_TAKEN);
    QVERIFY(r->error().reason().find("taken") != std::string::npos);
  }

  void invalidNamesAreRefused_data() {
    QTest::addColumn<QString>("name");
    QTest::newRow("too short") << "ab";
    QTest::newRow("too long") << QString(33, 'a');
    QTest::newRow("space") << "a b c";
    QTest::newRow("leading digit") << "1abc";
    QTest::newRow("non-ascii") << QString::fromUtf8("j\xc3\xbcrgen");
    QTest::newRow("double dot") << "a..b";
  }
  void invalidNamesAreRefused() {
    QFETCH(QString, name);
    TestClient c(name.toStdString());
    QVERIFY(c.connect(relay_.url()));
    auto r = c.registerAccount();
    QVERIFY(r && r->has_error());
    QCOMPARE(r->error().code(), wire::INVALID_USERNAME);
    QVERIFY(!r->error().reason().empty());
  }

  void wrongKeyCannotLogIn() {
    TestClient carol("carol");
    QVERIFY(carol.connect(relay_.url()));
    QVERIFY(carol.registerAccount()->has_registered());
    // Same name and device, another key: a stranger trying to read carol's inbox.
    TestClient mallory("carol", 1, Identity::generate());
    QVERIFY(mallory.connect(relay_.url()));
    auto r = mallory.login();
    QVERIFY(r && r->has_error());
    QCOMPARE(r->error().code(), wire::BAD_SIGNATURE);
    // Still not authenticated.
    auto s = mallory.send("carol", "x");
    QCOMPARE(s->error().code(), wire::UNAUTHENTICATED);
  }

  void unknownAccountLooksLikeBadSignature() {
    TestClient ghost("nobody-here");
    QVERIFY(ghost.connect(relay_.url()));
    auto r = ghost.login();
    QCOMPARE(r->error().code(), wire::BAD_SIGNATURE);
  }

  void registerWithBadSignatureIsRefused() {
    TestClient dave("dave");
    QVERIFY(dave.connect(relay_.url()));
    wire::ClientFrame g;
    g.mutable_get_challenge();
    auto c = dave.request(g)->challenge();
    wire::ClientFrame f;
    auto* r = f.mutable_register_();
    r->set_username("dave");
    r->set_identity_key(dave.identity().public_key);
    r->set_device_id(1);
    r->set_challenge_nonce(c.nonce());
    // Signed for Login, not Register: the purpose byte differs, so it must not verify.
    r->set_signature(dave.identity().sign(auth_transcript(
        AuthPurpose::Login, c.relay_id(), c.nonce(), c.server_time_ms(), 1, "dave")));
    auto resp = dave.request(f);
    QCOMPARE(resp->error().code(), wire::BAD_SIGNATURE);
    // The name is still free.
    QVERIFY(dave.registerAccount()->has_registered());
  }

  void challengeIsSingleUse() {
    TestClient erin("erin");
    QVERIFY(erin.connect(relay_.url()));
    QVERIFY(erin.registerAccount()->has_registered());
    erin.disconnect();

    TestClient again("erin", 1, erin.identity());
    QVERIFY(again.connect(relay_.url()));
    wire::ClientFrame g;
    g.mutable_get_challenge();
    auto c = again.request(g)->challenge();
    wire::ClientFrame f;
    auto* l = f.mutable_login();
    l->set_username("erin");
    l->set_device_id(1);
    l->set_challenge_nonce(c.nonce());
    l->set_signature(erin.identity().sign(auth_transcript(
        AuthPurpose::Login, c.relay_id(), c.nonce(), c.server_time_ms(), 1, "wrong")));
    QCOMPARE(again.request(f)->error().code(), wire::BAD_SIGNATURE);
    // The right signature over the same (now used) challenge is refused too.
    l->set_signature(erin.identity().sign(auth_transcript(
        AuthPurpose::Login, c.relay_id(), c.nonce(), c.server_time_ms(), 1, "erin")));
    QCOMPARE(again.request(f)->error().code(), wire::CHALLENGE_INVALID);

    // A signed login captured on one connection does not work on another.
    TestClient replayer("erin", 1, erin.identity());
    QVERIFY(replayer.connect(relay_.url()));
    replayer.request(g);  // its own, different challenge
    auto r = replayer.request(f);
    QCOMPARE(r->error().code(), wire::CHALLENGE_INVALID);
  }

  void malformedRegisterFieldsAreNamed() {
    TestClient c("frank");
    QVERIFY(c.connect(relay_.url()));
    wire::ClientFrame f;
    auto* r = f.mutable_register_();
    r->set_username("frank");
    r->set_identity_key("short");
    r->set_device_id(1);
    auto resp = c.request(f);
    QCOMPARE(resp->error().code(), wire::BAD_REQUEST);
    QVERIFY(resp->error().reason().find("identity_key") != std::string::npos);
  }

  void unauthenticatedRequestsAreRefused() {
    TestClient c("gina");
    QVERIFY(c.connect(relay_.url()));
    wire::ClientFrame f;
    f.mutable_upload_prekeys();
    QCOMPARE(c.request(f)->error().code(), wire::UNAUTHENTICATED);
    f.Clear();
    f.mutable_subscribe_presence()->add_usernames("alice");
    QCOMPARE(c.request(f)->error().code(), wire::UNAUTHENTICATED);
  }
};

QTEST_GUILESS_MAIN(AuthTest)
#include "auth_test.moc"
