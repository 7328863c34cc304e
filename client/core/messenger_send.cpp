// Sending: outbox first, then encryption (building a session from the peer's prekey bundle
// when there is none), then Send with the same client_msg_id until the relay acknowledges.
#include <algorithm>
#include <QCryptographicHash>
#include <QDateTime>
#include <QSqlError>
#include <QSqlQuery>
#include <QVariant>

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

using detail::kMaxTextBytes;
using detail::new_message_id;
namespace {
// The stored form of an initiator's X3DH header, repeated on every message until the peer
// has answered.
QByteArray prekey_header_bytes(const crypto::IdentityKeyPair& me, const crypto::X3dhInitiation& x) {
  e2e::PrekeyHeader h;
  h.set_identity_key(sbytes(me.public_key()));
  h.set_ephemeral_key(sbytes(x.ephemeral_key));
  h.set_signed_prekey_id(x.signed_prekey_id);
  h.set_has_one_time_prekey(x.one_time_prekey_id.has_value());
  h.set_one_time_prekey_id(x.one_time_prekey_id.value_or(0));
  return qbytes(h.SerializeAsString());
}
}  // namespace

std::optional<QByteArray> Messenger::sendText(const QString& peer, const QString& text,
                                              QString* error, qint64 reply_to, Origin origin) {
  const auto utf8 = text.toUtf8();
  if (utf8.isEmpty()) {
    *error = QStringLiteral("the message is empty");
    return std::nullopt;
  }
  if (utf8.size() > kMaxTextBytes) {
    *error = QStringLiteral("the message is longer than 64 KiB");
    return std::nullopt;
  }
  e2e::Content c;
  c.set_type(e2e::TEXT);
  c.set_text(utf8.toStdString());
  c.set_forwarded(origin == Origin::Forwarded);
  if (reply_to != 0) {
    std::string why;
    const auto folded = QString::fromStdString(fold_username(peer.toStdString(), &why));
    if (folded.isEmpty()) {
      *error = QString::fromStdString(why);
      return std::nullopt;
    }
    if (!quoteMessage(folded, reply_to, c, error)) return std::nullopt;
  }
  return enqueue(peer, std::move(c), error);
}

