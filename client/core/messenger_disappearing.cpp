// Disappearing messages: a conversation's timer, set by either side (in a group, by any
// member) and carried by every message sent under it. Of two changes the one the relay
// numbered later wins, on every device alike, whatever the senders' clocks say; ours is in
// force from when it is made until a change numbered after it comes. A message's countdown
// starts where it is read (our own: once the relay has it), so one sent to someone away for
// a week is not gone before they see it; at its end it is deleted from the device as
// "delete for me" does, and taken from the replies that quote it.
#include <QDateTime>
#include <QSqlError>
#include <QSqlQuery>
#include <QVariant>
#include <algorithm>

#include "e2e.pb.h"
#include "messenger.hpp"

namespace parley::client {
namespace {

// At most this many messages go in one commit: a backlog (a device off for a month) is
// cleared in steps, between which the event loop runs.
constexpr int kSweepBatch = 500;
// A QTimer stands still while the machine sleeps: the sweeper looks at the clock at least
// this often.
constexpr qint64 kSweepRecheckMs = 60'000;

}  // namespace

int Messenger::expireTimer(const QString& peer) {
  QSqlQuery q(db_->db());
  q.prepare("SELECT expire_timer_s FROM conversations WHERE peer = ?");
  q.addBindValue(peer);
  return q.exec() && q.next() ? q.value(0).toInt() : 0;
}

bool Messenger::setExpireTimer(const QString& peer, int seconds, QString* error) {
  if (seconds < 0 || seconds > kMaxExpireTimerS) {
    *error = QStringLiteral("a disappearing-messages timer is between 1 second and 365 days (0: off)");
    return false;
  }
  if (!chatSettingTarget(peer, error).has_value()) return false;
  if (expireTimer(peer) == seconds) return true;  // nothing changes: nothing is sent
  e2e::Content content;
  content.set_type(e2e::EXPIRE_TIMER);
  content.set_expire_timer_s(static_cast<std::uint32_t>(seconds));
  const bool queued = peer.startsWith(QLatin1Char('#'))
                          ? enqueueGroup(groupIdOf(peer), std::move(content), {}, error).has_value()
                          : enqueue(peer, std::move(content), error).has_value();
  if (!queued) return false;
  emit chatSettingsChanged(peer);
  return true;
}

bool Messenger::setDefaultExpireTimer(int seconds, QString* error) {
  if (seconds < 0 || seconds > kMaxExpireTimerS) {
    *error = QStringLiteral("a disappearing-messages timer is between 1 second and 365 days (0: off)");
    return false;
  }
  // Not inside a receive batch still open, which a failure could roll back after the user
  // saw the choice taken.
  if (!commitReceiveBatch()) {
    *error = QStringLiteral("could not store what was just received; try again");
    return false;
  }
  QSqlQuery q(db_->db());
  q.prepare("INSERT OR REPLACE INTO settings(key, value) VALUES('default_expire_timer_s', ?)");
  q.addBindValue(seconds);
  if (!q.exec()) {
    *error = q.lastError().text();
    return false;
  }
  return true;
}

int Messenger::defaultExpireTimer() {
  QSqlQuery q(db_->db());
  q.exec("SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'default_expire_timer_s'");
  return q.next() ? std::clamp(q.value(0).toInt(), 0, kMaxExpireTimerS) : 0;
}

bool Messenger::recordExpireTimer(const QString& peer, const QString& sender, const QByteArray& client_msg_id,
                                  qint64 conv_seq, qint64 server_ts, qint64 seconds, qint64 at_ms,
                                  bool* applied) {
  seconds = std::clamp<qint64>(seconds, 0, kMaxExpireTimerS);
  const auto now = QDateTime::currentMSecsSinceEpoch();
  auto& db = db_->db();
  QSqlQuery conv(db);
  conv.prepare("INSERT INTO conversations(peer, last_activity_ms) VALUES(?, ?) ON CONFLICT(peer) DO NOTHING");
  conv.addBindValue(peer);
  conv.addBindValue(now);
  if (!conv.exec()) return false;
  const bool ours = conv_seq < 0;
  // Ours holds until its SendAck numbers it (settleOwnTimer); one received holds when it is
  // numbered after the change in force, or ours is not numbered yet (its SendAck will say
  // which of the two came later).
  bool took = false;
  if (!settleTimer(peer, seconds, ours ? -1 : conv_seq, &took)) return false;
  if (applied) *applied = took;
  // Every change has its line, at its number: the last line is the change in force.
  QSqlQuery line(db);
  // A line, not a message: no words to search, seen already (no read receipt, no unread).
  // Ours waits in the outbox as Queued, numbered by its SendAck like any send.
  line.prepare("INSERT OR IGNORE INTO messages(peer, sender, client_msg_id, conv_seq, body, status,"
               " client_ts_ms, server_ts_ms, received_ms, kind, expire_s) VALUES(?, ?, ?, ?, '', ?, ?, ?, ?, 1, ?)");
  line.addBindValue(peer);
  line.addBindValue(sender);
  line.addBindValue(client_msg_id);
  line.addBindValue(ours ? QVariant(QMetaType::fromType<qint64>()) : QVariant(conv_seq));
  line.addBindValue(static_cast<int>(ours ? MessageStatus::Queued : MessageStatus::Seen));
  line.addBindValue(at_ms);
  line.addBindValue(server_ts > 0 ? QVariant(server_ts) : QVariant(QMetaType::fromType<qint64>()));
  line.addBindValue(now);
  line.addBindValue(seconds);
  return line.exec();
}

bool Messenger::settleTimer(const QString& peer, qint64 seconds, qint64 conv_seq, bool* applied) {
  QSqlQuery set(db_->db());
  if (conv_seq < 0) {
    set.prepare("UPDATE conversations SET expire_timer_s = :s, expire_timer_seq = NULL WHERE peer = :peer");
  } else {
    set.prepare("UPDATE conversations SET expire_timer_s = :s, expire_timer_seq = :seq WHERE peer = :peer"
                " AND (expire_timer_seq IS NULL OR expire_timer_seq < :seq)");
    set.bindValue(QStringLiteral(":seq"), conv_seq);
  }
  set.bindValue(QStringLiteral(":s"), seconds);
  set.bindValue(QStringLiteral(":peer"), peer);
  if (!set.exec()) return false;
  *applied = set.numRowsAffected() > 0;
  return true;
}

bool Messenger::settleOwnTimer(const QString& peer, qint64 seconds, qint64 conv_seq, bool* applied) {
  // Still ours (nothing numbered came meanwhile): it keeps its words and gets its number. (A
  // later change of ours, queued behind this one, is what shows: it will be numbered later.)
  QSqlQuery keep(db_->db());
  keep.prepare("UPDATE conversations SET expire_timer_seq = ? WHERE peer = ? AND expire_timer_seq IS NULL");
  keep.addBindValue(conv_seq);
  keep.addBindValue(peer);
  if (!keep.exec()) return false;
  if (keep.numRowsAffected() > 0) {
    *applied = false;
    return true;
  }
  // A change numbered before ours arrived meanwhile and showed: ours, numbered later, wins.
  return settleTimer(peer, std::clamp<qint64>(seconds, 0, kMaxExpireTimerS), conv_seq, applied);
}

bool Messenger::startCountdowns(const QString& peer) {
  QSqlQuery q(db_->db());
  q.prepare("UPDATE messages SET expires_at_ms = ? + expire_s * 1000 WHERE peer = ? AND sender != ?"
            " AND status = 10 AND kind = 0 AND expire_s > 0 AND expires_at_ms IS NULL");
  q.addBindValue(QDateTime::currentMSecsSinceEpoch());
  q.addBindValue(peer);
  q.addBindValue(profile_.username);
  if (!q.exec()) return false;
  if (q.numRowsAffected() == 0) return true;
  armSweep();
  QMetaObject::invokeMethod(this, [this, peer] { emit countdownsStarted(peer); }, Qt::QueuedConnection);
  return true;
}

bool Messenger::startOwnCountdown(const QString& peer, const QByteArray& client_msg_id) {
  QSqlQuery q(db_->db());
  q.prepare("UPDATE messages SET expires_at_ms = ? + expire_s * 1000 WHERE sender = ? AND client_msg_id = ?"
            " AND kind = 0 AND expire_s > 0 AND expires_at_ms IS NULL AND removed < 2");
  q.addBindValue(QDateTime::currentMSecsSinceEpoch());
  q.addBindValue(profile_.username);
  q.addBindValue(client_msg_id);
  if (!q.exec()) return false;
  if (q.numRowsAffected() == 0) return true;
  armSweep();  // rolled back after all: the sweep finds nothing due, and sets itself again
  QMetaObject::invokeMethod(this, [this, peer] { emit countdownsStarted(peer); }, Qt::QueuedConnection);
  return true;
}

bool Messenger::onOwnTimerNumbered(const QString& peer, const QByteArray& client_msg_id, qint64 conv_seq,
                                   bool* changed) {
  *changed = false;
  // Our own timer changes are the lines of ours: the line keeps the value it set.
  QSqlQuery line(db_->db());
  line.prepare("SELECT expire_s FROM messages WHERE sender = ? AND client_msg_id = ? AND kind = 1");
  line.addBindValue(profile_.username);
  line.addBindValue(client_msg_id);
  if (!line.exec()) return false;
  if (!line.next()) return true;  // not a timer change
  return settleOwnTimer(peer, line.value(0).toLongLong(), conv_seq, changed);
}

bool Messenger::undoRefusedTimer(const QString& peer, const QByteArray& client_msg_id, bool* changed) {
  *changed = false;
  auto& db = db_->db();
  QSqlQuery ours(db);
  ours.prepare("SELECT c.expire_timer_s FROM messages m JOIN conversations c ON c.peer = m.peer"
               " WHERE m.peer = ? AND m.sender = ? AND m.client_msg_id = ? AND m.kind = 1");
  ours.addBindValue(peer);
  ours.addBindValue(profile_.username);
  ours.addBindValue(client_msg_id);
  if (!ours.exec()) return false;
  if (!ours.next()) return true;  // not a timer change
  const auto shown = ours.value(0).toLongLong();
  // The timer is settled again as if the refused change had never been made. Two changes can
  // hold: the newest other change of ours still queued (it shows, unnumbered, from when it was
  // made) and the change numbered last (it shows with its number). Whichever this device
  // stored later held over the other, as recordExpireTimer and settleOwnTimer would have had
  // it: a change received after ours was made shows until ours is numbered after it. Neither:
  // off. Lines are never deleted (cleared history keeps them emptied, with their number and
  // value), and a refused one is no candidate (Failed, or the one being undone).
  QSqlQuery before(db);
  before.prepare("SELECT expire_s, conv_seq FROM ("
                 "  SELECT * FROM (SELECT expire_s, NULL AS conv_seq, id FROM messages"
                 "   WHERE peer = :peer AND kind = 1 AND sender = :me AND status = 0 AND conv_seq IS NULL"
                 "   AND client_msg_id != :id ORDER BY id DESC LIMIT 1)"
                 "  UNION ALL"
                 "  SELECT * FROM (SELECT expire_s, conv_seq, id FROM messages"
                 "   WHERE peer = :peer AND kind = 1 AND conv_seq IS NOT NULL ORDER BY conv_seq DESC LIMIT 1)"
                 ") ORDER BY id DESC LIMIT 1");
  before.bindValue(QStringLiteral(":peer"), peer);
  before.bindValue(QStringLiteral(":me"), profile_.username);
  before.bindValue(QStringLiteral(":id"), client_msg_id);
  if (!before.exec()) return false;
  const bool found = before.next();
  const qint64 seconds = found ? std::clamp<qint64>(before.value(0).toLongLong(), 0, kMaxExpireTimerS) : 0;
  const QVariant seq = found ? before.value(1) : QVariant(QMetaType::fromType<qint64>());
  QSqlQuery back(db);
  back.prepare("UPDATE conversations SET expire_timer_s = ?, expire_timer_seq = ? WHERE peer = ?");
  back.addBindValue(seconds);
  back.addBindValue(seq);
  back.addBindValue(peer);
  if (!back.exec()) return false;
  *changed = seconds != shown;
  return true;
}

void Messenger::sweepExpired() {
  // A replay's receive batch is open: a failure there would roll the deletions back after
  // the views were told. Right after it instead.
  if (db_->inBatch()) return sweep_timer_.start(1000);
  const auto now = QDateTime::currentMSecsSinceEpoch();
  QSqlQuery due(db_->db());
  due.prepare("SELECT id, peer FROM messages WHERE expires_at_ms <= ? ORDER BY expires_at_ms LIMIT ?");
  due.addBindValue(now);
  due.addBindValue(kSweepBatch);
  std::vector<std::pair<qint64, QString>> rows;
  if (due.exec())
    while (due.next()) rows.emplace_back(due.value(0).toLongLong(), due.value(1).toString());
  due.finish();
  const bool done = db_->transaction([&] {
    return std::all_of(rows.begin(), rows.end(), [&](const auto& r) { return expireRow(r.second, r.first); });
  });
  if (!done) {
    // Left due: tried again at the next recheck, not in a tight loop.
    emit problem(QStringLiteral("could not delete disappearing messages whose time is up; trying again in a minute"));
    sweep_timer_.start(static_cast<int>(kSweepRecheckMs));
    return;
  }
  if (rows.size() == static_cast<std::size_t>(kSweepBatch)) return sweep_timer_.start(0);  // more due
  armSweep();
}

void Messenger::armSweep() {
  QSqlQuery q(db_->db());
  if (!q.exec("SELECT MIN(expires_at_ms) FROM messages WHERE expires_at_ms IS NOT NULL") || !q.next() ||
      q.value(0).isNull())
    return sweep_timer_.stop();
  const auto wait = std::clamp<qint64>(q.value(0).toLongLong() - QDateTime::currentMSecsSinceEpoch(), 0,
                                       kSweepRecheckMs);
  sweep_timer_.start(static_cast<int>(wait));
}

}  // namespace parley::client
