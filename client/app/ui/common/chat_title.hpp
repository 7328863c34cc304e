#pragma once
// What a chat is called and looks like on screen: the peer's username, or the group's name;
// the group's picture, or initials on a colour.
#include <QCoreApplication>
#include <QPixmap>
#include <QString>

#include "common/avatar.hpp"
#include "messenger.hpp"

namespace parley::app {

inline QString chatTitle(client::Messenger* m, const QString& peer) {
  if (!peer.startsWith(QLatin1Char('#'))) return peer;
  const auto name = m->groupName(client::Messenger::groupIdOf(peer));
  return name.isEmpty() ? QCoreApplication::translate("parley::app::MainWindow", "Unnamed group") : name;
}

inline QPixmap chatPicture(client::Messenger* m, const QString& peer, const QString& title, int size, qreal dpr) {
  QPixmap picture;
  if (peer.startsWith(QLatin1Char('#')))
    picture = imageAvatar(m->groupAvatar(client::Messenger::groupIdOf(peer)), size, dpr);
  return picture.isNull() ? avatarPixmap(peer, title, size, dpr) : picture;
}

}  // namespace parley::app
