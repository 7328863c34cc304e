// The first-run flow: the welcome screen's specific errors (invalid name, bad relay address,
// relay unreachable, name taken), then creating an account opens the main window; the
// profile is remembered and opens directly on the next start; --profile picks another.
#include <QtTest>

#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QTemporaryDir>

#include "app_controller.hpp"
#include "app_fixture.hpp"
#include "main/main_window.hpp"
#include "relay_process.hpp"
#include "test_client.hpp"
#include "welcome/welcome_window.hpp"

using namespace parley::app;
using parley::test::kGuiWaitMs;
using parley::test::RelayProcess;
using parley::test::spinUntil;

class WelcomeTest : public QObject {
  Q_OBJECT
  RelayProcess relay_;
  QTemporaryDir home_;

  AppController::Options options(const QString& profile = {}) {
    return {profile, relay_.url(), home_.filePath("profiles")};
  }

  // Types into the welcome screen like a person and presses Enter.
  static void fill(WelcomeWindow* w, const QString& relay, const QString& name) {
    w->relayEdit()->clear();
    QTest::keyClicks(w->relayEdit(), relay);
    w->usernameEdit()->clear();
    QTest::keyClicks(w->usernameEdit(), name);
    QTest::keyClick(w->usernameEdit(), Qt::Key_Return);
  }

 private slots:
  void initTestCase() {
    QVERIFY(home_.isValid());
    parley::test::isolateSettings(home_.filePath("env"));
    QVERIFY(relay_.start());
  }

  void errorsAreSpecific() {
    AppController app(options());
    app.start();
    auto* w = app.welcome();
    QVERIFY(w);
    QVERIFY(QTest::qWaitForWindowExposed(w));
    QCOMPARE(w->relayEdit()->text(), relay_.url().toString());

    fill(w, relay_.url().toString(), "9lives");
    QVERIFY2(w->errorText().contains("can't be used"), qPrintable(w->errorText()));
    QVERIFY(!app.mainWindow());

    fill(w, "http://example.org", "dora");
    QVERIFY2(w->errorText().contains("ws://host:port"), qPrintable(w->errorText()));

    // Nothing listens on port 1 of 127.0.0.1.
    fill(w, "ws://127.0.0.1:1", "dora");
    QVERIFY(!w->createButton()->isEnabled());  // busy while trying
    QVERIFY(spinUntil([&] { return !w->errorText().isEmpty(); }, kGuiWaitMs));
    QVERIFY2(w->errorText().contains("Can't reach the relay"), qPrintable(w->errorText()));
    QVERIFY(w->createButton()->isEnabled());
    QVERIFY(!QDir(home_.filePath("profiles/dora")).exists() ||
            !parley::client::Profile::exists(home_.filePath("profiles/dora")));

    // A name someone else registered.
    QTemporaryDir other;
    auto taken = parley::test::registerUser(relay_.url(), other.filePath("p"), "taken");
    QVERIFY(taken);
    fill(w, relay_.url().toString(), "Taken");
    QVERIFY(spinUntil([&] { return !w->errorText().isEmpty(); }, kGuiWaitMs));
    QVERIFY2(w->errorText().contains("already taken"), qPrintable(w->errorText()));
    QVERIFY(!app.mainWindow());
  }

  void createAccountOpensMainWindow() {
    {
      AppController app(options());
      app.start();
      auto* w = app.welcome();
      QVERIFY(w);
      fill(w, relay_.url().toString(), "Alice");
      QVERIFY(spinUntil([&] { return app.mainWindow() != nullptr; }, kGuiWaitMs));
      auto* main = app.mainWindow();
      QVERIFY(QTest::qWaitForWindowExposed(main));
      QCOMPARE(app.messenger()->username(), QString("alice"));
      QVERIFY(parley::client::Profile::exists(home_.filePath("profiles/alice")));
      QVERIFY(spinUntil([&] { return app.messenger()->state() == parley::client::RelayClient::State::Online; },
                        kGuiWaitMs));
    }
    // The next start opens the remembered profile without the welcome screen.
    {
      AppController app(options());
      app.start();
      QVERIFY(!app.welcome());
      QVERIFY(app.mainWindow());
      QCOMPARE(app.messenger()->username(), QString("alice"));
    }
    // --profile with a new name: the welcome screen, name filled in, registers into it.
    {
      AppController app(options("bea"));
      app.start();
      auto* w = app.welcome();
      QVERIFY(w);
      QCOMPARE(w->usernameEdit()->text(), QString("bea"));
      QVERIFY(w->profileList()->findItems("alice", Qt::MatchExactly).size() == 1);
      QTest::keyClick(w->usernameEdit(), Qt::Key_Return);
      QVERIFY(spinUntil([&] { return app.mainWindow() != nullptr; }, kGuiWaitMs));
      QCOMPARE(app.messenger()->username(), QString("bea"));
    }
    // --profile with an existing name opens it.
    {
      AppController app(options("alice"));
      app.start();
      QVERIFY(app.mainWindow());
      QCOMPARE(app.messenger()->username(), QString("alice"));
    }
  }
};

QTEST_MAIN(WelcomeTest)
#include "welcome_test.moc"
