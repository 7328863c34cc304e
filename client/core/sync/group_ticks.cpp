#include "sync/group_ticks.hpp"

#include <QSqlQuery>
#include <QVariant>

namespace parley::client::group_ticks {

QString went_to(const QString& seq_expr, const QString& me_param) {
  return QStringLiteral("g.username != %1 AND g.joined_seq < %2").arg(me_param, seq_expr);
}

std::optional<MessageStatus> settle(QSqlDatabase& db, const QString& me, const QByteArray& group_id,
                                    const QByteArray& client_msg_id, bool* ok) {
  *ok = false;
  const auto peer = Messenger::groupPeer(group_id);
  QSqlQuery m(db);
  m.prepare("SELECT status, conv_seq FROM messages WHERE peer = ? AND sender = ? AND client_msg_id = ?");
  m.addBindValue(peer);
  m.addBindValue(me);
  m.addBindValue(client_msg_id);
  if (!m.exec()) return std::nullopt;
  *ok = true;
  // Queued or failed: nothing has reached anyone; read: nothing more to earn.
  if (!m.next() || m.value(1).isNull()) return std::nullopt;
  const int status = m.value(0).toInt();
  if (status < static_cast<int>(MessageStatus::Sent) || status >= static_cast<int>(MessageStatus::Read))
    return std::nullopt;
  const qint64 seq = m.value(1).toLongLong();
  const auto members = went_to(QStringLiteral(":seq"), QStringLiteral(":me"));
  // Each of the three counts walks one index range: the group's members, and the message's
  // rows in group_reads and group_receipts, each checked against the members.
  QSqlQuery q(db);
  q.prepare(QStringLiteral(
      "SELECT (SELECT COUNT(*) FROM group_members g WHERE g.group_id = :gid AND %1),"
      " (SELECT COUNT(*) FROM group_reads r JOIN group_members g ON g.group_id = r.group_id"
      "  AND g.username = r.member WHERE r.group_id = :gid AND r.client_msg_id = :id AND %1),"
      " (SELECT COUNT(*) FROM group_receipts r JOIN group_members g ON g.group_id = r.group_id"
      "  AND g.username = r.member WHERE r.group_id = :gid AND r.client_msg_id = :id AND %1)")
                .arg(members));
  q.bindValue(QStringLiteral(":gid"), group_id);
  q.bindValue(QStringLiteral(":me"), me);
  q.bindValue(QStringLiteral(":seq"), seq);
  q.bindValue(QStringLiteral(":id"), client_msg_id);
  if (!q.exec() || !q.next()) {
    *ok = false;
    return std::nullopt;
  }
  const qint64 every = q.value(0).toLongLong();
  // No one it went to is left: there is no one whose receipt could complete it.
  if (every <= 0) return std::nullopt;
  const auto earned = q.value(1).toLongLong() >= every   ? MessageStatus::Read
                      : q.value(2).toLongLong() >= every ? MessageStatus::Delivered
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
  const auto peer = Messenger::groupPeer(group_id);
  QSqlQuery q(db);
  // Through the (peer, conv_seq) index, over a bounded stretch of the newest seqs whoever
  // wrote them: a group where we rarely write has few of ours among many.
  q.prepare("SELECT client_msg_id FROM messages WHERE peer = :peer AND sender = :me AND"
            " status IN (:sent, :delivered) AND conv_seq >"
            " (SELECT COALESCE(MAX(conv_seq), 0) FROM messages WHERE peer = :peer) - :span");
  q.bindValue(QStringLiteral(":peer"), peer);
  q.bindValue(QStringLiteral(":me"), me);
  q.bindValue(QStringLiteral(":sent"), static_cast<int>(MessageStatus::Sent));
  q.bindValue(QStringLiteral(":delivered"), static_cast<int>(MessageStatus::Delivered));
  q.bindValue(QStringLiteral(":span"), kResettleSeqs);
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
