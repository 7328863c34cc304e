#include "conversations/chat_menu.hpp"

#include <QAbstractButton>
#include <QPushButton>
#include <QDateTime>
#include <QIcon>
#include <QMenu>
#include <QMessageBox>
#include <utility>

#include "common/time_format.hpp"
#include "common/disappearing.hpp"
#include "messenger.hpp"
#include "models/conversation_list_model.hpp"

namespace parley::app {

using client::Messenger;

QMenu* chatMenu(Messenger* messenger, client::ConversationListModel* chats, const QString& peer,
                QWidget* parent) {
  using M = client::ConversationListModel;
  const int row = chats->rowOf(peer);
  if (row < 0) return nullptr;
  const auto index = chats->index(row);
  const bool pinned = index.data(M::PinnedRole).toBool();
  auto* menu = new QMenu(parent);
  menu->setObjectName(QStringLiteral("chatMenu"));
  menu->setAttribute(Qt::WA_DeleteOnClose);
  // Said in a box of its own: the menu is gone by the time it fails.
  const auto tell = [parent](const QString& error) {
    auto* box = new QMessageBox(QMessageBox::Information, QObject::tr("Parley"), error, QMessageBox::Ok, parent);
    box->setObjectName(QStringLiteral("chatMenuProblem"));
    box->setTextFormat(Qt::PlainText);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
  };

  // Read (receipts go out, as when the chat is opened) or, to come back to, unread.
  if (index.data(M::UnreadRole).toInt() > 0 || index.data(M::MarkedUnreadRole).toBool()) {
    QObject::connect(menu->addAction(QObject::tr("Mark as read")), &QAction::triggered, chats,
                     [chats, peer] { chats->markRead(peer); });
  } else {
    QObject::connect(menu->addAction(QObject::tr("Mark as unread")), &QAction::triggered, messenger,
                     [messenger, peer, tell] {
                       QString error;
                       if (!messenger->setMarkedUnread(peer, true, &error)) tell(error);
                     });
  }
  auto* pin = menu->addAction(pinned ? QObject::tr("Unpin") : QObject::tr("Pin to top"));
  pin->setObjectName(QStringLiteral("pin"));
  QObject::connect(pin, &QAction::triggered, messenger, [messenger, peer, pinned, tell] {
    QString error;
    if (!messenger->setPinned(peer, !pinned, &error)) tell(error);
  });
  const bool archived = index.data(M::ArchivedRole).toBool();
  auto* archive = menu->addAction(QIcon(QStringLiteral(":/parley/icons/archive.svg")),
                                  archived ? QObject::tr("Unarchive") : QObject::tr("Archive"));
  archive->setObjectName(QStringLiteral("archive"));
  QObject::connect(archive, &QAction::triggered, messenger, [messenger, peer, archived, tell] {
    QString error;
    if (!messenger->setArchived(peer, !archived, &error)) tell(error);
  });
  menu->addSeparator();

  const auto mute = [messenger, peer, tell](qint64 until_ms) {
    QString error;
    if (!messenger->setMuted(peer, until_ms, &error)) tell(error);
  };
  if (index.data(M::MutedRole).toBool()) {
    const auto until = index.data(M::MutedUntilRole).toLongLong();
    const auto when = until == Messenger::kMutedForever
                          ? QObject::tr("Muted until you unmute it")
                          : QObject::tr("Muted until %1").arg(fullTime(until));
    menu->addAction(when)->setEnabled(false);
    auto* unmute = menu->addAction(QObject::tr("Unmute"));
    unmute->setObjectName(QStringLiteral("unmute"));
    QObject::connect(unmute, &QAction::triggered, messenger, [mute] { mute(0); });
  } else {
    auto* sub = menu->addMenu(QObject::tr("Mute notifications"));
    sub->setObjectName(QStringLiteral("mute"));
    constexpr qint64 kHour = 3600LL * 1000;
    for (auto [label, ms] : {std::pair{QObject::tr("For 1 hour"), kHour},
                             std::pair{QObject::tr("For 8 hours"), 8 * kHour},
                             std::pair{QObject::tr("For 1 week"), 7 * 24 * kHour},
                             std::pair{QObject::tr("Until I unmute it"), qint64{0}}}) {
      QObject::connect(sub->addAction(label), &QAction::triggered, messenger, [mute, ms = ms] {
        mute(ms == 0 ? Messenger::kMutedForever : QDateTime::currentMSecsSinceEpoch() + ms);
      });
    }
  }

  // The conversation's own setting, not this device's: it goes to the other side too.
  menu->addSeparator();
  const auto timer = index.data(M::ExpireTimerRole).toLongLong();
  auto* disappear = menu->addMenu(timer > 0 ? QObject::tr("Disappearing messages: %1").arg(timerLabel(timer))
                                            : QObject::tr("Disappearing messages"));
  disappear->setObjectName(QStringLiteral("disappear"));
  addTimerChoices(disappear, timer, [messenger, peer, tell](qint64 seconds) {
    QString error;
    if (!messenger->setExpireTimer(peer, static_cast<int>(seconds), &error)) tell(error);
  });

  menu->addSeparator();
  auto* clear = menu->addAction(QObject::tr("Clear history…"));
  clear->setObjectName(QStringLiteral("clearHistory"));
  QObject::connect(clear, &QAction::triggered, messenger, [messenger, peer, parent, tell] {
    auto* ask = new QMessageBox(QMessageBox::Warning, QObject::tr("Clear history"),
                                QObject::tr("Delete every message in this chat from this device? The others "
                                            "keep theirs. This cannot be undone."),
                                QMessageBox::Cancel, parent);
    ask->setObjectName(QStringLiteral("clearHistoryDialog"));
    ask->setAttribute(Qt::WA_DeleteOnClose);
    auto* yes = ask->addButton(QObject::tr("Clear history"), QMessageBox::DestructiveRole);
    QObject::connect(ask, &QMessageBox::buttonClicked, messenger, [messenger, peer, yes, tell](QAbstractButton* b) {
      if (b != yes) return;
      QString error;
      if (messenger->clearHistory(peer, &error) < 0) tell(error);
    });
    ask->open();
  });
  return menu;
}

}  // namespace parley::app
