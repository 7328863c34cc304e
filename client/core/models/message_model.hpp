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
    // Our messages in a group ("#" peer); 0 elsewhere. "Delivered to N of M", "read by N of M";
    // Messenger::receiptDetails() has the per-member list behind them.
    DeliveredCountRole,
    ReadCountRole,
    RecipientCountRole,  // M: the group's members other than us, now
  };

  MessageModel(Messenger* messenger, QString peer, QObject* parent = nullptr);

  int rowCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QHash<int, QByteArray> roleNames() const override;

  const QString& peer() const { return peer_; }
  void reload();

 private:
  void updateReceipts(const QByteArray& client_msg_id, const ReceiptCounts& counts);

  Messenger* messenger_;
  QString peer_;
  QByteArray group_id_;  // empty for a 1:1 conversation
  QList<StoredMessage> rows_;
  QHash<QByteArray, ReceiptCounts> receipts_;  // our group messages that have any
  int recipients_ = 0;
};

}  // namespace parley::client
