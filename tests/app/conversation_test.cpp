// One app window (alice) and a second user driven through the client core (bob), both on a
// real relay: start a chat from the New chat dialog, type with QTest key events (Enter
// sends, Shift+Enter is a new line), see the message appear with its ticks move from sent to
// delivered to read, typing and presence in the header and the list, the safety-number page
// with its QR code and verification, search that jumps to a message, the filter box and
// Ctrl+K, and the connection line going offline with a working Retry.
#include <QtTest>

#include <QAbstractItemView>
#include <QClipboard>
#include <QCompleter>
#include <QLabel>
#include <QLineEdit>
#include <QListView>
#include <QListWidget>
#include <QMenu>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QScrollBar>
#include <QSettings>
#include <QShortcut>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QStatusBar>
#include <QToolButton>
#include <QTemporaryDir>

#include "app_fixture.hpp"
#include "common/avatar.hpp"
#include "contacts/contact_page.hpp"
#include "contacts/new_chat_dialog.hpp"
#include "conversation/composer.hpp"
#include "conversation/conversation_view.hpp"
#include "conversation/forward_dialog.hpp"
#include "conversation/jump_button.hpp"
#include "conversation/mention_completer.hpp"
#include "conversation/message_delegate.hpp"
#include "conversation/message_list_view.hpp"
#include "conversation/reply_bar.hpp"
#include "conversations/conversation_delegate.hpp"
#include "main/connection_status.hpp"
#include "main/main_window.hpp"
#include "models/conversation_list_model.hpp"
#include "models/message_model.hpp"
#include "relay_process.hpp"
#include "search/search_dialog.hpp"
#include "test_client.hpp"
#include "theme/theme.hpp"
#include "tray/tray.hpp"
#include "sealed_db.hpp"

using namespace parley::app;
using parley::client::ConversationListModel;
using parley::client::MessageModel;
using parley::client::MessageStatus;
using parley::client::Messenger;
using parley::test::kGuiWaitMs;
using parley::test::RelayProcess;
using parley::test::spinUntil;
using State = parley::client::RelayClient::State;

class ConversationTest : public QObject {
  Q_OBJECT
  RelayProcess relay_;
  QTemporaryDir home_;
  std::unique_ptr<Messenger> alice_;
  std::unique_ptr<Messenger> bob_;
  std::unique_ptr<Messenger> erin_;
  std::unique_ptr<MainWindow> window_;

  MessageModel* model() { return window_->conversationView()->model(); }
  QModelIndex row(int r) { return window_->conversationView()->list()->model()->index(r, 0); }
  int status(int r) { return row(r).data(MessageModel::StatusRole).toInt(); }
  // The newest message with these words.
  QModelIndex messageSaying(const QString& body) {
    for (int r = model()->rowCount() - 1; r >= 0; --r)
      if (row(r).data(MessageModel::BodyRole).toString() == body) return row(r);
    return {};
  }
  QString tickTooltip(int r) {
    return window_->conversationView()->list()->messageDelegate()->statusTooltip(row(r));
  }
  // Dialogs take the activation; the offscreen platform does not hand it back on close as a
  // window manager would.
  bool front() {
    window_->activateWindow();
    return QTest::qWaitForWindowActive(window_.get());
  }
  int listRowOf(const QString& peer) {
    auto* m = window_->conversationList()->model();
    for (int i = 0; i < m->rowCount(); ++i)
      if (m->index(i, 0).data(ConversationListModel::PeerRole).toString() == peer) return i;
    return -1;
  }

  // Changes alice's profile database behind her messenger's back (a state the test cannot
  // reach through the relay). Returns the statement's first value, if any.
  QVariant alicesDb(const QString& statement, const QVariantList& binds = {}) {
    QVariant result;
    {
      auto db = parley::test::sealedDatabase(home_.filePath("alice/parley.db"), "alices-db");
      // The messenger's own connection may be committing at this moment (WAL: wait for it).
      db.setConnectOptions("QSQLITE_BUSY_TIMEOUT=5000;QSQLITE_OPEN_URI");
      if (!db.open()) return {};
      QSqlQuery q(db);
      q.prepare(statement);
      for (const auto& b : binds) q.addBindValue(b);
      // The messenger commits what it received once per event-loop turn, on this thread: let
      // the loop run between attempts, or its open transaction keeps the file locked.
      if (spinUntil([&] { return q.exec(); }, kGuiWaitMs) && q.next()) result = q.value(0);
      if (q.lastError().isValid()) qWarning("alicesDb: %s", qPrintable(q.lastError().text()));
      q.finish();
      db.close();
    }
    QSqlDatabase::removeDatabase("alices-db");
    return result;
  }

 private slots:
  void initTestCase() {
    QVERIFY(home_.isValid());
    parley::test::isolateSettings(home_.filePath("env"));
    Theme::apply(ThemeMode::Light);
    QVERIFY(relay_.start());
    alice_ = parley::test::registerUser(relay_.url(), home_.filePath("alice"), "alice");
    bob_ = parley::test::registerUser(relay_.url(), home_.filePath("bob"), "bob");
    QVERIFY(alice_ && bob_);
    window_ = std::make_unique<MainWindow>(alice_.get(), home_.filePath("alice"));
    window_->show();
    window_->activateWindow();
    QVERIFY(QTest::qWaitForWindowActive(window_.get()));
  }

  void cleanupTestCase() {
    window_.reset();
    alice_.reset();
    bob_.reset();
    erin_.reset();
  }

  void newChatDialogValidatesAndOpens() {
    bool checked = false;
    parley::test::onNextDialog([&](QWidget* d) {
      auto* dialog = qobject_cast<NewChatDialog*>(d);
      QVERIFY(dialog);
      QTest::keyClicks(dialog->nameEdit(), "alice");  // ourselves
      QTest::keyClick(dialog->nameEdit(), Qt::Key_Return);
      QVERIFY(dialog->isVisible());
      dialog->nameEdit()->clear();
      QTest::keyClicks(dialog->nameEdit(), "Bob");
      QTest::keyClick(dialog->nameEdit(), Qt::Key_Return);
      checked = true;
    });
    window_->startNewChat();
    QVERIFY(checked);
    QCOMPARE(window_->currentPeer(), QString("bob"));
    QCOMPARE(model()->rowCount(), 0);
  }

  void enterSendsShiftEnterBreaksLine() {
    auto* edit = window_->conversationView()->composer()->editor();
    QTest::keyClicks(edit, "hello bob");
    QTest::keyClick(edit, Qt::Key_Return, Qt::ShiftModifier);
    QTest::keyClicks(edit, "second line");
    QCOMPARE(model()->rowCount(), 0);
    QCOMPARE(edit->toPlainText(), QString("hello bob\nsecond line"));
    QTest::keyClick(edit, Qt::Key_Return);
    QCOMPARE(model()->rowCount(), 1);
    QCOMPARE(row(0).data(MessageModel::BodyRole).toString(), QString("hello bob\nsecond line"));
    QVERIFY(row(0).data(MessageModel::OutgoingRole).toBool());
    QVERIFY(edit->toPlainText().isEmpty());
    // Shown: the row has a place in the viewport.
    auto* view = window_->conversationView()->list();
    QVERIFY(view->viewport()->rect().intersects(view->visualRect(row(0))));
    // The conversation now has a row in the list, selected.
    QVERIFY(spinUntil([&] { return listRowOf("bob") >= 0; }, kGuiWaitMs));
    QVERIFY(spinUntil([&] {
      return window_->conversationList()->currentIndex().data(ConversationListModel::PeerRole) == "bob";
    }, kGuiWaitMs));
  }

  void ticksGoFromSentToDeliveredToRead() {
    QVERIFY(spinUntil([&] { return status(0) >= int(MessageStatus::Delivered); }, kGuiWaitMs));
    QVERIFY2(tickTooltip(0).startsWith("Delivered"), qPrintable(tickTooltip(0)));
    auto* view = window_->conversationView()->list();
    const QImage delivered = view->viewport()->grab(view->visualRect(row(0))).toImage();
    bob_->markRead("alice");
    QVERIFY(spinUntil([&] { return status(0) == int(MessageStatus::Read); }, kGuiWaitMs));
    QVERIFY2(tickTooltip(0).startsWith("Read"), qPrintable(tickTooltip(0)));
    // The bubble is repainted with the read ticks: not the same pixels as "delivered".
    const QImage read = view->viewport()->grab(view->visualRect(row(0))).toImage();
    QCOMPARE(read.size(), delivered.size());
    QVERIFY(read != delivered);
  }

  void replyMarkedReadWhileInFront() {
    QVERIFY(front());
    QString error;
    auto id = bob_->sendText("alice", "hi alice!", &error);
    QVERIFY2(id, qPrintable(error));
    QVERIFY(spinUntil([&] { return model()->rowCount() == 2; }, kGuiWaitMs));
    QCOMPARE(row(1).data(MessageModel::BodyRole).toString(), QString("hi alice!"));
    QVERIFY(!row(1).data(MessageModel::OutgoingRole).toBool());
    // Alice's window is active with the conversation open: bob gets the read receipt.
    QVERIFY(spinUntil([&] {
      for (const auto& m : bob_->history("alice"))
        if (m.clientMsgId == *id) return m.status == MessageStatus::Read;
      return false;
    }, kGuiWaitMs));
    QCOMPARE(window_->conversations()->totalUnread(), 0);
  }

  void typingAndPresenceShow() {
    // Presence is mutual on the relay: bob's app would subscribe to his contacts too.
    bob_->subscribePresence({"alice"});
    bob_->setTyping("alice", true);
    QVERIFY(spinUntil([&] { return window_->conversationView()->subtitle() == "typing…"; }, kGuiWaitMs));
    const int r = listRowOf("bob");
    QVERIFY(r >= 0);
    QVERIFY(window_->conversationList()->model()->index(r, 0).data(ConversationListModel::TypingRole).toBool());
    bob_->setTyping("alice", false);
    QVERIFY(spinUntil([&] { return window_->conversationView()->subtitle() == "online"; }, kGuiWaitMs));
    QVERIFY2(window_->conversationView()->subtitle() == "online", qPrintable(window_->conversationView()->subtitle()));
    // Alice typing reaches bob.
    bool bob_saw_typing = false;
    const auto watch = connect(bob_.get(), &Messenger::typingChanged, this,
                               [&](const QString& peer, bool active) { bob_saw_typing |= peer == "alice" && active; });
    // The flag lives on this function's stack: the connection must not outlive it.
    const auto disconnect_watch = qScopeGuard([&] { disconnect(watch); });
    QTest::keyClicks(window_->conversationView()->composer()->editor(), "draft");
    QVERIFY(window_->conversationView()->composer()->typing());
    QVERIFY(spinUntil([&] { return bob_saw_typing; }, kGuiWaitMs));
    window_->conversationView()->composer()->editor()->clear();
    QVERIFY(!window_->conversationView()->composer()->typing());
  }

