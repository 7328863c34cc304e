// What we know of who has our group messages: the members the relay's delivery marks cover
// (group_receipts, sync/delivery_marks.cpp) and end-to-end read receipts (group_reads), each
// with the relay's time; the counts are of the members each message went to, as its ticks'.
#include <QSqlQuery>
#include <QVariant>
#include <algorithm>
#include <utility>

#include "messenger.hpp"
#include "sync/group_ticks.hpp"

namespace parley::client {

ReceiptCounts Messenger::receiptsOf(const QByteArray& group_id, const QByteArray& client_msg_id) {
  return group_ticks::count(db_->db(), profile_.username, group_id, client_msg_id, std::nullopt)
      .value_or(ReceiptCounts{0, 0, 0});
}

int Messenger::readCount(const QByteArray& group_id, const QByteArray& client_msg_id) {
  return receiptsOf(group_id, client_msg_id).read;
}

int Messenger::deliveredCount(const QByteArray& group_id, const QByteArray& client_msg_id) {
  return receiptsOf(group_id, client_msg_id).delivered;
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
  auto& db = db_->db();
  // M per message from the members' join seqs, sorted once: the members who joined before
  // its seq, found by a binary search rather than a count per message.
  QList<qint64> joined;
  QSqlQuery j(db);
  j.prepare("SELECT joined_seq FROM group_members WHERE group_id = ? AND username != ? ORDER BY joined_seq");
  j.addBindValue(group_id);
  j.addBindValue(profile_.username);
  if (!j.exec()) return out;
  while (j.next()) joined << j.value(0).toLongLong();
  QSqlQuery m(db);
  m.prepare("SELECT client_msg_id, conv_seq FROM messages WHERE peer = ? AND sender = ? AND conv_seq IS NOT NULL");
  m.addBindValue(groupPeer(group_id));
  m.addBindValue(profile_.username);
  if (!m.exec()) return out;
  while (m.next())
    out[m.value(0).toByteArray()].of = static_cast<int>(
        std::lower_bound(joined.begin(), joined.end(), m.value(1).toLongLong()) - joined.begin());
  // Read, and delivered (a mark or a read), by the members each went to.
  for (const bool reads : {false, true}) {
    QSqlQuery q(db);
    q.prepare(QStringLiteral("SELECT r.client_msg_id, COUNT(*) FROM (%1) r JOIN group_members g ON"
                             " g.group_id = :g AND g.username = r.member JOIN messages m ON"
                             " m.sender = :me AND m.client_msg_id = r.client_msg_id"
                             " WHERE %2 GROUP BY r.client_msg_id")
                  .arg(reads ? QStringLiteral("SELECT client_msg_id, member FROM group_reads WHERE group_id = :g")
                             : QStringLiteral("SELECT client_msg_id, member FROM group_receipts WHERE group_id = :g"
                                              " UNION SELECT client_msg_id, member FROM group_reads WHERE group_id = :g"),
                       group_ticks::went_to(QStringLiteral("m.conv_seq"), QStringLiteral(":me"))));
    q.bindValue(QStringLiteral(":me"), profile_.username);
    q.bindValue(QStringLiteral(":g"), group_id);
    if (!q.exec()) continue;
    while (q.next()) (reads ? out[q.value(0).toByteArray()].read : out[q.value(0).toByteArray()].delivered) = q.value(1).toInt();
  }
  return out;
}

QList<MemberReceipt> Messenger::receiptDetails(const QByteArray& group_id,
                                               const QByteArray& client_msg_id) {
  QList<MemberReceipt> out;
  QSqlQuery q(db_->db());
  // A read receipt implies delivery even when the relay's mark has not arrived yet.
  // The members it went to (a member who joined after it never gets it), and anyone who
  // had it or read it, member or not.
  q.prepare(QStringLiteral(
      "WITH who(member) AS ("
      "  SELECT username FROM group_members g WHERE group_id = :g AND %1"
      "  UNION SELECT member FROM group_receipts WHERE group_id = :g AND client_msg_id = :m"
      "  UNION SELECT member FROM group_reads WHERE group_id = :g AND client_msg_id = :m)"
      " SELECT w.member, COALESCE(d.at_ms, r.at_ms, 0), COALESCE(r.at_ms, 0),"
      "  r.member IS NOT NULL, d.member IS NOT NULL OR r.member IS NOT NULL"
      " FROM who w"
      " LEFT JOIN group_receipts d ON d.group_id = :g AND d.client_msg_id = :m AND d.member = w.member"
      " LEFT JOIN group_reads r ON r.group_id = :g AND r.client_msg_id = :m AND r.member = w.member"
      " ORDER BY 4 DESC, 5 DESC, w.member")
                .arg(group_ticks::went_to(group_ticks::seq_of(QStringLiteral(":m"), QStringLiteral(":me")),
                                          QStringLiteral(":me"))));
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

void Messenger::announceTicks(const QString& peer, const QList<QPair<QByteArray, MessageStatus>>& moved) {
  if (moved.isEmpty()) return;
  if (tick_news_.isEmpty()) QMetaObject::invokeMethod(this, &Messenger::flushTicks, Qt::QueuedConnection);
  for (const auto& [id, now] : moved) tick_news_.append({peer, id, now});
}

void Messenger::flushTicks() {
  const auto news = std::exchange(tick_news_, {});
  if (!db_) return;
  for (const auto& n : news) {
    QSqlQuery q(db_->db());
    q.prepare("SELECT status FROM messages WHERE sender = ? AND client_msg_id = ?");
    q.addBindValue(profile_.username);
    q.addBindValue(n.client_msg_id);
    if (q.exec() && q.next() && q.value(0).toInt() == static_cast<int>(n.status))
      emit messageStatusChanged(n.peer, n.client_msg_id, static_cast<int>(n.status));
  }
}

}  // namespace parley::client
