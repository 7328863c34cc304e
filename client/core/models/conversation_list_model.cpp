#include "models/conversation_list_model.hpp"

#include <QDateTime>
#include <algorithm>

namespace parley::client {

ConversationListModel::ConversationListModel(Messenger* messenger, QObject* parent)
    : QAbstractListModel(parent), messenger_(messenger) {
  mute_end_.setSingleShot(true);
  connect(&mute_end_, &QTimer::timeout, this, [this] {
    if (QDateTime::currentMSecsSinceEpoch() >= next_mute_end_ms_) return reload();
    armMuteEnd(QDateTime::currentMSecsSinceEpoch());
  });
  reload();
  auto refresh = [this](const QString&, const QByteArray&) { reload(); };
  connect(messenger_, &Messenger::messageReceived, this, refresh);
  connect(messenger_, &Messenger::messageSent, this, refresh);
  // An edit or a deletion can change the last message's words.
  connect(messenger_, &Messenger::messageRevised, this,
          [this](const QString&, const QString&, const QByteArray&) { reload(); });
  connect(messenger_, &Messenger::messageStatusChanged, this, &ConversationListModel::updateLastStatus);
  connect(messenger_, &Messenger::identityKeyChangedFor, this, [this](const QString&) { reload(); });
  connect(messenger_, &Messenger::chatSettingsChanged, this, [this](const QString&) { reload(); });
  connect(messenger_, &Messenger::historyCleared, this, [this](const QString&) { reload(); });
  // Saved while the user types (a pause, a switch of chats): that row alone, in place.
  connect(messenger_, &Messenger::draftChanged, this, [this](const QString& peer) {
    const int row = rowOf(peer);
    if (row < 0) return;
    // Its first 300 characters, counted as conversations() counts them (SQLite's substr):
    // by code point, so an emoji is not cut in half.
    const auto text = messenger_->draft(peer).text;
    qsizetype cut = 0;
    for (int points = 0; cut < text.size() && points < 300; ++points)
      cut += text[cut].isHighSurrogate() && cut + 1 < text.size() && text[cut + 1].isLowSurrogate() ? 2 : 1;
    rows_[row].draft = text.left(cut);
    emit dataChanged(index(row), index(row), {DraftRole});
  });
  // (A group message also comes as messageReceived.) Only a group's own changes re-read its
  // details (name, avatar, member count): messages arriving do not.
  auto group_changed = [this](const QByteArray& gid) {
    groups_.remove(Messenger::groupPeer(gid));
    reload();
  };
  connect(messenger_, &Messenger::groupInfoChanged, this,
          [group_changed](const QByteArray& gid, const QString&, const QString&, const QString&) {
            group_changed(gid);
          });
  connect(messenger_, &Messenger::groupChanged, this,
          [group_changed](const QByteArray& gid, int, const QString&, const QStringList&) {
            group_changed(gid);
          });
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
  auto fresh = messenger_->conversations();
  // Group details are read here rather than in data(), which a view calls for every paint,
  // and kept until the group changes.
  for (const auto& c : fresh) {
    if (!c.peer.startsWith(QLatin1Char('#')) || groups_.contains(c.peer)) continue;
    const auto gid = Messenger::groupIdOf(c.peer);
    const auto info = messenger_->groupInfo(gid);
    groups_.insert(c.peer, {info.name, static_cast<int>(messenger_->groupMembers(gid).size()), info.avatar});
  }
  QHash<QString, int> now;
  for (int i = 0; i < fresh.size(); ++i) now.insert(fresh[i].peer, i);
  bool kept = true;  // every row still there (conversations are not deleted here)
  for (const auto& c : rows_) kept = kept && now.contains(c.peer);
  if (!kept) {
    beginResetModel();
    rows_ = std::move(fresh);
    endResetModel();
  } else {
    // New conversations are appended first, then everything is put in activity order by a
    // layout change that carries persistent indexes (the view's selection) along.
    QHash<QString, int> was;
    for (int i = 0; i < rows_.size(); ++i) was.insert(rows_[i].peer, i);
    QList<ConversationSummary> added;
    for (const auto& c : fresh)
      if (!was.contains(c.peer)) added << c;
    if (!added.isEmpty()) {
      beginInsertRows({}, static_cast<int>(rows_.size()),
                      static_cast<int>(rows_.size() + added.size()) - 1);
      rows_.append(added);
      endInsertRows();
    }
    emit layoutAboutToBeChanged();
    const auto persistent = persistentIndexList();
    QModelIndexList to;
    for (const auto& p : persistent) to << index(now.value(rows_[p.row()].peer));
    rows_ = std::move(fresh);
    changePersistentIndexList(persistent, to);
    emit layoutChanged();
    if (!rows_.isEmpty()) emit dataChanged(index(0), index(static_cast<int>(rows_.size()) - 1));
  }
  const auto now_ms = QDateTime::currentMSecsSinceEpoch();
  int unread = 0;
  for (const auto& c : rows_)
    if (!c.mutedAt(now_ms) && !c.archived) unread += c.unread > 0 ? c.unread : c.markedUnread ? 1 : 0;
  armMuteEnd(now_ms);
  if (unread != total_unread_) {
    total_unread_ = unread;
    emit totalUnreadChanged(unread);
  }
  int archived = 0, archived_unread = 0;
  for (const auto& c : rows_)
    if (c.archived) {
      ++archived;
      if (c.unread > 0 || c.markedUnread) ++archived_unread;
    }
  if (archived != archived_ || archived_unread != archived_unread_) {
    archived_ = archived;
    archived_unread_ = archived_unread;
    emit archivedChanged(archived, archived_unread);
  }
}

void ConversationListModel::armMuteEnd(qint64 now_ms) {
  next_mute_end_ms_ = 0;
  for (const auto& c : rows_)
    if (c.mutedAt(now_ms) && c.mutedUntilMs != Messenger::kMutedForever &&
        (next_mute_end_ms_ == 0 || c.mutedUntilMs < next_mute_end_ms_))
      next_mute_end_ms_ = c.mutedUntilMs;
  if (next_mute_end_ms_ == 0) return mute_end_.stop();
  // A QTimer runs on the monotonic clock, which stands still while the machine sleeps: a
  // minute at a time, the wall clock is asked again, so a mute that ended during a suspend
  // ends on the screen within a minute of waking. (A little past the end, so it is over.)
  constexpr qint64 kRecheckMs = 60'000;
  mute_end_.start(static_cast<int>(std::min(next_mute_end_ms_ - now_ms + 50, kRecheckMs)));
}

bool ConversationListModel::isMuted(const QString& peer) const {
  const int row = rowOf(peer);
  return row >= 0 && rows_[row].mutedAt(QDateTime::currentMSecsSinceEpoch());
}

void ConversationListModel::markRead(const QString& peer) {
  const int row = rowOf(peer);
  if (row < 0 || (rows_[row].unread == 0 && !rows_[row].markedUnread)) return;
  messenger_->markRead(peer);
  reload();
}

int ConversationListModel::totalUnread() const { return total_unread_; }

int ConversationListModel::rowOf(const QString& peer) const {
  for (int i = 0; i < rows_.size(); ++i)
    if (rows_[i].peer == peer) return i;
  return -1;
}

void ConversationListModel::updateLastStatus(const QString& peer, const QByteArray& client_msg_id,
                                             int status) {
  const int row = rowOf(peer);
  if (row < 0 || rows_[row].lastMsgId != client_msg_id || rows_[row].lastSender != messenger_->username())
    return;
  // The relay's acknowledgement numbers the message, which can put it before one that came
  // meanwhile: which message is last is read again.
  if (status == static_cast<int>(MessageStatus::Sent)) return reload();
  // What the store holds (a group message's ticks can also fall back, sync/group_ticks.hpp).
  rows_[row].lastStatus = static_cast<MessageStatus>(status);
  emit dataChanged(index(row), index(row), {LastStatusRole});
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
    case PeerRole: return c.peer;
    case LastMessageRole: return c.lastMessage;
    case LastFileRole: return c.lastFileName;
    case LastUnsentRole: return c.lastUnsent;
    case LastFileIsImageRole: return c.lastFileIsImage;
    case LastSenderRole: return c.lastSender;
    case LastFromMeRole: return !c.lastSender.isEmpty() && c.lastSender == messenger_->username();
    case LastStatusRole: return static_cast<int>(c.lastStatus);
    case LastActivityRole: return c.lastActivityMs;
    case UnreadRole: return c.unread;
    case OnlineRole: return p.online;
    case LastSeenRole: return p.last_seen;
    case TypingRole: return p.typing;
    case IdentityChangedRole: return c.identityChanged;
    case MutedRole: return c.mutedAt(QDateTime::currentMSecsSinceEpoch());
    case MutedUntilRole: return c.mutedUntilMs;
    case PinnedRole: return c.pinned;
    case MarkedUnreadRole: return c.markedUnread;
    case ExpireTimerRole: return c.expireTimerS;
    case LastTimerChangeRole: return c.lastTimerChange;
    case ArchivedRole: return c.archived;
    case DraftRole: return c.draft;
    case MentionsRole: return c.unreadMentions;
    // What a screen reader says and a view's type-ahead matches: the chat's name.
    case Qt::DisplayRole:
    case TitleRole: {
      const auto g = groups_.find(c.peer);
      return g == groups_.end() ? c.peer : g->name.isEmpty() ? tr("(unnamed group)") : g->name;
    }
    case IsGroupRole: return groups_.contains(c.peer);
    case GroupIdRole:
      return groups_.contains(c.peer) ? Messenger::groupIdOf(c.peer) : QByteArray();
    case MemberCountRole: return groups_.value(c.peer).members;
    case AvatarRole: return groups_.value(c.peer).avatar;
    default: return {};
  }
}

