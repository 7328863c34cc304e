// End to end through the app on both sides: a relay and two app windows (alice and bob),
// each with its own Messenger and profile, in one test process. Alice writes in her window;
// the message appears in bob's conversation list with an unread badge and a notification;
// when bob's window shows the conversation, the read tick comes back to alice's window.
// Then a group: alice creates it from her contacts in the New group dialog, both windows
// show it, bob sees alice's name on her group message.
//
// One process rather than two: both windows share one event loop, so the test can wait on
// either side's state without IPC, and it stays quick under ASan; each side still has its
// own profile, database and relay connection, as two app instances would.
//
// With PARLEY_SCREENSHOT_DIR set it also saves the main screens there (scripts/screenshots.sh).
#include <QtTest>

#include <QDir>
#include <QInputMethodEvent>
#include <QLineEdit>
#include <QListView>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QTemporaryDir>
#include <QTreeWidget>

#include "app_controller.hpp"
#include "app_fixture.hpp"
#include "contacts/contact_page.hpp"
#include "conversations/conversation_delegate.hpp"
#include "conversation/composer.hpp"
#include "conversation/conversation_view.hpp"
#include "conversation/message_delegate.hpp"
#include "conversation/message_list_view.hpp"
#include "groups/create_group_dialog.hpp"
#include "groups/group_panel.hpp"
#include "groups/receipt_details_dialog.hpp"
#include "main/main_window.hpp"
#include "models/conversation_list_model.hpp"
#include "models/message_model.hpp"
#include "relay_process.hpp"
#include "test_client.hpp"
#include "theme/theme.hpp"
#include "tray/tray.hpp"
#include "welcome/welcome_window.hpp"

using namespace parley::app;
using parley::client::ConversationListModel;
using parley::client::MessageModel;
using parley::client::MessageStatus;
using parley::client::Messenger;
using parley::test::kGuiWaitMs;
using parley::test::screenshot;
using parley::test::RelayProcess;
using parley::test::spinUntil;

namespace {

int rowOf(QListView* list, const QString& peer) {
  for (int i = 0; i < list->model()->rowCount(); ++i)
    if (list->model()->index(i, 0).data(ConversationListModel::PeerRole).toString() == peer) return i;
  return -1;
}

QModelIndex listRow(MainWindow* w, const QString& peer) {
  auto* list = w->conversationList();
  return list->model()->index(rowOf(list, peer), 0);
}

}  // namespace

class TwoWindowsTest : public QObject {
  Q_OBJECT
  RelayProcess relay_;
  QTemporaryDir home_;
  std::unique_ptr<Messenger> alice_, bob_, carol_;
  std::unique_ptr<MainWindow> aw_, bw_;

  void activate(QWidget* w) {
    w->raise();
    w->activateWindow();
    QVERIFY(QTest::qWaitForWindowActive(w));
  }

 private slots:
  void initTestCase() {
    QVERIFY(home_.isValid());
    parley::test::isolateSettings(home_.filePath("env"));
    // Screenshots of the dark palette: PARLEY_SCREENSHOT_THEME=dark.
    Theme::apply(qEnvironmentVariable("PARLEY_SCREENSHOT_THEME") == "dark" ? ThemeMode::Dark : ThemeMode::Light);
    QVERIFY(relay_.start());
    alice_ = parley::test::registerUser(relay_.url(), home_.filePath("alice"), "alice");
    bob_ = parley::test::registerUser(relay_.url(), home_.filePath("bob"), "bob");
    carol_ = parley::test::registerUser(relay_.url(), home_.filePath("carol"), "carol");
    QVERIFY(alice_ && bob_ && carol_);
    aw_ = std::make_unique<MainWindow>(alice_.get(), home_.filePath("alice"));
    bw_ = std::make_unique<MainWindow>(bob_.get(), home_.filePath("bob"));
    aw_->resize(1000, 660);
    bw_->resize(1000, 660);
    aw_->show();
    bw_->show();
    QVERIFY(QTest::qWaitForWindowExposed(aw_.get()));
    QVERIFY(QTest::qWaitForWindowExposed(bw_.get()));
  }

  void cleanupTestCase() {
    aw_.reset();
    bw_.reset();
    alice_.reset();
    bob_.reset();
    carol_.reset();
  }

