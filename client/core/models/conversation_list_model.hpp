#pragma once
// The conversation list as a model a QListView can show directly: one row per peer, the
// pinned ones first, then most recent activity first, with unread count, last message,
// presence, typing and whether it is muted, marked unread or archived (a view shows the
// archived ones apart). Changes move
// and update rows in place (no reset), so a view keeps its selection.
//
// Thread: the messenger's thread.
#include <QAbstractListModel>
#include <QHash>
#include <QTimer>

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
    MutedRole,        // muted now (Messenger::setMuted)
    MutedUntilRole,   // until when (ms since the epoch; Messenger::kMutedForever: until unmuted)
    PinnedRole,
    MarkedUnreadRole, // the user marked it unread (Messenger::setMarkedUnread)
    ExpireTimerRole,  // the disappearing-messages timer in seconds (Messenger::setExpireTimer); 0: off
    LastTimerChangeRole,  // the last entry is a timer line: its seconds (0: off); -1 otherwise
    ArchivedRole,     // out of the main list (Messenger::setArchived)
    DraftRole,        // words written there and not sent (Messenger::setDraft), the first 300; empty: none
    MentionsRole,     // unread group messages that name us ("@alice")
  };

  explicit ConversationListModel(Messenger* messenger, QObject* parent = nullptr);

  int rowCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QHash<int, QByteArray> roleNames() const override;

  void reload();
  // The user has seen the conversation: read receipts go out, its unread count and any mark
  // clear.
  void markRead(const QString& peer);
  // Unread messages in the conversations neither muted now nor archived, a chat marked
  // unread with none counting as one: what the tray's badge counts. (The archived ones'
  // show on the list's archive switch, archivedUnread.)
  int totalUnread() const;
  // Archived conversations, and those of them with something unread (a muted one keeps
  // what arrives there archived).
  int archivedCount() const { return archived_; }
  int archivedUnread() const { return archived_unread_; }
  int rowOf(const QString& peer) const;
  bool isMuted(const QString& peer) const;

 signals:
  void totalUnreadChanged(int unread);
  void archivedChanged(int count, int unread);

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
  // Sets the timer for the end of the next timed mute, whose row and total change then.
  void armMuteEnd(qint64 now_ms);

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
  int archived_ = 0;
  int archived_unread_ = 0;
  QTimer mute_end_;
  qint64 next_mute_end_ms_ = 0;  // what mute_end_ waits for; 0: nothing
};

}  // namespace parley::client
