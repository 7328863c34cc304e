#include "sync/group_ticks.hpp"

#include <QSqlQuery>
#include <QVariant>

namespace parley::client::group_ticks {

QString went_to(const QString& seq_expr, const QString& me_param) {
  return QStringLiteral("g.username != %1 AND g.joined_seq < %2").arg(me_param, seq_expr);
}

QString seq_of(const QString& id_param, const QString& me_param) {
  return QStringLiteral("COALESCE((SELECT conv_seq FROM messages WHERE sender = %1 AND client_msg_id = %2),"
                        " 9223372036854775807)")
      .arg(me_param, id_param);
}

std::optional<ReceiptCounts> count(QSqlDatabase& db, const QString& me, const QByteArray& group_id,
                                   const QByteArray& client_msg_id, std::optional<qint64> seq) {
  // The members it went to; of them, those who have read it, and those who have it (a read
  // says so too, when the relay's mark is still on its way). One index range each.
  const auto seq_sql = seq ? QStringLiteral(":seq") : seq_of(QStringLiteral(":id"), QStringLiteral(":me"));
  QSqlQuery q(db);
  q.prepare(QStringLiteral(
      "SELECT COUNT(*), COALESCE(SUM(EXISTS(SELECT 1 FROM group_reads r WHERE r.group_id = g.group_id"
      "  AND r.client_msg_id = :id AND r.member = g.username)), 0),"
      " COALESCE(SUM(EXISTS(SELECT 1 FROM group_receipts r WHERE r.group_id = g.group_id"
      "  AND r.client_msg_id = :id AND r.member = g.username) OR EXISTS(SELECT 1 FROM group_reads r"
      "  WHERE r.group_id = g.group_id AND r.client_msg_id = :id AND r.member = g.username)), 0)"
      " FROM group_members g WHERE g.group_id = :gid AND %1")
                .arg(went_to(seq_sql, QStringLiteral(":me"))));
  q.bindValue(QStringLiteral(":gid"), group_id);
  q.bindValue(QStringLiteral(":me"), me);
  q.bindValue(QStringLiteral(":id"), client_msg_id);
  if (seq) q.bindValue(QStringLiteral(":seq"), *seq);
  if (!q.exec() || !q.next()) return std::nullopt;
  ReceiptCounts out;
  out.of = q.value(0).toInt();
  out.read = q.value(1).toInt();
  out.delivered = q.value(2).toInt();
  return out;
}

std::optional<MessageStatus> settle(QSqlDatabase& db, const QString& me, const QByteArray& group_id,
                                    const QByteArray& client_msg_id, bool* ok, Moves moves) {
  *ok = false;
  const auto peer = Messenger::groupPeer(group_id);
  QSqlQuery m(db);
  m.prepare("SELECT status, conv_seq FROM messages WHERE peer = ? AND sender = ? AND client_msg_id = ?");
  m.addBindValue(peer);
  m.addBindValue(me);
  m.addBindValue(client_msg_id);
  if (!m.exec()) return std::nullopt;
  *ok = true;
  // Queued or failed: nothing has reached anyone; read (unless regraded): nothing more to earn.
  if (!m.next() || m.value(1).isNull()) return std::nullopt;
  const int status = m.value(0).toInt();
  if (status < static_cast<int>(MessageStatus::Sent) ||
      (moves == Moves::Forward && status >= static_cast<int>(MessageStatus::Read)))
    return std::nullopt;
  const qint64 seq = m.value(1).toLongLong();
  const auto c = count(db, me, group_id, client_msg_id, seq);
  if (!c) {
    *ok = false;
    return std::nullopt;
  }
  // No one it went to is left: there is no one whose receipt could complete it.
  if (c->of <= 0) return std::nullopt;
  const auto earned = c->read >= c->of        ? MessageStatus::Read
                      : c->delivered >= c->of ? MessageStatus::Delivered
                                              : MessageStatus::Sent;
  if (static_cast<int>(earned) == status ||
      (moves == Moves::Forward && static_cast<int>(earned) < status))
    return std::nullopt;
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
                                                                const QByteArray& group_id,
                                                                qint64 after_seq, Moves moves) {
  const auto peer = Messenger::groupPeer(group_id);
  QSqlQuery q(db);
  // Through the (peer, conv_seq) index, over a bounded stretch of the newest seqs whoever
  // wrote them: a group where we rarely write has few of ours among many.
  q.prepare("SELECT client_msg_id FROM messages WHERE peer = :peer AND sender = :me AND"
            " status BETWEEN :sent AND :top AND conv_seq > :after AND conv_seq >"
            " (SELECT COALESCE(MAX(conv_seq), 0) FROM messages WHERE peer = :peer) - :span");
  q.bindValue(QStringLiteral(":peer"), peer);
  q.bindValue(QStringLiteral(":me"), me);
  q.bindValue(QStringLiteral(":sent"), static_cast<int>(MessageStatus::Sent));
  // Read ones can only move when regraded.
  q.bindValue(QStringLiteral(":top"), static_cast<int>(moves == Moves::Regrade ? MessageStatus::Read
                                                                               : MessageStatus::Delivered));
  q.bindValue(QStringLiteral(":span"), kResettleSeqs);
  q.bindValue(QStringLiteral(":after"), after_seq);
  if (!q.exec()) return std::nullopt;
  QList<QByteArray> ids;
  while (q.next()) ids << q.value(0).toByteArray();
  QList<QPair<QByteArray, MessageStatus>> moved;
  for (const auto& id : ids) {
    bool ok = true;
    if (const auto s = settle(db, me, group_id, id, &ok, moves)) moved.append({id, *s});
    if (!ok) return std::nullopt;
  }
  return moved;
}

}  // namespace parley::client::group_ticks