  void welcomeScreenshot() {
    if (qEnvironmentVariable("PARLEY_SCREENSHOT_DIR").isEmpty()) QSKIP("screenshots not requested");
    WelcomeWindow w(relay_.url(), {});
    w.resize(560, 640);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QTest::keyClicks(w.usernameEdit(), "alice");
    screenshot(&w, "welcome");
  }

  void messageArrivesAndReadTickComesBack() {
    activate(aw_.get());
    aw_->openConversation("bob");
    auto* edit = aw_->conversationView()->composer()->editor();
    QTest::keyClicks(edit, "Lunch at noon? The new place on Elm Street.");
    QTest::keyClick(edit, Qt::Key_Return);
    auto* amodel = aw_->conversationView()->list()->model();
    QCOMPARE(amodel->rowCount(), 1);

    // Bob's window is not in front: the list gets the conversation with an unread badge,
    // and a notification (without the text: that setting is off by default).
    QVERIFY(spinUntil([&] { return rowOf(bw_->conversationList(), "alice") >= 0; }, kGuiWaitMs));
    const auto brow = bw_->conversationList()->model()->index(rowOf(bw_->conversationList(), "alice"), 0);
    QVERIFY(spinUntil([&] { return brow.data(ConversationListModel::UnreadRole).toInt() == 1; }, kGuiWaitMs));
    QCOMPARE(brow.data(ConversationListModel::LastMessageRole).toString(),
             QString("Lunch at noon? The new place on Elm Street."));
    QCOMPARE(bw_->tray()->unread(), 1);
    QCOMPARE(bw_->tray()->lastNotification(), QString("alice: New message"));
    QVERIFY(spinUntil([&] {
      return amodel->index(0, 0).data(MessageModel::StatusRole).toInt() == int(MessageStatus::Delivered);
    }, kGuiWaitMs));

    // Bob brings his window to the front and clicks the conversation.
    activate(bw_.get());
    QTest::mouseClick(bw_->conversationList()->viewport(), Qt::LeftButton, {},
                      bw_->conversationList()->visualRect(brow).center());
    QCOMPARE(bw_->currentPeer(), QString("alice"));
    auto* bmodel = bw_->conversationView()->list()->model();
    QCOMPARE(bmodel->rowCount(), 1);
    QCOMPARE(bmodel->index(0, 0).data(MessageModel::BodyRole).toString(),
             QString("Lunch at noon? The new place on Elm Street."));
    QVERIFY(spinUntil([&] { return bw_->tray()->unread() == 0; }, kGuiWaitMs));

    // The read tick comes back to alice's window.
    QVERIFY(spinUntil([&] {
      return amodel->index(0, 0).data(MessageModel::StatusRole).toInt() == int(MessageStatus::Read);
    }, kGuiWaitMs));
    QVERIFY(aw_->conversationView()->list()->messageDelegate()->statusTooltip(amodel->index(0, 0)).startsWith("Read"));

    // A reply from bob's composer arrives in alice's open conversation.
    auto* bedit = bw_->conversationView()->composer()->editor();
    QTest::keyClicks(bedit, "Sure! See you there ");
    // Emoji arrive through the system input method as a commit string.
    QInputMethodEvent emoji;
    emoji.setCommitString(QStringLiteral("🙂"));
    QApplication::sendEvent(bedit, &emoji);
    QTest::keyClick(bedit, Qt::Key_Return);
    QVERIFY(spinUntil([&] { return amodel->rowCount() == 2; }, kGuiWaitMs));
    QCOMPARE(amodel->index(1, 0).data(MessageModel::BodyRole).toString(), QString("Sure! See you there 🙂"));
    // One more while bob's window is in the background: it stays "delivered", so the
    // conversation shows both read and delivered ticks.
    activate(aw_.get());
    QTest::keyClicks(edit, "Great, I'll book a table for two.");
    QTest::keyClick(edit, Qt::Key_Return);
    QVERIFY(spinUntil([&] {
      return amodel->index(2, 0).data(MessageModel::StatusRole).toInt() >= int(MessageStatus::Delivered);
    }, kGuiWaitMs));
    activate(aw_.get());
    screenshot(aw_.get(), "conversation");
  }

