#include "models/conversation_list_model.hpp"

namespace parley::client {

ConversationListModel::ConversationListModel(Messenger* messenger, QObject* parent)
    : QAbstractListModel(parent), messenger_(messenger) {
  reload();
  auto refresh = [this](const QString&, const QByteArray&) { reload(); };
  connect(messenger_, &Messenger::messageReceived, this, refresh);
  connect(messenger_, &Messenger::messageSent, this, refresh);
  connect(messenger_, &Messenger::identityKeyChangedFor, this, [this](const QString&) { reload(); });
  connect(messenger_, &Messenger::presenceChanged, this,
          [this](const QString& peer, bool online, qint64 last_seen) {
            auto& p = presence_[peer];
            p.online = online;
            p.last_seen = last_seen;
            updatePresence(peer);
          });
  connect(messenger_, &Messenger::typingChanged, this, [this](const QString& peer, bool active) {
    presence_[peer].typing = active;
    updatePresence(peer);
  });
}

void ConversationListModel::reload() {
  beginResetModel();
  rows_ = messenger_->conversations();
  endResetModel();
}

void ConversationListModel::updatePresence(const QString& peer) {
  for (int i = 0; i < rows_.size(); ++i)
    if (rows_[i].peer == peer)
      emit dataChanged(index(i), index(i), {OnlineRole, LastSeenRole, TypingRole});
}

int ConversationListModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(rows_.size());
}

QVariant ConversationListModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= rows_.size()) return {};
  const auto& c = rows_[index.row()];
  const auto p = presence_.value(c.peer);
  switch (role) {
    case Qt::DisplayRole:
    case PeerRole: return c.peer;
    case LastMessageRole: return c.lastMessage;
    case LastActivityRole: return c.lastActivityMs;
    case UnreadRole: return c.unread;
    case OnlineRole: return p.online;
    case LastSeenRole: return p.last_seen;
    case TypingRole: return p.typing;
    case IdentityChangedRole: return c.identityChanged;
    default: return {};
  }
}

QHash<int, QByteArray> ConversationListModel::roleNames() const {
  return {{PeerRole, "peer"},         {LastMessageRole, "lastMessage"}, {LastActivityRole, "lastActivity"},
          {UnreadRole, "unread"},     {OnlineRole, "online"},           {LastSeenRole, "lastSeen"},
          {TypingRole, "typing"},     {IdentityChangedRole, "identityChanged"}};
}

}  // namespace parley::client
