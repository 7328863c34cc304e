#include "sync/group_ticks.hpp"

#include <QSqlQuery>
#include <QVariant>
#include <algorithm>

namespace parley::client::group_ticks {

std::optional<MessageStatus> settle(QSqlDatabase& db, const QString& me, const QByteArray& group_id,
                                    const QByteArray& client_msg_id, bool* ok) {
  *ok = true;
  const auto peer = Messenger::groupPeer(group_id);
  QSqlQuery q(db);
  // Receipts count only from current members; a member holds one row in each table.
  q.prepare(
      "SELECT m.status, m.recipients,"
      " (SELECT COUNT(*) FROM group_members WHERE group_id = :gid AND username != :me),"
      " (SELECT COUNT(*) FROM group_receipts r JOIN group_members g ON g.group_id = r.group_id"
      "  AND g.username = r.member WHERE r.group_id = :gid AND r.client_msg_id = :id),"
      " (SELECT COUNT(*) FROM group_reads r JOIN group_members g ON g.group_id = r.group_id"
      "  AND g.username = r.member WHERE r.group_id = :gid AND r.client_msg_id = :id)"
      " FROM messages m WHERE m.peer = :peer AND m.sender = :me AND m.client_msg_id = :id");
  q.bindValue(QStringLiteral(":gid"), group_id);
  q.bindValue(QStringLiteral(":me"), me);
  q.bindValue(QStringLiteral(":id"), client_msg_id);
  q.bindValue(QStringLiteral(":peer"), peer);
  if (!q.exec()) {
    *ok = false;
    return std::nullopt;
  }
  if (!q.next()) return std::nullopt;
  const int status = q.value(0).toInt();
  const qint64 now_members = q.value(2).toLongLong();
  const qint64 every = q.value(1).isNull() ? now_members : std::min(q.value(1).toLongLong(), now_members);
  const qint64 delivered = q.value(3).toLongLong();
  const qint64 read = q.value(4).toLongLong();
  // Queued or failed: nothing has reached anyone. No one left to count: nothing to earn.
  if (status < static_cast<int>(MessageStatus::Sent) || every <= 0) return std::nullopt;
  const auto earned = read >= every        ? MessageStatus::Read
                      : delivered >= every ? MessageStatus::Delivered
                                           : MessageStatus::Sent;
  if (static_cast<int>(earned) <= status) return std::nullopt;
  QSqlQuery up(db);
  up.prepare("UPDATE messages SET status = ? WHERE peer = ? AND sender = ? AND client_msg_id = ?");
  up.addBindValue(static_cast<int>(earned));
  up.addBindValue(peer);
  up.addBindValue(me);
  up.addBindValue(client_msg_id);
  if (!up.exec()) {
    *ok = false;
    return std::nullopt;
  }
  return earned;
}

std::optional<QList<QPair<QByteArray, MessageStatus>>> resettle(QSqlDatabase& db, const QString& me,
                                                                const QByteArray& group_id) {
  QSqlQuery q(db);
  q.prepare("SELECT client_msg_id FROM messages WHERE peer = ? AND sender = ? AND status IN (?, ?)"
            " ORDER BY conv_seq DESC LIMIT ?");
  q.addBindValue(Messenger::groupPeer(group_id));
  q.addBindValue(me);
  q.addBindValue(static_cast<int>(MessageStatus::Sent));
  q.addBindValue(static_cast<int>(MessageStatus::Delivered));
  q.addBindValue(kResettleLimit);
  if (!q.exec()) return std::nullopt;
  QList<QByteArray> ids;
  while (q.next()) ids << q.value(0).toByteArray();
  QList<QPair<QByteArray, MessageStatus>> moved;
  for (const auto& id : ids) {
    bool ok = true;
    if (const auto s = settle(db, me, group_id, id, &ok)) moved.append({id, *s});
    if (!ok) return std::nullopt;
  }
  return moved;
}

}  // namespace parley::client::group_ticks
