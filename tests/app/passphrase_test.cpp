// A profile's passphrase through the app, as a person would use it: protect the open profile
// from the Settings menu (a too short and a mismatched passphrase are refused first); the
// next open asks for it: Cancel goes back to the profile list, a wrong passphrase keeps the
// dialog with an error, the right one opens the main window; changing it and removing it
// each ask for the current passphrase (a wrong one changes nothing), after which the profile
// opens without any dialog.
//
// With PARLEY_SCREENSHOT_DIR set it saves the protect dialog (protect-with-passphrase.png),
// the unlock dialog with its error (unlock-profile.png) and the change dialog after a wrong
// current passphrase (change-passphrase.png).
#include <QtTest>

#include <QAction>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QTemporaryDir>

#include "app_controller.hpp"
#include "app_fixture.hpp"
#include "main/main_window.hpp"
#include "messenger.hpp"
#include "passphrase/passphrase_dialog.hpp"
#include "passphrase/unlock_dialog.hpp"
#include "relay_process.hpp"
#include "test_client.hpp"
#include "theme/theme.hpp"
#include "welcome/welcome_window.hpp"

using namespace parley::app;
using parley::test::kGuiWaitMs;
using parley::test::onNextDialog;
using parley::test::RelayProcess;
using parley::test::spinUntil;

namespace {

const QString kPassphrase = QStringLiteral("correct horse battery");

QAction* action(MainWindow* w, const char* name) { return w->findChild<QAction*>(QString::fromLatin1(name)); }

}  // namespace

class PassphraseTest : public QObject {
  Q_OBJECT
  RelayProcess relay_;
  QTemporaryDir home_;

  AppController::Options options() { return {QStringLiteral("carol"), relay_.url(), home_.filePath("profiles")}; }
  QString dir() const { return home_.filePath("profiles/carol"); }

 private slots:
  void initTestCase() {
    QVERIFY(home_.isValid());
    parley::test::isolateSettings(home_.filePath("env"));
    Theme::apply(ThemeMode::Light);
    QVERIFY(relay_.start());
    // Registered, then closed so the app can take the profile's lock.
    QVERIFY(parley::test::registerUser(relay_.url(), dir(), "carol"));
  }

  void protectFromTheMenu() {
    AppController app(options());
    app.start();
    auto* main = app.mainWindow();
    QVERIFY(main);
    QVERIFY(!app.messenger()->hasPassphrase());
    auto* protect = action(main, "protectWithPassphrase");
    QVERIFY(protect && protect->isVisible());
    QVERIFY(!action(main, "changePassphrase")->isVisible());
    QVERIFY(!action(main, "removePassphrase")->isVisible());

    bool saved = false;
    onNextDialog([&](QWidget* d) {
      auto* dialog = qobject_cast<PassphraseDialog*>(d);
      QVERIFY(dialog);
      QVERIFY(!dialog->currentEdit());  // none yet
      QCOMPARE(dialog->passphraseEdit()->echoMode(), QLineEdit::Password);
      dialog->passphraseEdit()->setText(kPassphrase);
      dialog->repeatEdit()->setText(kPassphrase);
      parley::test::screenshot(dialog, "protect-with-passphrase");

      dialog->passphraseEdit()->setText("short");
      dialog->repeatEdit()->setText("short");
      QTest::mouseClick(dialog->saveButton(), Qt::LeftButton);
      QVERIFY2(dialog->errorText().contains("at least 8 characters"), qPrintable(dialog->errorText()));

      dialog->passphraseEdit()->setText(kPassphrase);
      dialog->repeatEdit()->setText(kPassphrase + "!");
      QTest::mouseClick(dialog->saveButton(), Qt::LeftButton);
      QVERIFY2(dialog->errorText().contains("don't match"), qPrintable(dialog->errorText()));
      QVERIFY(dialog->isVisible());
      QVERIFY(!app.messenger()->hasPassphrase());

      dialog->repeatEdit()->setText(kPassphrase);
      QTest::mouseClick(dialog->saveButton(), Qt::LeftButton);
      // Busy while the key is derived on the worker; the fields are cleared at once.
      QVERIFY(!dialog->saveButton()->isEnabled());
      QVERIFY(dialog->passphraseEdit()->text().isEmpty() && dialog->repeatEdit()->text().isEmpty());
      QVERIFY(spinUntil([&] { return !dialog->isVisible(); }, kGuiWaitMs));
      QCOMPARE(dialog->result(), int(QDialog::Accepted));
      saved = true;
    });
    protect->trigger();
    QVERIFY(saved);
    QVERIFY(app.messenger()->hasPassphrase());
    QVERIFY(parley::client::store_key::isProtected(dir()));
    QVERIFY(!protect->isVisible());
    QVERIFY(action(main, "changePassphrase")->isVisible());
    QVERIFY(action(main, "removePassphrase")->isVisible());
  }

