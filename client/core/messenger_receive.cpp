// Receiving: decrypt (building a responder session from an X3DH header when needed), drop
// duplicates, check the sender's hash chain, store, and acknowledge the inbox entry in the
// same transaction that stored it.
#include <limits>

#include <QCryptographicHash>
#include <QDateTime>
#include <QScopeGuard>
#include <QSqlQuery>
#include <QTimer>
#include <QVariant>
#include <sodium.h>

#include "crypto/ratchet.hpp"
#include "crypto/sender_key.hpp"
#include "crypto/x3dh.hpp"
#include "e2e.pb.h"
#include "messenger.hpp"
#include "messenger_internal.hpp"
#include "parley/limits.hpp"
#include "parley/username.hpp"
#include "util/bytes.hpp"

namespace parley::client {

using detail::save_last_acked;
namespace {

std::optional<crypto::KeyPair> load_prekey(QSqlDatabase& db, int kind, std::uint32_t id) {
  QSqlQuery q(db);
  q.prepare("SELECT secret FROM prekeys WHERE kind = ? AND id = ?");
  q.addBindValue(kind);
  q.addBindValue(id);
  if (!q.exec() || !q.next()) return std::nullopt;
  auto secret = q.value(0).toByteArray();
  // The query's cached row shares the bytes: let it go first, or data() below would make a
  // private copy and wipe only that.
  q.clear();
  auto key = crypto::KeyPair::from_secret(view(secret));
  sodium_memzero(secret.data(), static_cast<std::size_t>(secret.size()));
  return key;
}
}  // namespace

void Messenger::onDeliver(const wire::Deliver& d) {
  const auto sender = QString::fromStdString(d.sender());
  const auto id = qbytes(d.client_msg_id());
  // A group's id is 16 bytes (the relay refuses any other): anything else would become a
  // conversation "#<hex>" of whatever length the relay chose, shown and stored.
  if ((d.kind() == wire::GROUP_EVENT || d.kind() == wire::GROUP_MESSAGE) &&
      d.group_id().size() != limits::kGroupIdBytes)
    return dropEntry(d.inbox_seq(), QStringLiteral("the relay delivered a group message with an invalid"
                                                   " group id and it was dropped; a relay should never do"
                                                   " this, so tell its operator"));
  if (d.kind() == wire::GROUP_EVENT) return onGroupEvent(d);
  // Names arrive folded (the relay folds them at registration). Anything else is not a user:
  // a look-alike of a contact ("Alice", trusted on first use as someone new), or a "#group"
  // peer that would put a message into that group's history. Dropped, and acknowledged.
  if (d.kind() != wire::DELIVERY_RECEIPT &&
      (d.sender().empty() || fold_username(d.sender()) != d.sender()))
    return dropEntry(d.inbox_seq(), QStringLiteral("the relay delivered a message under an invalid name and"
                                                   " it was dropped; a relay should never do this, so tell"
                                                   " its operator"));
  // Sequence numbers are stored as SQLite integers (signed 64-bit): one past that would be
  // kept as a negative number, counted unread and never shown.
  if (d.conv_seq() > static_cast<std::uint64_t>(std::numeric_limits<qint64>::max()))
    return dropEntry(d.inbox_seq(),
                     QStringLiteral("the relay delivered a message from %1 with an impossible number and it"
                                    " was dropped; a relay should never do this, so tell its operator")
                         .arg(sender));
  if (d.kind() == wire::GROUP_MESSAGE) return onGroupDeliver(d);
  if (d.kind() == wire::DELIVERY_RECEIPT) {
    // Sent only by a relay from before delivery marks (docs/protocol.md 6.6). Delivery now
    // comes from marks alone; the entry is acknowledged so it does not block the inbox.
    return dropEntry(d.inbox_seq(), {});
  }

  {
    // A redelivery of something already stored (e.g. an ack lost in a crash): its message
    // key is spent, so do not even try to decrypt it again. Its number counts as seen, as a
    // group's duplicate's does: a retry the relay stored again after its dedup window has a
    // number of its own, and nothing is missing there.
    QSqlQuery seen(db_->db());
    seen.prepare("SELECT 1 FROM messages WHERE sender = ? AND client_msg_id = ?");
    seen.addBindValue(sender);
    seen.addBindValue(id);
    if (seen.exec() && seen.next()) {
      if (!db_->transaction([&] {
            return noteSeq(sender, d.conv_seq()) && save_last_acked(db_->db(), d.inbox_seq());
          }))
        return receiveFailed(QStringLiteral("could not store a message from %1").arg(sender));
      return scheduleAck(d.inbox_seq());
    }
  }
  auto decrypted = decrypt(sender, d.sender_device(), qbytes(d.ciphertext()));
  e2e::Content content;
  // What was decrypted (a text, or a group's chain key in a SENDER_KEY) does not go back to
  // the allocator readable, however this returns; the group receive path wipes its own.
  const auto wipe = qScopeGuard([&] {
    if (decrypted && decrypted->plaintext.isDetached())
      crypto::secure_zero(decrypted->plaintext.data(),
                          static_cast<std::size_t>(decrypted->plaintext.size()));
    if (auto* key = content.mutable_sender_key_distribution(); !key->empty())
      crypto::secure_zero(key->data(), key->size());
  });
  if (!decrypted || !content.ParseFromArray(decrypted->plaintext.constData(),
                                            static_cast<int>(decrypted->plaintext.size()))) {
    // It can never be decrypted; keeping it would block the inbox behind it.
    db_->transaction([&] {
      return (!decrypted || decrypted->save()) && noteSeq(sender, d.conv_seq()) &&
             save_last_acked(db_->db(), d.inbox_seq());
    });
    // Decrypted but not a Content: sent by a client other than Parley, or a broken one.
    emit problem(decrypted ? QStringLiteral("a message from %1 was not in a form this app reads and was"
                                            " dropped").arg(sender)
                           : QStringLiteral("a message from %1 could not be decrypted and was dropped").arg(sender));
    return scheduleAck(d.inbox_seq());
  }

  bool inserted = false;
  bool chain_ok = true;
  bool got_sender_key = false;
  bool group_named = false;  // that sender key gave the group its name/description
  bool timer_changed = false;  // an EXPIRE_TIMER newer than the timer in force
  bool unarchived = false;     // the message brought the chat out of the archive
  const auto now = QDateTime::currentMSecsSinceEpoch();
  const auto* plaintext = &decrypted->plaintext;
  const bool stored = db_->transaction([&] {
    auto& db = db_->db();
    if (!decrypted->save() || !noteSeq(sender, d.conv_seq())) return false;
    if (content.type() == e2e::READ_RECEIPT) {
      for (const auto& read : content.read_client_msg_ids()) {
        QSqlQuery q(db);
        q.prepare("UPDATE messages SET status = 3 WHERE sender = ? AND peer = ? AND"
                  " client_msg_id = ? AND status < 3");
        q.addBindValue(profile_.username);
        q.addBindValue(sender);
        q.addBindValue(qbytes(read));
        if (q.exec() && q.numRowsAffected() > 0) announceTicks(sender, {{qbytes(read), MessageStatus::Read}});
      }
      return save_last_acked(db, d.inbox_seq());
    }
    if (content.type() == e2e::REACTION) {
      // In a conversation of two, a reaction is to a message of one of the two.
      return storeReaction(sender, sender, content, {sender, profile_.username}) &&
             save_last_acked(db, d.inbox_seq());
    }
    if (content.type() == e2e::EDIT || content.type() == e2e::UNSEND)
      return storeRevision(sender, sender, content, detail::relay_time(d.server_ts_ms(), now)) &&
             save_last_acked(db, d.inbox_seq());
    if (content.type() == e2e::EXPIRE_TIMER) {
      return recordExpireTimer(sender, sender, id, static_cast<qint64>(d.conv_seq()),
                               detail::relay_time(d.server_ts_ms(), now), content.expire_timer_s(),
                               static_cast<qint64>(std::min<std::uint64_t>(content.client_ts_ms(), INT64_MAX)),
                               &timer_changed) &&
             save_last_acked(db, d.inbox_seq());
    }
    if (content.type() == e2e::SENDER_KEY) {
      got_sender_key = storeSenderKey(sender, content, &group_named);
      if (!got_sender_key)
        QMetaObject::invokeMethod(this, [this, sender] {
          emit problem(QStringLiteral("%1 sent an unusable group key; ignored").arg(sender));
        }, Qt::QueuedConnection);
      return save_last_acked(db, d.inbox_seq());
    }
    // SENDER_KEY_REQUEST is answered once this commits, like anything that sends.
    const bool attached = content.type() == e2e::ATTACHMENT;
    if (content.type() != e2e::TEXT && !attached) return save_last_acked(db, d.inbox_seq());
    if (attached && !validAttachment(content.attachment())) {
      // Malformed (or from a sender we cannot serve): dropped, never half-stored.
      QMetaObject::invokeMethod(this, [this, sender] {
        emit problem(QStringLiteral("%1 sent a file announcement that is malformed; ignored").arg(sender));
      }, Qt::QueuedConnection);
      return save_last_acked(db, d.inbox_seq());
    }
    if (attached && attachmentIdTaken(id, sender)) {
      QMetaObject::invokeMethod(this, [this, sender] {
        emit problem(QStringLiteral("%1 sent a file under another message's id; ignored").arg(sender));
      }, Qt::QueuedConnection);
      return save_last_acked(db, d.inbox_seq());
    }

    // In a conversation of two, a reply quotes one of the two.
    checkQuote(content, sender, sender, {sender, profile_.username});
    QSqlQuery conv(db);
    conv.prepare("INSERT INTO conversations(peer, last_activity_ms, unread) VALUES(?, ?, 0)"
                 " ON CONFLICT(peer) DO NOTHING");
    conv.addBindValue(sender);
    conv.addBindValue(now);
    QSqlQuery msg(db);
    // UNIQUE(sender, client_msg_id): a redelivery inserts nothing.
    msg.prepare("INSERT OR IGNORE INTO messages(peer, sender, client_msg_id, conv_seq, body, status,"
                " client_ts_ms, server_ts_ms, received_ms, chain_ok, reply_to, reply_author, reply_text, expire_s,"
                " forwarded) VALUES(?, ?, ?, ?, ?, 10, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    QSqlQuery prev(db);
    prev.prepare("SELECT peer_chain_hash FROM conversations WHERE peer = ?");
    prev.addBindValue(sender);
    if (!conv.exec() || !prev.exec()) return false;
    const auto expected = prev.next() && !prev.value(0).isNull() ? prev.value(0).toByteArray() : QByteArray();
    chain_ok = qbytes(content.previous_hash()) == expected;
    msg.addBindValue(sender);
    msg.addBindValue(sender);
    msg.addBindValue(id);
    msg.addBindValue(static_cast<qlonglong>(d.conv_seq()));
    msg.addBindValue(attached ? attachmentBody(content) : QString::fromStdString(content.text()));
    msg.addBindValue(static_cast<qlonglong>(content.client_ts_ms()));
    msg.addBindValue(detail::relay_time(d.server_ts_ms(), now));
    msg.addBindValue(now);
    msg.addBindValue(chain_ok ? 1 : 0);
    detail::bind_quote(msg, content);
    msg.addBindValue(std::min<qint64>(content.expire_timer_s(), kMaxExpireTimerS));
    msg.addBindValue(content.forwarded() ? 1 : 0);
    if (!msg.exec()) return false;
    inserted = msg.numRowsAffected() > 0;
    if (inserted && attached && !storeAttachment(sender, sender, id, content.attachment(), {}))
      return false;
    if (inserted) {
      const bool was_archived = detail::is_archived(db, sender);
      QSqlQuery upd(db);
      // An archived conversation comes back with a message, unless it is muted.
      upd.prepare("UPDATE conversations SET peer_chain_hash = ?, last_activity_ms = ?,"
                  " unread = unread + 1, archived = CASE WHEN muted_until_ms > ? THEN archived ELSE 0 END"
                  " WHERE peer = ?");
      upd.addBindValue(QCryptographicHash::hash(*plaintext, QCryptographicHash::Sha256));
      upd.addBindValue(now);
      upd.addBindValue(now);
      upd.addBindValue(sender);
      if (!upd.exec()) return false;
      unarchived = was_archived && !detail::is_archived(db, sender);
    }
    return save_last_acked(db, d.inbox_seq());
  });
  if (!stored) {
    // Nothing was committed (session included).
    return receiveFailed(QStringLiteral("could not store a message from %1").arg(sender));
  }
  if (inserted) {
    emit messageReceived(sender, id);
    if (!chain_ok) emit chainBroken(sender, id);
  }
  if (timer_changed || unarchived) emit chatSettingsChanged(sender);
  scheduleAck(d.inbox_seq());
  if (got_sender_key) {
    const auto gid = qbytes(content.group_id());
    if (group_named) emit groupInfoChanged(gid, sender, groupName(gid), groupDescription(gid));
    retryPendingGroupMessages(gid, sender);
  }
  if (content.type() == e2e::SENDER_KEY_REQUEST) answerSenderKeyRequest(sender, content);
}

// Tries the peer's sessions, newest first; a prekey header with no session that opens the
// message starts a responder session. Nothing is written here: the caller commits `save`
// together with the message.
std::optional<Messenger::Decrypted> Messenger::decrypt(const QString& sender, std::uint32_t device,
                                                       const QByteArray& bytes) {
  e2e::Envelope env;
  if (!env.ParseFromArray(bytes.constData(), static_cast<int>(bytes.size())) || env.version() != 1)
    return std::nullopt;
  auto header = crypto::RatchetHeader::decode(view(env.ratchet_header()));
  if (!header) return std::nullopt;
  crypto::RatchetMessage message{*header, crypto::Bytes(env.ciphertext().begin(), env.ciphertext().end())};
  auto& db = db_->db();
  const auto now = QDateTime::currentMSecsSinceEpoch();

  QSqlQuery s(db);
  s.prepare("SELECT id, state FROM sessions WHERE peer = ? AND device = ?"
            " ORDER BY last_used_ms DESC, id DESC LIMIT ?");
  s.addBindValue(sender);
  s.addBindValue(device);
  s.addBindValue(detail::kSessionsKept);
  s.exec();
  while (s.next()) {
    auto session = crypto::RatchetSession::deserialize(view(s.value(1).toByteArray()));
    if (!session) continue;
    if (auto plain = session->decrypt(message)) {
      const auto session_id = s.value(0).toLongLong();
      const SecretBytes state(session->serialize());
      return Decrypted{qbytes_wiping(*plain), [this, session_id, state, now] {
                         QSqlQuery save(db_->db());
                         // The peer answered in this session: no prekey header any more.
                         save.prepare("UPDATE sessions SET state = ?, prekey_header = NULL,"
                                      " last_used_ms = ? WHERE id = ?");
                         save.addBindValue(state.get());
                         save.addBindValue(now);
                         save.addBindValue(session_id);
                         return save.exec();
                       }};
    }
  }
  if (!env.has_prekey()) return std::nullopt;

  const auto& pre = env.prekey();
  auto their_identity = public_key(pre.identity_key());
  auto their_ephemeral = public_key(pre.ephemeral_key());
  auto spk = load_prekey(db, 1, pre.signed_prekey_id());
  if (!their_identity || !their_ephemeral || !spk) return std::nullopt;
  std::optional<crypto::KeyPair> otp;
  if (pre.has_one_time_prekey()) {
    otp = load_prekey(db, 2, pre.one_time_prekey_id());
    if (!otp) return std::nullopt;  // already used: a replayed first message
  }
  {
    // Answered before (its session did not open this copy): a replay under another id.
    QSqlQuery seen(db);
    seen.prepare("SELECT 1 FROM x3dh_seen WHERE identity_key = ? AND ephemeral_key = ?");
    seen.addBindValue(qbytes(pre.identity_key()));
    seen.addBindValue(qbytes(pre.ephemeral_key()));
    if (!seen.exec() || seen.next()) return std::nullopt;
  }
  auto x = crypto::x3dh_respond(profile_.identity, *spk, otp ? &*otp : nullptr, *their_identity,
                                *their_ephemeral);
  if (!x) return std::nullopt;
  auto session = crypto::RatchetSession::respond(x->shared_secret, *spk, x->associated_data);
  auto plain = session.decrypt(message);
  if (!plain) return std::nullopt;

  const SecretBytes state(session.serialize());
  const auto identity_bytes = qbytes(pre.identity_key());
  const bool used_otp = pre.has_one_time_prekey();
  const auto otp_id = pre.one_time_prekey_id();
  const auto ephemeral_bytes = qbytes(pre.ephemeral_key());
  const auto spk_id = pre.signed_prekey_id();
  return Decrypted{qbytes_wiping(*plain), [=, this] {
    auto& tx = db_->db();
    QSqlQuery known(tx);
    known.prepare("SELECT identity_key FROM contacts WHERE username = ?");
    known.addBindValue(sender);
    known.exec();
    if (known.next() && !known.value(0).isNull() && known.value(0).toByteArray() != identity_bytes) {
      // A new identity key: shown to the user; nothing goes out until it is accepted.
      QSqlQuery pend(tx);
      pend.prepare("UPDATE contacts SET pending_identity_key = ? WHERE username = ?");
      pend.addBindValue(identity_bytes);
      pend.addBindValue(sender);
      if (!pend.exec()) return false;
      QMetaObject::invokeMethod(this, [this, sender] { emit identityKeyChangedFor(sender); },
                                Qt::QueuedConnection);
    } else {
      QSqlQuery contact(tx);
      contact.prepare("INSERT INTO contacts(username, identity_key, added_ms) VALUES(?, ?, ?)"
                      " ON CONFLICT(username) DO NOTHING");
      contact.addBindValue(sender);
      contact.addBindValue(identity_bytes);
      contact.addBindValue(now);
      if (!contact.exec()) return false;
    }
    QSqlQuery add(tx);
    add.prepare("INSERT INTO sessions(peer, device, state, last_used_ms) VALUES(?, ?, ?, ?)");
    add.addBindValue(sender);
    add.addBindValue(device);
    add.addBindValue(state.get());
    add.addBindValue(now);
    // A one-time prekey opens one session only; so does a first message.
    QSqlQuery used(tx);
    used.prepare("DELETE FROM prekeys WHERE kind = 2 AND id = ?");
    used.addBindValue(otp_id);
    QSqlQuery seen(tx);
    seen.prepare("INSERT OR IGNORE INTO x3dh_seen(identity_key, ephemeral_key, signed_prekey_id) VALUES(?, ?, ?)");
    seen.addBindValue(identity_bytes);
    seen.addBindValue(ephemeral_bytes);
    seen.addBindValue(static_cast<qlonglong>(spk_id));
    return add.exec() && detail::prune_sessions(tx, sender, device) &&
           (!used_otp || used.exec()) && seen.exec();
  }};
}

void Messenger::dropEntry(std::uint64_t seq, const QString& problem_text) {
  db_->transaction([&] { return save_last_acked(db_->db(), seq); });
  if (!problem_text.isEmpty()) emit problem(problem_text);
  scheduleAck(seq);
}

void Messenger::scheduleAck(std::uint64_t seq) {
  if (receive_broken_) return;
  ack_pending_ = std::max(ack_pending_, seq);
  if (ack_scheduled_) return;
  ack_scheduled_ = true;
  // One cumulative ack for every entry handled in this turn of the event loop.
  QTimer::singleShot(0, this, [this] {
    ack_scheduled_ = false;
    if (ack_pending_ > 0) relay_->ack(ack_pending_);  // 0: a failed batch reset it
  });
}

void Messenger::markRead(const QString& peer) {
  // The mark goes last, on every way out, so whoever the signal wakes reads the chat read.
  const auto clear_mark = qScopeGuard([this, &peer] {
    QSqlQuery mark(db_->db());
    mark.prepare("UPDATE conversations SET marked_unread = 0 WHERE peer = ? AND marked_unread = 1");
    mark.addBindValue(peer);
    if (mark.exec() && mark.numRowsAffected() > 0) emit chatSettingsChanged(peer);
  });
  if (peer.startsWith(QLatin1Char('#'))) {
    // One group message (sender key) naming every message not yet seen; it is not shown.
    QList<QByteArray> ids;
    QSqlQuery q(db_->db());
    q.prepare("SELECT client_msg_id FROM messages WHERE peer = ? AND sender != ? AND status = 10");
    q.addBindValue(peer);
    q.addBindValue(profile_.username);
    q.exec();
    while (q.next()) ids << q.value(0).toByteArray();
    if (!ids.isEmpty()) {
      e2e::Content receipt;
      receipt.set_type(e2e::READ_RECEIPT);
      for (const auto& id : ids) receipt.add_read_client_msg_ids(sbytes(id));
      QString error;
      // Not a member any more: the messages are still marked seen here.
      if (!enqueueGroup(groupIdOf(peer), std::move(receipt), {}, &error))
        emit problem(QStringLiteral("could not send a group read receipt: %1").arg(error));
    }
    startCountdowns(peer);
    QSqlQuery upd(db_->db());
    upd.prepare("UPDATE messages SET status = 11 WHERE peer = ? AND status = 10");
    upd.addBindValue(peer);
    upd.exec();
    QSqlQuery unread(db_->db());
    unread.prepare("UPDATE conversations SET unread = 0 WHERE peer = ?");
    unread.addBindValue(peer);
    unread.exec();
    return;
  }
  QList<QByteArray> ids;
  QSqlQuery q(db_->db());
  q.prepare("SELECT client_msg_id FROM messages WHERE peer = ? AND sender = ? AND status = 10");
  q.addBindValue(peer);
  q.addBindValue(peer);
  q.exec();
  while (q.next()) ids << q.value(0).toByteArray();
  if (ids.isEmpty()) return;
  e2e::Content receipt;
  receipt.set_type(e2e::READ_RECEIPT);
  for (const auto& id : ids) receipt.add_read_client_msg_ids(sbytes(id));
  QString error;
  if (!enqueue(peer, std::move(receipt), &error)) return emit problem(error);
  startCountdowns(peer);
  QSqlQuery upd(db_->db());
  upd.prepare("UPDATE messages SET status = 11 WHERE peer = ? AND sender = ? AND status = 10");
  upd.addBindValue(peer);
  upd.addBindValue(peer);
  upd.exec();
  QSqlQuery unread(db_->db());
  unread.prepare("UPDATE conversations SET unread = 0 WHERE peer = ?");
  unread.addBindValue(peer);
  unread.exec();
}

}  // namespace parley::client
