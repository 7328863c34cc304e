#pragma once
// One conversation's messages as a model for a QListView with a delegate (never a widget per
// message): relay order, our unacknowledged sends last, live status updates.
//
// Thread: the messenger's thread.
#include <QAbstractListModel>

#include "messenger.hpp"

namespace parley::client {

class MessageModel : public QAbstractListModel {
  Q_OBJECT
 public:
  enum Role {
    BodyRole = Qt::UserRole + 1,
    SenderRole,
    OutgoingRole,
    StatusRole,       // MessageStatus as int
    ClientTimeRole,   // ms since the epoch
    ServerTimeRole,
    ConvSeqRole,      // -1 until numbered
    ChainOkRole,
    ClientMsgIdRole,
  };

  MessageModel(Messenger* messenger, QString peer, QObject* parent = nullptr);

  int rowCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QHash<int, QByteArray> roleNames() const override;

  const QString& peer() const { return peer_; }
  void reload();

 private:
  Messenger* messenger_;
  QString peer_;
  QList<StoredMessage> rows_;
};

}  // namespace parley::client