  // Opening a chat adds its peer to the people followed; it used to replace them all, so
  // after opening dave's chat bob's typing (and presence) no longer reached alice.
  void openingAChatKeepsFollowingTheOthers() {
    auto dave = parley::test::registerUser(relay_.url(), home_.filePath("dave"), "dave");
    QVERIFY(dave);
    window_->openConversation("bob");
    window_->openConversation("dave");
    bob_->setTyping("alice", true);
    const int r = listRowOf("bob");
    QVERIFY(r >= 0);
    QVERIFY(spinUntil([&] {
      return window_->conversationList()->model()->index(r, 0).data(ConversationListModel::TypingRole).toBool();
    }, kGuiWaitMs));
    bob_->setTyping("alice", false);
    window_->openConversation("bob");
  }

  // A message to a name the relay does not know fails, and its tick's tooltip says why.
  void aMessageToNoOneSaysWhyItFailed() {
    window_->openConversation("zed-not-here");
    auto* edit = window_->conversationView()->composer()->editor();
    QTest::keyClicks(edit, "anyone there?");
    QTest::keyClick(edit, Qt::Key_Return);
    QVERIFY(spinUntil([&] { return status(model()->rowCount() - 1) == int(MessageStatus::Failed); },
                      kGuiWaitMs));
    QCOMPARE(tickTooltip(model()->rowCount() - 1),
             QString("Not sent — there is no user zed-not-here on this relay"));
    parley::test::screenshot(window_.get(), "failed-to-no-one");
    window_->openConversation("bob");
  }

  void notificationsShowTextOnlyWhenAllowed() {
    QVERIFY(front());
    window_->openConversation("carol-not-here");  // another conversation is in front
    QString error;
    QVERIFY(bob_->sendText("alice", "the code is 4711", &error));
    QVERIFY(spinUntil([&] { return !window_->tray()->lastNotification().isEmpty(); }, kGuiWaitMs));
    QCOMPARE(window_->tray()->lastNotification(), QString("bob: New message"));  // the default
    QSettings().setValue("notifications/showText", true);
    QVERIFY(bob_->sendText("alice", "see you at 5", &error));
    QVERIFY(spinUntil([&] { return window_->tray()->lastNotification() == "bob: see you at 5"; }, kGuiWaitMs));
    // An edit changes the notification's words; taking the message back takes them away.
    const auto bobs = [&](const QString& text) {
      for (const auto& m : bob_->history("alice"))
        if (m.body == text) return m.id;
      return qint64(0);
    };
    QVERIFY(bob_->editMessage("alice", bobs("see you at 5"), "see you at 6", &error));
    QVERIFY(spinUntil([&] { return window_->tray()->lastNotification() == "bob: see you at 6"; }, kGuiWaitMs));
    QVERIFY(bob_->unsendMessage("alice", bobs("see you at 6"), &error));
    QVERIFY(spinUntil([&] { return window_->tray()->lastNotification().isEmpty(); }, kGuiWaitMs));
    QSettings().setValue("notifications/showText", false);
    // Back to bob's conversation: what arrived meanwhile is read now.
    window_->openConversation("bob");
    QVERIFY(spinUntil([&] { return window_->conversations()->totalUnread() == 0; }, kGuiWaitMs));
  }

  void mutedAndPinnedFromTheListMenu() {
    QVERIFY(front());
    window_->openConversation("carol-not-here");  // neither chat below is in front
    // A chat with no message yet is in no list, and has no menu to pin or mute it.
    QVERIFY(!window_->conversationView()->chatMenuButton()->isVisible());
    auto* list = window_->conversationList();
    // No row current (carol's chat has none), so a press that made one current would show.
    list->selectionModel()->setCurrentIndex(QModelIndex(), QItemSelectionModel::Clear);
    const auto index_of = [&](const QString& peer) { return list->model()->index(listRowOf(peer), 0); };
    // Whatever fails below, nothing stays muted or pinned for the tests after this one.
    const auto restore = qScopeGuard([&] {
      QString ignored;
      alice_->setMuted("bob", 0, &ignored);
      alice_->setPinned("zed-not-here", false, &ignored);
      alice_->setPinned("bob", false, &ignored);
      alice_->setMarkedUnread("bob", false, &ignored);
    });
    // The chat list's menu for `peer`, open (the mouse's right button on its row: the press
    // and release, then the context menu event the window system makes of them).
    const auto menu_for = [&](const QString& peer) -> QMenu* {
      if (listRowOf(peer) < 0) return nullptr;
      const QPoint at = list->visualRect(index_of(peer)).center();
      QTest::mousePress(list->viewport(), Qt::RightButton, {}, at);
      QTest::mouseRelease(list->viewport(), Qt::RightButton, {}, at);
      QContextMenuEvent e(QContextMenuEvent::Mouse, at, list->viewport()->mapToGlobal(at));
      QApplication::sendEvent(list->viewport(), &e);
      return qobject_cast<QMenu*>(QApplication::activePopupWidget());
    };
    const auto choose = [&](QMenu* menu, const QString& text) {
      if (!menu) return false;
      QList<QAction*> actions = menu->actions();
      for (auto* sub : menu->findChildren<QMenu*>()) actions << sub->actions();
      for (auto* a : actions)
        if (a->text() == text && a->isEnabled()) {
          a->trigger();
          menu->close();
          return true;
        }
      menu->close();
      return false;
    };

    auto* menu = menu_for("bob");
    QVERIFY(menu);
    QVERIFY(choose(menu, "Until I unmute it"));
    QVERIFY(window_->conversations()->isMuted("bob"));
    QVERIFY(ConversationDelegate::accessibleDescription(index_of("bob")).startsWith("muted, "));
    const int total = window_->conversations()->totalUnread();
    const auto notified = window_->tray()->lastNotification();
    QString error;
    QVERIFY(bob_->sendText("alice", "quiet hours", &error));
    QVERIFY(spinUntil([&] {
      return index_of("bob").data(ConversationListModel::LastMessageRole).toString() == "quiet hours";
    }, kGuiWaitMs));
    // Counted in its row, left out of the window's count, and no notification.
    QCOMPARE(index_of("bob").data(ConversationListModel::UnreadRole).toInt(), 1);
    QCOMPARE(window_->conversations()->totalUnread(), total);
    QCOMPARE(window_->tray()->unread(), total);
    QCOMPARE(window_->tray()->lastNotification(), notified);
    // The right button opens the menu and nothing else: bob's chat is not opened, so not
    // read, and the menu offers to read it.
    menu = menu_for("bob");
    QVERIFY(menu);
    QCOMPARE(window_->currentPeer(), QString("carol-not-here"));
    QCOMPARE(index_of("bob").data(ConversationListModel::UnreadRole).toInt(), 1);
    bool offers_read = false;
    for (const auto* a : menu->actions()) offers_read = offers_read || a->text() == "Mark as read";
    menu->close();
    QVERIFY(offers_read);

    // Pinned: up from below bob, to the top.
    QVERIFY(listRowOf("zed-not-here") > listRowOf("bob"));
    QVERIFY(choose(menu_for("zed-not-here"), "Pin to top"));
    QCOMPARE(listRowOf("zed-not-here"), 0);
    QVERIFY(index_of("zed-not-here").data(ConversationListModel::PinnedRole).toBool());
    QVERIFY(ConversationDelegate::accessibleDescription(index_of("zed-not-here")).startsWith("pinned, "));
    parley::test::screenshot(window_.get(), "chat-list-muted-pinned");

    // Unmuted from the same menu, which says until when: the unread message counts again.
    menu = menu_for("bob");
    QVERIFY(menu);
    bool says = false;
    for (const auto* a : menu->actions()) says = says || a->text() == "Muted until you unmute it";
    QVERIFY(says);
    QVERIFY(choose(menu, "Unmute"));
    QVERIFY(!window_->conversations()->isMuted("bob"));
    QCOMPARE(window_->conversations()->totalUnread(), total + 1);
    // The keyboard's menu key opens it for the current row; below the rows the mouse opens
    // none.
    list->setCurrentIndex(index_of("zed-not-here"));
    QContextMenuEvent key(QContextMenuEvent::Keyboard, QPoint(0, 0), list->mapToGlobal(QPoint(0, 0)));
    QApplication::sendEvent(list, &key);
    QVERIFY(choose(qobject_cast<QMenu*>(QApplication::activePopupWidget()), "Unpin"));
    QVERIFY(listRowOf("zed-not-here") > listRowOf("bob"));
    QVERIFY(front());  // the menus took the activation
    const QPoint below(10, list->viewport()->height() - 2);
    QVERIFY(!list->indexAt(below).isValid());
    QContextMenuEvent blank(QContextMenuEvent::Mouse, below, list->viewport()->mapToGlobal(below));
    QApplication::sendEvent(list->viewport(), &blank);
    QVERIFY(!QApplication::activePopupWidget());
    window_->openConversation("bob");
    QVERIFY(spinUntil([&] { return window_->conversations()->totalUnread() == total; }, kGuiWaitMs));

    // The same menu from the open chat's header.
    auto* header_menu = window_->conversationView()->chatMenuButton();
    QVERIFY(header_menu->isVisible());
    const auto from_header = [&] {
      QTest::mouseClick(header_menu, Qt::LeftButton);
      return qobject_cast<QMenu*>(QApplication::activePopupWidget());
    };
    QVERIFY(choose(from_header(), "Pin to top"));
    QVERIFY(index_of("bob").data(ConversationListModel::PinnedRole).toBool());
    QVERIFY(choose(from_header(), "Unpin"));
    QVERIFY(!index_of("bob").data(ConversationListModel::PinnedRole).toBool());

    // Marked unread, to come back to: the chat leaves the screen (which would read it at
    // once), counts one, and opening it reads it again.
    QVERIFY(front());
    QCOMPARE(window_->conversations()->totalUnread(), total);
    QVERIFY(choose(from_header(), "Mark as unread"));
    QVERIFY(index_of("bob").data(ConversationListModel::MarkedUnreadRole).toBool());
    QCOMPARE(window_->currentPeer(), QString());
    QCOMPARE(window_->conversations()->totalUnread(), total + 1);
    QVERIFY(ConversationDelegate::accessibleDescription(index_of("bob")).startsWith("marked unread, "));
    QVERIFY(front());
    QVERIFY(choose(menu_for("bob"), "Mark as read"));
    QCOMPARE(window_->conversations()->totalUnread(), total);
    QVERIFY(!index_of("bob").data(ConversationListModel::MarkedUnreadRole).toBool());
    QVERIFY(front());
    window_->openConversation("bob");
  }

