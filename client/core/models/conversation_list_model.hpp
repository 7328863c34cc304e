#pragma once
// The conversation list as a model a QListView can show directly: one row per peer, most
// recent activity first, with unread count, last message, presence and typing.
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
  };

  explicit ConversationListModel(Messenger* messenger, QObject* parent = nullptr);

  int rowCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QHash<int, QByteArray> roleNames() const override;

  void reload();

 private:
  struct Presence {
    bool online = false;
    qint64 last_seen = 0;
    bool typing = false;
  };
  void updatePresence(const QString& peer);

  Messenger* messenger_;
  QList<ConversationSummary> rows_;
  QHash<QString, Presence> presence_;
};

}  // namespace parley::client