std::optional<QByteArray> Messenger::enqueue(const QString& raw_peer, e2e::Content content,
                                             QString* error, const QByteArray& group_id,
                                             const QByteArray& client_msg_id) {
  std::string why;
  const auto folded = fold_username(raw_peer.toStdString(), &why);
  if (folded.empty()) {
    *error = QString::fromStdString(why);
    return std::nullopt;
  }
  const QString peer = QString::fromStdString(folded);
  const auto id = client_msg_id.isEmpty() ? new_message_id() : client_msg_id;
  const auto now = QDateTime::currentMSecsSinceEpoch();
  // A content that carries its own time (a reaction, newer than the last by our clock)
  // keeps it.
  if (content.client_ts_ms() == 0) content.set_client_ts_ms(static_cast<std::uint64_t>(now));
  const bool attached = content.type() == e2e::ATTACHMENT;
  const bool visible = content.type() == e2e::TEXT || attached;
  // A chat we start takes our default timer: its change is queued first, in the same commit
  // as the message (never one without the other), so the message already carries it and the
  // other side shows the change before it.
  const int start_timer =
      visible && !detail::has_conversation(db_->db(), peer) ? defaultExpireTimer() : 0;
  bool unarchived = false;
  const bool ok = db_->transaction([&] {
    auto& db = db_->db();
    if (start_timer > 0) {
      e2e::Content change;
      change.set_type(e2e::EXPIRE_TIMER);
      change.set_expire_timer_s(static_cast<std::uint32_t>(start_timer));
      change.set_client_ts_ms(static_cast<std::uint64_t>(now));
      const auto change_id = new_message_id();
      if (!recordExpireTimer(peer, profile_.username, change_id, -1, 0, start_timer, now)) return false;
      QSqlQuery out(db);
      out.prepare("INSERT INTO outbox(client_msg_id, peer, content, created_ms) VALUES(?, ?, ?, ?)");
      out.addBindValue(change_id);
      out.addBindValue(peer);
      out.addBindValue(qbytes(change.SerializeAsString()));
      out.addBindValue(now);
      if (!out.exec()) return false;
    }
    QSqlQuery conv(db);
    // A message we send brings an archived conversation back to the list.
    conv.prepare("INSERT INTO conversations(peer, last_activity_ms) VALUES(?, ?)"
                 " ON CONFLICT(peer) DO UPDATE SET last_activity_ms = excluded.last_activity_ms,"
                 " archived = CASE WHEN ? THEN 0 ELSE archived END");
    conv.addBindValue(peer);
    conv.addBindValue(now);
    conv.addBindValue(visible ? 1 : 0);
    // Only what shows in the history moves its conversation up the list: not group plumbing
    // (a sender key, a request for one), a read receipt, a reaction or a change to an earlier
    // message.
    const bool moves_up = visible || content.type() == e2e::EXPIRE_TIMER;
    const bool was_archived = visible && detail::is_archived(db, peer);
    if (moves_up && !conv.exec()) return false;
    unarchived = was_archived && !detail::is_archived(db, peer);
    // Every message carries the conversation's timer, so each side knows how long it lives.
    const int expire_s = visible ? expireTimer(peer) : 0;
    if (expire_s > 0) content.set_expire_timer_s(static_cast<std::uint32_t>(expire_s));
    dropGoneQuote(peer, content);
    if (content.type() == e2e::EXPIRE_TIMER &&
        !recordExpireTimer(peer, profile_.username, id, -1, 0, content.expire_timer_s(),
                           static_cast<qint64>(content.client_ts_ms())))
      return false;
    if (visible) {
      // Link into our hash chain for this conversation.
      QSqlQuery prev(db);
      prev.prepare("SELECT last_chain_hash FROM conversations WHERE peer = ?");
      prev.addBindValue(peer);
      if (prev.exec() && prev.next() && !prev.value(0).isNull())
        content.set_previous_hash(sbytes(prev.value(0).toByteArray()));
    }
    const auto bytes = qbytes(content.SerializeAsString());
    if (visible) {
      QSqlQuery chain(db);
      chain.prepare("UPDATE conversations SET last_chain_hash = ? WHERE peer = ?");
      chain.addBindValue(QCryptographicHash::hash(bytes, QCryptographicHash::Sha256));
      chain.addBindValue(peer);
      QSqlQuery msg(db);
      msg.prepare("INSERT INTO messages(peer, sender, client_msg_id, body, status, client_ts_ms,"
                  " reply_to, reply_author, reply_text, expire_s, forwarded) VALUES(?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?)");
      msg.addBindValue(peer);
      msg.addBindValue(profile_.username);
      msg.addBindValue(id);
      msg.addBindValue(attached ? attachmentBody(content) : QString::fromStdString(content.text()));
      msg.addBindValue(now);
      detail::bind_quote(msg, content);
      msg.addBindValue(expire_s);
      msg.addBindValue(content.forwarded() ? 1 : 0);
      if (!chain.exec() || !msg.exec()) return false;
      if (attached && !storeAttachment(profile_.username, peer, id, content.attachment(), {}))
        return false;
    }
    QSqlQuery out(db);
    out.prepare("INSERT INTO outbox(client_msg_id, peer, content, created_ms, group_id)"
                " VALUES(?, ?, ?, ?, ?)");
    out.addBindValue(id);
    out.addBindValue(peer);
    out.addBindValue(bytes);
    out.addBindValue(now);
    out.addBindValue(group_id.isEmpty() ? QVariant(QMetaType::fromType<QByteArray>()) : QVariant(group_id));
    return out.exec();
  });
  if (!ok) {
    *error = QStringLiteral("could not write the message to the local store");
    return std::nullopt;
  }
  if (visible) emit messageSent(peer, id);
  if (unarchived || start_timer > 0) emit chatSettingsChanged(peer);
  flushOutbox();
  return id;
}