  void disappearingMessagesFromTheChatMenu() {
    QVERIFY(front());
    window_->openConversation("bob");
    auto* view = window_->conversationView();
    auto* timer = view->timerButton();
    QVERIFY(!timer->isVisible());
    // Off again for the tests after this one, whatever fails below.
    const auto restore = qScopeGuard([&] {
      QString ignored;
      alice_->setExpireTimer("bob", 0, &ignored);
    });
    const auto chosen = [&](QToolButton* button, const QString& text) {
      QTest::mouseClick(button, Qt::LeftButton);
      auto* menu = qobject_cast<QMenu*>(QApplication::activePopupWidget());
      if (!menu) return false;
      auto* sub = menu->findChild<QMenu*>("disappear");
      bool done = false;
      for (auto* a : sub ? sub->actions() : QList<QAction*>{})
        if (!done && a->text() == text) {
          a->trigger();
          done = true;
        }
      menu->close();
      return done;
    };
    QVERIFY(chosen(view->chatMenuButton(), "1 hour"));
    QCOMPARE(alice_->expireTimer("bob"), 3600);
    // In sight while writing under it, and a line in the history, on both sides.
    QVERIFY(timer->isVisible());
    QCOMPARE(timer->text(), QString("1 hour"));
    const int line = model()->rowCount() - 1;
    QCOMPARE(row(line).data(MessageModel::TimerChangeRole).toLongLong(), 3600);
    const auto bob_row = window_->conversationList()->model()->index(listRowOf("bob"), 0);
    QCOMPARE(ConversationDelegate::previewText(bob_row), QString("You set disappearing messages to 1 hour"));
    QVERIFY(spinUntil([&] { return bob_->expireTimer("alice") == 3600; }, kGuiWaitMs));

    // Bob's message under it is read at once (the chat is in front): its hour starts.
    QString error;
    QVERIFY(bob_->sendText("alice", "gone within the hour", &error));
    QVERIFY(spinUntil([&] {
      const auto last = row(model()->rowCount() - 1);
      return last.data(MessageModel::BodyRole).toString() == "gone within the hour" &&
             last.data(MessageModel::ExpireRole).toLongLong() == 3600;
    }, kGuiWaitMs));
    parley::test::screenshot(window_.get(), "disappearing-messages");

    // Bob turns it off: the header's timer goes, and the line says who did it.
    QVERIFY(bob_->setExpireTimer("alice", 0, &error));
    QVERIFY(spinUntil([&] { return !timer->isVisible(); }, kGuiWaitMs));
    QCOMPARE(row(model()->rowCount() - 1).data(MessageModel::TimerChangeRole).toLongLong(), 0);
    QVERIFY(spinUntil([&] {
      const auto index = window_->conversationList()->model()->index(listRowOf("bob"), 0);
      return ConversationDelegate::previewText(index) == "bob turned disappearing messages off";
    }, kGuiWaitMs));
    // The timer's button leads to the same menu: set again from there, then off.
    QVERIFY(chosen(view->chatMenuButton(), "5 minutes"));
    QVERIFY(timer->isVisible());
    QVERIFY(chosen(timer, "Off"));
    QVERIFY(!timer->isVisible());
    QCOMPARE(alice_->expireTimer("bob"), 0);

    // Settings → Disappearing messages in new chats: the default, checked as it is.
    auto* defaults = window_->findChild<QMenu*>("defaultDisappear");
    QVERIFY(defaults);
    const auto pick = [&](const QString& label) {
      emit defaults->aboutToShow();  // built as it opens
      QString checked;
      for (auto* a : defaults->actions())
        if (a->isChecked()) checked = a->text();
      for (auto* a : defaults->actions())
        if (a->text() == label) a->trigger();
      return checked;
    };
    QCOMPARE(pick("1 week"), QString("Off"));
    QCOMPARE(alice_->defaultExpireTimer(), 7 * 24 * 3600);
    QCOMPARE(pick("Off"), QString("1 week"));
    QCOMPARE(defaults->actions().size(), 8);  // rebuilt at each opening, not piled up
    QCOMPARE(alice_->defaultExpireTimer(), 0);
  }

  void copySelectedMessage() {
    auto* view = window_->conversationView()->list();
    view->setFocus();
    view->setCurrentIndex(row(1));
    QTest::keySequence(view, QKeySequence::Copy);
    QCOMPARE(QGuiApplication::clipboard()->text(), QString("hi alice!"));
    // Several rows: each with its time and sender, oldest first.
    view->selectionModel()->select(row(2), QItemSelectionModel::Select);
    QTest::keySequence(view, QKeySequence::Copy);
    const auto lines = QGuiApplication::clipboard()->text().split('\n');
    QCOMPARE(lines.size(), 2);
    QVERIFY2(lines[0].endsWith("bob: hi alice!"), qPrintable(lines[0]));
    QVERIFY2(lines[1].endsWith("bob: the code is 4711"), qPrintable(lines[1]));
  }

  void safetyNumberPageVerifies() {
    ContactPage page(alice_.get(), "bob", window_.get());
    QString error;
    const auto bobs = bob_->safetyNumber("alice", &error);
    QVERIFY2(!bobs.isEmpty(), qPrintable(error));
    QString shown = page.safetyNumberText();
    shown.remove(QRegularExpression("\\s"));
    QString expected = bobs;
    expected.remove(' ');
    QCOMPARE(shown, expected);  // both sides show the same 60 digits
    QCOMPARE(shown.size(), 60);
    QVERIFY(page.hasQrCode());
    QVERIFY(!alice_->isVerified("bob"));
    QCOMPARE(page.verifyButton()->text(), QString("Mark as verified"));
    QTest::mouseClick(page.verifyButton(), Qt::LeftButton);
    QVERIFY(alice_->isVerified("bob"));
    QCOMPARE(page.verifyButton()->text(), QString("Clear verification"));
  }

  void searchJumpsToMessage() {
    const int before = model()->rowCount();
    for (int i = 0; i < 5; ++i) {
      QString error;
      QVERIFY(alice_->sendText("bob", QString("filler %1").arg(i), &error));
    }
    QVERIFY(spinUntil([&] { return model()->rowCount() == before + 5; }, kGuiWaitMs));
    SearchDialog search(alice_.get(), window_.get());
    connect(&search, &SearchDialog::messageChosen, window_.get(),
            [this](const QString& peer, qint64 id) { window_->showMessage(peer, id); });
    search.show();
    QTest::keyClicks(search.queryEdit(), "secon");  // a prefix of "second"
    search.runSearch();
    QCOMPARE(search.results()->count(), 1);
    QTest::keyClick(search.queryEdit(), Qt::Key_Return);
    const auto current = window_->conversationView()->list()->currentIndex();
    QVERIFY(current.isValid());
    QCOMPARE(current.data(MessageModel::BodyRole).toString(), QString("hello bob\nsecond line"));
    // Operators are taken literally: no FTS5 syntax error for stray quotes or keywords.
    search.queryEdit()->setText("\"hello AND NEAR(");
    search.runSearch();
    QCOMPARE(search.results()->count(), 0);
  }

  // "Reply" on a message: the bar above the field says what is answered, Enter sends the
  // answer with its quote (drawn in the bubble), a click on the quote shows the message it
  // answers, Escape stops replying, and a file can be the answer.
  void aReplyQuotesWhatItAnswersAndLeadsBackToIt() {
    QVERIFY(front());
    QString error;
    const auto question = bob_->sendText("alice", "Which train do we take?", &error);
    QVERIFY2(question, qPrintable(error));
    const auto row_saying = [&](const QString& body) {
      for (int r = 0; r < model()->rowCount(); ++r)
        if (row(r).data(MessageModel::BodyRole).toString() == body) return r;
      return -1;
    };
    QVERIFY(spinUntil([&] { return row_saying("Which train do we take?") >= 0; }, kGuiWaitMs));
    const int q_row = row_saying("Which train do we take?");

    auto* view = window_->conversationView();
    auto* list = view->list();
    auto* composer = view->composer();
    emit list->replyRequested(row(q_row));  // what the context menu's "Reply" does
    auto* bar = composer->replyBar();
    QVERIFY(bar->isVisible());
    QCOMPARE(bar->findChild<QLabel*>("replyTitle")->text(), QString("Replying to bob"));
    QCOMPARE(bar->quotedText(), QString("Which train do we take?"));
    QVERIFY(composer->editor()->hasFocus());
    // Escape stops replying; asked again, it is back.
    QTest::keyClick(composer->editor(), Qt::Key_Escape);
    QVERIFY(!bar->isVisible());
    QCOMPARE(composer->replyTo(), qint64(0));
    QCOMPARE(window_->currentPeer(), QString("bob"));  // the chat stays open
    // From the message list too: Esc stops the reply first, and closes nothing.
    emit list->replyRequested(row(q_row));
    list->setFocus();
    QTest::keyClick(list, Qt::Key_Escape);
    QVERIFY(!bar->isVisible());
    QCOMPARE(window_->currentPeer(), QString("bob"));
    emit list->replyRequested(row(q_row));
    QVERIFY(bar->isVisible());

    QTest::keyClicks(composer->editor(), "The 9:40 from platform 4");
    parley::test::screenshot(window_.get(), "replying");
    QTest::keyClick(composer->editor(), Qt::Key_Return);
    QVERIFY(!bar->isVisible());
    const auto answer = row(row_saying("The 9:40 from platform 4"));
    QCOMPARE(answer.data(MessageModel::BodyRole).toString(), QString("The 9:40 from platform 4"));
    QCOMPARE(answer.data(MessageModel::ReplyAuthorRole).toString(), QString("bob"));
    QCOMPARE(answer.data(MessageModel::ReplyMessageIdRole).toLongLong(),
             row(q_row).data(MessageModel::MessageIdRole).toLongLong());
    // Bob's client has the answer with its quote.
    const auto answer_id = answer.data(MessageModel::ClientMsgIdRole).toByteArray();
    QVERIFY(spinUntil([&] {
      for (const auto& m : bob_->history("alice"))
        if (m.clientMsgId == answer_id) return m.reply.clientMsgId == *question;
      return false;
    }, kGuiWaitMs));

    // Its quote is a button.
    list->scrollToNewest();
    QApplication::processEvents();
    // A point of the row's quote, where a click lands on it (null: it has none).
    const auto quote_point = [list](const QModelIndex& index) {
      const QRect rect = list->visualRect(index);
      for (int y = rect.top(); y <= rect.bottom(); y += 2)
        for (int x = rect.left(); x <= rect.right(); x += 4)
          if (list->messageDelegate()->hitTest(rect, index, {x, y}) == MessageDelegate::Hit::Quote)
            return QPoint(x, y);
      return QPoint();
    };
    const QPoint on_quote = quote_point(answer);
    QVERIFY(!on_quote.isNull());
    parley::test::screenshot(window_.get(), "reply");
    list->setCurrentIndex(row(0));
    QTest::mouseClick(list->viewport(), Qt::LeftButton, {}, on_quote);
    QCOMPARE(list->currentIndex().data(MessageModel::BodyRole).toString(), QString("Which train do we take?"));

    // Files answer too: the quote goes with the last one, the one the text is the caption of.
    QFile ticket(home_.filePath("ticket.txt"));
    QVERIFY(ticket.open(QIODevice::WriteOnly));
    ticket.write("SEAT 42A\n");
    ticket.close();
    emit list->replyRequested(row(row_saying("Which train do we take?")));
    emit composer->sendRequested("the tickets", {ticket.fileName()});
    QVERIFY(!bar->isVisible());
    QVERIFY(spinUntil([&] {
      const int r = row_saying("the tickets");
      return r >= 0 && row(r).data(MessageModel::HasAttachmentRole).toBool() &&
             row(r).data(MessageModel::ReplyAuthorRole).toString() == "bob";
    }, kGuiWaitMs));

    // Without the answered message (a history restored from before it), the quote shows the
    // words the reply carried, marked as not on this device, and a click says so.
    alicesDb("DELETE FROM messages WHERE body = 'Which train do we take?'");
    model()->reload();
    QVERIFY(spinUntil([&] { return row_saying("Which train do we take?") < 0; }, kGuiWaitMs));
    const auto orphan = row(row_saying("The 9:40 from platform 4"));
    QCOMPARE(orphan.data(MessageModel::ReplyMessageIdRole).toLongLong(), qint64(0));
    QCOMPARE(orphan.data(MessageModel::ReplyTextRole).toString(), QString("Which train do we take?"));
    list->scrollTo(orphan);
    QApplication::processEvents();
    const QPoint on_orphan = quote_point(orphan);
    QVERIFY(!on_orphan.isNull());
    parley::test::screenshot(window_.get(), "reply-not-on-device");
    QTest::mouseClick(list->viewport(), Qt::LeftButton, {}, on_orphan);
    QVERIFY(view->findChild<QLabel*>("sendError")->text().contains("not on this device"));
  }

