// A conversation's settings on this device: muted, pinned, marked unread. They are the user's arrangement
// of their own list, so they stay local and never reach the relay or the peer.
#include <QDateTime>
#include <QSqlError>
#include <QSqlQuery>

#include "messenger.hpp"

namespace parley::client {
namespace {

// Not inside a receive batch still open: a failure there would roll the setting back after
// the user was shown it.
constexpr const char* kBatchFailed = "could not store what was just received; try again";

// Whether `peer` has a conversation, and whether it is pinned; nullopt with `error` set
// when there is none or the store could not say.
std::optional<bool> pinned_now(QSqlDatabase& db, const QString& peer, QString* error) {
  QSqlQuery q(db);
  q.prepare("SELECT pinned_ms IS NOT NULL FROM conversations WHERE peer = ?");
  q.addBindValue(peer);
  if (!q.exec()) {
    *error = q.lastError().text();
    return std::nullopt;
  }
  if (!q.next()) {
    *error = QStringLiteral("no conversation with %1").arg(peer);
    return std::nullopt;
  }
  return q.value(0).toBool();
}

}  // namespace

bool Messenger::setMuted(const QString& peer, qint64 until_ms, QString* error) {
  if (until_ms < 0) {
    *error = QStringLiteral("a mute cannot end before 1970");
    return false;
  }
  if (!commitReceiveBatch()) {
    *error = QLatin1String(kBatchFailed);
    return false;
  }
  if (!pinned_now(db_->db(), peer, error).has_value()) return false;
  // A time already past is no mute at all: stored as none, so nothing is left to expire.
  const qint64 until = until_ms > QDateTime::currentMSecsSinceEpoch() ? until_ms : 0;
  QSqlQuery q(db_->db());
  q.prepare("UPDATE conversations SET muted_until_ms = ? WHERE peer = ? AND muted_until_ms <> ?");
  q.addBindValue(until);
  q.addBindValue(peer);
  q.addBindValue(until);
  if (!q.exec()) {
    *error = q.lastError().text();
    return false;
  }
  if (q.numRowsAffected() > 0) emit chatSettingsChanged(peer);
  return true;
}

qint64 Messenger::mutedUntil(const QString& peer) {
  QSqlQuery q(db_->db());
  q.prepare("SELECT muted_until_ms FROM conversations WHERE peer = ? AND muted_until_ms > ?");
  q.addBindValue(peer);
  q.addBindValue(QDateTime::currentMSecsSinceEpoch());
  return q.exec() && q.next() ? q.value(0).toLongLong() : 0;
}

bool Messenger::setPinned(const QString& peer, bool pinned, QString* error) {
  if (!commitReceiveBatch()) {
    *error = QLatin1String(kBatchFailed);
    return false;
  }
  auto& db = db_->db();
  const auto now = pinned_now(db, peer, error);
  if (!now) return false;
  if (*now == pinned) return true;  // a pinned chat keeps its place among the pins
  QSqlQuery q(db);
  if (pinned) {
    QSqlQuery count(db);
    if (!count.exec("SELECT COUNT(*) FROM conversations WHERE pinned_ms IS NOT NULL") || !count.next()) {
      *error = count.lastError().text();
      return false;
    }
    if (count.value(0).toInt() >= kMaxPinned) {
      *error = QStringLiteral("%1 chats are pinned already: unpin one first").arg(kMaxPinned);
      return false;
    }
    // Later than every pin, even one made in the same millisecond or under a clock since
    // set back, so the newest pin is always the top one.
    q.prepare("UPDATE conversations SET pinned_ms = MAX(?, COALESCE((SELECT MAX(pinned_ms) FROM"
              " conversations), 0) + 1) WHERE peer = ?");
    q.addBindValue(QDateTime::currentMSecsSinceEpoch());
  } else {
    q.prepare("UPDATE conversations SET pinned_ms = NULL WHERE peer = ?");
  }
  q.addBindValue(peer);
  if (!q.exec()) {
    *error = q.lastError().text();
    return false;
  }
  emit chatSettingsChanged(peer);
  return true;
}

bool Messenger::setMarkedUnread(const QString& peer, bool marked, QString* error) {
  if (!commitReceiveBatch()) {
    *error = QLatin1String(kBatchFailed);
    return false;
  }
  if (!pinned_now(db_->db(), peer, error).has_value()) return false;
  QSqlQuery q(db_->db());
  q.prepare("UPDATE conversations SET marked_unread = ? WHERE peer = ? AND marked_unread <> ?");
  q.addBindValue(marked ? 1 : 0);
  q.addBindValue(peer);
  q.addBindValue(marked ? 1 : 0);
  if (!q.exec()) {
    *error = q.lastError().text();
    return false;
  }
  if (q.numRowsAffected() > 0) emit chatSettingsChanged(peer);
  return true;
}

}  // namespace parley::client