void Messenger::flushOutbox() {
  if (relay_->state() != RelayClient::State::Syncing && relay_->state() != RelayClient::State::Online)
    return;
  QSqlQuery q(db_->db());
  // A peer whose identity key changed is blocked until the user accepts the new key: read
  // from the contact each time, so the block holds across restarts and never drifts from
  // what is stored.
  q.exec("SELECT o.seq, o.peer, o.group_id, k.pending_identity_key IS NOT NULL FROM outbox o"
         " LEFT JOIN contacts k ON k.username = o.peer ORDER BY o.seq");
  std::vector<std::pair<qint64, QByteArray>> ready;  // (seq, group of a GroupSend)
  // A group message waits while our sender key is still on its way to a member (unless that
  // member is blocked), so it rarely reaches anyone before the key that opens it.
  std::set<QByteArray> key_in_flight;
  std::set<QString> probing;  // full inboxes whose oldest message was seen
  while (q.next()) {
    const auto seq = q.value(0).toLongLong();
    const auto peer = q.value(1).toString();
    const auto group = q.value(2).toByteArray();
    const bool group_send = peer.startsWith(QLatin1Char('#'));
    const bool blocked = q.value(3).toBool();
    const bool full = inbox_full_.contains(peer);
    // A sender key waiting on a member whose inbox is full does not hold the group up.
    if (!group.isEmpty() && !group_send && !blocked && !full) key_in_flight.insert(group);
    if ((full || asked_to_wait_.contains(peer)) && !probing.insert(peer).second) continue;
    if (!in_flight_.contains(seq) && !blocked)
      ready.emplace_back(seq, group_send ? group : QByteArray());
  }
  // A read that fails part-way (a damaged or tampered store: its pages are sealed) would
  // otherwise leave the rest of the queue unsent without a word. What was read still goes;
  // the rest is tried at the next flush.
  if (q.lastError().isValid() != outbox_unreadable_) {
    outbox_unreadable_ = !outbox_unreadable_;
    if (outbox_unreadable_)
      emit problem(QStringLiteral("could not read every queued message from this device's store (%1);"
                                  " the ones it could read are being sent")
                       .arg(q.lastError().text()));
  }
  for (const auto& [seq, group] : ready)
    if (group.isEmpty() || !key_in_flight.contains(group)) sendOutboxEntry(seq);
}

QString Messenger::fullInboxReason(const QString& peer, bool our_share) {
  // A group's refusal is always our share of all group logs (protocol.md, "Groups"), so it
  // names no group.
  if (peer.startsWith(QLatin1Char('#')))
    return QStringLiteral("the relay is holding as many of your group messages as it keeps from "
                          "one sender until every member has them");
  return (our_share ? QStringLiteral("the relay is holding as many of your messages for %1 as it "
                                     "keeps from one sender")
                    : QStringLiteral("%1 has too many undelivered messages waiting on the relay"))
      .arg(peer);
}

