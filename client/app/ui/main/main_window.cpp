#include "main/main_window.hpp"

#include <QActionGroup>
#include <QApplication>
#include <QCloseEvent>
#include <QContextMenuEvent>
#include <QHBoxLayout>
#include <QIcon>
#include <QKeyEvent>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QListView>
#include <QMenuBar>
#include <QMouseEvent>
#include <QMessageBox>
#include <QPointer>
#include <QSettings>
#include <QShortcut>
#include <QSplitter>
#include <QStackedWidget>
#include <QStatusBar>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>
#include <optional>

#include "common/avatar.hpp"
#include "common/chat_title.hpp"
#include "common/disappearing.hpp"
#include "common/plain_text.hpp"
#include "contacts/contact_page.hpp"
#include "contacts/new_chat_dialog.hpp"
#include "conversation/composer.hpp"
#include "conversation/conversation_view.hpp"
#include "conversations/archive_switch.hpp"
#include "conversations/chat_menu.hpp"
#include "conversations/conversation_delegate.hpp"
#include "conversations/conversation_filter.hpp"
#include "groups/create_group_dialog.hpp"
#include "groups/group_panel.hpp"
#include "main/connection_status.hpp"
#include "messenger.hpp"
#include "models/conversation_list_model.hpp"
#include "passphrase/passphrase_actions.hpp"
#include "search/search_dialog.hpp"
#include "theme/theme.hpp"
#include "tray/tray.hpp"