  void cancelGoesBackToTheProfileList() {
    AppController app(options());
    bool asked = false;
    onNextDialog([&](QWidget* d) {
      auto* dialog = qobject_cast<UnlockDialog*>(d);
      QVERIFY(dialog);
      QCOMPARE(dialog->windowTitle(), QString("Unlock carol"));
      asked = true;
      QTest::mouseClick(dialog->cancelButton(), Qt::LeftButton);
    });
    app.start();
    QVERIFY(asked);
    QVERIFY(!app.mainWindow());
    QVERIFY(app.welcome() && app.welcome()->isVisible());
    QCOMPARE(app.welcome()->errorText(), QString());
  }

  void unlockThenChangeAndRemove() {
    AppController app(options());
    bool answered = false;
    onNextDialog([&](QWidget* d) {
      auto* dialog = qobject_cast<UnlockDialog*>(d);
      QVERIFY(dialog);
      QCOMPARE(dialog->passphraseEdit()->echoMode(), QLineEdit::Password);
      QVERIFY(!dialog->unlockButton()->isEnabled());  // nothing typed yet
      dialog->passphraseEdit()->setText("not the passphrase");
      QTest::mouseClick(dialog->unlockButton(), Qt::LeftButton);
      QCOMPARE(dialog->errorText(), QString("Wrong passphrase — try again."));
      QVERIFY(dialog->isVisible());
      QVERIFY(dialog->passphraseEdit()->text().isEmpty());
      QCOMPARE(dialog->focusWidget(), static_cast<QWidget*>(dialog->passphraseEdit()));
      QVERIFY(!app.mainWindow());
      parley::test::screenshot(dialog, "unlock-profile");

      // Typed, then Enter: Unlock is the default button.
      QTest::keyClicks(dialog->passphraseEdit(), kPassphrase);
      QVERIFY(dialog->errorText().isEmpty());  // typing again clears the error
      QTest::keyClick(dialog->passphraseEdit(), Qt::Key_Return);
      QVERIFY(!dialog->isVisible());
      QVERIFY(dialog->passphraseEdit()->text().isEmpty());
      answered = true;
    });
    app.start();
    QVERIFY(answered);
    auto* main = app.mainWindow();
    QVERIFY(main);
    QVERIFY(QTest::qWaitForWindowExposed(main));
    QCOMPARE(app.messenger()->username(), QString("carol"));
    QVERIFY(spinUntil([&] { return app.messenger()->state() == parley::client::RelayClient::State::Online; },
                      kGuiWaitMs));

    // Change it: the current passphrase first (a wrong one changes nothing and keeps the new
    // one typed), then the new one is what store.key opens with.
    const QString changed_to = QStringLiteral("another long passphrase");
    bool changed = false;
    onNextDialog([&](QWidget* d) {
      auto* dialog = qobject_cast<PassphraseDialog*>(d);
      QVERIFY(dialog);
      QCOMPARE(dialog->windowTitle(), QString("Change passphrase"));
      QVERIFY(dialog->currentEdit());
      QCOMPARE(dialog->currentEdit()->echoMode(), QLineEdit::Password);
      QCOMPARE(dialog->focusWidget(), static_cast<QWidget*>(dialog->currentEdit()));
      dialog->passphraseEdit()->setText(changed_to);
      dialog->repeatEdit()->setText(changed_to);
      QTest::mouseClick(dialog->saveButton(), Qt::LeftButton);
      QVERIFY2(dialog->errorText().contains("this profile has now"), qPrintable(dialog->errorText()));
      dialog->currentEdit()->setText("not the passphrase");
      QTest::mouseClick(dialog->saveButton(), Qt::LeftButton);
      QVERIFY(!dialog->saveButton()->isEnabled());  // checking it on the worker
      QVERIFY(spinUntil([&] { return dialog->saveButton()->isEnabled(); }, kGuiWaitMs));
      QVERIFY2(dialog->errorText().contains("not this profile's passphrase"), qPrintable(dialog->errorText()));
      QVERIFY(dialog->isVisible());
      QVERIFY(dialog->currentEdit()->text().isEmpty());
      QCOMPARE(dialog->passphraseEdit()->text(), changed_to);
      QCOMPARE(dialog->focusWidget(), static_cast<QWidget*>(dialog->currentEdit()));
      parley::test::screenshot(dialog, "change-passphrase");
      QVERIFY(parley::client::store_key::unlock(dir(), kPassphrase).status == parley::client::store_key::Status::ok);
      QTest::keyClicks(dialog->currentEdit(), kPassphrase);
      QTest::mouseClick(dialog->saveButton(), Qt::LeftButton);
      QVERIFY(spinUntil([&] { return !dialog->isVisible(); }, kGuiWaitMs));
      QCOMPARE(dialog->result(), int(QDialog::Accepted));
      changed = true;
    });
    action(main, "changePassphrase")->trigger();
    QVERIFY(changed);
    QVERIFY(parley::client::store_key::unlock(dir(), changed_to).status == parley::client::store_key::Status::ok);

    // Remove it: the current passphrase again, the old one no longer being it.
    auto* remove = action(main, "removePassphrase");
    QVERIFY(remove && remove->isVisible());
    bool confirmed = false;
    onNextDialog([&](QWidget* d) {
      auto* dialog = qobject_cast<PassphraseDialog*>(d);
      QVERIFY(dialog);
      QCOMPARE(dialog->windowTitle(), QString("Remove passphrase"));
      QVERIFY(!dialog->passphraseEdit() && !dialog->repeatEdit());
      QCOMPARE(dialog->saveButton()->text(), QString("Remove passphrase"));
      QTest::keyClicks(dialog->currentEdit(), kPassphrase);
      QTest::keyClick(dialog->currentEdit(), Qt::Key_Return);
      QVERIFY(spinUntil([&] { return !dialog->errorText().isEmpty(); }, kGuiWaitMs));
      QVERIFY2(dialog->errorText().contains("not this profile's passphrase"), qPrintable(dialog->errorText()));
      QVERIFY(app.messenger()->hasPassphrase());
      QTest::keyClicks(dialog->currentEdit(), changed_to);
      QTest::keyClick(dialog->currentEdit(), Qt::Key_Return);
      QVERIFY(spinUntil([&] { return !dialog->isVisible(); }, kGuiWaitMs));
      QCOMPARE(dialog->result(), int(QDialog::Accepted));
      confirmed = true;
    });
    remove->trigger();
    QVERIFY(confirmed);
    QVERIFY(!app.messenger()->hasPassphrase());
    QVERIFY(!parley::client::store_key::isProtected(dir()));
    QVERIFY(action(main, "protectWithPassphrase")->isVisible());
    QVERIFY(!remove->isVisible());
  }

  void opensWithoutDialogOnceRemoved() {
    AppController app(options());
    // Shared: the watcher may outlive this function if no dialog comes (as it should not).
    auto asked = std::make_shared<bool>(false);
    onNextDialog([asked](QWidget*) { *asked = true; });  // and the fixture rejects it
    app.start();
    QVERIFY(!*asked);
    QVERIFY(app.mainWindow());
    QCOMPARE(app.messenger()->username(), QString("carol"));
  }
};

QTEST_MAIN(PassphraseTest)
#include "passphrase_test.moc"