QString Messenger::whyQueued(const QString& peer) {
  const auto state = relay_->state();
  if (state != RelayClient::State::Syncing && state != RelayClient::State::Online)
    return QStringLiteral("this device is not connected to the relay; it goes as soon as it "
                          "reconnects");
  // The same holds flushOutbox applies, in the order they win there.
  if (peer.startsWith(QLatin1Char('#'))) {
    QSqlQuery key(db_->db());
    // Our sender key on its way to a member holds the group's messages, unless that member
    // is blocked (a changed key) or has a full inbox.
    key.prepare("SELECT o.peer FROM outbox o LEFT JOIN contacts k ON k.username = o.peer"
                " WHERE o.peer NOT LIKE '#%' AND k.pending_identity_key IS NULL AND o.group_id ="
                " (SELECT group_id FROM outbox WHERE peer = ? AND group_id IS NOT NULL LIMIT 1)");
    key.addBindValue(peer);
    if (key.exec())
      while (key.next())
        if (!inbox_full_.contains(key.value(0).toString()))
          return QStringLiteral("waiting until every member has this device's key for the group");
    if (const auto full = inbox_full_.find(peer); full != inbox_full_.end())
      return fullInboxReason(peer, full->second.our_share) +
             QStringLiteral("; it goes once they catch up (tried again every 30 seconds)");
  } else {
    QSqlQuery held(db_->db());
    held.prepare("SELECT 1 FROM contacts WHERE username = ? AND pending_identity_key IS NOT NULL");
    held.addBindValue(peer);
    if (held.exec() && held.next())
      return QStringLiteral("held until you accept %1's new safety number: their identity key "
                            "changed; compare it on their contact page")
          .arg(peer);
    if (const auto full = inbox_full_.find(peer); full != inbox_full_.end())
      return fullInboxReason(peer, full->second.our_share) +
             QStringLiteral("; it goes once they catch up (tried again every 30 seconds)");
    if (fetching_bundle_.contains(peer))
      return QStringLiteral("setting up an encrypted session with %1").arg(peer);
  }
  const auto now = QDateTime::currentMSecsSinceEpoch();
  if (retry_note_until_ms_ > now)
    return QStringLiteral("%1; trying again in %2 s")
        .arg(retry_note_)
        .arg((retry_note_until_ms_ - now + 999) / 1000);
  return {};
}

void Messenger::sendOutboxEntry(qint64 seq) {
  QSqlQuery q(db_->db());
  q.prepare("SELECT client_msg_id, peer, content, envelope, group_id FROM outbox WHERE seq = ?");
  q.addBindValue(seq);
  if (!q.exec() || !q.next()) return;
  const auto id = q.value(0).toByteArray();
  const auto peer = q.value(1).toString();
  // From here the relay may have it, answered or not: no longer ours alone to take back.
  const auto attempted = [this, seq] {
    QSqlQuery mark(db_->db());
    mark.prepare("UPDATE outbox SET attempted = 1 WHERE seq = ? AND attempted = 0");
    mark.addBindValue(seq);
    return mark.exec();
  };
  // A group message is one sender-key ciphertext, encrypted when it was queued; a pairwise
  // one is encrypted as it first leaves.
  const bool group = peer.startsWith(QLatin1Char('#'));
  if (!group && q.value(3).isNull()) return encryptEntry(seq, peer, q.value(2).toByteArray());
  const auto envelope = q.value(3).toByteArray();
  // The relay refuses more for good. Over its frame limit the offer even costs the
  // connection, and with it whatever this flush sent after it: offered at every reconnect,
  // it held back every message queued behind it.
  if (envelope.size() > static_cast<qsizetype>(limits::kMaxCiphertextBytes))
    return failOutboxEntry(seq, QStringLiteral("a message to %1 was too large to send (%2 KiB, the relay "
                                          "takes %3 KiB) and was not sent")
                               .arg(peer)
                               .arg(envelope.size() / 1024)
                               .arg(limits::kMaxCiphertextBytes / 1024));
  if (!attempted()) return;  // tried again at the next flush
  in_flight_.insert(seq);
  wire::ClientFrame f;
  if (group) {
    auto* g = f.mutable_group_send();
    g->set_group_id(sbytes(q.value(4).toByteArray()));
    g->set_client_msg_id(sbytes(id));
    g->set_ciphertext(sbytes(envelope));
  } else {
    auto* s = f.mutable_send();
    s->set_client_msg_id(sbytes(id));
    s->set_recipient(peer.toStdString());
    auto* m = s->add_messages();
    m->set_device_id(1);
    m->set_ciphertext(sbytes(envelope));
  }
  relay_->request(f, [this, seq](const wire::ServerFrame& r) { onSendAck(seq, r); });
}

