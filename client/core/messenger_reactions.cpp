// Reactions: one emoji per person per message, end-to-end encrypted like any content
// (a pairwise REACTION, or one inside the group's sender-key ciphertext), never shown as a
// message of its own. Each person's newest reaction to a message wins, by their own clock:
// only they can move it, and a reaction delayed behind a newer one must not undo it.
#include <QDateTime>
#include <QSqlQuery>
#include <QStringDecoder>
#include <QVariant>

#include "e2e.pb.h"
#include "messenger.hpp"
#include "messenger_internal.hpp"
#include "parley/username.hpp"
#include "util/bytes.hpp"

namespace parley::client {
namespace detail {

QString reaction_problem(const std::string& client_msg_id, const std::string& author,
                         const std::string& emoji) {
  if (client_msg_id.size() != 16) return QStringLiteral("its message id is not 16 bytes");
  QStringDecoder decode(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
  const QString name = decode(QByteArrayView(author.data(), static_cast<qsizetype>(author.size())));
  if (decode.hasError() || author.empty() || fold_username(author) != author)
    return QStringLiteral("its author is not a username");
  if (emoji.size() > static_cast<std::size_t>(kMaxReactionBytes))
    return QStringLiteral("its emoji is longer than %1 bytes").arg(kMaxReactionBytes);
  QStringDecoder decode_emoji(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
  const QString text = decode_emoji(QByteArrayView(emoji.data(), static_cast<qsizetype>(emoji.size())));
  if (decode_emoji.hasError()) return QStringLiteral("its emoji is not UTF-8");
  // Invisible format characters (zero-width space, bidi controls) would make reactions that
  // look alike count apart; the joiner that builds emoji sequences stays allowed.
  for (const auto c : text)
    if (c.category() == QChar::Other_Control || c.isSpace() ||
        (c.category() == QChar::Other_Format && c.unicode() != 0x200D))
      return QStringLiteral("its emoji holds control characters or spaces");
  return {};
}

}  // namespace detail

bool Messenger::saveReaction(const QString& peer, const QString& target_sender, const QByteArray& target_id,
                             const QString& reactor, const QString& emoji, qint64 at_ms) {
  // Only for a message this device has (or, in a group, one waiting for its sender's key):
  // a reaction to anything else shows nowhere, and keeping it would let anyone grow this
  // table without bound with reactions to made-up ids.
  QSqlQuery q(db_->db());
  q.prepare("INSERT INTO reactions(peer, target_sender, target_id, reactor, emoji, at_ms)"
            " SELECT :peer, :sender, :id, :reactor, :emoji, :at WHERE EXISTS(SELECT 1 FROM messages"
            " WHERE sender = :sender AND client_msg_id = :id AND peer = :peer AND removed = 0 AND kind = 0) OR EXISTS(SELECT 1"
            " FROM pending_group_messages WHERE sender = :sender AND client_msg_id = :id AND"
            " '#' || lower(hex(group_id)) = :peer)"
            " ON CONFLICT(peer, target_sender, target_id, reactor)"
            " DO UPDATE SET emoji = excluded.emoji, at_ms = excluded.at_ms"
            " WHERE excluded.at_ms >= reactions.at_ms");
  q.bindValue(QStringLiteral(":peer"), peer);
  q.bindValue(QStringLiteral(":sender"), target_sender);
  q.bindValue(QStringLiteral(":id"), target_id);
  q.bindValue(QStringLiteral(":reactor"), reactor);
  q.bindValue(QStringLiteral(":emoji"), emoji.isNull() ? QStringLiteral("") : emoji);  // null binds NULL
  q.bindValue(QStringLiteral(":at"), at_ms);
  if (!q.exec()) return false;
  if (q.numRowsAffected() > 0)
    QMetaObject::invokeMethod(this, [this, peer, target_sender, target_id] {
      emit reactionsChanged(peer, target_sender, target_id);
    }, Qt::QueuedConnection);
  return true;
}

bool Messenger::storeReaction(const QString& peer, const QString& reactor, const e2e::Content& content,
                              const QStringList& parties) {
  const auto& r = content.reaction();
  auto why = detail::reaction_problem(r.client_msg_id(), r.author(), r.emoji());
  const auto author = QString::fromUtf8(r.author());
  if (why.isEmpty() && !parties.isEmpty() && !parties.contains(author))
    why = QStringLiteral("it names someone outside this conversation");
  if (!why.isEmpty()) {
    QMetaObject::invokeMethod(this, [this, reactor, why] {
      emit problem(QStringLiteral("%1 sent a reaction that cannot be used (%2); ignored").arg(reactor, why));
    }, Qt::QueuedConnection);
    return true;  // handled: nothing to keep
  }
  return saveReaction(peer, author, qbytes(r.client_msg_id()), reactor, QString::fromUtf8(r.emoji()),
                      static_cast<qint64>(std::min<std::uint64_t>(content.client_ts_ms(), INT64_MAX)));
}

bool Messenger::react(const QString& peer, qint64 message_id, const QString& emoji, QString* error) {
  QSqlQuery q(db_->db());
  q.prepare("SELECT sender, client_msg_id FROM messages WHERE id = ? AND peer = ? AND conv_seq IS NOT NULL"
            " AND removed = 0 AND kind = 0");
  q.addBindValue(message_id);
  q.addBindValue(peer);
  if (!q.exec() || !q.next()) {
    *error = QStringLiteral("the message to react to is not in this conversation, not sent yet, or deleted");
    return false;
  }
  const auto author = q.value(0).toString();
  const auto target = q.value(1).toByteArray();
  const auto utf8 = emoji.toUtf8();
  if (const auto why = detail::reaction_problem(sbytes(target), author.toStdString(), utf8.toStdString());
      !why.isEmpty()) {
    *error = QStringLiteral("not a reaction: %1").arg(why.mid(4));  // "its emoji …" → "emoji …"
    return false;
  }
  // Newer than our last reaction to it even if the clock went back meanwhile, or the change
  // would lose to it here and everywhere; the enqueue keeps this time on what it sends.
  qint64 at = QDateTime::currentMSecsSinceEpoch();
  QSqlQuery last(db_->db());
  last.prepare("SELECT at_ms FROM reactions WHERE peer = ? AND target_sender = ? AND target_id = ? AND reactor = ?");
  last.addBindValue(peer);
  last.addBindValue(author);
  last.addBindValue(target);
  last.addBindValue(profile_.username);
  if (last.exec() && last.next()) at = std::max(at, last.value(0).toLongLong() + 1);
  e2e::Content content;
  content.set_type(e2e::REACTION);
  content.set_client_ts_ms(static_cast<std::uint64_t>(at));
  auto* r = content.mutable_reaction();
  r->set_client_msg_id(sbytes(target));
  r->set_author(author.toStdString());
  r->set_emoji(utf8.toStdString());
  const bool queued = peer.startsWith(QLatin1Char('#'))
                          ? enqueueGroup(groupIdOf(peer), std::move(content), {}, error)
                                .has_value()
                          : enqueue(peer, std::move(content), error).has_value();
  if (!queued) return false;
  if (!db_->transaction([&] { return saveReaction(peer, author, target, profile_.username, QString::fromUtf8(utf8), at); })) {
    *error = QStringLiteral("the reaction was sent but could not be stored on this device");
    return false;
  }
  return true;
}

}  // namespace parley::client
