// Disappearing messages: a conversation's timer, set by either side (in a group, by any
// member) and carried by every message sent under it. A message's countdown starts where it
// is read (our own: once the relay has it), so one sent to someone away for a week is not
// gone before they see it; at its end it is deleted from the device as "delete for me" does,
// and taken from the replies that quote it.
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
// A change stamped further ahead of this device's clock is taken as stamped this far ahead:
// one from a clock set to the year 3000 (or INT64_MAX) would otherwise win over every later
// change, and the timer could never be changed again.
constexpr qint64 kMaxStampAheadMs = 24LL * 3600 * 1000;

}  // namespace

int Messenger::timerFor(const QString& peer) {
  QSqlQuery q(db_->db());
  q.prepare("SELECT expire_timer_s FROM conversations WHERE peer = ?");
  q.addBindValue(peer);
  return q.exec() && q.next() ? q.value(0).toInt() : 0;
}

int Messenger::expireTimer(const QString& peer) { return timerFor(peer); }

bool Messenger::setExpireTimer(const QString& peer, int seconds, QString* error) {
  if (seconds < 0 || seconds > kMaxExpireTimerS) {
    *error = QStringLiteral("a disappearing-messages timer is between 1 second and 365 days (0: off)");
    return false;
  }
  if (!chatSettingTarget(peer, error).has_value()) return false;
  QSqlQuery q(db_->db());
  q.prepare("SELECT expire_timer_s, expire_timer_at_ms FROM conversations WHERE peer = ?");
  q.addBindValue(peer);
  if (!q.exec() || !q.next()) {
    *error = QStringLiteral("could not read the conversation from the local store");
    return false;
  }
  if (q.value(0).toInt() == seconds) return true;  // nothing changes: nothing is sent
  // Newer than the change in force even if the clock went back meanwhile, or ours would lose
  // to it here and at the other end; the enqueue keeps this time on what it sends. (The one
  // in force is at most a day ahead of this clock: recordExpireTimer.)
  const auto at = std::max(QDateTime::currentMSecsSinceEpoch(), q.value(1).toLongLong() + 1);
  e2e::Content content;
  content.set_type(e2e::EXPIRE_TIMER);
  content.set_expire_timer_s(static_cast<std::uint32_t>(seconds));
  content.set_client_ts_ms(static_cast<std::uint64_t>(at));
  const bool queued = peer.startsWith(QLatin1Char('#'))
                          ? enqueueGroup(groupIdOf(peer), std::move(content), {}, error).has_value()
                          : enqueue(peer, std::move(content), error).has_value();
  if (!queued) return false;
  emit chatSettingsChanged(peer);
  return true;
}

bool Messenger::recordExpireTimer(const QString& peer, const QString& sender, const QByteArray& client_msg_id,
                                  qint64 conv_seq, qint64 server_ts, qint64 seconds, qint64 at_ms,
                                  bool* applied) {
  *applied = false;
  seconds = std::clamp<qint64>(seconds, 0, kMaxExpireTimerS);
  const auto now = QDateTime::currentMSecsSinceEpoch();
  at_ms = std::clamp<qint64>(at_ms, 0, now + kMaxStampAheadMs);
  auto& db = db_->db();
  QSqlQuery conv(db);
  conv.prepare("INSERT INTO conversations(peer, last_activity_ms) VALUES(?, ?) ON CONFLICT(peer) DO NOTHING");
  conv.addBindValue(peer);
  conv.addBindValue(now);
  QSqlQuery set(db);
  // On a tie the sender whose name sorts last wins: each side applies its own change first,
  // so "the one handled later" would leave each with the other's. The same change again (a
  // redelivery) applies again, changing nothing.
  set.prepare("UPDATE conversations SET expire_timer_s = :s, expire_timer_at_ms = :at, expire_timer_by = :by"
              " WHERE peer = :peer AND (expire_timer_at_ms < :at OR (expire_timer_at_ms = :at AND"
              " expire_timer_by <= :by))");
  set.bindValue(QStringLiteral(":s"), seconds);
  set.bindValue(QStringLiteral(":at"), at_ms);
  set.bindValue(QStringLiteral(":by"), sender);
  set.bindValue(QStringLiteral(":peer"), peer);
  if (!conv.exec() || !set.exec()) return false;
  if (set.numRowsAffected() == 0) return true;  // older than the one in force: history already says the newer
  *applied = true;
  const bool ours = sender == profile_.username;
  QSqlQuery line(db);
  // A line, not a message: no words to search, seen already (no read receipt, no unread).
  // Ours waits in the outbox as Queued, numbered by its SendAck like any send.
  line.prepare("INSERT OR IGNORE INTO messages(peer, sender, client_msg_id, conv_seq, body, status,"
               " client_ts_ms, server_ts_ms, received_ms, kind, expire_s) VALUES(?, ?, ?, ?, '', ?, ?, ?, ?, 1, ?)");
  line.addBindValue(peer);
  line.addBindValue(sender);
  line.addBindValue(client_msg_id);
  line.addBindValue(conv_seq >= 0 ? QVariant(conv_seq) : QVariant(QMetaType::fromType<qint64>()));
  line.addBindValue(static_cast<int>(ours ? MessageStatus::Queued : MessageStatus::Seen));
  line.addBindValue(at_ms);
  line.addBindValue(server_ts > 0 ? QVariant(server_ts) : QVariant(QMetaType::fromType<qint64>()));
  line.addBindValue(now);
  line.addBindValue(seconds);
  return line.exec();
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
