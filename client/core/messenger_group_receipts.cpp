// What we know of who has our group messages: the members the relay's delivery marks cover
// (group_receipts, sync/delivery_marks.cpp) and end-to-end read receipts (group_reads), each
// with the relay's time.
#include <QSqlQuery>
#include <QVariant>
#include <algorithm>

#include "messenger.hpp"

namespace parley::client {

int Messenger::readCount(const QByteArray& group_id, const QByteArray& client_msg_id) {
  QSqlQuery q(db_->db());
  q.prepare("SELECT COUNT(*) FROM group_reads WHERE group_id = ? AND client_msg_id = ?");
  q.addBindValue(group_id);
  q.addBindValue(client_msg_id);
  return q.exec() && q.next() ? q.value(0).toInt() : 0;
}

int Messenger::deliveredCount(const QByteArray& group_id, const QByteArray& client_msg_id) {
  QSqlQuery q(db_->db());
  q.prepare("SELECT COUNT(*) FROM group_receipts WHERE group_id = ? AND client_msg_id = ?");
  q.addBindValue(group_id);
  q.addBindValue(client_msg_id);
  return q.exec() && q.next() ? q.value(0).toInt() : 0;
}

int Messenger::recipientCount(const QByteArray& group_id) {
  QSqlQuery q(db_->db());
  q.prepare("SELECT COUNT(*) FROM group_members WHERE group_id = ? AND username != ?");
  q.addBindValue(group_id);
  q.addBindValue(profile_.username);
  return q.exec() && q.next() ? q.value(0).toInt() : 0;
}

QHash<QByteArray, ReceiptCounts> Messenger::receiptCounts(const QByteArray& group_id) {
  QHash<QByteArray, ReceiptCounts> out;
  QSqlQuery q(db_->db());
  q.prepare("SELECT client_msg_id, COUNT(*) FROM group_receipts WHERE group_id = ? GROUP BY client_msg_id");
  q.addBindValue(group_id);
  if (q.exec())
    while (q.next()) out[q.value(0).toByteArray()].delivered = q.value(1).toInt();
  q.prepare("SELECT client_msg_id, COUNT(*) FROM group_reads WHERE group_id = ? GROUP BY client_msg_id");
  q.addBindValue(group_id);
  if (q.exec())
    while (q.next()) out[q.value(0).toByteArray()].read = q.value(1).toInt();
  return out;
}

QList<MemberReceipt> Messenger::receiptDetails(const QByteArray& group_id,
                                               const QByteArray& client_msg_id) {
  QList<MemberReceipt> out;
  QSqlQuery q(db_->db());
  // A read receipt implies delivery even when the relay's mark has not arrived yet.
  q.prepare(
      "WITH who(member) AS ("
      "  SELECT username FROM group_members WHERE group_id = :g AND username != :me"
      "  UNION SELECT member FROM group_receipts WHERE group_id = :g AND client_msg_id = :m"
      "  UNION SELECT member FROM group_reads WHERE group_id = :g AND client_msg_id = :m)"
      " SELECT w.member, COALESCE(d.at_ms, r.at_ms, 0), COALESCE(r.at_ms, 0),"
      "  r.member IS NOT NULL, d.member IS NOT NULL OR r.member IS NOT NULL"
      " FROM who w"
      " LEFT JOIN group_receipts d ON d.group_id = :g AND d.client_msg_id = :m AND d.member = w.member"
      " LEFT JOIN group_reads r ON r.group_id = :g AND r.client_msg_id = :m AND r.member = w.member"
      " ORDER BY 4 DESC, 5 DESC, w.member");
  q.bindValue(":g", group_id);
  q.bindValue(":m", client_msg_id);
  q.bindValue(":me", profile_.username);
  if (!q.exec()) return out;
  while (q.next()) {
    MemberReceipt r{q.value(0).toString(), q.value(1).toLongLong(), q.value(2).toLongLong()};
    // Receipts written before schema 4 have no time: still delivered/read, shown as 1 ms.
    if (q.value(4).toBool() && r.deliveredMs == 0) r.deliveredMs = 1;
    if (q.value(3).toBool() && r.readMs == 0) r.readMs = 1;
    // The relay's mark can be stamped after the read receipt (acks are batched); having
    // been read, it was delivered by then.
    if (r.readMs > 0) r.deliveredMs = std::min(r.deliveredMs, r.readMs);
    out << r;
  }
  return out;
}

}  // namespace parley::client
