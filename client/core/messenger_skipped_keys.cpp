// Skipped message keys past their age (crypto/skipped_key_age.hpp) leave every stored ratchet
// session and sender key, not only those a message opens: a conversation that went quiet
// would otherwise keep its keys until its next message, which may never come. Copies of our
// own sender keys kept to send again leave after a week, in the same daily run.
#include <QDateTime>
#include <QSqlError>
#include <QSqlQuery>
#include <QVariant>

#include <optional>

#include "crypto/ratchet.hpp"
#include "crypto/sender_key.hpp"
#include "messenger.hpp"
#include "messenger_internal.hpp"
#include "store/rewrite_states.hpp"

namespace parley::client {

using detail::kResendCopyKeptMs;

void Messenger::expireSkippedKeysIfDue() {
  constexpr qint64 kDayMs = 24LL * 3600 * 1000;
  auto& db = db_->db();
  const auto now = QDateTime::currentMSecsSinceEpoch();
  QSqlQuery last(db);
  last.exec("SELECT value FROM settings WHERE key = 'skipped_keys_expired_ms'");
  if (last.next() && now - last.value(0).toLongLong() < kDayMs &&
      now >= last.value(0).toLongLong())
    return;
  const auto now_ms = static_cast<std::uint64_t>(now);
  QString error;
  const bool ok = db_->transaction([&] {
    QSqlQuery mark(db);
    mark.prepare("INSERT OR REPLACE INTO settings(key, value) VALUES('skipped_keys_expired_ms', ?)");
    mark.addBindValue(now);
    // Copies of our sender keys kept to send a member again (answerSenderKeyRequest) keep an
    // early step of the chain: not for longer than a week.
    QSqlQuery kept(db);
    kept.prepare("UPDATE group_members SET key_sent_distribution = NULL WHERE key_sent_distribution"
                 " IS NOT NULL AND key_sent_ms < ?");
    kept.addBindValue(now - kResendCopyKeptMs);
    return kept.exec() && rewrite_states(db, "sessions", [now_ms](crypto::ByteView bytes) {
             auto s = crypto::RatchetSession::deserialize(bytes);
             return s && s->expire_skipped(now_ms) ? std::optional(s->serialize()) : std::nullopt;
           }, &error) &&
           rewrite_states(db, "sender_keys", [now_ms](crypto::ByteView bytes) {
             auto r = crypto::SenderKeyReceiver::deserialize(bytes);
             return r && r->expire_skipped(now_ms) ? std::optional(r->serialize()) : std::nullopt;
           }, &error) &&
           mark.exec();
  });
  if (!ok)
    emit problem(QStringLiteral("could not drop expired message keys (tried again within the "
                                "hour): %1")
                     .arg(error.isEmpty() ? db.lastError().text() : error));
}

}  // namespace parley::client