// Encrypts one outbox entry and stores the envelope together with the advanced ratchet, in
// one transaction: the ratchet never moves without the ciphertext it produced being kept.
void Messenger::encryptEntry(qint64 seq, const QString& peer, const QByteArray& content) {
  auto& db = db_->db();
  QSqlQuery s(db);
  s.prepare("SELECT id, state, prekey_header FROM sessions WHERE peer = ? AND device = 1"
            " ORDER BY last_used_ms DESC, id DESC LIMIT 1");
  s.addBindValue(peer);
  if (s.exec() && s.next()) {
    const auto session_id = s.value(0).toLongLong();
    auto session = crypto::RatchetSession::deserialize(view(s.value(1).toByteArray()));
    if (!session) {
      emit problem(QStringLiteral("a stored session with %1 is damaged; starting a new one").arg(peer));
      QSqlQuery drop(db);
      drop.prepare("DELETE FROM sessions WHERE id = ?");
      drop.addBindValue(session_id);
      drop.exec();
      return encryptEntry(seq, peer, content);
    }
    const auto message = session->encrypt(view(content));
    e2e::Envelope env;
    env.set_version(1);
    if (!s.value(2).isNull()) env.mutable_prekey()->ParseFromString(sbytes(s.value(2).toByteArray()));
    env.set_ratchet_header(sbytes(crypto::ByteView(message.header.encode())));
    env.set_ciphertext(sbytes(crypto::ByteView(message.ciphertext)));
    const SecretBytes state(session->serialize());
    const bool ok = db_->transaction([&] {
      QSqlQuery save(db);
      save.prepare("UPDATE sessions SET state = ? WHERE id = ?");
      save.addBindValue(state.get());
      save.addBindValue(session_id);
      QSqlQuery out(db);
      out.prepare("UPDATE outbox SET envelope = ? WHERE seq = ?");
      out.addBindValue(qbytes(env.SerializeAsString()));
      out.addBindValue(seq);
      return save.exec() && out.exec();
    });
    if (ok) sendOutboxEntry(seq);
    return;
  }

  // No session yet: fetch the peer's bundle and run X3DH, once for all queued messages.
  if (fetching_bundle_.contains(peer)) return;  // flushed again when the session exists
  fetching_bundle_.insert(peer);
  in_flight_.insert(seq);
  wire::ClientFrame f;
  f.mutable_fetch_prekey_bundle()->set_username(peer.toStdString());
  relay_->request(f, [this, seq, peer, content](const wire::ServerFrame& r) {
    in_flight_.erase(seq);
    fetching_bundle_.erase(peer);
    if (r.has_error()) {
      if (r.error().code() == wire::UNKNOWN_RECIPIENT) {
        failOutboxEntry(seq, QStringLiteral("there is no user %1 on this relay").arg(peer));
      }
      // Otherwise (busy, rate limited, no answer) asked again after the relay's wait.
      return retryOutboxIn(r.error().retry_after_ms(),
                           QStringLiteral("could not fetch %1's keys from the relay").arg(peer));
    }
    if (!r.has_prekey_bundle() || r.prekey_bundle().devices_size() == 0) return;
    const auto& dev = r.prekey_bundle().devices(0);
    auto identity = public_key(dev.identity_key());
    auto spk = public_key(dev.signed_prekey().public_key());
    if (!identity || !spk || dev.signed_prekey().signature().size() != 64) {
      emit problem(QStringLiteral("%1 has not published usable prekeys yet").arg(peer));
      return;
    }
    // Trust on first use; a different key later blocks sending until the user accepts it.
    QSqlQuery known(db_->db());
    known.prepare("SELECT identity_key FROM contacts WHERE username = ?");
    known.addBindValue(peer);
    known.exec();
    const auto identity_bytes = qbytes(dev.identity_key());
    if (known.next() && !known.value(0).isNull() && known.value(0).toByteArray() != identity_bytes) {
      QSqlQuery pend(db_->db());
      pend.prepare("UPDATE contacts SET pending_identity_key = ? WHERE username = ?");
      pend.addBindValue(identity_bytes);
      pend.addBindValue(peer);
      pend.exec();
      emit identityKeyChangedFor(peer);
      return;
    }
    crypto::PrekeyBundle bundle;
    bundle.identity_key = *identity;
    bundle.signed_prekey_id = dev.signed_prekey().id();
    bundle.signed_prekey = *spk;
    std::copy(dev.signed_prekey().signature().begin(), dev.signed_prekey().signature().end(),
              reinterpret_cast<char*>(bundle.signed_prekey_signature.bytes.data()));
    if (dev.has_one_time_prekey()) {
      if (auto otp = public_key(dev.one_time_prekey().public_key()))
        bundle.one_time_prekey = std::make_pair(dev.one_time_prekey().id(), *otp);
    }
    auto x = crypto::x3dh_initiate(profile_.identity, bundle);
    if (!x) {
      emit problem(QStringLiteral("%1's signed prekey does not verify; not sending").arg(peer));
      return;
    }
    auto session = crypto::RatchetSession::initiate(x->shared_secret, bundle.signed_prekey,
                                                    x->associated_data);
    const auto header = prekey_header_bytes(profile_.identity, *x);
    const bool ok = db_->transaction([&] {
      QSqlQuery contact(db_->db());
      contact.prepare("INSERT INTO contacts(username, identity_key, added_ms) VALUES(?, ?, ?)"
                      " ON CONFLICT(username) DO UPDATE SET identity_key = excluded.identity_key");
      contact.addBindValue(peer);
      contact.addBindValue(identity_bytes);
      contact.addBindValue(QDateTime::currentMSecsSinceEpoch());
      const SecretBytes state(session.serialize());
      QSqlQuery add(db_->db());
      add.prepare("INSERT INTO sessions(peer, device, state, prekey_header, last_used_ms)"
                  " VALUES(?, 1, ?, ?, ?)");
      add.addBindValue(peer);
      add.addBindValue(state.get());
      add.addBindValue(header);
      add.addBindValue(QDateTime::currentMSecsSinceEpoch());
      return contact.exec() && add.exec() && detail::prune_sessions(db_->db(), peer, 1);
    });
    if (ok) {
      sendOutboxEntry(seq);
      flushOutbox();  // the peer's other queued messages use the same session
    }
  });
}

