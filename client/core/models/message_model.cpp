#include "models/message_model.hpp"

namespace parley::client {

MessageModel::MessageModel(Messenger* messenger, QString peer, QObject* parent)
    : QAbstractListModel(parent), messenger_(messenger), peer_(std::move(peer)) {
  reload();
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
  endResetModel();
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
    default: return {};
  }
}

QHash<int, QByteArray> MessageModel::roleNames() const {
  return {{BodyRole, "body"},         {SenderRole, "sender"},         {OutgoingRole, "outgoing"},
          {StatusRole, "status"},     {ClientTimeRole, "clientTime"}, {ServerTimeRole, "serverTime"},
          {ConvSeqRole, "convSeq"},   {ChainOkRole, "chainOk"},       {ClientMsgIdRole, "clientMsgId"}};
}

}  // namespace parley::client
