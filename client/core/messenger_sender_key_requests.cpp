// Groups: a sender key that never came. A member's key travels pairwise, once; if that copy
// is lost on the way or dropped here as undecryptable, every group message of theirs under
// that key waits here for good. The waiting messages ask the key's owner, pairwise, to send
// it again, backing off, and the owner answers with the distribution it once sent this
// member, moved along its chain to where the waiting messages can be (never an earlier step,
// never a key it did not give them).
#include <algorithm>

#include <QDateTime>
#include <QSqlQuery>
#include <QVariant>

#include "crypto/sender_key.hpp"
#include "e2e.pb.h"
#include "messenger.hpp"
#include "messenger_internal.hpp"
#include "parley/limits.hpp"
#include "util/bytes.hpp"

namespace parley::client {

namespace {

// The key normally arrives in the same inbox before the first message it opens; a message
// that has waited this long for it is waiting for a copy that was lost.
constexpr qint64 kFirstAskAfterMs = 5'000;
// Then asked again after 10 s, 1 min, 6 min, 36 min, 3.6 h and every 6 h while messages still
// wait: a lie or a loss on the way is retried soon, a member away for days is asked a few
// times a day.
constexpr qint64 kAskAgainMs = 10'000;
constexpr qint64 kAskAgainMaxMs = 6LL * 3600 * 1000;
constexpr int kAskAgainFactor = 6;
// Requests one sweep sends at most; the rest follow a second later.
constexpr int kMaxAsksPerSweep = 32;
// How often one member may have our key sent again for one group, whatever they ask: their
// shortest wait between two requests. Each answer is one pairwise message for one of theirs.
constexpr qint64 kResendFloorMs = 10'000;
// Steps the copy sent again is moved along its chain at most (two HMACs each, on this
// thread); further behind than that, the key goes as it stands now.
constexpr std::uint32_t kMaxResendAdvance = 1u << 20;

qint64 ask_again_after(int attempts) {
  qint64 wait = kAskAgainMs;
  for (int i = 1; i < attempts && wait < kAskAgainMaxMs; ++i) wait *= kAskAgainFactor;
  return std::min(wait, kAskAgainMaxMs);
}

}  // namespace

void Messenger::armKeyRequests(qint64 delay_ms) {
  const auto wait = static_cast<int>(std::clamp<qint64>(delay_ms, 0, kAskAgainMaxMs));
  if (key_request_timer_.isActive() && key_request_timer_.remainingTime() <= wait) return;
  key_request_timer_.start(wait);
}

void Messenger::keyAwaited() { armKeyRequests(kFirstAskAfterMs); }

void Messenger::requestMissingSenderKeys() {
  // Held messages are committed with the receive batch, and a replay may still bring the key
  // itself: asked once the inbox is drained.
  if (db_->inBatch() || relay_->state() == RelayClient::State::Syncing) return armKeyRequests(1000);
  // Offline: asked at the next login (onLoggedIn arms this again).
  if (relay_->state() != RelayClient::State::Online) return;
  auto& db = db_->db();
  const auto now = QDateTime::currentMSecsSinceEpoch();
  {
    // Keys whose messages all opened, or were dropped, are no longer asked for.
    QSqlQuery done(db);
    done.exec("DELETE FROM sender_key_requests WHERE NOT EXISTS(SELECT 1 FROM pending_group_messages p"
              " WHERE p.group_id = sender_key_requests.group_id AND p.sender = sender_key_requests.sender"
              " AND p.key_id = sender_key_requests.key_id)");
  }
  QSqlQuery waiting(db);
  waiting.prepare("SELECT p.group_id, p.sender, p.key_id, p.first_ms, r.asked_ms, r.attempts FROM"
                  " (SELECT group_id, sender, key_id, MIN(received_ms) AS first_ms FROM pending_group_messages"
                  " GROUP BY group_id, sender, key_id) p LEFT JOIN sender_key_requests r"
                  " ON r.group_id = p.group_id AND r.sender = p.sender AND r.key_id = p.key_id");
  if (!waiting.exec()) return armKeyRequests(kAskAgainMs);
  struct Ask {
    QByteArray group_id;
    QString sender;
    QByteArray key_id;
    int attempts;
  };
  std::vector<Ask> due;
  qint64 next = -1;
  const auto later = [&](qint64 at) { next = next < 0 ? at : std::min(next, at); };
  while (waiting.next()) {
    const int attempts = waiting.value(5).isNull() ? 0 : waiting.value(5).toInt();
    const auto at = attempts == 0 ? waiting.value(3).toLongLong() + kFirstAskAfterMs
                                  : waiting.value(4).toLongLong() + ask_again_after(attempts);
    if (at > now)
      later(at);
    else
      due.push_back({waiting.value(0).toByteArray(), waiting.value(1).toString(), waiting.value(2).toByteArray(),
                     attempts});
  }
  waiting.finish();
  int asked = 0;
  for (const auto& a : due) {
    if (asked == kMaxAsksPerSweep) {
      later(now + 1000);
      break;
    }
    // Only a member, as the group's signed changes have it, is asked; a message of someone
    // removed since waits until the room for waiting messages pushes it out.
    if (a.key_id.size() != static_cast<qsizetype>(crypto::SenderKeyId{}.size()) || !isMember(a.group_id, a.sender) ||
        !isMember(a.group_id, profile_.username))
      continue;
    const auto again = now + ask_again_after(a.attempts + 1);
    QSqlQuery queued(db);
    // Something to them has not left yet (their key changed and waits for the user, say):
    // another request would only wait behind it, and they would all go at once.
    queued.prepare("SELECT 1 FROM outbox WHERE peer = ? AND attempted = 0 LIMIT 1");
    queued.addBindValue(a.sender);
    if (!queued.exec() || queued.next()) {
      later(again);
      continue;
    }
    e2e::Content c;
    c.set_type(e2e::SENDER_KEY_REQUEST);
    c.set_group_id(sbytes(a.group_id));
    c.set_sender_key_id(sbytes(a.key_id));
    QString error;
    if (!enqueue(a.sender, std::move(c), &error)) {
      emit problem(QStringLiteral("could not ask %1 again for their key to a group: %2").arg(a.sender, error));
      later(again);
      continue;
    }
    ++asked;
    QSqlQuery note(db);
    note.prepare("INSERT INTO sender_key_requests(group_id, sender, key_id, asked_ms, attempts)"
                 " VALUES(?, ?, ?, ?, 1) ON CONFLICT(group_id, sender, key_id) DO UPDATE SET"
                 " asked_ms = excluded.asked_ms, attempts = attempts + 1");
    note.addBindValue(a.group_id);
    note.addBindValue(a.sender);
    note.addBindValue(a.key_id);
    note.addBindValue(now);
    // Not noted, it would be due again at once: the sweep waits as if it were.
    note.exec();
    later(again);
  }
  if (next >= 0) armKeyRequests(next - now);
}

void Messenger::answerSenderKeyRequest(const QString& member, const e2e::Content& request) {
  const auto group_id = qbytes(request.group_id());
  const auto key_id = qbytes(request.sender_key_id());
  if (group_id.size() != static_cast<qsizetype>(limits::kGroupIdBytes) ||
      key_id.size() != static_cast<qsizetype>(crypto::SenderKeyId{}.size())) {
    emit problem(QStringLiteral("%1 asked for a group key in a form this app does not read; ignored").arg(member));
    return;
  }
  auto& db = db_->db();
  QSqlQuery q(db);
  // From the group's signed changes: the one asking is a member, and so are we.
  q.prepare("SELECT g.left, g.out_of_step, g.name, g.description, g.my_sender_key, m.key_sent,"
            " m.key_sent_distribution, m.key_resent_ms FROM groups g JOIN group_members m ON m.group_id = g.id"
            " WHERE g.id = ? AND m.username = ?");
  q.addBindValue(group_id);
  q.addBindValue(member);
  if (!q.exec() || !q.next() || q.value(0).toBool() || q.value(1).toBool() || q.value(4).isNull()) return;
  const auto name = q.value(2).toString();
  const auto description = q.value(3).toString();
  const auto own = crypto::SenderKeySender::deserialize(view(q.value(4).toByteArray()));
  const bool given = q.value(5).toByteArray() == key_id;
  const SecretBytes kept(view(q.value(6).toByteArray()));
  const auto resent_ms = q.value(7).toLongLong();
  q.finish();
  // Only our current key: one we replaced (after a removal) is gone, and what waits under it
  // stays unread.
  if (!own || qbytes(crypto::ByteView(own->key_id())) != key_id) return;
  if (!given) {
    // Never sent to them (its entry failed for good): they get it now, as it stands, which
    // opens what we write next; the entry marks them as having it.
    distributeSenderKey(group_id);
    return;
  }
  const auto now = QDateTime::currentMSecsSinceEpoch();
  if (now - resent_ms < kResendFloorMs && now >= resent_ms) return;
  // The copy they were given, moved along the chain to where a receiver can still reach our
  // newest messages from (it skips at most kMaxSkip steps). With no copy (it went a week
  // after, or once they showed they had it, or it was sent before this was kept), or one too
  // far behind to move, the key as it stands: a later step of a key they were given.
  auto distribution = own->distribution();
  if (const auto copy = crypto::SenderKeyDistribution::decode(view(kept.get()));
      copy && copy->key_id == own->key_id()) {
    const auto reach = own->iteration() > crypto::SenderKeyReceiver::kMaxSkip
                           ? own->iteration() - crypto::SenderKeyReceiver::kMaxSkip
                           : 0u;
    const auto from = std::max(copy->iteration, reach);
    if (from - copy->iteration <= kMaxResendAdvance) distribution = copy->advanced_to(from);
  }
  auto encoded = distribution.encode();
  auto c = detail::sender_key_content(group_id, name, description, sbytes(crypto::ByteView(encoded)));
  crypto::secure_zero(encoded.data(), encoded.size());
  QString error;
  // Not tagged with the group: it holds none of our group messages back (they already have
  // what came before it), and a failure leaves key_sent alone (they were given the key).
  if (!enqueue(member, std::move(c), &error)) {
    emit problem(QStringLiteral("could not send %1 our group key again: %2").arg(member, error));
    return;
  }
  QSqlQuery mark(db);
  mark.prepare("UPDATE group_members SET key_resent_ms = ? WHERE group_id = ? AND username = ?");
  mark.addBindValue(now);
  mark.addBindValue(group_id);
  mark.addBindValue(member);
  mark.exec();
}

}  // namespace parley::client