void Messenger::onSendAck(qint64 seq, const wire::ServerFrame& r) {
  in_flight_.erase(seq);
  QSqlQuery q(db_->db());
  q.prepare("SELECT client_msg_id, peer, group_id, content FROM outbox WHERE seq = ?");
  q.addBindValue(seq);
  if (!q.exec() || !q.next()) return;
  const auto id = q.value(0).toByteArray();
  const auto peer = q.value(1).toString();
  const auto group_id = q.value(2).toByteArray();
  const bool key_distribution = !q.value(2).isNull() && !peer.startsWith(QLatin1Char('#'));
  const auto content_bytes = q.value(3).toByteArray();
  if (r.has_send_ack()) {
    // Our own GROUP_INFO now has its group seq: it wins over any older one that reached us
    // meanwhile (every member applies the newest by seq).
    e2e::Content info;
    const bool is_info = peer.startsWith(QLatin1Char('#')) &&
                         info.ParseFromArray(content_bytes.constData(), static_cast<int>(content_bytes.size())) &&
                         info.type() == e2e::GROUP_INFO;
    bool info_changed = false;
    bool timer_changed = false;
    db_->transaction([&] {
      QSqlQuery del(db_->db());
      del.prepare("DELETE FROM outbox WHERE seq = ?");
      del.addBindValue(seq);
      if (is_info)
        info_changed = applyGroupInfo(group_id, info, static_cast<qint64>(r.send_ack().conv_seq()));
      // With the outbox entry, so a crash cannot leave a disappearing message never counting
      // down (no SendAck comes again for it), or our timer change never numbered.
      return del.exec() && noteSeq(peer, r.send_ack().conv_seq()) && startOwnCountdown(peer, id) &&
             onOwnTimerNumbered(peer, id, static_cast<qint64>(r.send_ack().conv_seq()), &timer_changed);
    });
    if (timer_changed) emit chatSettingsChanged(peer);
    if (info_changed)
      emit groupInfoChanged(group_id, profile_.username, QString::fromStdString(info.text()),
                            QString::fromStdString(info.group_description()));
    const auto conv_seq = static_cast<qint64>(r.send_ack().conv_seq());
    setStatus(peer, id, MessageStatus::Sent, conv_seq,
              detail::relay_time(r.send_ack().server_ts_ms(), QDateTime::currentMSecsSinceEpoch()));
    // Only a duplicate answer can follow a mark of its message: the first SendAck always
    // leaves before the message can be acknowledged, so a mark came first only when that
    // SendAck was lost with a dropped connection and this answers the retry.
    // (A pairwise sender-key message names its group too, but its marks are 1:1 ones.)
    if (r.send_ack().duplicate())
      applyStoredMarks(peer, peer.startsWith(QLatin1Char('#')) ? group_id : QByteArray(), id,
                       conv_seq);
    // Group messages waiting for this key may go now, and what waited behind a full inbox or
    // behind a message the relay asked to wait.
    const auto full = inbox_full_.find(peer);
    const bool had_room_again = full != inbox_full_.end() && seq >= full->second.oldest_seq;
    if (had_room_again) inbox_full_.erase(full);
    const auto waited = asked_to_wait_.find(peer);
    const bool waited_enough = waited != asked_to_wait_.end() && seq >= waited->second;
    if (waited_enough) asked_to_wait_.erase(waited);
    if (key_distribution || had_room_again || waited_enough) flushOutbox();
    if (outboxSize() == 0) emit outboxDrained();
    return;
  }
  const auto reason = [&] { return detail::relay_reason(r.error().reason()); };
  if (r.has_error() && r.error().code() == wire::FORBIDDEN)  // a group we are no longer in
    return failOutboxEntry(seq, QStringLiteral("the relay refused a group message: %1").arg(reason()));
  if (r.has_error() && r.error().code() == wire::UNKNOWN_RECIPIENT)
    return failOutboxEntry(seq, QStringLiteral("there is no user %1 on this relay").arg(peer));
  if (r.has_error() && (r.error().code() == wire::TOO_LARGE || r.error().code() == wire::BAD_REQUEST))
    // Refused for what it is, not for now: offered again at every flush, it would be refused
    // again every time, and its message would show as on its way for ever.
    return failOutboxEntry(seq, QStringLiteral("the relay refused a message to %1 and it was not sent: %2")
                                    .arg(peer, reason()));
  // Anything else leaves the entry queued. A refusal for a while (a rate, a full inbox), a
  // relay too busy to take it or one that failed to store it (UNAVAILABLE, INTERNAL, also said
  // for a request that had no answer in time) and a lost connection all end: it goes again
  // after the relay's wait, or when the connection is back.
  const auto code = r.has_error() ? r.error().code() : wire::ERROR_UNSPECIFIED;
  if (code == wire::INBOX_FULL) {
    const bool share = r.error().sender_share_full();
    const auto [full, added] = inbox_full_.try_emplace(peer, FullInbox{seq, share});
    full->second = {std::min(full->second.oldest_seq, seq), share};
    if (added)
      emit problem(fullInboxReason(peer, share) +
                   (share ? QStringLiteral("; the rest will go once they catch up")
                          : QStringLiteral("; yours will go once they catch up")));
    return retryOutboxIn(r.error().retry_after_ms(), {});
  }
  if (code == wire::RATE_LIMITED || code == wire::UNAVAILABLE || code == wire::INTERNAL) {
    // Messages sent behind this one may have been taken meanwhile (the relay holds most of
    // them back, protocol.md "Order behind a refusal"): the oldest goes alone first.
    const auto [waiting, added] = asked_to_wait_.try_emplace(peer, seq);
    if (!added) waiting->second = std::min(waiting->second, seq);
    retryOutboxIn(r.error().retry_after_ms(),
                  code == wire::RATE_LIMITED ? QStringLiteral("the relay asked this device to slow down")
                  : code == wire::INTERNAL   ? QStringLiteral("the relay could not store it")
                                             : QStringLiteral("the relay is busy or out of reach"));
  }
}

