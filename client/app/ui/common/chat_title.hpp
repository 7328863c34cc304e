#pragma once
// What a chat is called on screen: the peer's username, or the group's name.
#include <QCoreApplication>
#include <QString>

#include "messenger.hpp"

namespace parley::app {

inline QString chatTitle(client::Messenger* m, const QString& peer) {
  if (!peer.startsWith(QLatin1Char('#'))) return peer;
  const auto name = m->groupName(client::Messenger::groupIdOf(peer));
  return name.isEmpty() ? QCoreApplication::translate("parley::app::MainWindow", "Unnamed group") : name;
}

}  // namespace parley::app