  // Reactions show as pills under the bubble, one per emoji with its count; a click on one
  // adds ours or takes it back; "React" in the context menu sets ours.
  void reactionsShowAsPillsAndToggle() {
    QVERIFY(front());
    auto* list = window_->conversationView()->list();
    const auto row_saying = [&](const QString& body) {
      for (int r = 0; r < model()->rowCount(); ++r)
        if (row(r).data(MessageModel::BodyRole).toString() == body) return r;
      return -1;
    };
    const auto reactions = [&] {
      return row(row_saying("The 9:40 from platform 4")).data(MessageModel::ReactionsRole).toList();
    };
    QByteArray id;
    for (const auto& m : bob_->history("alice"))
      if (m.body == "The 9:40 from platform 4") id = m.clientMsgId;
    QVERIFY(!id.isEmpty());
    QString error;
    QVERIFY2(bob_->react("alice", bob_->messageIdOf("alice", id), QString::fromUtf8("👍"), &error), qPrintable(error));
    QVERIFY(spinUntil([&] { return reactions().size() == 1; }, kGuiWaitMs));
    QCOMPARE(reactions()[0].toMap()["emoji"].toString(), QString::fromUtf8("👍"));
    QVERIFY(!reactions()[0].toMap()["mine"].toBool());

    auto index = row(row_saying("The 9:40 from platform 4"));
    list->scrollTo(index);
    QApplication::processEvents();
    auto pills = list->messageDelegate()->reactionPills(list->visualRect(index), index);
    QCOMPARE(pills.size(), 1);
    QVERIFY(list->visualRect(index).contains(pills[0].first));  // within its row: drawn and clickable
    QTest::mouseClick(list->viewport(), Qt::LeftButton, {}, pills[0].first.center());
    QVERIFY(spinUntil([&] { return reactions().size() == 1 && reactions()[0].toMap()["count"].toInt() == 2; },
                      kGuiWaitMs));
    QVERIFY(reactions()[0].toMap()["mine"].toBool());
    parley::test::screenshot(window_.get(), "reactions");
    // Bob sees both.
    QVERIFY(spinUntil([&] {
      for (const auto& m : bob_->history("alice"))
        if (m.clientMsgId == id) return m.reactions.size() == 2;
      return false;
    }, kGuiWaitMs));
    // Clicked again, ours goes; the menu's React sets another.
    index = row(row_saying("The 9:40 from platform 4"));
    pills = list->messageDelegate()->reactionPills(list->visualRect(index), index);
    QTest::mouseClick(list->viewport(), Qt::LeftButton, {}, pills[0].first.center());
    QVERIFY(spinUntil([&] { return reactions().size() == 1 && reactions()[0].toMap()["count"].toInt() == 1; },
                      kGuiWaitMs));
    emit list->reactRequested(row(row_saying("The 9:40 from platform 4")), QString::fromUtf8("❤️"));
    QVERIFY(spinUntil([&] { return reactions().size() == 2; }, kGuiWaitMs));
    // In order of the reactors' names: Alice's first.
    QCOMPARE(reactions()[0].toMap()["emoji"].toString(), QString::fromUtf8("❤️"));
    QVERIFY(reactions()[0].toMap()["mine"].toBool());
    QVERIFY(!reactions()[1].toMap()["mine"].toBool());
  }

  // Addresses in a message are links: a click opens them; one whose host is not what it
  // seems asks first, naming the real host; the context menu opens or copies them.
  void linksInMessagesOpenWhenClicked() {
    QVERIFY(front());
    auto* view = window_->conversationView();
    auto* list = view->list();
    QList<QUrl> opened;
    view->setOpener([&opened](const QUrl& url) {
      opened << url;
      return true;
    });
    const QString body = QString::fromUtf8("Tickets: https://rail.example/book?from=ams&to=ber (or www.rail.example).\n"
                                           "Log in at https://\xd0\xb0pple.com/login");
    QString error;
    QVERIFY2(bob_->sendText("alice", body, &error), qPrintable(error));
    const auto index_of_body = [&] {
      for (int r = model()->rowCount() - 1; r >= 0; --r)
        if (row(r).data(MessageModel::BodyRole).toString() == body) return row(r);
      return QModelIndex();
    };
    QVERIFY(spinUntil([&] { return index_of_body().isValid(); }, kGuiWaitMs));
    list->scrollTo(index_of_body());
    QApplication::processEvents();
    // Where on screen each link is: the first point over it, by where its text starts.
    const auto points = [&] {
      QMap<qsizetype, QPoint> at;
      const auto index = index_of_body();
      const QRect rect = list->visualRect(index);
      for (int y = rect.top(); y <= rect.bottom(); y += 2)
        for (int x = rect.left(); x <= rect.right(); x += 2) {
          const auto link = list->messageDelegate()->linkAt(rect, index, {x, y});
          if (!link.url.isEmpty() && !at.contains(link.start)) at.insert(link.start, {x + 3, y + 3});
        }
      return at;
    };
    const auto at = points();
    QCOMPARE(at.size(), 3);
    const auto starts = at.keys();
    QCOMPARE(starts[0], body.indexOf("https://rail"));
    QCOMPARE(starts[1], body.indexOf("www."));
    parley::test::screenshot(window_.get(), "links");

    QTest::mouseClick(list->viewport(), Qt::LeftButton, {}, at[starts[0]]);
    QCOMPARE(opened, QList<QUrl>{QUrl("https://rail.example/book?from=ams&to=ber")});
    // The bubble's words beside a link open nothing.
    const QRect rect = list->visualRect(index_of_body());
    QPoint words = at[starts[0]];
    while (words.x() > rect.left() && !list->messageDelegate()->linkAt(rect, index_of_body(), words).url.isEmpty())
      words.rx() -= 1;
    words.rx() -= 4;
    QCOMPARE(list->messageDelegate()->hitTest(rect, index_of_body(), words), MessageDelegate::Hit::None);
    QTest::mouseClick(list->viewport(), Qt::LeftButton, {}, words);
    QCOMPARE(opened.size(), 1);

    // A Cyrillic "а" in the host: asked first, with the host it really is.
    QString asked;
    const auto answer = [&asked](QMessageBox::StandardButton button) {
      QTimer::singleShot(0, [&asked, button] {
        auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget());
        if (!box) return;
        asked = box->text();
        box->button(button)->click();
      });
    };
    answer(QMessageBox::Cancel);
    QTest::mouseClick(list->viewport(), Qt::LeftButton, {}, at[starts[2]]);
    QVERIFY2(asked.contains("xn--pple-43d.com"), qPrintable(asked));
    QCOMPARE(opened.size(), 1);
    asked.clear();
    answer(QMessageBox::Open);
    QTest::mouseClick(list->viewport(), Qt::LeftButton, {}, at[starts[2]]);
    QVERIFY(!asked.isEmpty());
    QCOMPARE(opened.size(), 2);
    QCOMPARE(opened[1].host(QUrl::EncodeUnicode), QString("xn--pple-43d.com"));