void Messenger::failOutboxEntry(qint64 seq, const QString& problem_text) {
  auto& db = db_->db();
  QSqlQuery q(db);
  q.prepare("SELECT client_msg_id, peer, group_id FROM outbox WHERE seq = ?");
  q.addBindValue(seq);
  if (!q.exec() || !q.next()) return;  // gone already
  const auto client_msg_id = q.value(0).toByteArray();
  const auto peer = q.value(1).toString();
  // Our sender key on its way to a member (a pairwise entry of a group): the member is marked
  // as lacking it again, so our next message to the group offers it once more instead of
  // leaving them unable to read every one of ours.
  const auto key_for = !q.value(2).isNull() && !peer.startsWith(QLatin1Char('#')) ? q.value(2).toByteArray()
                                                                                  : QByteArray();
  bool timer_back = false;  // a timer change of ours refused: the one before it holds again
  const bool done = db_->transaction([&] {
    QSqlQuery del(db);
    del.prepare("DELETE FROM outbox WHERE seq = ?");
    del.addBindValue(seq);
    // Refused for good, a disappearing message still goes in its time.
    if (!del.exec() || !startOwnCountdown(peer, client_msg_id) ||
        !undoRefusedTimer(peer, client_msg_id, &timer_back))
      return false;
    if (key_for.isEmpty()) return true;
    QSqlQuery unsent(db);
    unsent.prepare("UPDATE group_members SET key_sent = NULL, key_sent_distribution = NULL"
                   " WHERE group_id = ? AND username = ?");
    unsent.addBindValue(key_for);
    unsent.addBindValue(peer);
    return unsent.exec();
  });
  // Why, before the status: whoever acts on the failure (parley-cli's exit) has the reason.
  emit problem(key_for.isEmpty()
                   ? problem_text
                   : problem_text + QStringLiteral(" (our group key for them; it goes again with our"
                                                   " next group message)"));
  setStatus(peer, client_msg_id, MessageStatus::Failed);
  if (done && timer_back) emit chatSettingsChanged(peer);
  if (outboxSize() == 0) emit outboxDrained();
}

void Messenger::retryOutboxIn(std::uint32_t relay_wait_ms, const QString& why) {
  // The wait is the relay's word, kept between 1 s and a minute: 0 would resend the whole
  // outbox every few milliseconds, and a huge value overflowed the timer's int. The earliest
  // wait wins: a rate limit's second must not sit behind a full inbox's half minute (the
  // flush sends a full inbox only its oldest message anyway). whyQueued names the wait that
  // set the timer: the first refusal, not the holds that followed it.
  // (Compared with the due time kept here: a coarse timer's remainingTime() may read a little
  // past the interval it was given.)
  const auto wait = static_cast<int>(std::clamp<std::uint32_t>(relay_wait_ms, 1000, 60000));
  const auto now = QDateTime::currentMSecsSinceEpoch();
  if (retry_timer_.isActive() && retry_due_ms_ <= now + wait) return;
  retry_due_ms_ = now + wait;
  retry_timer_.start(wait);
  if (!why.isEmpty()) {
    retry_note_ = why;
    retry_note_until_ms_ = retry_due_ms_;
  }
}

}  // namespace parley::client