QHash<int, QByteArray> ConversationListModel::roleNames() const {
  return {{PeerRole, "peer"},
          {LastMessageRole, "lastMessage"},
          {LastFileRole, "lastFile"},
          {LastFileIsImageRole, "lastFileIsImage"},
          {LastUnsentRole, "lastUnsent"},
          {LastSenderRole, "lastSender"},
          {LastFromMeRole, "lastFromMe"},
          {LastStatusRole, "lastStatus"},
          {LastActivityRole, "lastActivity"},
          {UnreadRole, "unread"},
          {OnlineRole, "online"},
          {LastSeenRole, "lastSeen"},
          {TypingRole, "typing"},
          {IdentityChangedRole, "identityChanged"},
          {MutedRole, "muted"},
          {MutedUntilRole, "mutedUntil"},
          {PinnedRole, "pinned"},
          {MarkedUnreadRole, "markedUnread"},
          {ExpireTimerRole, "expireTimer"},
          {LastTimerChangeRole, "lastTimerChange"},
          {ArchivedRole, "archived"},
          {DraftRole, "draft"},
          {MentionsRole, "mentions"},
          {TitleRole, "title"},
          {IsGroupRole, "isGroup"},
          {GroupIdRole, "groupId"},
          {MemberCountRole, "memberCount"},
          {AvatarRole, "avatar"}};
}

}  // namespace parley::client
