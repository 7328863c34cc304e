// Skipped message keys past their age (crypto/skipped_key_age.hpp) leave every stored ratchet
// session and sender key, not only those a message opens: a conversation that went quiet
// would otherwise keep its keys until its next message, which may never come.
#include <QDateTime>
#include <QSqlError>
#include <QSqlQuery>
#include <QVariant>

#include <vector>

#include "crypto/ratchet.hpp"
#include "crypto/sender_key.hpp"
#include "crypto/skipped_key_age.hpp"
#include "messenger.hpp"
#include "util/bytes.hpp"

namespace parley::client {
namespace {

// Rewrites each row of `table` whose state `Expire(bytes, now)` changed, in one transaction.
// Expire returns the new state, or nullopt when nothing expired (or the state is unreadable:
// the paths that use it report that).
template <class Expire>
bool expire_in(Database& db, const char* table, std::uint64_t now_ms, Expire expire) {
  struct Changed {
    qint64 rowid;
    SecretBytes state;
  };
  std::vector<Changed> changed;
  {
    QSqlQuery rows(db.db());
    if (!rows.exec(QStringLiteral("SELECT rowid, state FROM %1").arg(table))) return false;
    while (rows.next())
      if (auto state = expire(view(rows.value(1).toByteArray()), now_ms))
        changed.push_back({rows.value(0).toLongLong(), SecretBytes(std::move(*state))});
  }
  if (changed.empty()) return true;
  return db.transaction([&] {
    for (const auto& c : changed) {
      QSqlQuery save(db.db());
      save.prepare(QStringLiteral("UPDATE %1 SET state = ? WHERE rowid = ?").arg(table));
      save.addBindValue(c.state.get());
      save.addBindValue(c.rowid);
      if (!save.exec()) return false;
    }
    return true;
  });
}

}  // namespace

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
  const bool sessions = expire_in(*db_, "sessions", now_ms, [](crypto::ByteView bytes, std::uint64_t t) {
    auto s = crypto::RatchetSession::deserialize(bytes);
    return s && s->expire_skipped(t) ? std::optional(s->serialize()) : std::nullopt;
  });
  const bool sender_keys = expire_in(*db_, "sender_keys", now_ms, [](crypto::ByteView bytes, std::uint64_t t) {
    auto r = crypto::SenderKeyReceiver::deserialize(bytes);
    return r && r->expire_skipped(t) ? std::optional(r->serialize()) : std::nullopt;
  });
  if (!sessions || !sender_keys) {
    emit problem(QStringLiteral("could not drop expired message keys: %1").arg(db.lastError().text()));
    return;
  }
  QSqlQuery mark(db);
  mark.prepare("INSERT OR REPLACE INTO settings(key, value) VALUES('skipped_keys_expired_ms', ?)");
  mark.addBindValue(now);
  mark.exec();
}

}  // namespace parley::client
