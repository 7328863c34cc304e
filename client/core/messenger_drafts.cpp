// What the user was writing in a chat and has not sent: kept in the conversation's row on
// this device, so it is there again after switching chats or restarting, and shown in the
// chat list. Like the chat settings it never leaves the device.
#include <QSqlError>
#include <QSqlQuery>
#include <QVariant>
#include <algorithm>

#include "messenger.hpp"

namespace parley::client {

bool Messenger::setDraft(const QString& peer, const Draft& draft, QString* error) {
  if (draft.text.size() > kMaxDraftChars) {
    *error = QStringLiteral("a draft holds at most %1 characters").arg(kMaxDraftChars);
    return false;
  }
  if (!chatSettingTarget(peer, error).has_value()) return false;
  // Only spaces and no reply is nothing kept: the list would show an empty draft.
  const QString text = draft.text.trimmed().isEmpty() ? QString() : draft.text;
  // The message a reply answers is looked for when the draft is read (draft()): it may be
  // deleted meanwhile, so a stored id is only a candidate.
  const qint64 reply_to = std::max<qint64>(draft.replyTo, 0);
  QSqlQuery q(db_->db());
  q.prepare("UPDATE conversations SET draft = :text, draft_reply_to = :reply"
            " WHERE peer = :peer AND (draft IS NOT :text OR draft_reply_to IS NOT :reply)");
  q.bindValue(QStringLiteral(":text"), text.isNull() ? QStringLiteral("") : text);
  q.bindValue(QStringLiteral(":reply"), reply_to);
  q.bindValue(QStringLiteral(":peer"), peer);
  if (!q.exec()) {
    *error = q.lastError().text();
    return false;
  }
  if (q.numRowsAffected() > 0) emit draftChanged(peer);
  return true;
}

Draft Messenger::draft(const QString& peer) {
  QSqlQuery q(db_->db());
  // A reply whose message has gone since (deleted, disappeared) is no longer one.
  q.prepare("SELECT c.draft, COALESCE(m.id, 0) FROM conversations c"
            " LEFT JOIN messages m ON m.id = c.draft_reply_to AND m.peer = c.peer AND m.removed = 0"
            " WHERE c.peer = ?");
  q.addBindValue(peer);
  if (!q.exec() || !q.next()) return {};
  return {q.value(0).toString(), q.value(1).toLongLong()};
}

}  // namespace parley::client
