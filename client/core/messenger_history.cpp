// History windows, full-text search and verification: the read side a GUI needs on top of
// the message store (docs/architecture.md, Client core).
#include <QRegularExpression>
#include <QSqlError>
#include <QSqlQuery>
#include <QStringList>
#include <algorithm>

#include "messenger.hpp"

namespace parley::client {
namespace {

// A reply's quoted message is looked up in the same conversation by (sender, id), the
// messages' unique key: its own text when this device has it, the quoted words otherwise.
constexpr const char* kMessageColumns =
    "id, peer, sender, client_msg_id, conv_seq, body, status, client_ts_ms, server_ts_ms, chain_ok,"
    " EXISTS(SELECT 1 FROM attachments a WHERE a.sender = messages.sender"
    " AND a.client_msg_id = messages.client_msg_id),"
    // A quoted message deleted from this device (removed 2) is not here: the quote's words
    // show; one its sender took back (removed 1, or 3 once deleted here too) shows as that,
    // with no words, as does one that disappeared (4).
    " reply_to, reply_author, COALESCE((SELECT q.body FROM messages q WHERE q.sender ="
    " messages.reply_author AND q.client_msg_id = messages.reply_to AND q.peer = messages.peer"
    " AND q.removed < 2), reply_text), (SELECT q.id FROM messages q WHERE q.sender ="
    " messages.reply_author AND q.client_msg_id = messages.reply_to AND q.peer = messages.peer"
    " AND q.removed < 2),"
    // Reactions through their key's index: "reactor<US>emoji" joined by <RS> (neither a
    // username nor an emoji holds a control character).
    " (SELECT group_concat(r.reactor || char(31) || r.emoji, char(30)) FROM reactions r"
    " WHERE r.peer = messages.peer AND r.target_sender = messages.sender AND"
    " r.target_id = messages.client_msg_id AND r.emoji != ''),"
    " edited_ms, removed, (SELECT q.removed FROM messages q WHERE q.sender = messages.reply_author"
    " AND q.client_msg_id = messages.reply_to AND q.peer = messages.peer),"
    " kind, expire_s, expires_at_ms, forwarded, mentions_me";

StoredMessage read_message(const QSqlQuery& q) {
  StoredMessage m;
  m.id = q.value(0).toLongLong();
  m.peer = q.value(1).toString();
  m.sender = q.value(2).toString();
  m.clientMsgId = q.value(3).toByteArray();
  m.convSeq = q.value(4).isNull() ? -1 : q.value(4).toLongLong();
  m.body = q.value(5).toString();
  m.status = static_cast<MessageStatus>(q.value(6).toInt());
  m.clientTsMs = q.value(7).toLongLong();
  m.serverTsMs = q.value(8).toLongLong();
  m.chainOk = q.value(9).toBool();
  m.hasAttachment = q.value(10).toBool();
  if (!q.value(11).isNull()) {
    m.reply.clientMsgId = q.value(11).toByteArray();
    m.reply.author = q.value(12).toString();
    m.reply.text = q.value(13).toString();
    m.reply.messageId = q.value(14).toLongLong();
  }
  m.unsent = q.value(17).toInt() == 1;
  // Taken back, it has no words left whose edit to show.
  m.editedMs = q.value(16).isNull() || m.unsent ? 0 : q.value(16).toLongLong();
  m.reply.unsent = q.value(18).toInt() == 1 || q.value(18).toInt() == 3;
  m.reply.expired = q.value(18).toInt() == 4;
  if (q.value(19).toInt() == 1) m.timerChange = q.value(20).toLongLong();
  else m.expireS = q.value(20).toLongLong();
  m.expiresAtMs = q.value(21).toLongLong();
  m.forwarded = q.value(22).toBool() && !m.unsent;
  m.mentionsMe = q.value(23).toBool() && !m.unsent;
  if (!q.value(15).isNull()) {
    for (const auto& one : q.value(15).toString().split(QChar(30), Qt::SkipEmptyParts)) {
      const auto parts = one.split(QChar(31));
      if (parts.size() == 2) m.reactions.push_back({parts[0], parts[1]});
    }
    std::sort(m.reactions.begin(), m.reactions.end(),
              [](const Reaction& a, const Reaction& b) { return a.reactor < b.reactor; });
  }
  return m;
}

// Each whitespace-separated word becomes a quoted FTS5 string with a prefix star, so that
// user input is never parsed as FTS5 syntax (AND, NEAR, column filters, stray quotes).
QString fts_query(const QString& text) {
  QStringList terms;
  for (auto word : text.split(QRegularExpression(QStringLiteral("\\s+")), Qt::SkipEmptyParts)) {
    word.replace(QLatin1Char('"'), QStringLiteral("\"\""));
    terms << QLatin1Char('"') + word + QStringLiteral("\"*");
  }
  return terms.join(QLatin1Char(' '));
}

}  // namespace

QList<StoredMessage> Messenger::historySlice(const QString& peer, qint64 from_seq,
                                             qint64 before_seq, int limit) {
  QList<StoredMessage> out;
  QSqlQuery q(db_->db());
  // Newest first so LIMIT keeps the newest; reversed below. The (peer, conv_seq) index
  // serves both the range and the order.
  QString sql = QStringLiteral("SELECT %1 FROM messages WHERE peer = ? AND conv_seq >= ? AND removed < 2")
                    .arg(QLatin1String(kMessageColumns));
  if (before_seq >= 0) sql += QStringLiteral(" AND conv_seq < ?");
  sql += QStringLiteral(" ORDER BY conv_seq DESC, id DESC");
  if (limit >= 0) sql += QStringLiteral(" LIMIT ?");
  q.prepare(sql);
  q.addBindValue(peer);
  q.addBindValue(from_seq);
  if (before_seq >= 0) q.addBindValue(before_seq);
  if (limit >= 0) q.addBindValue(limit);
  q.exec();
  while (q.next()) out.push_back(read_message(q));
  std::reverse(out.begin(), out.end());
  if (before_seq < 0) {
    // Our sends the relay has not numbered yet, oldest first, after everything numbered.
    QSqlQuery unnumbered(db_->db());
    unnumbered.prepare(QStringLiteral("SELECT %1 FROM messages WHERE peer = ? AND conv_seq IS NULL AND removed < 2"
                                      " ORDER BY id")
                           .arg(QLatin1String(kMessageColumns)));
    unnumbered.addBindValue(peer);
    unnumbered.exec();
    while (unnumbered.next()) out.push_back(read_message(unnumbered));
  }
  // Every message we sent is on this device (one device per account, and history is kept),
  // so a quote of ours that is not here quotes words we never sent: they are not shown.
  for (auto& m : out)
    if (m.reply.messageId == 0 && m.reply.author == profile_.username) m.reply.text.clear();
  return out;
}

namespace {

// The message of `peer` matching `where` (with `binds`), as Messenger::message returns it.
std::optional<StoredMessage> one_message(QSqlDatabase& db, const QString& me, const QString& where,
                                         const QVariantList& binds, const QString& peer) {
  QSqlQuery q(db);
  q.prepare(QStringLiteral("SELECT %1 FROM messages WHERE %2 AND peer = ? AND removed < 2")
                .arg(QLatin1String(kMessageColumns), where));
  for (const auto& b : binds) q.addBindValue(b);
  q.addBindValue(peer);
  if (!q.exec() || !q.next()) return std::nullopt;
  auto m = read_message(q);
  if (m.reply.messageId == 0 && m.reply.author == me) m.reply.text.clear();  // as historySlice
  return m;
}

}  // namespace

std::optional<StoredMessage> Messenger::message(const QString& peer, qint64 id) {
  return one_message(db_->db(), profile_.username, QStringLiteral("id = ?"), {id}, peer);
}

std::optional<StoredMessage> Messenger::message(const QString& peer, const QString& sender,
                                                const QByteArray& client_msg_id) {
  return one_message(db_->db(), profile_.username, QStringLiteral("sender = ? AND client_msg_id = ?"),
                     {sender, client_msg_id}, peer);
}

QList<SearchHit> Messenger::search(const QString& text, int limit, QString* error) {
  QList<SearchHit> out;
  const auto match = fts_query(text);
  if (match.isEmpty()) return out;
  QSqlQuery q(db_->db());
  q.prepare(QStringLiteral(
      "SELECT m.id, m.peer, m.sender, m.conv_seq, COALESCE(m.server_ts_ms, m.client_ts_ms),"
      " snippet(messages_fts, 0, char(2), char(3), '…', 16)"
      " FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid"
      " WHERE messages_fts MATCH ? ORDER BY m.id DESC LIMIT ?"));
  q.addBindValue(match);
  q.addBindValue(limit);
  if (!q.exec()) {
    *error = QStringLiteral("search failed: %1").arg(q.lastError().text());
    return out;
  }
  while (q.next()) {
    SearchHit h;
    h.messageId = q.value(0).toLongLong();
    h.peer = q.value(1).toString();
    h.sender = q.value(2).toString();
    h.convSeq = q.value(3).isNull() ? -1 : q.value(3).toLongLong();
    h.timeMs = q.value(4).toLongLong();
    h.snippet = q.value(5).toString();
    out.push_back(std::move(h));
  }
  return out;
}

bool Messenger::setVerified(const QString& peer, bool verified, QString* error) {
  QSqlQuery q(db_->db());
  // Only the key we hold now: a pending (changed) key must be accepted before it can be
  // verified, so a verification never silently carries over to a new key.
  q.prepare("UPDATE contacts SET verified = ? WHERE username = ? AND identity_key IS NOT NULL"
            " AND pending_identity_key IS NULL");
  q.addBindValue(verified ? 1 : 0);
  q.addBindValue(peer);
  if (!q.exec()) {
    *error = q.lastError().text();
    return false;
  }
  if (q.numRowsAffected() == 0) {
    *error = identityKeyChanged(peer)
                 ? QStringLiteral("%1's identity key changed: accept the new key first").arg(peer)
                 : QStringLiteral("no identity key for %1 yet: exchange a message first").arg(peer);
    return false;
  }
  emit verificationChanged(peer, verified);
  return true;
}

bool Messenger::isVerified(const QString& peer) {
  QSqlQuery q(db_->db());
  q.prepare("SELECT verified FROM contacts WHERE username = ? AND pending_identity_key IS NULL");
  q.addBindValue(peer);
  return q.exec() && q.next() && q.value(0).toInt() == 1;
}

}  // namespace parley::client
