// Edits and deletion. A sender changes or takes back a message of their own for everyone
// (EDIT, UNSEND: end-to-end encrypted like any content, pairwise or inside the group's
// sender-key ciphertext, never a message of their own); anyone deletes any message from
// their own device. The row stays, emptied, so its number still counts as received (no gap
// shows) and nothing late, an older edit or a reaction, can bring its words back.
#include <QCryptographicHash>
#include <QDateTime>
#include <QSqlQuery>
#include <QStringDecoder>
#include <QVariant>

#include "e2e.pb.h"
#include "messenger.hpp"
#include "messenger_internal.hpp"
#include "util/bytes.hpp"
#include "util/mentions.hpp"

namespace parley::client {
namespace detail {

// A message as an edit or a deletion finds it.
struct RevisionTarget {
  qint64 id = 0;
  QString sender;
  QByteArray client_msg_id;
  int status = 0;
  int removed = 0;
  qint64 server_ts_ms = 0;  // 0: the relay has not taken it yet (ours, queued)
  qint64 edited_ms = 0;
  bool file = false;
  QString file_name;
  bool line = false;  // a line in the history (a timer change), not a message
};

}  // namespace detail
namespace {

using Target = detail::RevisionTarget;

// A receiver's margin over the sender's window: an edit made just in time may reach the
// relay a little later (a slow connection, a clock that runs behind the relay's).
constexpr qint64 kReviseGraceMs = 3600LL * 1000;

// Why a received EDIT or UNSEND cannot be used (empty: it can).
QString revision_problem(const e2e::Content& c) {
  const auto& e = c.edit();
  if (e.client_msg_id().size() != 16) return QStringLiteral("its message id is not 16 bytes");
  if (c.type() == e2e::UNSEND) return e.text().empty() ? QString() : QStringLiteral("it carries words");
  if (e.text().size() > static_cast<std::size_t>(detail::kMaxTextBytes))
    return QStringLiteral("its text is longer than 64 KiB");
  QStringDecoder decode(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
  // Decoding happens when the result becomes a QString, not before.
  const QString text = decode(QByteArrayView(e.text().data(), static_cast<qsizetype>(e.text().size())));
  if (decode.hasError()) return QStringLiteral("its text is not UTF-8");
  return {};
}

constexpr const char* kTargetColumns =
    "m.id, m.sender, m.client_msg_id, m.status, m.removed, COALESCE(m.server_ts_ms, 0),"
    " COALESCE(m.edited_ms, 0), a.client_msg_id IS NOT NULL, a.file_name, m.kind != 0 FROM messages m LEFT JOIN"
    " attachments a ON a.sender = m.sender AND a.client_msg_id = m.client_msg_id";

std::optional<Target> read_target(QSqlQuery& q) {
  if (!q.exec() || !q.next()) return std::nullopt;
  Target t;
  t.id = q.value(0).toLongLong();
  t.sender = q.value(1).toString();
  t.client_msg_id = q.value(2).toByteArray();
  t.status = q.value(3).toInt();
  t.removed = q.value(4).toInt();
  t.server_ts_ms = q.value(5).toLongLong();
  t.edited_ms = q.value(6).toLongLong();
  t.file = q.value(7).toBool();
  t.file_name = q.value(8).toString();
  t.line = q.value(9).toBool();
  return t;
}

std::optional<Target> target_by_row(QSqlDatabase& db, const QString& peer, qint64 id) {
  QSqlQuery q(db);
  q.prepare(QStringLiteral("SELECT %1 WHERE m.id = ? AND m.peer = ?").arg(QLatin1String(kTargetColumns)));
  q.addBindValue(id);
  q.addBindValue(peer);
  return read_target(q);
}

std::optional<Target> target_by_id(QSqlDatabase& db, const QString& peer, const QString& sender,
                                   const QByteArray& client_msg_id) {
  QSqlQuery q(db);
  // A line in the history is no one's words: nothing to edit or take back.
  q.prepare(QStringLiteral("SELECT %1 WHERE m.peer = ? AND m.sender = ? AND m.client_msg_id = ? AND m.kind = 0")
                .arg(QLatin1String(kTargetColumns)));
  q.addBindValue(peer);
  q.addBindValue(sender);
  q.addBindValue(client_msg_id);
  return read_target(q);
}

bool exec(QSqlQuery& q, std::initializer_list<QVariant> values) {
  for (const auto& v : values) q.addBindValue(v);
  return q.exec();
}

}  // namespace

bool Messenger::reviseRow(const Target& t, const QString& peer, Revision kind, const QString& text,
                          qint64 at_ms) {
  auto& db = db_->db();
  bool changed = false;
  if (kind == Revision::Edit) {
    if (t.removed != 0) return true;  // nothing left to edit
    QSqlQuery q(db);
    // Edited, a forwarded copy holds its sender's own words: it is no longer marked. Whether it
    // mentions us is what the new words say.
    q.prepare("UPDATE messages SET body = ?, edited_ms = ?, forwarded = 0, mentions_me = ? WHERE id = ?"
              " AND removed = 0 AND (edited_ms IS NULL OR edited_ms <= ?)");
    const bool names_us = peer.startsWith(QLatin1Char('#')) && t.sender != profile_.username &&
                          mentions(text, profile_.username);
    // A file without a caption shows its name, as when it came.
    if (!exec(q, {t.file && text.isEmpty() ? t.file_name : text, at_ms, names_us ? 1 : 0, t.id, at_ms}))
      return false;
    changed = q.numRowsAffected() > 0;
  } else {
    // Words, quote and file go; what is left says only that a message was here.
    QSqlQuery row(db);
    row.prepare("UPDATE messages SET body = '', reply_to = NULL, reply_author = NULL, reply_text = NULL,"
                " removed = ? WHERE id = ? AND removed = ?");
    // Taken back by its sender (1), deleted here (2), or both (3): a message taken back stays
    // known as such once deleted here, so a reply to it arriving later keeps no words either.
    // Disappeared (4): below.
    const bool taken_back = t.removed == 1 || t.removed == 3 || kind == Revision::Unsend;
    const bool gone_here = t.removed >= 2 || kind != Revision::Unsend;
    // At its end (disappearing messages): 4, gone from every device as one taken back is, so a
    // reply quoting it that comes later keeps none of its words either, but nobody deleted it.
    const int removed = taken_back && gone_here ? 3 : taken_back ? 1 : kind == Revision::Expire ? 4 : 2;
    QSqlQuery file(db);
    file.prepare("DELETE FROM attachments WHERE sender = ? AND client_msg_id = ? RETURNING media_id, local_path");
    QSqlQuery reactions(db);
    reactions.prepare("DELETE FROM reactions WHERE peer = ? AND target_sender = ? AND target_id = ?");
    // Counted at once: SQLite reports the connection's last statement, whichever query asks.
    if (!exec(row, {removed, t.id, t.removed})) return false;
    changed = row.numRowsAffected() > 0;
    if (!exec(file, {t.sender, t.client_msg_id})) return false;
    if (file.next())
      file_drops_.push_back({t.sender, t.client_msg_id, file.value(0).toByteArray(), file.value(1).toString()});
    if (!exec(reactions, {peer, t.sender, t.client_msg_id})) return false;
    if (kind != Revision::DeleteHere) {
      // Taken back, or disappeared, means from the replies that quoted it too. (Deleted here
      // only, it is just not on this device: its replies still carry their quote.)
      QSqlQuery quotes(db);
      quotes.prepare("UPDATE messages SET reply_text = NULL WHERE peer = ? AND reply_author = ? AND"
                     " reply_to = ? AND reply_text IS NOT NULL");
      if (!exec(quotes, {peer, t.sender, t.client_msg_id})) return false;
      changed = changed || quotes.numRowsAffected() > 0;
    }
  }
  scrub_due_ = scrub_due_ || changed;
  if (changed || !file_drops_.empty())
    QMetaObject::invokeMethod(this, [this, peer, sender = t.sender, id = t.client_msg_id, changed] {
      settleRemovals();
      if (changed) emit messageRevised(peer, sender, id);
    }, Qt::QueuedConnection);
  return true;
}

bool Messenger::storeRevision(const QString& peer, const QString& sender, const e2e::Content& content,
                              qint64 relay_ms) {
  if (const auto why = revision_problem(content); !why.isEmpty()) return refuseRevision(sender, why);
  const auto& e = content.edit();
  const auto id = qbytes(e.client_msg_id());
  const bool unsend = content.type() == e2e::UNSEND;
  const auto text = QString::fromUtf8(e.text());
  const auto at = static_cast<qint64>(std::min<std::uint64_t>(content.client_ts_ms(), INT64_MAX));
  // Only the sender's own message: the content's sender is the one the ratchet or the sender
  // key vouches for, so no one can change another's words.
  const auto t = target_by_id(db_->db(), peer, sender, id);
  if (t) return applyRevision(*t, peer, unsend, text, at, relay_ms);
  if (!peer.startsWith(QLatin1Char('#'))) return true;  // not on this device: nothing to change
  // A group message may still wait for its sender's key (a key sent after the message, which
  // this change opened with): the change waits with it. Anything else is not on this device
  // (never was, or a member who joined later) and is dropped.
  QSqlQuery hold(db_->db());
  hold.prepare("INSERT INTO pending_revisions(group_id, sender, client_msg_id, unsend, text, at_ms, relay_ms)"
               " SELECT group_id, sender, client_msg_id, ?, ?, ?, ? FROM pending_group_messages"
               " WHERE group_id = ? AND sender = ? AND client_msg_id = ? LIMIT 1"
               " ON CONFLICT(group_id, sender, client_msg_id) DO UPDATE SET unsend = excluded.unsend,"
               " text = excluded.text, at_ms = excluded.at_ms, relay_ms = excluded.relay_ms"
               " WHERE pending_revisions.unsend = 0 AND (excluded.unsend = 1 OR excluded.at_ms >= pending_revisions.at_ms)");
  return exec(hold, {unsend ? 1 : 0, text, at, relay_ms, groupIdOf(peer), sender, id});
}

bool Messenger::applyHeldRevision(const QString& peer, const QString& sender, const QByteArray& client_msg_id) {
  QSqlQuery q(db_->db());
  q.prepare("SELECT unsend, text, at_ms, relay_ms FROM pending_revisions WHERE group_id = ? AND sender = ?"
            " AND client_msg_id = ?");
  if (!exec(q, {groupIdOf(peer), sender, client_msg_id})) return false;
  if (!q.next()) return true;
  const auto t = target_by_id(db_->db(), peer, sender, client_msg_id);
  // The row goes with its waiting message, in the caller's transaction.
  return !t || applyRevision(*t, peer, q.value(0).toBool(), q.value(1).toString(), q.value(2).toLongLong(),
                             q.value(3).toLongLong());
}

bool Messenger::refuseRevision(const QString& sender, const QString& why) {
  QMetaObject::invokeMethod(this, [this, sender, why] {
    emit problem(QStringLiteral("%1 sent a change to a message that cannot be used (%2); ignored").arg(sender, why));
  }, Qt::QueuedConnection);
  return true;  // handled: nothing to keep
}

bool Messenger::applyRevision(const detail::RevisionTarget& t, const QString& peer, bool unsend,
                              const QString& text, qint64 at_ms, qint64 relay_ms) {
  if (t.server_ts_ms > 0 && relay_ms - t.server_ts_ms > kReviseWindowMs + kReviseGraceMs)
    return refuseRevision(t.sender, QStringLiteral("the message is more than a day old"));
  if (!unsend && text.isEmpty() && !t.file)
    return refuseRevision(t.sender, QStringLiteral("it would leave the message empty"));
  return reviseRow(t, peer, unsend ? Revision::Unsend : Revision::Edit, text, at_ms);
}

void Messenger::settleRemovals(bool closing) {
  for (const auto& drop : std::exchange(file_drops_, {})) {
    QSqlQuery still(db_->db());
    still.prepare("SELECT 1 FROM attachments WHERE sender = ? AND client_msg_id = ?");
    if (!exec(still, {drop.sender, drop.msg_id}) || still.next()) continue;  // rolled back
    // Ours too: dropFileOf only ever removes a copy inside the profile (a pasted picture
    // Parley wrote there), never the user's own file it was sent from.
    dropFileOf(drop.msg_id, drop.media_id, drop.local_path, !closing);  // closing ends every transfer anyway
  }
  // One run a couple of seconds after the first of a burst of changes, not pushed back by
  // each later one (a peer's stream of edits would put it off for good).
  if (scrub_due_ && !closing && !scrub_timer_.isActive()) scrub_timer_.start();
}

Messenger::Revisable Messenger::revisable(const QString& peer, qint64 message_id) {
  Revisable r;
  const auto t = target_by_row(db_->db(), peer, message_id);
  if (!t || t->removed >= 2) return r;
  const bool ours = t->sender == profile_.username && !t->line;
  const bool in_time = t->server_ts_ms == 0 ||
                       QDateTime::currentMSecsSinceEpoch() - t->server_ts_ms <= kReviseWindowMs;
  const bool open = ours && t->removed == 0 && t->status != static_cast<int>(MessageStatus::Failed) && in_time;
  r.edit = open;
  r.unsend = open;
  r.remove = t->status != static_cast<int>(MessageStatus::Queued);
  return r;
}

QString Messenger::currentWords(const detail::RevisionTarget& t) {
  QSqlQuery q(db_->db());
  q.prepare("SELECT body FROM messages WHERE id = ?");
  q.addBindValue(t.id);
  if (!q.exec() || !q.next()) return {};
  const auto body = q.value(0).toString();
  return t.file && body == t.file_name ? QString() : body;  // a file's body is its name when uncaptioned
}

bool Messenger::sendRevision(const QString& peer, qint64 message_id, Revision kind, const QString& text,
                             QString* error) {
  // Not inside a receive batch still open: a failure there would roll this back after the
  // user was told it was done.
  if (!commitReceiveBatch()) {
    *error = QStringLiteral("could not store what was just received; try again");
    return false;
  }
  const auto t = target_by_row(db_->db(), peer, message_id);
  const bool edit = kind == Revision::Edit;
  if (!t || t->removed >= 2 || t->sender != profile_.username || t->line) {
    *error = edit ? QStringLiteral("only your own messages in this conversation can be edited")
                  : QStringLiteral("only your own messages in this conversation can be deleted for everyone");
    return false;
  }
  if (t->removed == 1) {
    *error = QStringLiteral("the message was already deleted for everyone");
    return false;
  }
  if (t->status == static_cast<int>(MessageStatus::Failed)) {
    *error = QStringLiteral("the message was never delivered");
    return false;
  }
  const auto now = QDateTime::currentMSecsSinceEpoch();
  if (t->server_ts_ms > 0 && now - t->server_ts_ms > kReviseWindowMs) {
    *error = edit ? QStringLiteral("a message can only be edited within a day of sending it")
                  : QStringLiteral("a message can only be deleted for everyone within a day of sending it");
    return false;
  }
  if (!edit && t->status == static_cast<int>(MessageStatus::Queued)) {
    // Not sent yet: taken out of the outbox, so its words never leave this device.
    switch (withdrawQueued(peer, *t)) {
      case Withdrawal::Done:
        return true;
      case Withdrawal::Failed:
        *error = QStringLiteral("could not take the message out of the local outbox; try again");
        return false;
      case Withdrawal::NotPossible:
        break;  // it may have reached the relay: taken back as any sent message is
    }
  }
  const auto utf8 = text.toUtf8();
  if (edit && text == currentWords(*t)) return true;  // nothing to change: nothing sent
  if (edit) {
    if (utf8.isEmpty() && !t->file) {
      *error = QStringLiteral("the new text is empty (delete the message instead)");
      return false;
    }
    if (utf8.size() > detail::kMaxTextBytes) {
      *error = QStringLiteral("the new text is longer than 64 KiB");
      return false;
    }
  }
  // Newer than our last edit of it even if the clock went back meanwhile, or the change would
  // lose to it here and everywhere; the enqueue keeps this time on what it sends.
  const qint64 at = std::max(now, t->edited_ms + 1);
  e2e::Content content;
  content.set_type(edit ? e2e::EDIT : e2e::UNSEND);
  content.set_client_ts_ms(static_cast<std::uint64_t>(at));
  auto* e = content.mutable_edit();
  e->set_client_msg_id(sbytes(t->client_msg_id));
  if (edit) e->set_text(utf8.toStdString());
  const bool queued = peer.startsWith(QLatin1Char('#'))
                          ? enqueueGroup(groupIdOf(peer), std::move(content), {}, error)
                                .has_value()
                          : enqueue(peer, std::move(content), error).has_value();
  if (!queued) return false;
  if (!db_->transaction([&] { return reviseRow(*t, peer, kind, QString::fromUtf8(utf8), at); })) {
    *error = QStringLiteral("the change was sent but could not be stored on this device");
    return false;
  }
  return true;
}

namespace {

e2e::Content parsed(const QByteArray& bytes, bool* ok) {
  e2e::Content c;
  *ok = c.ParseFromArray(bytes.constData(), static_cast<int>(bytes.size()));
  return c;
}

}  // namespace

Messenger::Withdrawal Messenger::withdrawQueued(const QString& peer, const detail::RevisionTarget& t) {
  auto& db = db_->db();
  const bool group = peer.startsWith(QLatin1Char('#'));
  const auto me = profile_.username.toStdString();
  QSqlQuery q(db);
  q.prepare("SELECT seq, content, attempted, envelope IS NULL FROM outbox WHERE client_msg_id = ? AND peer = ?");
  if (!exec(q, {t.client_msg_id, peer}) || !q.next()) return Withdrawal::NotPossible;
  const auto seq = q.value(0).toLongLong();
  // In flight and not yet encrypted: the peer's keys are being fetched; nothing has left.
  const bool fetching_keys = !group && q.value(3).toBool();
  if (q.value(2).toBool() || (in_flight_.contains(seq) && !fetching_keys)) return Withdrawal::NotPossible;
  const auto own_bytes = q.value(1).toByteArray();
  bool ok = false;
  const auto mine = parsed(own_bytes, &ok);
  if (!ok) return Withdrawal::NotPossible;
  const auto names_it = [&](const e2e::Content& c) {
    return ((c.type() == e2e::EDIT || c.type() == e2e::UNSEND) && qbytes(c.edit().client_msg_id()) == t.client_msg_id) ||
           (c.type() == e2e::REACTION && c.reaction().author() == me &&
            qbytes(c.reaction().client_msg_id()) == t.client_msg_id);
  };
  const auto quotes_it = [&](const e2e::Content& c) {
    return c.has_quote() && c.quote().author() == me && qbytes(c.quote().client_msg_id()) == t.client_msg_id;
  };
  {
    // A file answering it, still being encrypted or uploaded, would carry its words.
    QSqlQuery files(db);
    files.prepare("SELECT quote FROM file_sends WHERE peer = ? AND quote IS NOT NULL");
    if (!exec(files, {peer})) return Withdrawal::Failed;
    while (files.next()) {
      e2e::Quote quote;
      const auto b = files.value(0).toByteArray();
      if (!quote.ParseFromArray(b.constData(), static_cast<int>(b.size())) ||
          (quote.author() == me && qbytes(quote.client_msg_id()) == t.client_msg_id))
        return Withdrawal::NotPossible;
    }
  }
  // What was queued after it: changes naming it go with it; in 1:1, the messages are linked
  // by a hash chain inside the encryption (protocol.md, "Hash chain") and are linked again
  // as if it had never been, so the peer sees no break. None of these may have left. A group
  // message is encrypted when queued, so one quoting it cannot lose the words any more.
  struct Relinked {
    qint64 seq;
    e2e::Content content;
  };
  std::vector<Relinked> later;
  std::vector<qint64> changes;
  QByteArray head = QCryptographicHash::hash(own_bytes, QCryptographicHash::Sha256);  // as it stands
  QSqlQuery rest(db);
  rest.prepare(group ? "SELECT seq, content, attempted FROM outbox WHERE peer = ? AND seq > ? ORDER BY seq"
                     : "SELECT seq, content, attempted FROM outbox WHERE peer = ? AND group_id IS NULL AND seq > ?"
                       " ORDER BY seq");
  if (!exec(rest, {peer, seq})) return Withdrawal::Failed;
  while (rest.next()) {
    const auto r_seq = rest.value(0).toLongLong();
    const auto bytes = rest.value(1).toByteArray();
    auto content = parsed(bytes, &ok);
    if (!ok) return Withdrawal::NotPossible;
    const bool gone = rest.value(2).toBool() || in_flight_.contains(r_seq);
    const bool chained = !group && (content.type() == e2e::TEXT || content.type() == e2e::ATTACHMENT);
    if (names_it(content)) {
      if (gone) return Withdrawal::NotPossible;
      changes.push_back(r_seq);
    } else if (group && quotes_it(content)) {
      return Withdrawal::NotPossible;
    } else if (chained) {
      if (gone) return Withdrawal::NotPossible;
      head = QCryptographicHash::hash(bytes, QCryptographicHash::Sha256);
      later.push_back({r_seq, std::move(content)});
    }
  }
  if (!group) {
    // The chain's head must be the last of these: otherwise a message of ours after it has
    // already left, linked to it, and relinking would break the peer's chain.
    QSqlQuery h(db);
    h.prepare("SELECT last_chain_hash FROM conversations WHERE peer = ?");
    if (!exec(h, {peer}) || !h.next() || h.value(0).toByteArray() != head) return Withdrawal::NotPossible;
  }
  QByteArray chain = qbytes(mine.previous_hash());  // what the next one links to
  const bool stored = db_->transaction([&] {
    QSqlQuery del(db);
    del.prepare("DELETE FROM outbox WHERE seq = ?");
    if (!exec(del, {seq})) return false;
    for (const auto c : changes)
      if (!exec(del, {c})) return false;
    if (group) return reviseRow(t, peer, Revision::Withdraw, {}, 0);
    for (auto& r : later) {
      if (chain.isEmpty()) r.content.clear_previous_hash();
      else r.content.set_previous_hash(sbytes(chain));
      // A reply to it waiting behind it: its words were never to leave.
      if (quotes_it(r.content)) r.content.mutable_quote()->clear_text();
      const auto bytes = qbytes(r.content.SerializeAsString());
      QSqlQuery up(db);
      up.prepare("UPDATE outbox SET content = ?, envelope = NULL WHERE seq = ?");  // encrypted anew
      if (!exec(up, {bytes, r.seq})) return false;
      chain = QCryptographicHash::hash(bytes, QCryptographicHash::Sha256);
    }
    QSqlQuery set_head(db);
    set_head.prepare("UPDATE conversations SET last_chain_hash = ? WHERE peer = ?");
    return exec(set_head, {chain.isEmpty() ? QVariant(QMetaType::fromType<QByteArray>()) : QVariant(chain), peer}) &&
           reviseRow(t, peer, Revision::Withdraw, {}, 0);
  });
  if (!stored) return Withdrawal::Failed;
  if (outboxSize() == 0) emit outboxDrained();
  return Withdrawal::Done;
}

bool Messenger::editMessage(const QString& peer, qint64 message_id, const QString& text, QString* error) {
  return sendRevision(peer, message_id, Revision::Edit, text, error);
}

bool Messenger::unsendMessage(const QString& peer, qint64 message_id, QString* error) {
  return sendRevision(peer, message_id, Revision::Unsend, {}, error);
}

bool Messenger::deleteLocally(const QString& peer, qint64 message_id, QString* error) {
  const auto t = target_by_row(db_->db(), peer, message_id);
  if (!t || t->removed >= 2) {
    *error = QStringLiteral("the message is not in this conversation");
    return false;
  }
  // Still in the outbox: it is on its way, and deleting it here would not stop it.
  if (t->status == static_cast<int>(MessageStatus::Queued)) {
    *error = QStringLiteral("the message is still being sent; delete it once the relay has it");
    return false;
  }
  if (!db_->transaction([&] { return reviseRow(*t, peer, Revision::DeleteHere, {}, 0); })) {
    *error = QStringLiteral("could not delete the message from the local store");
    return false;
  }
  return true;
}

int Messenger::clearHistory(const QString& peer, QString* error) {
  if (!chatSettingTarget(peer, error).has_value()) return -1;
  auto& db = db_->db();
  int cleared = 0;
  const bool done = db_->transaction([&] {
    // What is here and not still queued: the rows cleared below, in one statement each.
    constexpr const char* kGoing = "SELECT sender, client_msg_id FROM messages WHERE peer = :peer AND removed < 2"
                                   " AND status != 0";
    QSqlQuery files(db);
    files.prepare(QStringLiteral("DELETE FROM attachments WHERE (sender, client_msg_id) IN (%1)"
                                 " RETURNING sender, client_msg_id, media_id, local_path")
                      .arg(QLatin1String(kGoing)));
    files.bindValue(QStringLiteral(":peer"), peer);
    if (!files.exec()) return false;
    while (files.next())
      file_drops_.push_back({files.value(0).toString(), files.value(1).toByteArray(), files.value(2).toByteArray(),
                             files.value(3).toString()});
    QSqlQuery reactions(db);
    reactions.prepare(QStringLiteral("DELETE FROM reactions WHERE peer = :peer AND (target_sender, target_id) IN (%1)")
                          .arg(QLatin1String(kGoing)));
    reactions.bindValue(QStringLiteral(":peer"), peer);
    // As deleteLocally leaves one: emptied, its number kept; taken back stays known as such.
    QSqlQuery rows(db);
    rows.prepare("UPDATE messages SET body = '', reply_to = NULL, reply_author = NULL, reply_text = NULL,"
                 " expires_at_ms = NULL, removed = CASE WHEN removed = 1 THEN 3 ELSE 2 END"
                 " WHERE peer = :peer AND removed < 2 AND status != 0");
    rows.bindValue(QStringLiteral(":peer"), peer);
    QSqlQuery read(db);
    read.prepare("UPDATE conversations SET unread = 0, marked_unread = 0 WHERE peer = :peer");
    read.bindValue(QStringLiteral(":peer"), peer);
    if (!reactions.exec() || !rows.exec()) return false;
    cleared = rows.numRowsAffected();  // counted at once: SQLite reports the last statement
    return read.exec();
  });
  if (!done) {
    *error = QStringLiteral("could not delete the messages from the local store");
    return -1;
  }
  scrub_due_ = scrub_due_ || cleared > 0;
  settleRemovals();
  armSweep();
  emit historyCleared(peer);
  return cleared;
}

bool Messenger::expireRow(const QString& peer, qint64 id) {
  QSqlQuery done(db_->db());
  done.prepare("UPDATE messages SET expires_at_ms = NULL WHERE id = ?");
  if (!exec(done, {id})) return false;
  const auto t = target_by_row(db_->db(), peer, id);
  return !t || t->removed >= 2 || reviseRow(*t, peer, Revision::Expire, {}, 0);
}

}  // namespace parley::client
