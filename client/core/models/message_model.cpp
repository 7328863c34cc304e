#include "models/message_model.hpp"

#include <QHash>
#include <QSet>

namespace parley::client {

MessageModel::MessageModel(Messenger* messenger, QString peer, QObject* parent)
    : QAbstractListModel(parent), messenger_(messenger), peer_(std::move(peer)) {
  if (peer_.startsWith(QLatin1Char('#'))) group_id_ = Messenger::groupIdOf(peer_);
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
      // Who each message went to among the members now, and so its counts, may have changed.
      receipts_ = messenger_->receiptCounts(group_id_);
      recipients_ = messenger_->recipientCount(group_id_);
      emit dataChanged(index(0), index(static_cast<int>(rows_.size()) - 1),
                       {RecipientCountRole, DeliveredCountRole, ReadCountRole});
    });
  }
  connect(messenger_, &Messenger::messageReceived, this, [this](const QString& p, const QByteArray&) {
    if (p == peer_) refresh();
  });
  connect(messenger_, &Messenger::reactionsChanged, this, [this](const QString& p, const QString&, const QByteArray&) {
    if (p == peer_) refresh();
  });
  connect(messenger_, &Messenger::messageRevised, this, [this](const QString& p, const QString&, const QByteArray&) {
    if (p == peer_) refresh();
  });
  connect(messenger_, &Messenger::messageSent, this, [this](const QString& p, const QByteArray&) {
    if (p == peer_) refresh();
  });
  // A change of the disappearing-messages timer comes with its line in the history.
  connect(messenger_, &Messenger::chatSettingsChanged, this, [this](const QString& p) {
    if (p == peer_) refresh();
  });
  connect(messenger_, &Messenger::countdownsStarted, this, [this](const QString& p) {
    if (p == peer_) refresh();
  });
  connect(messenger_, &Messenger::historyCleared, this, [this](const QString& p) {
    if (p == peer_) reload();
  });
  connect(messenger_, &Messenger::transferFinished, this, [this](qint64, const QByteArray& id, const QString&) {
    // A download saved the file: its local path is new.
    if (!attachments_.remove(id)) return;
    for (int i = static_cast<int>(rows_.size()) - 1; i >= 0; --i)
      if (rows_[i].clientMsgId == id) emit dataChanged(index(i), index(i), {AttachmentRole});
  });
  connect(messenger_, &Messenger::messageStatusChanged, this,
          [this](const QString& p, const QByteArray& id, int status) {
            if (p != peer_) return;
            // Acknowledgement numbers a message, which can move it: re-read then.
            if (status == static_cast<int>(MessageStatus::Sent)) return refresh();
            for (int i = 0; i < rows_.size(); ++i) {
              if (rows_[i].clientMsgId != id || rows_[i].sender != messenger_->username()) continue;
              rows_[i].status = static_cast<MessageStatus>(status);
              emit dataChanged(index(i), index(i), {StatusRole});
              return;
            }
          });
}

qint64 MessageModel::oldestLoadedSeq() const {
  for (const auto& m : rows_)
    if (m.convSeq >= 0) return m.convSeq;
  return -1;
}

