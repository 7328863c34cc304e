// A conversation's settings on this device: muted, pinned, marked unread, archived. They are the user's arrangement
// of their own list, so they stay local and never reach the relay or the peer.
#include <QDateTime>
#include <QSqlError>
#include <QSqlQuery>
#include <QVariant>

#include "messenger.hpp"

namespace parley::client {
namespace {

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

// Sets `column` of `peer`'s row to `value`; `changed` says whether it held something else.
bool set_column(QSqlDatabase& db, const char* column, const QVariant& value, const QString& peer,
                bool* changed, QString* error) {
  QSqlQuery q(db);
  q.prepare(QStringLiteral("UPDATE conversations SET %1 = :value WHERE peer = :peer AND %1 IS NOT :value")
                .arg(QLatin1String(column)));
  q.bindValue(QStringLiteral(":value"), value);
  q.bindValue(QStringLiteral(":peer"), peer);
  if (!q.exec()) {
    *error = q.lastError().text();
    return false;
  }
  *changed = q.numRowsAffected() > 0;
  return true;
}

}  // namespace

std::optional<bool> Messenger::chatSettingTarget(const QString& peer, QString* error) {
  // Not inside a receive batch still open: a failure there would roll the setting back after
  // the user was shown it.
  if (!commitReceiveBatch()) {
    *error = QStringLiteral("could not store what was just received; try again");
    return std::nullopt;
  }
  return pinned_now(db_->db(), peer, error);
}

bool Messenger::setMuted(const QString& peer, qint64 until_ms, QString* error) {
  if (until_ms < 0) {
    *error = QStringLiteral("a mute cannot end before 1970");
    return false;
  }
  if (!chatSettingTarget(peer, error).has_value()) return false;
  // A time already past is no mute at all: stored as none, so nothing is left to expire.
  const qint64 until = until_ms > QDateTime::currentMSecsSinceEpoch() ? until_ms : 0;
  bool changed = false;
  if (!set_column(db_->db(), "muted_until_ms", until, peer, &changed, error)) return false;
  if (changed) emit chatSettingsChanged(peer);
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
  auto& db = db_->db();
  const auto now = chatSettingTarget(peer, error);
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
    // Pinned is in the main list: an archived chat comes back to it.
    q.prepare("UPDATE conversations SET archived = 0, pinned_ms = MAX(?, COALESCE((SELECT MAX(pinned_ms) FROM"
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

bool Messenger::setArchived(const QString& peer, bool archived, QString* error) {
  if (!chatSettingTarget(peer, error).has_value()) return false;
  QSqlQuery q(db_->db());
  // Out of the main list, it is out of the pins at its top too.
  q.prepare(archived ? QStringLiteral("UPDATE conversations SET archived = 1, pinned_ms = NULL WHERE peer = ?"
                                      " AND archived = 0")
                     : QStringLiteral("UPDATE conversations SET archived = 0 WHERE peer = ? AND archived = 1"));
  q.addBindValue(peer);
  if (!q.exec()) {
    *error = q.lastError().text();
    return false;
  }
  if (q.numRowsAffected() > 0) emit chatSettingsChanged(peer);
  return true;
}

bool Messenger::setMarkedUnread(const QString& peer, bool marked, QString* error) {
  if (!chatSettingTarget(peer, error).has_value()) return false;
  bool changed = false;
  if (!set_column(db_->db(), "marked_unread", marked ? 1 : 0, peer, &changed, error)) return false;
  if (changed) emit chatSettingsChanged(peer);
  return true;
}

}  // namespace parley::client