namespace parley::app {

using client::ConversationListModel;
using client::Messenger;
using State = client::RelayClient::State;

namespace {
const QString kShowText = QStringLiteral("notifications/showText");
}  // namespace

QString MainWindow::titleFor(Messenger* m, const QString& peer) { return chatTitle(m, peer); }

MainWindow::MainWindow(Messenger* messenger, const QString& profile_dir, QWidget* parent)
    : QMainWindow(parent), messenger_(messenger), profile_dir_(profile_dir) {
  const auto& t = Theme::current();
  setObjectName(QStringLiteral("mainWindow"));
  setWindowTitle(QStringLiteral("Parley"));
  setWindowIcon(QIcon(QStringLiteral(":/parley/icons/parley.svg")));
  conversations_ = std::make_unique<ConversationListModel>(messenger_);
  for (int row = 0; row < conversations_->rowCount(); ++row)
    if (const auto i = conversations_->index(row); i.data(ConversationListModel::MarkedUnreadRole).toBool())
      marked_.insert(i.data(ConversationListModel::PeerRole).toString());
  for (int row = 0; row < conversations_->rowCount(); ++row)
    if (const auto i = conversations_->index(row); i.data(ConversationListModel::ArchivedRole).toBool())
      archived_.insert(i.data(ConversationListModel::PeerRole).toString());
  filter_ = new ConversationFilter(this);
  filter_->setSourceModel(conversations_.get());

  // ---- left: who am I, filter, list, connection ----
  auto* left = new QWidget(this);
  left->setObjectName(QStringLiteral("sidebar"));
  auto* me = new QLabel(this);
  me->setFixedSize(32, 32);
  me->setPixmap(avatarPixmap(messenger_->username(), messenger_->username(), 32, devicePixelRatioF()));
  auto* me_name = new QLabel(messenger_->username(), this);
  me_name->setTextFormat(Qt::PlainText);
  QFont bold = me_name->font();
  bold.setBold(true);
  me_name->setFont(bold);
  auto* new_chat = new QToolButton(this);
  new_chat->setObjectName(QStringLiteral("newChat"));
  new_chat->setIcon(QIcon(QStringLiteral(":/parley/icons/new-chat.svg")));
  new_chat->setIconSize({20, 20});
  new_chat->setAutoRaise(true);
  new_chat->setToolTip(tr("New chat (Ctrl+N)"));
  auto* new_group = new QToolButton(this);
  new_group->setIcon(QIcon(QStringLiteral(":/parley/icons/group.svg")));
  new_group->setIconSize({20, 20});
  new_group->setAutoRaise(true);
  new_group->setToolTip(tr("New group (Ctrl+G)"));
  auto* top = new QHBoxLayout;
  top->setContentsMargins(14, 10, 8, 4);
  top->setSpacing(10);  // a nested layout would inherit the sidebar's 0
  top->addWidget(me);
  top->addWidget(me_name, 1);
  top->addWidget(new_group);
  top->addWidget(new_chat);
  filter_box_ = new QLineEdit(this);
  filter_box_->setObjectName(QStringLiteral("filter"));
  filter_box_->setPlaceholderText(tr("Search chats (Ctrl+K)"));
  filter_box_->setClearButtonEnabled(true);
  filter_box_->addAction(QIcon(QStringLiteral(":/parley/icons/search.svg")), QLineEdit::LeadingPosition);
  filter_box_->setStyleSheet(QStringLiteral("QLineEdit { border: 1px solid %1; border-radius: 16px; padding: 5px 8px;"
                                            " background: %2; }").arg(t.separator.name(), t.window.name()));
  filter_box_->installEventFilter(this);
  auto* filter_row = new QHBoxLayout;
  filter_row->setContentsMargins(10, 4, 10, 6);
  filter_row->addWidget(filter_box_);
  archive_switch_ = new ArchiveSwitch(this);
  archive_switch_->setArchived(conversations_->archivedCount(), conversations_->archivedUnread());
  list_ = new QListView(this);
  list_->setObjectName(QStringLiteral("conversations"));
  list_->setModel(filter_);
  list_->setItemDelegate(new ConversationDelegate(list_));
  list_->setUniformItemSizes(true);
  list_->setFrameShape(QFrame::NoFrame);
  list_->setMouseTracking(true);
  list_->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  list_->setStyleSheet(QStringLiteral("QListView { background: %1; }").arg(t.panel.name()));
  // The chat menu: the mouse's right button on a row, or the keyboard's menu key for the
  // current row (the list takes the keyboard's, its viewport the mouse's).
  list_->installEventFilter(this);
  list_->viewport()->installEventFilter(this);
  status_ = new ConnectionStatus(this);
  auto* lv = new QVBoxLayout(left);
  lv->setContentsMargins(0, 0, 0, 0);
  lv->setSpacing(0);
  lv->addLayout(top);
  lv->addLayout(filter_row);
  auto* archive_row = new QHBoxLayout;
  archive_row->setContentsMargins(8, 0, 8, 2);  // its icon in line with the avatars below
  archive_row->addWidget(archive_switch_);
  lv->addLayout(archive_row);
  lv->addWidget(list_, 1);
  lv->addWidget(status_);
  left->setMinimumWidth(240);

  // ---- right: placeholder or the open conversation ----
  right_ = new QStackedWidget(this);
  placeholder_ = new QWidget(this);
  placeholder_->setAutoFillBackground(true);
  {
    auto* logo = new QLabel(placeholder_);
    logo->setPixmap(QIcon(QStringLiteral(":/parley/icons/parley.svg")).pixmap(72, 72));
    logo->setAlignment(Qt::AlignCenter);
    auto* text = new QLabel(tr("Pick a chat on the left, or start one with Ctrl+N.\n"
                               "Messages are end-to-end encrypted: the relay only ever sees ciphertext."),
                            placeholder_);
    text->setAlignment(Qt::AlignCenter);
    text->setStyleSheet(QStringLiteral("color: %1;").arg(t.muted.name()));
    auto* pv = new QVBoxLayout(placeholder_);
    pv->addStretch();
    pv->addWidget(logo);
    pv->addWidget(text);
    pv->addStretch();
  }
  view_ = new ConversationView(messenger_, this);
  view_->setFilesDir(profile_dir_ + QStringLiteral("/files"));
  right_->addWidget(placeholder_);
  right_->addWidget(view_);

  splitter_ = new QSplitter(this);
  splitter_->addWidget(left);
  splitter_->addWidget(right_);
  splitter_->setStretchFactor(1, 1);
  splitter_->setChildrenCollapsible(false);
  splitter_->setSizes({300, 700});
  setCentralWidget(splitter_);
  tray_ = new Tray(this);
  buildMenus();

  QSettings settings;
  if (!restoreGeometry(settings.value(QStringLiteral("mainWindow/geometry")).toByteArray())) resize(1040, 700);
  splitter_->restoreState(settings.value(QStringLiteral("mainWindow/splitter")).toByteArray());

  // ---- wiring ----
  connect(new_chat, &QToolButton::clicked, this, &MainWindow::startNewChat);
  connect(new_group, &QToolButton::clicked, this, &MainWindow::createGroup);
  connect(filter_box_, &QLineEdit::textChanged, filter_, &ConversationFilter::setText);
  connect(archive_switch_, &ArchiveSwitch::switched, this, &MainWindow::showArchived);
  connect(conversations_.get(), &ConversationListModel::archivedChanged, this, [this](int count, int unread) {
    archive_switch_->setArchived(count, unread);
    // A chat a message brought back is no longer one archived as last told (archived_ only
    // learns of new archiving from chatSettingsChanged, which runs after this).
    archived_.removeIf([this](const QString& peer) {
      const int row = conversations_->rowOf(peer);
      return row < 0 || !conversations_->index(row).data(ConversationListModel::ArchivedRole).toBool();
    });
    // Nothing left there to show, or the open chat came back: the main list.
    if (count == 0 || (filter_box_->text().isEmpty() && !currentPeer().isEmpty() && !archived_.contains(currentPeer())))
      showArchived(false);
  });
  connect(list_->selectionModel(), &QItemSelectionModel::currentChanged, this,
          [this](const QModelIndex& current) {
            if (current.isValid()) openConversation(current.data(ConversationListModel::PeerRole).toString());
          });
  connect(list_, &QListView::clicked, this, [this](const QModelIndex& i) {
    openConversation(i.data(ConversationListModel::PeerRole).toString());
  });
  connect(status_, &ConnectionStatus::retryRequested, this, [this] {
    messenger_->stop();
    messenger_->start();
  });
  status_->setState(messenger_->state());
  connect(messenger_, &Messenger::stateChanged, this, [this](State s) {
    status_->setState(s);
    if (s == State::Online) {
      QStringList people;
      for (const auto& c : messenger_->contacts()) people << c;
      if (!people.isEmpty()) messenger_->subscribePresence(people);
    }
  });
  connect(conversations_.get(), &ConversationListModel::totalUnreadChanged, tray_, &Tray::setUnread);
  tray_->setUnread(conversations_->totalUnread());
  connect(tray_, &Tray::notificationClicked, this, [this](const QString& peer) {
    showNormal();
    raise();
    activateWindow();
    openConversation(peer);
  });
  connect(tray_, &Tray::quitRequested, qApp, &QApplication::quit);
  connect(messenger_, &Messenger::messageReceived, this,
          [this](const QString& peer, const QByteArray& id) { onArrived(peer, peer, id); });
  connect(messenger_, &Messenger::groupMessageReceived, this,
          [this](const QByteArray& gid, const QString& sender, const QByteArray& id) {
            onArrived(Messenger::groupPeer(gid), sender, id);
          });
  connect(messenger_, &Messenger::messageRevised, this, &MainWindow::onRevised);
  // Its words leave the screen with the history.
  connect(messenger_, &Messenger::historyCleared, this, [this](const QString& peer) {
    if (notified_.remove(peer)) tray_->withdraw(peer);
  });
  connect(messenger_, &Messenger::chatSettingsChanged, this, [this](const QString& peer) {
    // Just marked unread, to come back to: it leaves the screen, which would otherwise read
    // it again at once.
    const int row = conversations_->rowOf(peer);
    const bool marked = row >= 0 && conversations_->index(row).data(ConversationListModel::MarkedUnreadRole).toBool();
    if (peer == currentPeer() && marked && !marked_.contains(peer)) closeConversation();
    if (marked) marked_.insert(peer);
    else marked_.remove(peer);
    // Just archived from the main list: it leaves the screen with its row. (One opened from
    // the archived list, or found by a search, stays.)
    const bool archived = row >= 0 && conversations_->index(row).data(ConversationListModel::ArchivedRole).toBool();
    if (peer == currentPeer() && archived && !archived_.contains(peer) && !filter_->archivedView() &&
        filter_box_->text().isEmpty())
      closeConversation();
    if (archived) archived_.insert(peer);
    else archived_.remove(peer);
    // Muted or archived means quiet now too: a notification already showing goes.
    if ((conversations_->isMuted(peer) || archived) && notified_.remove(peer)) tray_->withdraw(peer);
  });
  connect(view_, &ConversationView::contactRequested, this, &MainWindow::showContact);
  connect(view_, &ConversationView::chatRequested, this, &MainWindow::openConversation);
  connect(view_, &ConversationView::membersRequested, this, &MainWindow::showMembers);
  connect(view_, &ConversationView::chatMenuRequested, this, [this](const QString& peer, const QPoint& at) {
    if (auto* menu = chatMenu(messenger_, conversations_.get(), peer, this)) menu->popup(at);
  });
  // A new chat's menu comes with its first message, which makes its row.
  const auto offer_menu = [this] { view_->setChatMenuAvailable(conversations_->rowOf(view_->peer()) >= 0); };
  connect(conversations_.get(), &QAbstractItemModel::rowsInserted, this, offer_menu);
  connect(conversations_.get(), &QAbstractItemModel::modelReset, this, offer_menu);
  // The open conversation stays selected when its row comes or moves: a new chat's or a new
  // group's row appears after it was opened, a send or an arrival re-sorts the list.
  const auto reselect = [this] {
    if (const auto peer = currentPeer(); !peer.isEmpty()) selectInList(peer);
  };
  connect(filter_, &QAbstractItemModel::rowsInserted, this, reselect);
  // After a re-sort, once every listener has caught up: a selection made from inside the
  // proxy's layoutChanged was one of the ways its persistent indexes went stale (see
  // ConversationFilter::setText).
  connect(filter_, &QAbstractItemModel::layoutChanged, this, reselect, Qt::QueuedConnection);
  connect(filter_, &QAbstractItemModel::modelReset, this, reselect);
  connect(messenger_, &Messenger::groupInfoChanged, this, [this](const QByteArray& gid) {
    if (currentPeer() == Messenger::groupPeer(gid)) view_->setTitle(titleFor(messenger_, currentPeer()));
  });
  connect(messenger_, &Messenger::problem, this, [this](const QString& text) {
    statusBar()->showMessage(text, 10000);
  });
  // A damaged store stays said until dismissed: what the window shows from then on may be
  // incomplete, which a status line gone in ten seconds would not tell. (Once: the
  // messenger says it once.)
  connect(messenger_, &Messenger::storeDamageFound, this, [this](const QString& report) {
    QString detail = report;
    detail[0] = detail[0].toUpper();
    auto* box = new QMessageBox(QMessageBox::Warning, tr("Damaged profile"),
                                tr("This profile's store is damaged.") + QStringLiteral("\n\n") + detail,
                                QMessageBox::Ok, this);
    box->setObjectName(QStringLiteral("storeDamaged"));
    box->setTextFormat(Qt::PlainText);
    connect(box, &QDialog::finished, box, &QObject::deleteLater);
    box->open();
  });
  statusBar()->setSizeGripEnabled(false);
  statusBar()->hide();
  connect(statusBar(), &QStatusBar::messageChanged, this,
          [this](const QString& m) { statusBar()->setVisible(!m.isEmpty()); });
}

MainWindow::~MainWindow() {
  list_->setModel(nullptr);
  delete view_;
}

void MainWindow::buildMenus() {
  auto* app = menuBar()->addMenu(tr("&Parley"));
  auto add = [this](QMenu* menu, const QString& text, const QKeySequence& keys, auto slot) {
    auto* a = menu->addAction(text);
    a->setShortcut(keys);
    connect(a, &QAction::triggered, this, slot);
    return a;
  };
  add(app, tr("New chat…"), QKeySequence(QStringLiteral("Ctrl+N")), &MainWindow::startNewChat);
  add(app, tr("New group…"), QKeySequence(QStringLiteral("Ctrl+G")), &MainWindow::createGroup);
  add(app, tr("Jump to chat"), QKeySequence(QStringLiteral("Ctrl+K")), &MainWindow::jumpToChat);
  add(app, tr("Search messages…"), QKeySequence(QStringLiteral("Ctrl+F")), &MainWindow::showSearch);
  app->addSeparator();
  add(app, tr("Switch profile…"), QKeySequence(), [this] { emit switchProfileRequested(); });
  add(app, tr("Quit"), QKeySequence(QStringLiteral("Ctrl+Q")), [] { QApplication::quit(); });

  auto* settings_menu = menuBar()->addMenu(tr("&Settings"));
  auto* show_text = settings_menu->addAction(tr("Show message text in notifications"));
  show_text->setCheckable(true);
  show_text->setChecked(QSettings().value(kShowText, false).toBool());
  connect(show_text, &QAction::toggled, this, [](bool on) { QSettings().setValue(kShowText, on); });
  auto* theme = settings_menu->addMenu(tr("Theme (applies at next start)"));
  auto* group = new QActionGroup(theme);
  const auto current = QSettings().value(QStringLiteral("theme"), QStringLiteral("system")).toString();
  for (auto [label, key] : {std::pair{tr("Follow the system"), QStringLiteral("system")},
                            std::pair{tr("Light"), QStringLiteral("light")},
                            std::pair{tr("Dark"), QStringLiteral("dark")}}) {
    auto* a = theme->addAction(label);
    a->setCheckable(true);
    a->setChecked(current == key);
    group->addAction(a);
    connect(a, &QAction::triggered, this, [key = key] { QSettings().setValue(QStringLiteral("theme"), key); });
  }
  // Built as it opens, with the default as the store has it now.
  auto* new_chats = settings_menu->addMenu(tr("Disappearing messages in new chats"));
  new_chats->setObjectName(QStringLiteral("defaultDisappear"));
  settings_menu->setToolTipsVisible(true);
  new_chats->menuAction()->setToolTip(tr("The timer for chats you start and groups you create"));
  connect(new_chats, &QMenu::aboutToShow, this, [this, new_chats] {
    new_chats->clear();
    qDeleteAll(new_chats->findChildren<QActionGroup*>());
    addTimerChoices(new_chats, messenger_->defaultExpireTimer(), [this](qint64 seconds) {
      QString error;
      if (!messenger_->setDefaultExpireTimer(static_cast<int>(seconds), &error))
        statusBar()->showMessage(tr("Not changed: %1").arg(error), 6000);
    });
  });
  settings_menu->addSeparator();
  auto* passphrase = new PassphraseActions(messenger_, settings_menu, this);
  connect(passphrase, &PassphraseActions::changed, this,
          [this](const QString& message) { statusBar()->showMessage(message, 6000); });

  // Esc: stop a reply being written, else clear the filter, else leave the archived list,
  // else close the open conversation. Dialogs close themselves. (The message field takes Esc itself while it
  // has the focus and a reply is pending.)
  auto* esc = new QShortcut(QKeySequence(Qt::Key_Escape), this);
  connect(esc, &QShortcut::activated, this, [this] {
    if (right_->currentWidget() == view_ && view_->composer()->replyTo() != 0) {
      view_->composer()->clearReply();
      return;
    }
    if (!filter_box_->text().isEmpty()) {
      filter_box_->clear();
      return;
    }
    if (filter_->archivedView()) {
      showArchived(false);
      return;
    }
    closeConversation();
  });
}

QString MainWindow::currentPeer() const { return right_->currentWidget() == view_ ? view_->peer() : QString(); }

void MainWindow::openConversation(const QString& peer) {
  if (peer.isEmpty()) return;
  // The list it is in shows (not while a search lists every chat).
  if (filter_box_->text().isEmpty()) {
    const int row = conversations_->rowOf(peer);
    showArchived(row >= 0 && conversations_->index(row).data(ConversationListModel::ArchivedRole).toBool());
  }
  // Read the moment it is in front: how much was unread is taken first.
  const int row = conversations_->rowOf(peer);
  const int unread = row >= 0 ? conversations_->index(row).data(ConversationListModel::UnreadRole).toInt() : 0;
  // Shown first, so its messages are laid out at the width they are seen at (where the
  // unread begin is placed by pixels).
  right_->setCurrentWidget(view_);
  view_->open(peer, titleFor(messenger_, peer), unread);
  view_->setChatMenuAvailable(conversations_->rowOf(peer) >= 0);
  selectInList(peer);
  markReadIfInFront();
}

void MainWindow::showArchived(bool archived) {
  if (archived == filter_->archivedView()) return;
  filter_->setArchivedView(archived);
  archive_switch_->setShowingArchived(archived);
  static_cast<ConversationDelegate*>(list_->itemDelegate())->setTagsArchived(!archived);
  if (const auto peer = currentPeer(); !peer.isEmpty()) selectInList(peer);
}

void MainWindow::closeConversation() {
  right_->setCurrentWidget(placeholder_);
  view_->closeConversation();
  const QSignalBlocker block(list_->selectionModel());
  list_->selectionModel()->clearSelection();
  list_->setCurrentIndex({});
}

bool MainWindow::showMessage(const QString& peer, qint64 message_id) {
  openConversation(peer);
  return view_->showMessage(message_id);
}

void MainWindow::selectInList(const QString& peer) {
  const int row = conversations_->rowOf(peer);
  if (row < 0) return;
  const auto index = filter_->mapFromSource(conversations_->index(row));
  if (!index.isValid() || list_->currentIndex() == index) return;
  const QSignalBlocker block(list_->selectionModel());
  list_->setCurrentIndex(index);
  list_->viewport()->update();
}

void MainWindow::markReadIfInFront() {
  const auto peer = currentPeer();
  // Read receipts only for what the user can actually see.
  if (peer.isEmpty() || !isVisible() || isMinimized() || !isActiveWindow()) return;
  conversations_->markRead(peer);
}

void MainWindow::onArrived(const QString& peer, const QString& sender, const QByteArray& id) {
  const bool in_front = currentPeer() == peer && isVisible() && !isMinimized() && isActiveWindow();
  if (in_front) {
    // After the models have taken the message in.
    QTimer::singleShot(0, this, &MainWindow::markReadIfInFront);
    return;
  }
  // Looked up by its id, not among the newest: a group message that waited for its key can
  // be opened after many later ones.
  const auto m = messenger_->message(peer, sender, id);
  if (!m || m->body.isEmpty()) return;  // not a visible message
  // A muted chat's messages are counted in its row, never announced; but a group member who
  // names us ("@alice") is.
  if (conversations_->isMuted(peer) && !m->mentionsMe) return;
  tray_->notify(peer, notificationTitle(peer, sender), m->body, QSettings().value(kShowText, false).toBool());
  notified_.insert(peer, {sender, id});
}

void MainWindow::onRevised(const QString& peer, const QString& sender, const QByteArray& id) {
  const auto it = notified_.constFind(peer);
  // (A muted chat's notifications went when it was muted; one shown since names us.)
  if (it == notified_.cend() || it->first != sender || it->second != id) return;
  const auto now = messenger_->message(peer, sender, id);
  if (!now || now->unsent || now->body.isEmpty()) {
    // Taken back: its words leave the screen too.
    notified_.erase(it);
    return tray_->withdraw(peer);
  }
  const bool show_text = QSettings().value(kShowText, false).toBool();
  if (!show_text) return;  // the notification says only who wrote: still true
  tray_->notify(peer, notificationTitle(peer, sender), now->body, show_text);
}

QString MainWindow::notificationTitle(const QString& peer, const QString& sender) const {
  return peer.startsWith(QLatin1Char('#')) ? tr("%1 in %2").arg(sender, titleFor(messenger_, peer)) : sender;
}

void MainWindow::startNewChat() {
  NewChatDialog dialog(messenger_->contacts(), messenger_->username(), this);
  if (dialog.exec() == QDialog::Accepted) openConversation(dialog.username());
}

void MainWindow::jumpToChat() {
  raise();
  activateWindow();
  filter_box_->setFocus();
  filter_box_->selectAll();
}

void MainWindow::showSearch() {
  auto* dialog = new SearchDialog(messenger_, this);
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  connect(dialog, &SearchDialog::messageChosen, this,
          [this](const QString& peer, qint64 id) { showMessage(peer, id); });
  dialog->show();
  dialog->queryEdit()->setFocus();
}

void MainWindow::showContact(const QString& peer) {
  ContactPage page(messenger_, peer, this);
  page.exec();
  view_->refreshIdentity();
  conversations_->reload();
}

void MainWindow::showMembers(const QString& peer) {
  GroupPanel panel(messenger_, Messenger::groupIdOf(peer), this);
  connect(&panel, &GroupPanel::left, this, [this] { closeConversation(); });
  panel.exec();
  if (currentPeer() == peer) view_->setTitle(titleFor(messenger_, peer));
}

void MainWindow::createGroup() {
  CreateGroupDialog dialog(messenger_->contacts(), messenger_->username(), this);
  if (dialog.exec() != QDialog::Accepted) return;
  const auto name = dialog.name();
  statusBar()->showMessage(tr("Creating “%1”…").arg(name));
  QPointer<MainWindow> self(this);
  messenger_->createGroup(name, dialog.members(), [self, name](const QByteArray& gid, const QString& error) {
    if (!self) return;
    if (!error.isEmpty()) {
      self->statusBar()->clearMessage();
      askPlain(self, QMessageBox::Warning, tr("New group"), tr("Could not create “%1”: %2").arg(name, error),
               QMessageBox::Ok, QMessageBox::Ok);
      return;
    }
    self->statusBar()->clearMessage();
    // createGroup keeps the name locally; a GROUP_INFO (admins' rename) is what tells the
    // members what the group is called.
    QString rename_error;
    if (!self->messenger_->renameGroup(gid, name, QString(), &rename_error))
      self->statusBar()->showMessage(tr("The group's name did not reach its members: %1").arg(rename_error), 10000);
    self->conversations_->reload();
    self->openConversation(Messenger::groupPeer(gid));
  });
}

bool MainWindow::eventFilter(QObject* watched, QEvent* e) {
  if (watched == filter_box_ && e->type() == QEvent::KeyPress) {
    const auto* k = static_cast<QKeyEvent*>(e);
    const int rows = filter_->rowCount();
    if ((k->key() == Qt::Key_Down || k->key() == Qt::Key_Up) && rows > 0) {
      const int cur = list_->currentIndex().isValid() ? list_->currentIndex().row() : -1;
      const int next = std::clamp(cur + (k->key() == Qt::Key_Down ? 1 : -1), 0, rows - 1);
      list_->setCurrentIndex(filter_->index(next, 0));
      return true;
    }
    if ((k->key() == Qt::Key_Return || k->key() == Qt::Key_Enter) && rows > 0) {
      const auto index = list_->currentIndex().isValid() ? list_->currentIndex() : filter_->index(0, 0);
      const auto peer = index.data(ConversationListModel::PeerRole).toString();
      filter_box_->clear();
      openConversation(peer);
      view_->composer()->editor()->setFocus();
      return true;
    }
  }
  // The right button only opens the chat menu: a view makes the row under a press current
  // whatever the button, which would open the chat (and read it) before its menu shows.
  if (watched == list_->viewport() &&
      (e->type() == QEvent::MouseButtonPress || e->type() == QEvent::MouseButtonRelease ||
       e->type() == QEvent::MouseButtonDblClick) &&
      static_cast<QMouseEvent*>(e)->button() == Qt::RightButton)
    return true;
  if ((watched == list_ || watched == list_->viewport()) && e->type() == QEvent::ContextMenu) {
    const auto* c = static_cast<QContextMenuEvent*>(e);
    QModelIndex index;
    QPoint at;  // in the viewport
    if (c->reason() == QContextMenuEvent::Keyboard) {
      index = list_->currentIndex();
      list_->scrollTo(index);
      at = list_->visualRect(index).center();
    } else {
      at = watched == list_ ? list_->viewport()->mapFrom(list_, c->pos()) : c->pos();
      index = list_->indexAt(at);
    }
    if (!index.isValid()) return true;
    if (auto* menu = chatMenu(messenger_, conversations_.get(), index.data(ConversationListModel::PeerRole).toString(), this))
      menu->popup(list_->viewport()->mapToGlobal(at));
    return true;
  }
  return QMainWindow::eventFilter(watched, e);
}

void MainWindow::changeEvent(QEvent* e) {
  QMainWindow::changeEvent(e);
  if (e->type() == QEvent::ActivationChange || e->type() == QEvent::WindowStateChange)
    QTimer::singleShot(0, this, &MainWindow::markReadIfInFront);
}

void MainWindow::showEvent(QShowEvent* e) {
  QMainWindow::showEvent(e);
  QTimer::singleShot(0, this, &MainWindow::markReadIfInFront);
}

void MainWindow::closeEvent(QCloseEvent* e) {
  conversationView()->composer()->saveDraft();
  QSettings settings;
  settings.setValue(QStringLiteral("mainWindow/geometry"), saveGeometry());
  settings.setValue(QStringLiteral("mainWindow/splitter"), splitter_->saveState());
  QMainWindow::closeEvent(e);
}

}  // namespace parley::app