void MessageModel::reload() {
  beginResetModel();
  rows_ = messenger_->historySlice(peer_, 0, -1, kPageSize);
  const auto oldest = oldestLoadedSeq();
  int numbered = 0;
  for (const auto& m : rows_) numbered += m.convSeq >= 0;
  at_start_ = numbered < kPageSize;
  const auto g = messenger_->gaps(peer_, oldest < 0 ? 1 : oldest);
  gaps_ = std::set<qint64>(g.begin(), g.end());
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

void MessageModel::refresh() {
  const auto oldest = oldestLoadedSeq();
  // Nothing numbered loaded yet: everything from the start is the window.
  apply(messenger_->historySlice(peer_, (oldest < 0 || at_start_) ? 0 : oldest, -1, -1));
}

void MessageModel::apply(QList<StoredMessage> fresh) {
  const auto oldest_before = oldestLoadedSeq();
  const auto g = messenger_->gaps(peer_, oldest_before < 0 ? 1 : oldest_before);
  const bool gaps_changed = std::set<qint64>(g.begin(), g.end()) != gaps_;
  gaps_ = std::set<qint64>(g.begin(), g.end());

  // Messages deleted from this device leave the window in place, not by a reset, so the
  // view keeps its scroll position.
  {
    QSet<qint64> kept;
    for (const auto& m : fresh) kept.insert(m.id);
    for (int i = static_cast<int>(rows_.size()) - 1; i >= 0; --i) {
      if (kept.contains(rows_[i].id)) continue;
      beginRemoveRows({}, i, i);
      rows_.removeAt(i);
      endRemoveRows();
    }
  }
  // Usual case: the old window is a subsequence of the new one (messages arrived, possibly
  // filling a gap). Insert them where they go; update what changed in place.
  bool subsequence = true;
  {
    int j = 0;
    for (int i = 0; i < fresh.size() && j < rows_.size(); ++i)
      if (fresh[i].id == rows_[j].id) ++j;
    subsequence = j == rows_.size();
  }
  if (!subsequence) {
    QHash<qint64, int> was;
    for (int i = 0; i < rows_.size(); ++i) was.insert(rows_[i].id, i);
    bool same_set = fresh.size() == rows_.size();
    for (const auto& m : fresh) same_set = same_set && was.contains(m.id);
    if (!same_set) {
      beginResetModel();
      rows_ = std::move(fresh);
      endResetModel();
      return;
    }
    // Same messages, new order (an acknowledgement numbered one of ours behind a received
    // message): move persistent indexes (selection, current row) with their messages.
    emit layoutAboutToBeChanged();
    QHash<qint64, int> now;
    for (int i = 0; i < fresh.size(); ++i) now.insert(fresh[i].id, i);
    const auto persistent = persistentIndexList();
    QModelIndexList to;
    for (const auto& p : persistent) to << index(now.value(rows_[p.row()].id));
    rows_ = std::move(fresh);
    changePersistentIndexList(persistent, to);
    emit layoutChanged();
    emit dataChanged(index(0), index(static_cast<int>(rows_.size()) - 1));
    return;
  }
  for (int i = 0; i < fresh.size(); ++i) {
    if (i < rows_.size() && rows_[i].id == fresh[i].id) {
      const auto& a = rows_[i];
      const auto& b = fresh[i];
      const bool changed = a.status != b.status || a.convSeq != b.convSeq ||
                           a.serverTsMs != b.serverTsMs || a.body != b.body || a.chainOk != b.chainOk ||
                           a.reply.messageId != b.reply.messageId || a.reply.text != b.reply.text ||
                           a.reactions != b.reactions || a.editedMs != b.editedMs ||
                           a.unsent != b.unsent || a.reply.unsent != b.reply.unsent || a.reply.expired != b.reply.expired ||
                           a.hasAttachment != b.hasAttachment || a.expiresAtMs != b.expiresAtMs;
      rows_[i] = fresh[i];
      if (changed) emit dataChanged(index(i), index(i));
      continue;
    }
    beginInsertRows({}, i, i);
    rows_.insert(i, fresh[i]);
    endInsertRows();
  }
  if (gaps_changed && !rows_.isEmpty())
    emit dataChanged(index(0), index(static_cast<int>(rows_.size()) - 1), {GapBeforeRole});
}

bool MessageModel::canFetchMore(const QModelIndex& parent) const {
  return !parent.isValid() && !at_start_;
}

void MessageModel::fetchMore(const QModelIndex& parent) {
  if (parent.isValid() || at_start_) return;
  const auto oldest = oldestLoadedSeq();
  auto older = messenger_->historySlice(peer_, 0, oldest, kPageSize);
  at_start_ = older.size() < kPageSize;
  if (!older.isEmpty()) {
    beginInsertRows({}, 0, static_cast<int>(older.size()) - 1);
    older.append(rows_);
    rows_ = std::move(older);
    endInsertRows();
  }
  const auto g = messenger_->gaps(peer_, oldestLoadedSeq() < 0 ? 1 : oldestLoadedSeq());
  gaps_ = std::set<qint64>(g.begin(), g.end());
  if (!rows_.isEmpty())
    emit dataChanged(index(0), index(static_cast<int>(rows_.size()) - 1), {GapBeforeRole});
}

int MessageModel::rowOfMessage(qint64 message_id) const {
  for (int i = static_cast<int>(rows_.size()) - 1; i >= 0; --i)
    if (rows_[i].id == message_id) return i;
  return -1;
}

int MessageModel::loadMessage(qint64 message_id) {
  for (int row = rowOfMessage(message_id); row < 0; row = rowOfMessage(message_id)) {
    if (at_start_) return -1;
    fetchMore({});
  }
  return rowOfMessage(message_id);
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
    case RecipientCountRole: {
      if (group_id_.isEmpty() || m.sender != messenger_->username()) return 0;
      const int of = receipts_.value(m.clientMsgId).of;
      return of >= 0 ? of : recipients_;
    }
    case MessageIdRole: return m.id;
    case TimeRole: return m.serverTsMs > 0 ? m.serverTsMs : m.clientTsMs;
    case HasAttachmentRole: return m.hasAttachment;
    case ReplyAuthorRole: return m.reply.author;
    case ReplyFromMeRole: return !m.reply.author.isEmpty() && m.reply.author == messenger_->username();
    case ReplyTextRole: return m.reply.text;
    case ReplyMessageIdRole: return m.reply.messageId;
    case ReplyUnsentRole: return m.reply.unsent;
    case ReplyExpiredRole: return m.reply.expired;
    case EditedRole: return m.editedMs;
    case UnsentRole: return m.unsent;
    case TimerChangeRole: return m.timerChange;
    case ExpireRole: return m.expireS;
    case ExpiresAtRole: return m.expiresAtMs;
    case ForwardedRole: return m.forwarded;
    case ReactionsRole: {
      QVariantList out;
      QHash<QString, int> at;
      for (const auto& r : m.reactions) {
        auto it = at.find(r.emoji);
        if (it == at.end()) {
          it = at.insert(r.emoji, static_cast<int>(out.size()));
          out << QVariantMap{{"emoji", r.emoji}, {"count", 0}, {"mine", false}, {"who", QStringList()}};
        }
        auto entry = out[*it].toMap();
        entry["count"] = entry["count"].toInt() + 1;
        entry["mine"] = entry["mine"].toBool() || r.reactor == messenger_->username();
        entry["who"] = entry["who"].toStringList() << r.reactor;
        out[*it] = entry;
      }
      return out;
    }
    case AttachmentRole: {
      if (!m.hasAttachment) return {};
      auto it = attachments_.find(m.clientMsgId);
      if (it == attachments_.end()) {
        auto a = messenger_->attachment(m.clientMsgId);
        if (!a) return {};
        it = attachments_.insert(m.clientMsgId, *a);
      }
      return QVariant::fromValue(*it);
    }
    case CaptionRole: {
      if (!m.hasAttachment) return m.body;
      // The stored body of a file message is its caption, or its name when it has none.
      const auto a = data(index, AttachmentRole).value<AttachmentInfo>();
      return m.body == a.fileName ? QString() : m.body;
    }
    case GapBeforeRole: {
      if (m.convSeq < 0 || gaps_.empty()) return 0;
      qint64 prev = 0;
      for (int i = index.row() - 1; i >= 0; --i)
        if (rows_[i].convSeq >= 0) {
          prev = rows_[i].convSeq;
          break;
        }
      if (prev == 0 && !at_start_) return 0;  // what precedes the window is not known here
      const auto from = gaps_.lower_bound(prev + 1);
      const auto to = gaps_.lower_bound(m.convSeq);
      return static_cast<int>(std::distance(from, to));
    }
    default: return {};
  }
}