  void contactVerificationScreenshot() {
    if (qEnvironmentVariable("PARLEY_SCREENSHOT_DIR").isEmpty()) QSKIP("screenshots not requested");
    ContactPage page(alice_.get(), "bob", aw_.get());
    page.show();
    QVERIFY(QTest::qWaitForWindowExposed(&page));
    screenshot(&page, "contact-verification");
  }

  void groupFromContacts() {
    activate(aw_.get());
    // carol becomes a contact by one message.
    QString error;
    QVERIFY(alice_->sendText("carol", "Hi Carol, adding you to the trip group.", &error));
    QVERIFY(spinUntil([&] { return alice_->contacts().contains("carol"); }, kGuiWaitMs));
    bool done = false;
    parley::test::onNextDialog([&](QWidget* d) {
      auto* dialog = qobject_cast<CreateGroupDialog*>(d);
      QVERIFY(dialog);
      QTest::keyClicks(dialog->nameEdit(), "Weekend trip");
      auto* list = dialog->contactList();
      for (int i = 0; i < list->count(); ++i) list->item(i)->setCheckState(Qt::Checked);
      QCOMPARE(list->count(), 2);  // bob and carol
      QTest::keyClick(dialog->nameEdit(), Qt::Key_Return);
      done = true;
    });
    QTest::keySequence(aw_.get(), QKeySequence("Ctrl+G"));
    QVERIFY(done);
    QVERIFY(spinUntil([&] { return aw_->currentPeer().startsWith('#'); }, kGuiWaitMs));
    const auto group = aw_->currentPeer();
    QCOMPARE(aw_->conversationView()->subtitle(), QString("3 members"));

    auto* edit = aw_->conversationView()->composer()->editor();
    QTest::keyClicks(edit, "Train leaves Saturday 9:10 from platform 4.");
    QTest::keyClick(edit, Qt::Key_Return);
    QVERIFY(spinUntil([&] { return rowOf(bw_->conversationList(), group) >= 0; }, kGuiWaitMs));
    // The name travels end to end (GROUP_INFO) and may land just after the group itself.
    QVERIFY(spinUntil([&] {
      const int r = rowOf(bw_->conversationList(), group);
      return r >= 0 && bw_->conversationList()->model()->index(r, 0).data(ConversationListModel::TitleRole) ==
                           "Weekend trip";
    }, kGuiWaitMs));
    QString cerror;
    QVERIFY(spinUntil([&] { return !carol_->history(group).isEmpty(); }, kGuiWaitMs));
    carol_->markRead(group);
    QVERIFY(carol_->groupSend(QByteArray::fromHex(group.mid(1).toLatin1()), "I'll bring snacks.", &cerror));

    activate(bw_.get());
    bw_->openConversation(group);
    auto* bmodel = bw_->conversationView()->list()->model();
    QVERIFY(spinUntil([&] { return bmodel->rowCount() >= 2; }, kGuiWaitMs));
    QCOMPARE(bmodel->index(0, 0).data(MessageModel::SenderRole).toString(), QString("alice"));
    QVERIFY(spinUntil([&] { return bmodel->rowCount() == 2; }, kGuiWaitMs));
    QTest::keyClicks(bw_->conversationView()->composer()->editor(), "Count me in!");
    QTest::keyClick(bw_->conversationView()->composer()->editor(), Qt::Key_Return);

    // Alice's tick tooltip on her group message counts per member.
    activate(aw_.get());
    auto* amodel = aw_->conversationView()->list()->model();
    QVERIFY(spinUntil([&] { return amodel->rowCount() == 3; }, kGuiWaitMs));
    // The chat list heads a group's last message with who wrote it; a one-to-one chat's
    // needs no name.
    QVERIFY(spinUntil([&] {
      return ConversationDelegate::previewSender(listRow(aw_.get(), group)) == "bob";
    }, kGuiWaitMs));
    QCOMPARE(ConversationDelegate::previewText(listRow(aw_.get(), group)), QString("Count me in!"));
    QCOMPARE(ConversationDelegate::previewSender(listRow(bw_.get(), group)), QString("You"));
    QCOMPARE(ConversationDelegate::previewSender(listRow(aw_.get(), "bob")), QString());
    QVERIFY(listRow(aw_.get(), "bob").data(ConversationListModel::LastFromMeRole).toBool());
    QCOMPARE(listRow(aw_.get(), "bob").data(Qt::DisplayRole).toString(), QString("bob"));
    QCOMPARE(listRow(aw_.get(), group).data(Qt::DisplayRole).toString(), QString("Weekend trip"));
    // A screen reader hears the row as it is painted (after "1 unread, " until the open
    // chat's read mark lands).
    const auto described = listRow(aw_.get(), group).data(Qt::AccessibleDescriptionRole).toString();
    QVERIFY2(described == "bob: Count me in!" || described == "1 unread, bob: Count me in!", qPrintable(described));
    QVERIFY(spinUntil([&] {
      return aw_->conversationView()->list()->messageDelegate()->statusTooltip(amodel->index(0, 0))
          .contains("read by 2 of 2");
    }, kGuiWaitMs));
    // Read by every member: the read-coloured ticks.
    QVERIFY(spinUntil([&] {
      return amodel->index(0, 0).data(MessageModel::StatusRole).toInt() == int(MessageStatus::Read);
    }, kGuiWaitMs));
    // The list's marks of this device's settings, in the picture too: bob pinned above the
    // group, carol muted.
    QVERIFY(alice_->setPinned("bob", true, &error));
    QVERIFY(alice_->setMuted("carol", Messenger::kMutedForever, &error));
    QCOMPARE(rowOf(aw_->conversationList(), "bob"), 0);
    QVERIFY(listRow(aw_.get(), "carol").data(Qt::AccessibleDescriptionRole).toString().startsWith("muted, "));
    screenshot(aw_.get(), "group");
    QVERIFY(alice_->setPinned("bob", false, &error));
    QVERIFY(alice_->setMuted("carol", 0, &error));

    // Per-member receipt details for that message: both others have it and have read it.
    ReceiptDetailsDialog receipts(alice_.get(), QByteArray::fromHex(group.mid(1).toLatin1()),
                                  amodel->index(0, 0).data(MessageModel::ClientMsgIdRole).toByteArray(),
                                  amodel->index(0, 0).data(MessageModel::BodyRole).toString(), aw_.get());
    QCOMPARE(receipts.table()->topLevelItemCount(), 2);
    for (int i = 0; i < 2; ++i) {
      const auto* item = receipts.table()->topLevelItem(i);
      QVERIFY(item->text(0) == "bob" || item->text(0) == "carol");
      QVERIFY2(item->text(1) != "not yet" && item->text(2) != "not yet", qPrintable(item->text(0)));
    }

    // A picture from a file: scaled and encoded under the cap, and it reaches bob's list.
    QImage photo(900, 600, QImage::Format_RGB32);
    for (int y = 0; y < photo.height(); ++y)
      for (int x = 0; x < photo.width(); ++x) photo.setPixel(x, y, qRgb(x % 256, y % 256, (x * y) % 256));
    const auto file = home_.filePath("photo.png");
    QVERIFY(photo.save(file));
    QString perror;
    const auto encoded = GroupPanel::encodeAvatar(file, &perror);
    QVERIFY2(!encoded.isEmpty(), qPrintable(perror));
    QVERIFY(encoded.size() <= Messenger::kMaxGroupAvatarBytes);
    QVERIFY(GroupPanel::encodeAvatar(home_.filePath("missing.png"), &perror).isEmpty());
    QVERIFY(alice_->setGroupAvatar(QByteArray::fromHex(group.mid(1).toLatin1()), encoded, &perror));
    QVERIFY(spinUntil([&] {
      const int r = rowOf(bw_->conversationList(), group);
      return r >= 0 && !bw_->conversationList()->model()->index(r, 0).data(ConversationListModel::AvatarRole)
                            .toByteArray().isEmpty();
    }, kGuiWaitMs));

    // The members panel lists all three with alice as admin.
    GroupPanel panel(alice_.get(), QByteArray::fromHex(group.mid(1).toLatin1()), aw_.get());
    QCOMPARE(panel.memberList()->count(), 3);
    QVERIFY(!panel.addButton()->isHidden());  // admin
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));
    screenshot(&panel, "group-members");
  }
};

QTEST_MAIN(TwoWindowsTest)
#include "two_windows_test.moc"
