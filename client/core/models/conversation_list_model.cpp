#include "models/conversation_list_model.hpp"

namespace parley::client {

ConversationListModel::ConversationListModel(Messenger* messenger, QObject* parent)
    : QAbstractListModel(parent), messenger_(messenger) {
  reload();
  auto refresh = [this](const QString&, const QByteArray&) { reload(); };
  connect(messenger_, &Messenger::messageReceived, this, refresh);
  connect(messenger_, &Messenger::messageSent, this, refresh);
  connect(messenger_, &Messenger::identityKeyChangedFor, this, [this](const QString&) { reload(); });
  connect(messenger_, &Messenger::groupChanged, this,
          [this](const QByteArray&, int, const QString&, const QStringList&) { reload(); });
  connect(messenger_, &Messenger::groupInfoChanged, this,
          [this](const QByteArray&, const QString&, const QString&, const QString&) { reload(); });
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
  groups_.clear();
  for (const auto& c : rows_) {
    if (!c.peer.startsWith(QLatin1Char('#'))) continue;
    const auto gid = QByteArray::fromHex(c.peer.mid(1).toLatin1());
    const auto info = messenger_->groupInfo(gid);
    groups_.insert(c.peer, {info.name, static_cast<int>(messenger_->groupMembers(gid).size()), info.avatar});
  }
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
    case TitleRole: {
      const auto g = groups_.find(c.peer);
      return g == groups_.end() ? c.peer : g->name.isEmpty() ? QStringLiteral("(unnamed group)") : g->name;
    }
    case IsGroupRole: return groups_.contains(c.peer);
    case GroupIdRole:
      return groups_.contains(c.peer) ? QByteArray::fromHex(c.peer.mid(1).toLatin1()) : QByteArray();
    case MemberCountRole: return groups_.value(c.peer).members;
    case AvatarRole: return groups_.value(c.peer).avatar;
    default: return {};
  }
}

QHash<int, QByteArray> ConversationListModel::roleNames() const {
  return {{PeerRole, "peer"},         {LastMessageRole, "lastMessage"}, {LastActivityRole, "lastActivity"},
          {UnreadRole, "unread"},     {OnlineRole, "online"},           {LastSeenRole, "lastSeen"},
          {TypingRole, "typing"},     {IdentityChangedRole, "identityChanged"},
          {TitleRole, "title"},       {IsGroupRole, "isGroup"},          {GroupIdRole, "groupId"},
          {MemberCountRole, "memberCount"}, {AvatarRole, "avatar"}};
}

}  // namespace parley::client
