#pragma once
// The conversation list as a model a QListView can show directly: one row per peer, most
// recent activity first, with unread count, last message, presence and typing. Changes move
// and update rows in place (no reset), so a view keeps its selection.
//
// Thread: the messenger's thread.
#include <QAbstractListModel>
#include <QHash>

#include "messenger.hpp"

namespace parley::client {

class ConversationListModel : public QAbstractListModel {
  Q_OBJECT
 public:
  enum Role {
    PeerRole = Qt::UserRole + 1,
    LastMessageRole,
    LastActivityRole,  // ms since the epoch
    UnreadRole,
    OnlineRole,
    LastSeenRole,
    TypingRole,
    IdentityChangedRole,
    TitleRole,        // what to show: the username, or the group's name
    IsGroupRole,
    GroupIdRole,      // 16 bytes, groups only
    MemberCountRole,  // groups: members including us
    AvatarRole,       // groups: the encoded image (QByteArray), empty when none
    LastFileRole,     // the last message's file name; empty when it carries no file
    LastFileIsImageRole,
    LastUnsentRole,   // the last message was taken back by its sender
    LastSenderRole,   // who wrote the last message (our own username for ours); empty: none
    LastFromMeRole,   // the last message is ours
    LastStatusRole,   // its MessageStatus (int): the ticks of ours
  };

  explicit ConversationListModel(Messenger* messenger, QObject* parent = nullptr);

  int rowCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QHash<int, QByteArray> roleNames() const override;

  void reload();
  // The user has seen the conversation: read receipts go out and its unread count clears.
  void markRead(const QString& peer);
  int totalUnread() const;
  int rowOf(const QString& peer) const;

 signals:
  void totalUnreadChanged(int unread);

 private:
  struct Presence {
    bool online = false;
    qint64 last_seen = 0;
    bool typing = false;
  };
  void updatePresence(const QString& peer);
  // A status change moves the ticks of the row whose last message it is, without a reload
  // but when it numbers the message.
  void updateLastStatus(const QString& peer, const QByteArray& client_msg_id, int status);

  Messenger* messenger_;
  struct Group {
    QString name;
    int members = 0;
    QByteArray avatar;
  };
  QList<ConversationSummary> rows_;
  QHash<QString, Group> groups_;  // by peer ("#" + hex id)
  QHash<QString, Presence> presence_;
  int total_unread_ = 0;
};

}  // namespace parley::client