QHash<int, QByteArray> MessageModel::roleNames() const {
  return {{BodyRole, "body"},         {SenderRole, "sender"},         {OutgoingRole, "outgoing"},
          {StatusRole, "status"},     {ClientTimeRole, "clientTime"}, {ServerTimeRole, "serverTime"},
          {ConvSeqRole, "convSeq"},   {ChainOkRole, "chainOk"},       {ClientMsgIdRole, "clientMsgId"},
          {DeliveredCountRole, "deliveredCount"}, {ReadCountRole, "readCount"},
          {RecipientCountRole, "recipientCount"},
          {MessageIdRole, "messageId"}, {TimeRole, "time"},           {GapBeforeRole, "gapBefore"},
          {HasAttachmentRole, "hasAttachment"}, {AttachmentRole, "attachment"}, {CaptionRole, "caption"},
          {ReplyAuthorRole, "replyAuthor"}, {ReplyFromMeRole, "replyFromMe"},
          {ReplyTextRole, "replyText"}, {ReplyMessageIdRole, "replyMessageId"},
          {ReactionsRole, "reactions"}, {EditedRole, "edited"}, {UnsentRole, "unsent"},
          {ReplyUnsentRole, "replyUnsent"}, {ReplyExpiredRole, "replyExpired"}, {TimerChangeRole, "timerChange"}, {ExpireRole, "expire"},
          {ExpiresAtRole, "expiresAt"}, {ForwardedRole, "forwarded"}};
}

}  // namespace parley::client
