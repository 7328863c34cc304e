#include "conversations/archive_switch.hpp"

#include <QIcon>

namespace parley::app {

ArchiveSwitch::ArchiveSwitch(QWidget* parent) : QToolButton(parent) {
  setObjectName(QStringLiteral("archiveSwitch"));
  setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
  setAutoRaise(true);
  setIconSize({18, 18});
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
  setStyleSheet(QStringLiteral("QToolButton { text-align: left; padding: 6px; }"));
  connect(this, &QToolButton::clicked, this, [this] { emit switched(!showing_archived_); });
  refresh();
}

void ArchiveSwitch::setArchived(int count, int unread) {
  count_ = count;
  unread_ = unread;
  refresh();
}

void ArchiveSwitch::setShowingArchived(bool on) {
  showing_archived_ = on;
  refresh();
}

void ArchiveSwitch::refresh() {
  if (showing_archived_) {
    setIcon(QIcon(QStringLiteral(":/parley/icons/back.svg")));
    setText(tr("Archived chats"));
    setToolTip(tr("Back to all chats. An archived chat comes back by itself when you send a message "
                  "there, or one arrives while it is not muted"));
  } else {
    setIcon(QIcon(QStringLiteral(":/parley/icons/archive.svg")));
    setText(unread_ > 0 ? tr("Archived chats (%1) · %2 unread").arg(count_).arg(unread_)
                        : tr("Archived chats (%1)").arg(count_));
    setToolTip(tr("Show the chats you archived"));
  }
  setVisible(showing_archived_ || count_ > 0);
}

}  // namespace parley::app
