// A profile whose store was damaged on disk (one byte of a history page and one of the
// outbox flipped, as a bad disk or a hand would), opened in the app: the conversation shows
// what could be read, and a warning that stays until dismissed says why and what to do,
// once; the outbox's own problem, met in the same read, goes to the status line.
//
// With PARLEY_SCREENSHOT_DIR set it saves the warning (store-damaged.png).
#include <QtTest>

#include <QAbstractButton>
#include <QMessageBox>
#include <QStatusBar>
#include <QTemporaryDir>

#include "app_controller.hpp"
#include "app_fixture.hpp"
#include "main/main_window.hpp"
#include "messenger.hpp"
#include "relay_process.hpp"
#include "sealed_db.hpp"
#include "test_client.hpp"
#include "theme/theme.hpp"

using namespace parley::app;
using parley::test::kGuiWaitMs;
using parley::test::RelayProcess;
using parley::test::spinUntil;

class StoreDamageTest : public QObject {
  Q_OBJECT
  RelayProcess relay_;
  QTemporaryDir home_;

  QString dir() const { return home_.filePath("profiles/dina"); }

 private slots:
  void initTestCase() {
    QVERIFY(home_.isValid());
    parley::test::isolateSettings(home_.filePath("env"));
    Theme::apply(ThemeMode::Light);
    QVERIFY(relay_.start());
    auto m = parley::test::registerUser(relay_.url(), dir(), "dina");
    QVERIFY(m);
    m->stop();  // queued, so all of them stay in the history
    QString error;
    for (int i = 0; i < 40; ++i)
      QVERIFY2(m->sendText("eddie", QStringLiteral("Day %1 of the trip log. ").arg(i).repeated(120), &error),
               qPrintable(error));
  }

  void aDamagedStoreIsShownOnceInAWarningThatStays() {
    QString error;
    const auto db = dir() + "/parley.db";
    const auto pages = parley::test::leafPagesOf(db, "messages", &error);
    QVERIFY2(pages.size() >= 4, qPrintable(QString::number(pages.size()) + error));
    QVERIFY(parley::test::flipByteInPage(db, pages[pages.size() / 2]));
    const auto outbox = parley::test::leafPagesOf(db, "outbox", &error);
    QVERIFY2(outbox.size() >= 4, qPrintable(QString::number(outbox.size()) + error));
    QVERIFY(parley::test::flipByteInPage(db, outbox.last()));

    AppController app({QStringLiteral("dina"), relay_.url(), home_.filePath("profiles")});
    app.start();
    auto* main = app.mainWindow();
    QVERIFY(main);
    main->show();
    main->openConversation("eddie");
    QMessageBox* box = nullptr;
    QVERIFY(spinUntil([&] { return (box = main->findChild<QMessageBox*>("storeDamaged")) != nullptr; }, kGuiWaitMs));
    QVERIFY(box->isVisible());
    QCOMPARE(box->icon(), QMessageBox::Warning);
    QVERIFY2(box->text().contains("do not open") && box->text().contains("from a backup"), qPrintable(box->text()));
    QVERIFY(app.messenger()->history("eddie").size() < 40);  // what could be read
    QVERIFY(spinUntil([&] { return main->statusBar()->currentMessage().contains("could not read every queued"); },
                      kGuiWaitMs));
    parley::test::screenshot(box, "store-damaged");
    // Read again: nothing more is said, and the one warning stays until dismissed.
    main->openConversation("eddie");
    QTest::qWait(200);
    QCOMPARE(main->findChildren<QMessageBox*>("storeDamaged").size(), 1);
    QVERIFY(box->isVisible());
    // Any other problem after it goes to the status line as before.
    emit app.messenger()->problem("could not reach the relay");
    QCOMPARE(main->findChildren<QMessageBox*>("storeDamaged").size(), 1);
    QCOMPARE(main->statusBar()->currentMessage(), QString("could not reach the relay"));
    QTest::mouseClick(box->button(QMessageBox::Ok), Qt::LeftButton);
    QVERIFY(spinUntil([&] { return main->findChildren<QMessageBox*>("storeDamaged").isEmpty(); }, kGuiWaitMs));
  }
};

QTEST_MAIN(StoreDamageTest)
#include "store_damage_test.moc"
