#include "models/message_model.hpp"

namespace parley::client {

MessageModel::MessageModel(Messenger* messenger, QString peer, QObject* parent)
    : QAbstractListModel(parent), messenger_(messenger), peer_(std::move(peer)) {
  if (peer_.startsWith(QLatin1Char('#'))) group_id_ = QByteArray::fromHex(peer_.mid(1).toLatin1());
  reload();
  if (!group_id_.isEmpty()) {
    connect(messenger_, &Messenger::groupDeliveryChanged, this,
            [this](const QByteArray& gid, const QByteArray& id, int delivered) {
              if (gid != group_id_) return;
              auto counts = receipts_.value(id);
              counts.delivered = delivered;
              updateReceipts(id, counts);
            });
    connect(messenger_, &Messenger::groupReadChanged, this,
            [this](const QByteArray& gid, const QByteArray& id, const QString&, int read) {
              if (gid != group_id_) return;
              auto counts = receipts_.value(id);
              counts.read = read;
              updateReceipts(id, counts);
            });
    connect(messenger_, &Messenger::groupChanged, this, [this](const QByteArray& gid, int, const QString&,
                                                               const QStringList&) {
      if (gid != group_id_ || rows_.isEmpty()) return;
      recipients_ = messenger_->recipientCount(group_id_);
      emit dataChanged(index(0), index(static_cast<int>(rows_.size()) - 1), {RecipientCountRole});
    });
  }
  connect(messenger_, &Messenger::messageReceived, this, [this](const QString& p, const QByteArray&) {
    if (p == peer_) reload();
  });
  connect(messenger_, &Messenger::messageSent, this, [this](const QString& p, const QByteArray&) {
    if (p == peer_) reload();
  });
  connect(messenger_, &Messenger::messageStatusChanged, this,
          [this](const QString& p, const QByteArray& id, int status) {
            if (p != peer_) return;
            for (int i = 0; i < rows_.size(); ++i) {
              if (rows_[i].clientMsgId != id) continue;
              rows_[i].status = static_cast<MessageStatus>(status);
              // Acknowledgement numbers a message, which can move it: reload then.
              if (status == static_cast<int>(MessageStatus::Sent)) return reload();
              emit dataChanged(index(i), index(i), {StatusRole});
              return;
            }
          });
}

void MessageModel::reload() {
  beginResetModel();
  rows_ = messenger_->history(peer_);
  if (!group_id_.isEmpty()) {
    receipts_ = messenger_->receiptCounts(group_id_);
    recipients_ = messenger_->recipientCount(group_id_);
  }
  endResetModel();
}

void MessageModel::updateReceipts(const QByteArray& client_msg_id, const ReceiptCounts& counts) {
  receipts_.insert(client_msg_id, counts);
  for (int i = static_cast<int>(rows_.size()) - 1; i >= 0; --i) {  // recent ones are at the end
    if (rows_[i].clientMsgId != client_msg_id) continue;
    emit dataChanged(index(i), index(i), {DeliveredCountRole, ReadCountRole});
    return;
  }
}

int MessageModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(rows_.size());
}

QVariant MessageModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= rows_.size()) return {};
  const auto& m = rows_[index.row()];
  switch (role) {
    case Qt::DisplayRole:
    case BodyRole: return m.body;
    case SenderRole: return m.sender;
    case OutgoingRole: return m.sender == messenger_->username();
    case StatusRole: return static_cast<int>(m.status);
    case ClientTimeRole: return m.clientTsMs;
    case ServerTimeRole: return m.serverTsMs;
    case ConvSeqRole: return m.convSeq;
    case ChainOkRole: return m.chainOk;
    case ClientMsgIdRole: return m.clientMsgId;
    case DeliveredCountRole: return receipts_.value(m.clientMsgId).delivered;
    case ReadCountRole: return receipts_.value(m.clientMsgId).read;
    case RecipientCountRole:
      return group_id_.isEmpty() || m.sender != messenger_->username() ? 0 : recipients_;
    default: return {};
  }
}

QHash<int, QByteArray> MessageModel::roleNames() const {
  return {{BodyRole, "body"},         {SenderRole, "sender"},         {OutgoingRole, "outgoing"},
          {StatusRole, "status"},     {ClientTimeRole, "clientTime"}, {ServerTimeRole, "serverTime"},
          {ConvSeqRole, "convSeq"},   {ChainOkRole, "chainOk"},       {ClientMsgIdRole, "clientMsgId"},
          {DeliveredCountRole, "deliveredCount"}, {ReadCountRole, "readCount"},
          {RecipientCountRole, "recipientCount"}};
}

}  // namespace parley::client