    // The context menu over a link opens or copies that one.
    const auto menu_at = [&](const QPoint& point, const QString& action) {
      QStringList entries;
      QTimer::singleShot(0, [&entries, action] {
        auto* menu = qobject_cast<QMenu*>(QApplication::activePopupWidget());
        if (!menu) return;
        for (const auto* a : menu->actions()) entries << a->text();
        auto* chosen = menu->findChild<QAction*>(action);
        menu->close();
        if (chosen) chosen->trigger();
      });
      QContextMenuEvent e(QContextMenuEvent::Mouse, point, list->viewport()->mapToGlobal(point));
      QApplication::sendEvent(list->viewport(), &e);
      return entries;
    };
    QGuiApplication::clipboard()->clear();
    const auto entries = menu_at(at[starts[1]], "copyLink");
    QVERIFY2(entries.contains("Open link") && entries.contains("Copy link address"), qPrintable(entries.join('|')));
    QCOMPARE(QGuiApplication::clipboard()->text(), QString("https://www.rail.example"));
    menu_at(at[starts[0]], "openLink");
    QCOMPARE(opened.size(), 3);
    QCOMPARE(opened[2], QUrl("https://rail.example/book?from=ams&to=ber"));
  }

  // What is typed and not sent stays with its chat: saved after a pause, shown in red in
  // the list while another chat is open, back in the field (with its reply) on return, and
  // gone once sent.
  void draftsStayWithTheirChat() {
    QVERIFY(front());
    window_->openConversation("bob");
    auto* view = window_->conversationView();
    auto* composer = view->composer();
    auto* edit = composer->editor();
    QTRY_VERIFY(edit->toPlainText().isEmpty());
    QTest::keyClicks(edit, "half a thought");
    // Saved after a pause in typing, not at each key.
    QCOMPARE(alice_->draft("bob").text, QString());
    QVERIFY(spinUntil([&] { return alice_->draft("bob").text == "half a thought"; }, kGuiWaitMs));
    // A reply goes with it.
    qint64 answered = 0;
    for (int r = model()->rowCount() - 1; r >= 0 && answered == 0; --r)
      if (!row(r).data(MessageModel::OutgoingRole).toBool() && row(r).data(MessageModel::TimerChangeRole).toLongLong() < 0 &&
          !row(r).data(MessageModel::UnsentRole).toBool())
        answered = row(r).data(MessageModel::MessageIdRole).toLongLong();
    QVERIFY(answered != 0);
    for (int r = 0; r < model()->rowCount(); ++r)
      if (row(r).data(MessageModel::MessageIdRole).toLongLong() == answered) emit view->list()->replyRequested(row(r));
    QCOMPARE(composer->replyTo(), answered);

    window_->openConversation("zed-not-here");
    QCOMPARE(alice_->draft("bob").replyTo, answered);  // saved on leaving, at once
    const auto bob_row = window_->conversationList()->model()->index(listRowOf("bob"), 0);
    QCOMPARE(bob_row.data(ConversationListModel::DraftRole).toString(), QString("half a thought"));
    QVERIFY2(bob_row.data(Qt::AccessibleDescriptionRole).toString().contains("draft: half a thought"),
             qPrintable(bob_row.data(Qt::AccessibleDescriptionRole).toString()));
    parley::test::screenshot(window_.get(), "draft-in-list");
    QVERIFY(edit->toPlainText().isEmpty());
    QCOMPARE(composer->replyTo(), 0);

    // Back from the store (nothing of it is held in the window any more).
    window_->openConversation("bob");
    QCOMPARE(edit->toPlainText(), QString("half a thought"));
    QCOMPARE(composer->replyTo(), answered);
    QVERIFY(!composer->typing());  // a draft coming back is not typing
    QTest::keyClicks(edit, ", finished");
    QTest::keyClick(edit, Qt::Key_Return);
    QVERIFY(spinUntil([&] { return alice_->draft("bob").text.isEmpty(); }, 100));  // at once, no pause
    QCOMPARE(alice_->draft("bob").replyTo, 0);
    QVERIFY(spinUntil([&] {
      return model()->rowCount() > 0 &&
             row(model()->rowCount() - 1).data(MessageModel::BodyRole).toString() == "half a thought, finished";
    }, kGuiWaitMs));
    QCOMPARE(window_->conversationList()->model()->index(listRowOf("bob"), 0).data(ConversationListModel::DraftRole).toString(),
             QString());

    // While one of ours is edited, the draft kept is what the edit set aside.
    QTest::keyClicks(edit, "next thing");
    emit view->list()->editRequested(row(model()->rowCount() - 1));
    QCOMPARE(edit->toPlainText(), QString("half a thought, finished"));
    QTest::keyClicks(edit, "!");
    QTest::qWait(Composer::kDraftSaveMs + 300);
    QCOMPARE(alice_->draft("bob").text, QString("next thing"));
    QTest::keyClick(edit, Qt::Key_Escape);  // the edit given up
    QCOMPARE(edit->toPlainText(), QString("next thing"));
    edit->clear();
    composer->saveDraft();
    QCOMPARE(alice_->draft("bob").text, QString());

    // A chat with no conversation yet keeps its draft in the window.
    window_->openConversation("dave");
    QTest::keyClicks(edit, "hello dave");
    window_->openConversation("bob");
    QCOMPARE(alice_->draft("dave").text, QString());
    QVERIFY(edit->toPlainText().isEmpty());
    window_->openConversation("dave");
    QCOMPARE(edit->toPlainText(), QString("hello dave"));
    edit->clear();
    window_->openConversation("bob");
  }

  // A chat opened with unread messages shows them from the first, under a line saying how
  // many; scrolled up, a round button goes back down and counts what arrives meanwhile.
  void unreadLineAndTheWayBackDown() {
    QVERIFY(front());
    // Opened from the placeholder: the view was hidden until then.
    window_->closeConversation();
    QString error;
    constexpr int kUnread = 40;
    for (int i = 0; i < kUnread; ++i) QVERIFY2(bob_->sendText("alice", QString("catching up %1").arg(i), &error), qPrintable(error));
    const auto unread = [&] {
      return window_->conversationList()->model()->index(listRowOf("bob"), 0).data(ConversationListModel::UnreadRole).toInt();
    };
    QVERIFY(spinUntil([&] { return unread() == kUnread; }, kGuiWaitMs));
    window_->openConversation("bob");
    auto* list = window_->conversationView()->list();
    QCOMPARE(list->messageDelegate()->unreadMark(), messageSaying("catching up 0").data(MessageModel::MessageIdRole).toLongLong());
    // The first unread is on screen, at the top; the newest is not.
    QApplication::processEvents();
    const QRect first = list->visualRect(messageSaying("catching up 0"));
    QVERIFY(list->viewport()->rect().contains(first.topLeft()));
    QVERIFY(first.top() < list->viewport()->height() / 3);
    QVERIFY(!list->atBottom());
    QVERIFY(list->jumpButton()->isVisible());
    QCOMPARE(list->jumpButton()->count(), 0);
    parley::test::screenshot(window_.get(), "unread-line");

    // What arrives meanwhile is counted on the button; a click goes down to it.
    QVERIFY(bob_->sendText("alice", "one more", &error));
    QVERIFY(bob_->sendText("alice", "and another", &error));
    QVERIFY(spinUntil([&] { return list->jumpButton()->count() == 2; }, kGuiWaitMs));
    QVERIFY(!list->atBottom());
    parley::test::screenshot(window_.get(), "jump-to-latest");
    QTest::mouseClick(list->jumpButton(), Qt::LeftButton);
    QVERIFY(list->atBottom());
    QVERIFY(!list->jumpButton()->isVisible());
    QCOMPARE(list->jumpButton()->count(), 0);
    QApplication::processEvents();
    QVERIFY(list->viewport()->rect().intersects(list->visualRect(messageSaying("and another"))));
    // Scrolled up by hand, it is back; at the bottom it goes.
    list->verticalScrollBar()->setValue(0);
    QVERIFY(list->jumpButton()->isVisible());
    list->verticalScrollBar()->setValue(list->verticalScrollBar()->maximum());
    QVERIFY(!list->jumpButton()->isVisible());

    // Answered, the line goes.
    auto* edit = window_->conversationView()->composer()->editor();
    QTest::keyClicks(edit, "all caught up");
    QTest::keyClick(edit, Qt::Key_Return);
    QCOMPARE(list->messageDelegate()->unreadMark(), 0);
    // Opened with nothing unread, there is none.
    window_->closeConversation();
    window_->openConversation("bob");
    QCOMPARE(list->messageDelegate()->unreadMark(), 0);
    QVERIFY(list->atBottom());
  }

  // "Forward…" in the menu sends copies of the selected messages, oldest first, to the chats
  // chosen; to one other chat, that chat opens.
  void forwardSendsCopiesToTheChatsChosen() {
    QVERIFY(front());
    // Kept to the end: what alice sends her later (a read receipt) is taken from the relay.
    erin_ = parley::test::registerUser(relay_.url(), home_.filePath("erin"), "erin");
    auto* erin = erin_.get();
    QVERIFY(erin);
    QString error;
    QVERIFY(alice_->sendText("erin", "hello erin", &error));
    QVERIFY(spinUntil([&] { return listRowOf("erin") >= 0; }, kGuiWaitMs));
    window_->openConversation("bob");
    auto* list = window_->conversationView()->list();
    list->selectionModel()->clear();
    list->selectionModel()->select(messageSaying("catching up 2"), QItemSelectionModel::Select);
    list->selectionModel()->select(messageSaying("catching up 1"), QItemSelectionModel::Select);
    list->scrollTo(messageSaying("catching up 2"));
    QApplication::processEvents();
    const int original_height = list->visualRect(messageSaying("catching up 2")).height();
    QStringList offered;
    bool send_was_off = false;
    QTimer::singleShot(0, [&] {
      auto* menu = qobject_cast<QMenu*>(QApplication::activePopupWidget());
      auto* action = menu ? menu->findChild<QAction*>("forward") : nullptr;
      if (menu) menu->close();
      if (!action) return;
      QTimer::singleShot(0, [&] {
        auto* dialog = qobject_cast<ForwardDialog*>(QApplication::activeModalWidget());
        if (!dialog) return;
        for (int i = 0; i < dialog->chatList()->count(); ++i) offered << dialog->chatList()->item(i)->text();
        send_was_off = !dialog->sendButton()->isEnabled();
        QTest::keyClicks(dialog->filterBox(), "er");
        auto* to = dialog->chatList()->findItems("erin", Qt::MatchExactly).value(0);
        if (!to || to->isHidden()) return dialog->reject();
        dialog->chatList()->setCurrentItem(to);
        QTest::keyClick(dialog->chatList(), Qt::Key_Space);
        // Space on a row the search hides ticks nothing.
        if (auto* hidden = dialog->chatList()->findItems("bob", Qt::MatchExactly).value(0)) {
          dialog->chatList()->setCurrentItem(hidden);
          QTest::keyClick(dialog->chatList(), Qt::Key_Space);
        }
        dialog->sendButton()->click();
      });
      action->trigger();
    });
    const QPoint at = list->visualRect(messageSaying("catching up 2")).center();
    QContextMenuEvent e(QContextMenuEvent::Mouse, at, list->viewport()->mapToGlobal(at));
    QApplication::sendEvent(list->viewport(), &e);
    QVERIFY2(offered.contains("bob") && offered.contains("erin"), qPrintable(offered.join('|')));
    QVERIFY(send_was_off);
    // Bob's words reach erin marked as forwarded; alice's own are hers.
    QVERIFY(spinUntil([&] {
      QStringList got;
      for (const auto& m : erin->history("alice")) got << (m.forwarded ? "forwarded: " : "") + m.body;
      return got == QStringList{"hello erin", "forwarded: catching up 1", "forwarded: catching up 2"};
    }, kGuiWaitMs));
    QCOMPARE(window_->currentPeer(), QString("erin"));
    // Alice sees her copies say so too, over the words (a line more than the original had).
    const auto copy = messageSaying("catching up 2");
    QVERIFY(copy.data(MessageModel::ForwardedRole).toBool());
    QVERIFY(!messageSaying("hello erin").data(MessageModel::ForwardedRole).toBool());
    QVERIFY(list->visualRect(copy).height() > original_height);
    parley::test::screenshot(window_.get(), "forwarded");
    window_->openConversation("bob");
  }

  // At most five chats at once: the others wait until one is unticked.
  void forwardingGoesToFiveChatsAtMost() {
    QList<ForwardDialog::Chat> chats;
    for (int i = 0; i < 7; ++i) chats.push_back({QString("peer%1").arg(i), QString("Peer %1").arg(i), {}});
    ForwardDialog dialog(chats, 1);
    auto* list = dialog.chatList();
    const auto click = [&](int i) { QTest::mouseClick(list->viewport(), Qt::LeftButton, {}, list->visualItemRect(list->item(i)).center()); };
    dialog.show();
    QVERIFY(QTest::qWaitForWindowExposed(&dialog));
    for (int i = 0; i < ForwardDialog::kMaxChats; ++i) click(i);
    QCOMPARE(dialog.chosen().size(), ForwardDialog::kMaxChats);
    QVERIFY(!(list->item(5)->flags() & Qt::ItemIsEnabled));
    click(5);
    list->setCurrentItem(list->item(5));
    QTest::keyClick(list, Qt::Key_Space);  // nor by the keyboard
    QCOMPARE(dialog.chosen().size(), ForwardDialog::kMaxChats);
    click(0);  // unticked: room for another
    click(6);
    QCOMPARE(dialog.chosen(), (QStringList{"peer1", "peer2", "peer3", "peer4", "peer6"}));
    // A filter keeps what is ticked in sight.
    QTest::keyClicks(dialog.filterBox(), "Peer 0");
    QVERIFY(!list->item(0)->isHidden());
    QVERIFY(!list->item(1)->isHidden());
    QVERIFY(list->item(5)->isHidden());
  }

  void editsAndDeletionFromTheMenu() {
    QVERIFY(front());
    auto* view = window_->conversationView();
    auto* list = view->list();
    auto* composer = view->composer();
    const auto row_with = [&](const QByteArray& id) {
      for (int r = 0; r < model()->rowCount(); ++r)
        if (row(r).data(MessageModel::ClientMsgIdRole).toByteArray() == id) return r;
      return -1;
    };
    // The context menu's entries for a row, read while it is open, then closed.
    const auto menu_of = [&](const QModelIndex& index) {
      QStringList entries;
      QTimer::singleShot(0, [&] {
        auto* menu = qobject_cast<QMenu*>(QApplication::activePopupWidget());
        if (!menu) return;
        for (const auto* a : menu->actions()) entries << a->text();
        menu->close();
      });
      list->scrollTo(index);
      const QPoint at = list->visualRect(index).center();
      QContextMenuEvent e(QContextMenuEvent::Mouse, at, list->viewport()->mapToGlobal(at));
      QApplication::sendEvent(list->viewport(), &e);
      return entries;
    };
    // Answers the Delete dialog with the button named `choice` (after reading which it offers).
    QStringList offered;
    const auto answer_delete = [&](const QString& choice) {
      offered.clear();
      QTimer::singleShot(0, [&offered, choice] {
        auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget());
        if (!box) return;
        for (auto* b : box->findChildren<QPushButton*>())
          if (!b->objectName().isEmpty()) offered << b->objectName();
        if (auto* b = box->findChild<QPushButton*>(choice)) return b->click();
        box->reject();
      });
    };

    // One of ours, numbered by the relay and at Bob's.
    QTest::keyClicks(composer->editor(), "Lunch at 12?");
    QTest::keyClick(composer->editor(), Qt::Key_Return);
    QByteArray ours;
    QVERIFY(spinUntil([&] {
      const int r = model()->rowCount() - 1;
      if (row(r).data(MessageModel::ConvSeqRole).toLongLong() < 0) return false;
      ours = row(r).data(MessageModel::ClientMsgIdRole).toByteArray();
      return row(r).data(MessageModel::BodyRole).toString() == "Lunch at 12?";
    }, kGuiWaitMs));
    QVERIFY(menu_of(row(row_with(ours))).contains("Edit"));
    QVERIFY(menu_of(row(row_with(ours))).contains("Delete…"));

    // Edit: the field takes its words under the bar; Esc gives up and the draft comes back.
    QTest::keyClicks(composer->editor(), "half-typed draft");
    emit list->editRequested(row(row_with(ours)));
    auto* bar = composer->replyBar();
    QVERIFY(bar->isVisible());
    QCOMPARE(bar->findChild<QLabel*>("replyTitle")->text(), QString("Editing your message"));
    QCOMPARE(composer->editor()->toPlainText(), QString("Lunch at 12?"));
    QVERIFY(!composer->attachButton()->isEnabled());
    QTest::keyClick(composer->editor(), Qt::Key_Escape);
    QVERIFY(!bar->isVisible());
    QCOMPARE(composer->editor()->toPlainText(), QString("half-typed draft"));
    QCOMPARE(window_->currentPeer(), QString("bob"));
    QVERIFY(composer->attachButton()->isEnabled());

    // Reply chosen during an edit gives the edit up: Enter then sends a new message.
    emit list->editRequested(row(row_with(ours)));
    emit list->replyRequested(row(row_with(ours)));
    QCOMPARE(composer->editing(), qint64(0));
    QCOMPARE(composer->editor()->toPlainText(), QString("half-typed draft"));
    QCOMPARE(bar->findChild<QLabel*>("replyTitle")->text(), QString("Replying to yourself"));
    QTest::keyClick(composer->editor(), Qt::Key_Escape);

    emit list->editRequested(row(row_with(ours)));
    composer->editor()->selectAll();
    QTest::keyClicks(composer->editor(), "Lunch at 1?");
    parley::test::screenshot(window_.get(), "editing");
    QTest::keyClick(composer->editor(), Qt::Key_Return);
    QVERIFY(!bar->isVisible());
    QCOMPARE(composer->editor()->toPlainText(), QString("half-typed draft"));
    QVERIFY(spinUntil([&] { return row(row_with(ours)).data(MessageModel::BodyRole).toString() == "Lunch at 1?"; },
                      kGuiWaitMs));
    QVERIFY(row(row_with(ours)).data(MessageModel::EditedRole).toLongLong() > 0);
    QCOMPARE(model()->rowCount(), row_with(ours) + 1);  // no new message
    QVERIFY(spinUntil([&] {
      for (const auto& m : bob_->history("alice"))
        if (m.clientMsgId == ours) return m.body == "Lunch at 1?";
      return false;
    }, kGuiWaitMs));
    parley::test::screenshot(window_.get(), "edited");

    // Bob's message: no Edit; deleting it is for this device only.
    QString error;
    const auto theirs = bob_->sendText("alice", "Sure, see you", &error);
    QVERIFY2(theirs, qPrintable(error));
    QVERIFY(spinUntil([&] { return row_with(*theirs) >= 0; }, kGuiWaitMs));
    const auto their_menu = menu_of(row(row_with(*theirs)));
    QVERIFY(!their_menu.contains("Edit"));
    QVERIFY(their_menu.contains("Delete…"));

    // Ours, for everyone: it stays as a note that it was deleted, at Bob's too.
    answer_delete("deleteForEveryone");
    emit list->deleteRequested(row(row_with(ours)));
    QVERIFY(offered.contains("deleteForEveryone") && offered.contains("deleteHere"));
    QVERIFY(spinUntil([&] { return row(row_with(ours)).data(MessageModel::UnsentRole).toBool(); }, kGuiWaitMs));
    QVERIFY(row(row_with(ours)).data(MessageModel::BodyRole).toString().isEmpty());
    QVERIFY(!menu_of(row(row_with(ours))).contains("Reply"));
    QVERIFY(spinUntil([&] {
      for (const auto& m : bob_->history("alice"))
        if (m.clientMsgId == ours) return m.unsent;
      return false;
    }, kGuiWaitMs));
    parley::test::screenshot(window_.get(), "deleted");

    // Bob's, from here: the dialog offers only that, and the row goes.
    const int rows = model()->rowCount();
    answer_delete("deleteHere");
    emit list->deleteRequested(row(row_with(*theirs)));
    QCOMPARE(offered, QStringList{"deleteHere"});
    QVERIFY(spinUntil([&] { return row_with(*theirs) < 0; }, kGuiWaitMs));
    QCOMPARE(model()->rowCount(), rows - 1);
    QVERIFY(spinUntil([&] {
      for (const auto& m : bob_->history("alice"))
        if (m.clientMsgId == *theirs) return true;
      return false;
    }, kGuiWaitMs));  // still Bob's
    composer->editor()->clear();
  }

  void filterBoxAndCtrlK() {
    QVERIFY(front());
    QTest::keySequence(window_.get(), QKeySequence("Ctrl+K"));
    QVERIFY(window_->filterBox()->hasFocus());
    QTest::keyClicks(window_->filterBox(), "zzz");
    QCOMPARE(window_->conversationList()->model()->rowCount(), 0);
    window_->filterBox()->clear();
    QTest::keyClicks(window_->filterBox(), "BO");
    QCOMPARE(window_->conversationList()->model()->rowCount(), 1);
    QTest::keyClick(window_->filterBox(), Qt::Key_Return);
    QCOMPARE(window_->currentPeer(), QString("bob"));
    QVERIFY(window_->filterBox()->text().isEmpty());
  }

  void changedKeyShowsBannerUntilAccepted() {
    QVERIFY(front());
    auto frank = parley::test::registerUser(relay_.url(), home_.filePath("frank"), "frank");
    QVERIFY(frank);
    // Alice knew "frank" under another identity key (before he reinstalled, say).
    alicesDb("INSERT INTO contacts(username, identity_key, verified, added_ms)"
             " VALUES('frank', randomblob(32), 1, 1)");
    QCOMPARE(alicesDb("SELECT COUNT(*) FROM contacts WHERE username = 'frank'").toInt(), 1);
    window_->openConversation("frank");
    QVERIFY(!window_->conversationView()->bannerVisible());
    QVERIFY(window_->conversationView()->subtitle().contains("verified"));
    auto* edit = window_->conversationView()->composer()->editor();
    QTest::keyClicks(edit, "are you the same frank?");
    QTest::keyClick(edit, Qt::Key_Return);
    QVERIFY(spinUntil([&] { return window_->conversationView()->bannerVisible(); }, kGuiWaitMs));
    QCOMPARE(status(0), int(MessageStatus::Queued));  // held until the key is accepted
    QVERIFY2(tickTooltip(0).startsWith("Queued — held until you accept frank's new safety number"),
             qPrintable(tickTooltip(0)));
    // What was verified was the old key.
    QVERIFY2(!window_->conversationView()->subtitle().contains("verified"),
             qPrintable(window_->conversationView()->subtitle()));
    const int r = listRowOf("frank");
    QVERIFY(r >= 0);
    QVERIFY(window_->conversationList()->model()->index(r, 0).data(ConversationListModel::IdentityChangedRole).toBool());
    // The banner's button opens the contact page, which shows the number the new key gives
    // (frank's own, checked once he has heard from alice): compared there, accepted there.
    QString shown;
    bool page_done = false;
    parley::test::onNextDialog([&](QWidget* d) {
      auto* page = qobject_cast<ContactPage*>(d);
      QVERIFY(page);
      shown = page->safetyNumberText().remove(QRegularExpression("\\s"));
      QCOMPARE(shown.size(), 60);
      parley::test::screenshot(page, "contact-page-changed-key");
      QVERIFY(!page->acceptButton()->isHidden());
      QVERIFY(page->verifyButton()->isHidden());
      // Another key replaces it before the click: the page's accept must not take that one.
      const auto compared = alicesDb("SELECT pending_identity_key FROM contacts WHERE username = 'frank'");
      alicesDb("UPDATE contacts SET pending_identity_key = randomblob(32) WHERE username = 'frank'");
      QTest::mouseClick(page->acceptButton(), Qt::LeftButton);
      QVERIFY(alice_->identityKeyChanged("frank"));
      auto* explanation = page->findChild<QLabel*>("safetyNumberExplanation");
      QVERIFY(explanation);
      QVERIFY2(explanation->text().contains("changed again"), qPrintable(explanation->text()));
      QVERIFY(page->safetyNumberText().remove(QRegularExpression("\\s")) != shown);  // the newer one now
      // The second click of a double click finds Accept off: the new number has to be read.
      QVERIFY(!page->acceptButton()->isEnabled());
      parley::test::screenshot(page, "contact-page-changed-again");
      QTest::mouseClick(page->acceptButton(), Qt::LeftButton);
      QVERIFY(alice_->identityKeyChanged("frank"));
      // Back to the key compared first (as if the newer one had not come): the page shows it
      // again when reopened, and that is the key accepted.
      alicesDb("UPDATE contacts SET pending_identity_key = ? WHERE username = 'frank'", {compared});
      page->reject();
      page_done = true;
    });
    auto* compare = window_->conversationView()->findChild<QPushButton*>("compareKey");
    QVERIFY(compare);
    QVERIFY(window_->conversationView()->findChild<QPushButton*>("acceptKey") == nullptr);
    parley::test::screenshot(window_.get(), "identity-banner");
    QTest::mouseClick(compare, Qt::LeftButton);
    QVERIFY(page_done);
    QVERIFY(window_->conversationView()->bannerVisible());
    parley::test::onNextDialog([&](QWidget* d) {
      auto* page = qobject_cast<ContactPage*>(d);
      QVERIFY(page);
      QCOMPARE(page->safetyNumberText().remove(QRegularExpression("\\s")), shown);
      QTest::mouseClick(page->acceptButton(), Qt::LeftButton);
      QVERIFY(!alice_->identityKeyChanged("frank"));
      QVERIFY(page->acceptButton()->isHidden());
      QVERIFY(!page->verifyButton()->isHidden());  // now it can be marked verified
      page->accept();
    });
    QTest::mouseClick(compare, Qt::LeftButton);
    QVERIFY(front());
    QVERIFY(!window_->conversationView()->bannerVisible());
    QVERIFY(spinUntil([&] { return status(0) >= int(MessageStatus::Delivered); }, kGuiWaitMs));
    QString error;
    QCOMPARE(alice_->safetyNumber("frank", &error).remove(' '), shown);
    QCOMPARE(frank->safetyNumber("alice", &error).remove(' '), shown);
    window_->openConversation("bob");
  }

  // A group whose member list missed a change shows why nothing can be sent to it.
  void groupOutOfStepShowsABanner() {
    const auto gid = parley::test::createGroup(alice_.get(), "steps", {"bob"});
    QVERIFY(!gid.isEmpty());
    const auto peer = Messenger::groupPeer(gid);
    window_->openConversation(peer);
    QVERIFY(!window_->conversationView()->bannerVisible());
    alicesDb("UPDATE groups SET out_of_step = 9 WHERE id = ?", {gid});
    QCOMPARE(alicesDb("SELECT out_of_step FROM groups WHERE id = ?", {gid}).toInt(), 9);
    window_->openConversation("bob");
    window_->openConversation(peer);
    QVERIFY(window_->conversationView()->bannerVisible());
    auto* compare = window_->conversationView()->findChild<QPushButton*>("compareKey");
    QVERIFY(compare && !compare->isVisible());
    parley::test::screenshot(window_.get(), "group-out-of-step");
    window_->openConversation("bob");
    QVERIFY(!window_->conversationView()->bannerVisible());
  }

  // A muted group stays quiet but for a message naming us: that one is announced, its row
  // carries "@" until it is read, and the name is drawn in the bubble in our colour.
  void aMentionInAMutedGroupIsAnnounced() {
    QVERIFY(front());
    const auto gid = parley::test::createGroup(alice_.get(), "quiet room", {"bob"});
    QVERIFY(!gid.isEmpty());
    const auto peer = Messenger::groupPeer(gid);
    QVERIFY(spinUntil([&] { return bob_->groups().contains(gid) && listRowOf(peer) >= 0; }, kGuiWaitMs));
    QString error;
    QVERIFY2(alice_->setMuted(peer, Messenger::kMutedForever, &error), qPrintable(error));
    const auto restore = qScopeGuard([&] {
      QString ignored;
      alice_->setMuted(peer, 0, &ignored);
    });
    window_->openConversation("bob");
    const auto row_of_group = [&] { return window_->conversationList()->model()->index(listRowOf(peer), 0); };
    const auto notified = window_->tray()->lastNotification();
    QVERIFY(bob_->groupSend(gid, "room booked", &error));
    QVERIFY(spinUntil([&] { return row_of_group().data(ConversationListModel::LastMessageRole) == "room booked"; },
                      kGuiWaitMs));
    QCOMPARE(window_->tray()->lastNotification(), notified);
    QCOMPARE(row_of_group().data(ConversationListModel::MentionsRole).toInt(), 0);
    const auto mention = bob_->groupSend(gid, "@Alice bring the keys", &error);
    QVERIFY(mention);
    QVERIFY(spinUntil([&] { return window_->tray()->lastNotification() != notified; }, kGuiWaitMs));
    QVERIFY2(window_->tray()->lastNotification().startsWith("bob in quiet room"),
             qPrintable(window_->tray()->lastNotification()));
    QCOMPARE(row_of_group().data(ConversationListModel::MentionsRole).toInt(), 1);
    // Taken back, its notification goes too, muted or not, and so does the "@".
    qint64 local_id = 0;
    for (const auto& m : bob_->history(peer))
      if (m.clientMsgId == *mention) local_id = m.id;
    QVERIFY2(bob_->unsendMessage(peer, local_id, &error), qPrintable(error));
    QVERIFY(spinUntil([&] { return window_->tray()->lastNotification().isEmpty(); }, kGuiWaitMs));
    QVERIFY(spinUntil([&] { return row_of_group().data(ConversationListModel::MentionsRole).toInt() == 0; },
                      kGuiWaitMs));
    // A link to a profile names nobody; a mention after a line break does.
    QVERIFY(bob_->groupSend(gid, "see https://social.example/@alice", &error));
    QVERIFY(bob_->groupSend(gid, "keys:\n@alice bring them", &error));
    QVERIFY(spinUntil([&] { return !window_->tray()->lastNotification().isEmpty(); }, kGuiWaitMs));
    QCOMPARE(row_of_group().data(ConversationListModel::MentionsRole).toInt(), 1);
    QVERIFY(ConversationDelegate::accessibleDescription(row_of_group()).contains("mentioned you"));
    parley::test::screenshot(window_.get(), "mention-muted-group");
    window_->openConversation(peer);
    QVERIFY(spinUntil([&] { return row_of_group().data(ConversationListModel::MentionsRole).toInt() == 0; },
                      kGuiWaitMs));
    parley::test::screenshot(window_.get(), "mention-in-bubble");

    // Writing one: "@" and a start offers the members (not us); Enter takes the name, and
    // sends nothing yet.
    auto* composer = window_->conversationView()->composer();
    auto* edit = composer->editor();
    auto* popup = composer->mentions()->completer()->popup();
    edit->setFocus();
    QTest::keyClicks(edit, "thanks @B");
    QVERIFY(spinUntil([&] { return popup->isVisible(); }, kGuiWaitMs));
    QCOMPARE(popup->model()->rowCount(), 1);
    QCOMPARE(popup->currentIndex().data().toString(), QString("bob"));
    QTest::keyClick(popup, Qt::Key_Return);
    QVERIFY(!popup->isVisible());
    QCOMPARE(edit->toPlainText(), QString("thanks @bob "));
    QTest::keyClicks(edit, "x @al");  // ourselves: nobody to offer
    QVERIFY(!popup->isVisible());
    QTest::keyClicks(edit, " mail@b");  // inside a word: not a mention
    QVERIFY(!popup->isVisible());
    QTest::keyClicks(edit, " @b");
    QVERIFY(spinUntil([&] { return popup->isVisible(); }, kGuiWaitMs));
    window_->openConversation("bob");  // what was offered there is not offered here
    QVERIFY(!popup->isVisible());
    window_->openConversation(peer);
    QVERIFY(!popup->isVisible());  // nor when the words come back, until the user writes
    edit->clear();
    window_->openConversation("bob");
    // A 1:1 chat offers nobody.
    QTest::keyClicks(window_->conversationView()->composer()->editor(), "@b");
    QVERIFY(!popup->isVisible());
    window_->conversationView()->composer()->editor()->clear();
  }

  // A group's name is whatever its admin typed: shown as text, never as markup.
  void groupNamesAreShownAsText() {
    const QString name = QStringLiteral("<b>Not bold</b> & <i>co</i>");
    const auto gid = parley::test::createGroup(alice_.get(), name, {"bob"});
    QVERIFY(!gid.isEmpty());
    window_->openConversation(Messenger::groupPeer(gid));
    auto* title = window_->conversationView()->findChild<QLabel*>("conversationTitle");
    QVERIFY(title);
    QCOMPARE(title->text(), name);
    QCOMPARE(title->textFormat(), Qt::PlainText);
    // Initials come from letters and digits only.
    QCOMPARE(parley::app::initials(name), QString("BN"));
    QCOMPARE(parley::app::initials(QStringLiteral("Weekend trip")), QString("WT"));
    QCOMPARE(parley::app::initials(QStringLiteral("alice")), QString("Al"));
    QCOMPARE(parley::app::initials(QStringLiteral("\U0001F389 party")), QString("Pa"));
    parley::test::screenshot(window_.get(), "group-name-as-text");
    window_->openConversation("bob");
  }

  void offlineShowsRetry() {
    auto* line = window_->connectionStatus();
    QCOMPARE(line->text(), QString("Online"));
    QVERIFY(line->retryButton()->isHidden());
    relay_.kill9();
    QVERIFY(spinUntil([&] { return alice_->state() == State::Offline; }, kGuiWaitMs));
    QVERIFY(line->text().startsWith("Offline"));
    QVERIFY(!line->retryButton()->isHidden());
    // Written while offline: queued, with a clock.
    auto* edit = window_->conversationView()->composer()->editor();
    QTest::keyClicks(edit, "while offline");
    QTest::keyClick(edit, Qt::Key_Return);
    const int last = model()->rowCount() - 1;
    QCOMPARE(status(last), int(MessageStatus::Queued));
    QVERIFY2(tickTooltip(last).startsWith("Queued — this device is not connected to the relay"),
             qPrintable(tickTooltip(last)));
    QVERIFY(relay_.start());
    QTest::mouseClick(line->retryButton(), Qt::LeftButton);
    QVERIFY(spinUntil([&] { return line->text() == "Online"; }, kGuiWaitMs));
    QVERIFY(line->retryButton()->isHidden());
    QVERIFY(spinUntil([&] { return status(model()->rowCount() - 1) >= int(MessageStatus::Sent); }, kGuiWaitMs));
  }

  // Archived from the chat's menu, a chat leaves the list (and the screen) for a list of its
  // own behind the switch above the chats; a search still finds it; a message brings it back.
  void archivedChatsLiveInAListOfTheirOwn() {
    QVERIFY(front());
    window_->openConversation("bob");
    auto* view = window_->conversationView();
    auto* list = window_->conversationList();
    auto* archive = window_->findChild<QToolButton*>("archiveSwitch");
    QVERIFY(archive);
    QVERIFY(!archive->isVisible());
    const auto restore = qScopeGuard([&] {
      QString ignored;
      alice_->setArchived("bob", false, &ignored);
    });
    const auto choose = [&](const QString& text) {
      QTest::mouseClick(view->chatMenuButton(), Qt::LeftButton);
      auto* menu = qobject_cast<QMenu*>(QApplication::activePopupWidget());
      if (!menu) return false;
      for (auto* a : menu->actions())
        if (a->text() == text) {
          a->trigger();
          menu->close();
          return true;
        }
      menu->close();
      return false;
    };
    const int rows = list->model()->rowCount();
    QVERIFY(choose("Archive"));
    QCOMPARE(window_->currentPeer(), QString());
    QCOMPARE(listRowOf("bob"), -1);
    QCOMPARE(list->model()->rowCount(), rows - 1);
    QVERIFY(archive->isVisible());
    QCOMPARE(archive->text(), QString("Archived chats (1)"));
    parley::test::screenshot(window_.get(), "archive-switch");

    // The switch shows the archived ones, and takes the list back.
    QTest::mouseClick(archive, Qt::LeftButton);
    QCOMPARE(list->model()->rowCount(), 1);
    QVERIFY(listRowOf("bob") == 0);
    QCOMPARE(archive->text(), QString("Archived chats"));
    // Where every chat is archived, none carries the tag.
    const auto tag_of = [&](const QString& peer) {
      const auto index = list->model()->index(listRowOf(peer), 0);
      QStyleOptionViewItem option;
      option.rect = list->visualRect(index);
      option.font = list->font();
      return static_cast<ConversationDelegate*>(list->itemDelegate())->archivedTagRect(option, index);
    };
    QVERIFY(tag_of("bob").isNull());
    QTest::mouseClick(list->viewport(), Qt::LeftButton, {}, list->visualRect(list->model()->index(0, 0)).center());
    QCOMPARE(window_->currentPeer(), QString("bob"));
    parley::test::screenshot(window_.get(), "archived-chats");
    // Esc leaves the archived list, the chat staying open. (The offscreen platform delivers
    // no key to a window shortcut: its signal stands for the key.)
    QShortcut* esc = nullptr;
    for (auto* s : window_->findChildren<QShortcut*>())
      if (s->key() == QKeySequence(Qt::Key_Escape)) esc = s;
    QVERIFY(esc);
    emit esc->activated();
    QCOMPARE(list->model()->rowCount(), rows - 1);
    QCOMPARE(archive->text(), QString("Archived chats (1)"));
    // Open from there, it stays open; a search finds it wherever it is kept.
    QCOMPARE(window_->currentPeer(), QString("bob"));
    window_->filterBox()->setText("bob");
    QVERIFY(listRowOf("bob") >= 0);
    QVERIFY(ConversationDelegate::accessibleDescription(list->model()->index(listRowOf("bob"), 0)).startsWith("archived, "));
    // Among a search's results it is tagged, after its name, within its row.
    const QRect tag = tag_of("bob");
    QVERIFY(!tag.isNull());
    QVERIFY(list->visualRect(list->model()->index(listRowOf("bob"), 0)).contains(tag));
    parley::test::screenshot(window_.get(), "archived-in-search");
    window_->filterBox()->setText("b");  // anyone else found is not
    for (int r = 0; r < list->model()->rowCount(); ++r) {
      const auto peer = list->model()->index(r, 0).data(ConversationListModel::PeerRole).toString();
      QCOMPARE(tag_of(peer).isNull(), peer != "bob");
    }
    window_->filterBox()->clear();
    QCOMPARE(listRowOf("bob"), -1);

    // Unarchived from the open chat's menu: back in the list, and the switch goes with the
    // last archived chat (from the archived list, that list too).
    QTest::mouseClick(archive, Qt::LeftButton);
    QVERIFY(front());
    QVERIFY(choose("Unarchive"));
    QVERIFY(!archive->isVisible());
    QCOMPARE(list->model()->rowCount(), rows);
    QVERIFY(listRowOf("bob") >= 0);

    // A message from bob brings an archived chat back by itself.
    QVERIFY(front());
    QVERIFY(choose("Archive"));
    QCOMPARE(listRowOf("bob"), -1);
    QString error;
    QVERIFY(bob_->sendText("alice", "out of the archive", &error));
    QVERIFY(spinUntil([&] { return listRowOf("bob") >= 0; }, kGuiWaitMs));
    QVERIFY(!archive->isVisible());
    // Archived again, open, it leaves the screen again.
    QVERIFY(front());
    window_->openConversation("bob");
    QVERIFY(choose("Archive"));
    QCOMPARE(window_->currentPeer(), QString());
    // Opened from elsewhere (a notification, Ctrl+K), the list it is in shows.
    window_->openConversation("bob");
    QCOMPARE(archive->text(), QString("Archived chats"));
    QCOMPARE(listRowOf("bob"), 0);
    QTest::mouseClick(archive, Qt::LeftButton);
    QVERIFY2(archive->text().startsWith("Archived chats (1)"), qPrintable(archive->text()));  // and its unread
    QCOMPARE(window_->currentPeer(), QString("bob"));
    QVERIFY(choose("Unarchive"));
    QVERIFY(!archive->isVisible());
    QVERIFY(front());
    window_->openConversation("bob");
  }

  // Someone filled bob's inbox while he is away (the relay's quota, made small here): what
  // alice writes waits with a clock, the status bar says why and that it will go, and it
  // goes once bob has caught up.
  void aFullInboxIsExplainedAndTheMessageWaits() {
    relay_.terminate();
    relay_.setExtraArgs({"--inbox-quota-mib", "1"});
    QVERIFY(relay_.start());
    QVERIFY(spinUntil([&] { return alice_->state() == State::Online; }, kGuiWaitMs));
    bob_->stop();
    auto filler = parley::test::TestClient::registered(relay_.url(), "filler");
    QVERIFY(filler);
    for (int i = 0; i < 5; ++i) QVERIFY(filler->send("bob", std::string(200 * 1024, 'x'))->has_send_ack());

    window_->openConversation("bob");
    const auto bobOnline = [&] {
      return window_->conversationList()->model()->index(listRowOf("bob"), 0)
          .data(ConversationListModel::OnlineRole).toBool();
    };
    QVERIFY(spinUntil([&] { return !bobOnline(); }, kGuiWaitMs));
    auto* edit = window_->conversationView()->composer()->editor();
    QTest::keyClicks(edit, "are you there?");
    QTest::keyClick(edit, Qt::Key_Return);
    QVERIFY(spinUntil([&] { return window_->statusBar()->currentMessage().contains("catch up"); }, kGuiWaitMs));
    QCOMPARE(window_->statusBar()->currentMessage(),
             QString("bob has too many undelivered messages waiting on the relay; yours will go once they catch up"));
    const int last = model()->rowCount() - 1;
    QCOMPARE(status(last), int(MessageStatus::Queued));
    QVERIFY2(tickTooltip(last).startsWith("Queued — bob has too many undelivered messages waiting "
                                          "on the relay"),
             qPrintable(tickTooltip(last)));
    parley::test::screenshot(window_.get(), "inbox-full");

    bob_->start();  // he drains the filler's messages (undecryptable) and the inbox empties
    QVERIFY(spinUntil([&] { return parley::test::metric(relay_, "parley_inbox_depth") == 0; }, kGuiWaitMs));
    QTest::keyClicks(edit, "there you are");
    QTest::keyClick(edit, Qt::Key_Return);
    QVERIFY(spinUntil([&] { return status(last) >= int(MessageStatus::Sent); }, kGuiWaitMs));
    QVERIFY(spinUntil([&] { return status(last + 1) >= int(MessageStatus::Sent); }, kGuiWaitMs));
    QCOMPARE(row(last).data(MessageModel::BodyRole).toString(), QString("are you there?"));
  }

  // Alice alone has filled her share of bob's inbox (--inbox-share-mib, made small): the
  // status bar and the clock's tooltip say it is her messages the relay is holding, not that
  // bob's inbox is full for everyone.
  void aFullShareIsExplainedAsOurs() {
    relay_.terminate();
    relay_.setExtraArgs({"--inbox-quota-mib", "4", "--inbox-share-mib", "1"});
    QVERIFY(relay_.start());
    QVERIFY(spinUntil([&] { return alice_->state() == State::Online; }, kGuiWaitMs));
    bob_->stop();
    window_->openConversation("bob");
    // Long texts (60 KiB each) until the relay refuses one: about fourteen fit in 1 MiB.
    const QString longText(60 * 1024, QLatin1Char('z'));
    const auto refused = [&] {
      return window_->statusBar()->currentMessage().contains("as it keeps from one sender");
    };
    for (int i = 0; i < 20 && !refused(); ++i) {
      QString error;
      QVERIFY2(alice_->sendText("bob", longText, &error), qPrintable(error));
      spinUntil(refused, 300);
    }
    QVERIFY(spinUntil(refused, kGuiWaitMs));
    QCOMPARE(window_->statusBar()->currentMessage(),
             QString("the relay is holding as many of your messages for bob as it keeps from one "
                     "sender; the rest will go once they catch up"));
    const int last = model()->rowCount() - 1;
    QCOMPARE(status(last), int(MessageStatus::Queued));
    QVERIFY2(tickTooltip(last).startsWith("Queued — the relay is holding as many of your messages "
                                          "for bob as it keeps from one sender"),
             qPrintable(tickTooltip(last)));
    parley::test::screenshot(window_.get(), "inbox-share-full");
  }

  // Last: it empties bob's chat, which the tests above read.
  // A timer change the relay refuses says so on its line, and why in its tooltip. (Late in
  // the run: it moves that chat up the list.)
  void aRefusedTimerChangeSaysSo() {
    window_->openConversation("zed-not-here");
    QString error;
    QVERIFY2(alice_->setExpireTimer("zed-not-here", 3600, &error), qPrintable(error));
    QVERIFY(spinUntil([&] { return status(model()->rowCount() - 1) == int(MessageStatus::Failed); },
                      kGuiWaitMs));
    const auto line = row(model()->rowCount() - 1);
    QCOMPARE(line.data(MessageModel::TimerChangeRole).toLongLong(), 3600);
    QCOMPARE(MessageDelegate::noticeText(line), QString("You set disappearing messages to 1 hour — not sent"));
    QCOMPARE(tickTooltip(model()->rowCount() - 1),
             QString("Not sent — there is no user zed-not-here on this relay"));
    // Not in force either: the header shows no timer, as before the change.
    auto* timer = window_->conversationView()->findChild<QAbstractButton*>("disappearingTimer");
    QVERIFY(timer);
    QVERIFY(spinUntil([&] { return timer->isHidden(); }, kGuiWaitMs));
    QCOMPARE(alice_->expireTimer("zed-not-here"), 0);
    parley::test::screenshot(window_.get(), "timer-not-sent");
    window_->openConversation("bob");
  }

  void clearHistoryFromTheMenuAsksFirst() {
    QVERIFY(front());
    window_->openConversation("bob");
    auto* view = window_->conversationView();
    const auto shown = [&] {
      int n = 0;
      for (int r = 0; r < model()->rowCount(); ++r) n += row(r).data(MessageModel::StatusRole).toInt() != 0;
      return n;
    };
    QVERIFY(shown() > 0);
    const auto ask = [&] {
      QTest::mouseClick(view->chatMenuButton(), Qt::LeftButton);
      auto* menu = qobject_cast<QMenu*>(QApplication::activePopupWidget());
      auto* clear = menu ? menu->findChild<QAction*>("clearHistory") : nullptr;
      if (clear) clear->trigger();
      if (menu) menu->close();
      QMessageBox* box = nullptr;
      spinUntil([&] { return (box = window_->findChild<QMessageBox*>("clearHistoryDialog")) && box->isVisible(); },
                kGuiWaitMs);
      return box;
    };
    // Cancelled: nothing goes.
    auto* box = ask();
    QVERIFY(box);
    const int before = shown();
    box->button(QMessageBox::Cancel)->click();
    QCOMPARE(shown(), before);
    box = ask();
    QVERIFY(box);
    QAbstractButton* yes = nullptr;
    for (auto* b : box->buttons())
      if (b->text() == "Clear history") yes = b;
    QVERIFY(yes);
    yes->click();
    // Only ours still on their way (the relay refused them for a full inbox) are left.
    QVERIFY(spinUntil([&] { return shown() == 0; }, kGuiWaitMs));
    QVERIFY(listRowOf("bob") >= 0);
    QCOMPARE(window_->conversationList()->model()->index(listRowOf("bob"), 0).data(ConversationListModel::UnreadRole).toInt(), 0);
  }
};

QTEST_MAIN(ConversationTest)
#include "conversation_test.moc"
