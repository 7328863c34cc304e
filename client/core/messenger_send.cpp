// Sending: outbox first, then encryption (building a session from the peer's prekey bundle
// when there is none), then Send with the same client_msg_id until the relay acknowledges.
#include <QCryptographicHash>
#include <QDateTime>
#include <QSqlQuery>
#include <QVariant>

#include "crypto/ratchet.hpp"
#include "crypto/sender_key.hpp"
#include "crypto/x3dh.hpp"
#include "e2e.pb.h"
#include "messenger.hpp"
#include "parley/username.hpp"
#include "util/bytes.hpp"

namespace parley::client {
namespace {
// Folds every name; nullopt with the first one's problem in `why`.
std::optional<QStringList> fold_usernames(const QStringList& users, QString* why) {
  QStringList folded;
  for (const auto& u : users) {
    std::string problem;
    const auto f = fold_username(u.toStdString(), &problem);
    if (f.empty()) {
      *why = QStringLiteral("%1: %2").arg(u, QString::fromStdString(problem));
      return std::nullopt;
    }
    folded << QString::fromStdString(f);
  }
  return folded;
}

constexpr int kMaxTextBytes = 64 * 1024;

QByteArray random_id() {
  QByteArray id(16, '\0');
  crypto::random_bytes(reinterpret_cast<std::uint8_t*>(id.data()), 16);
  return id;
}

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
                                              QString* error) {
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
  return enqueue(peer, std::move(c), error);
}

std::optional<QByteArray> Messenger::enqueue(const QString& raw_peer, e2e::Content content,
                                             QString* error, const QByteArray& group_id) {
  std::string why;
  const auto folded = fold_username(raw_peer.toStdString(), &why);
  if (folded.empty()) {
    *error = QString::fromStdString(why);
    return std::nullopt;
  }
  const QString peer = QString::fromStdString(folded);
  const auto id = random_id();
  const auto now = QDateTime::currentMSecsSinceEpoch();
  content.set_client_ts_ms(static_cast<std::uint64_t>(now));
  const bool visible = content.type() == e2e::TEXT;
  const bool ok = db_->transaction([&] {
    auto& db = db_->db();
    QSqlQuery conv(db);
    conv.prepare("INSERT INTO conversations(peer, last_activity_ms) VALUES(?, ?)"
                 " ON CONFLICT(peer) DO UPDATE SET last_activity_ms = excluded.last_activity_ms");
    conv.addBindValue(peer);
    conv.addBindValue(now);
    // A sender-key distribution is group plumbing, not a conversation with the member.
    if (content.type() != e2e::SENDER_KEY && !conv.exec()) return false;
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
      msg.prepare("INSERT INTO messages(peer, sender, client_msg_id, body, status, client_ts_ms)"
                  " VALUES(?, ?, ?, ?, 0, ?)");
      msg.addBindValue(peer);
      msg.addBindValue(profile_.username);
      msg.addBindValue(id);
      msg.addBindValue(QString::fromStdString(content.text()));
      msg.addBindValue(now);
      if (!chain.exec() || !msg.exec()) return false;
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
  flushOutbox();
  return id;
}

void Messenger::flushOutbox() {
  if (relay_->state() != RelayClient::State::Syncing && relay_->state() != RelayClient::State::Online)
    return;
  QSqlQuery q(db_->db());
  q.exec("SELECT seq, peer, group_id FROM outbox ORDER BY seq");
  std::vector<std::pair<qint64, QByteArray>> ready;  // (seq, group of a GroupSend)
  // A group message waits while our sender key is still on its way to a member (unless that
  // member is blocked), so it rarely reaches anyone before the key that opens it.
  std::set<QByteArray> key_in_flight;
  while (q.next()) {
    const auto seq = q.value(0).toLongLong();
    const auto peer = q.value(1).toString();
    const auto group = q.value(2).toByteArray();
    const bool group_send = peer.startsWith(QLatin1Char('#'));
    if (!group.isEmpty() && !group_send && !blocked_peers_.contains(peer)) key_in_flight.insert(group);
    if (!in_flight_.contains(seq) && !blocked_peers_.contains(peer))
      ready.emplace_back(seq, group_send ? group : QByteArray());
  }
  for (const auto& [seq, group] : ready)
    if (group.isEmpty() || !key_in_flight.contains(group)) sendOutboxEntry(seq);
}

void Messenger::sendOutboxEntry(qint64 seq) {
  QSqlQuery q(db_->db());
  q.prepare("SELECT client_msg_id, peer, content, envelope, group_id FROM outbox WHERE seq = ?");
  q.addBindValue(seq);
  if (!q.exec() || !q.next()) return;
  const auto id = q.value(0).toByteArray();
  const auto peer = q.value(1).toString();
  if (peer.startsWith(QLatin1Char('#'))) {
    // A group message: one sender-key ciphertext, encrypted when it was queued.
    in_flight_.insert(seq);
    wire::ClientFrame f;
    auto* g = f.mutable_group_send();
    g->set_group_id(sbytes(q.value(4).toByteArray()));
    g->set_client_msg_id(sbytes(id));
    g->set_ciphertext(sbytes(q.value(3).toByteArray()));
    relay_->request(f, [this, seq](const wire::ServerFrame& r) { onSendAck(seq, r); });
    return;
  }
  if (q.value(3).isNull()) return encryptEntry(seq, peer, q.value(2).toByteArray());

  in_flight_.insert(seq);
  wire::ClientFrame f;
  auto* s = f.mutable_send();
  s->set_client_msg_id(sbytes(id));
  s->set_recipient(peer.toStdString());
  auto* m = s->add_messages();
  m->set_device_id(1);
  m->set_ciphertext(sbytes(q.value(3).toByteArray()));
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
    const auto state = qbytes(crypto::ByteView(session->serialize()));
    const bool ok = db_->transaction([&] {
      QSqlQuery save(db);
      save.prepare("UPDATE sessions SET state = ? WHERE id = ?");
      save.addBindValue(state);
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
        QSqlQuery q(db_->db());
        q.prepare("SELECT client_msg_id FROM outbox WHERE seq = ?");
        q.addBindValue(seq);
        if (q.exec() && q.next()) setStatus(peer, q.value(0).toByteArray(), MessageStatus::Failed);
        QSqlQuery del(db_->db());
        del.prepare("DELETE FROM outbox WHERE seq = ?");
        del.addBindValue(seq);
        del.exec();
        emit problem(QStringLiteral("there is no user %1 on this relay").arg(peer));
      }
      return;  // otherwise retried at the next flush
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
      blocked_peers_.insert(peer);
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
      QSqlQuery add(db_->db());
      add.prepare("INSERT INTO sessions(peer, device, state, prekey_header, last_used_ms)"
                  " VALUES(?, 1, ?, ?, ?)");
      add.addBindValue(peer);
      add.addBindValue(qbytes(crypto::ByteView(session.serialize())));
      add.addBindValue(header);
      add.addBindValue(QDateTime::currentMSecsSinceEpoch());
      return contact.exec() && add.exec();
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
    db_->transaction([&] {
      QSqlQuery del(db_->db());
      del.prepare("DELETE FROM outbox WHERE seq = ?");
      del.addBindValue(seq);
      if (is_info)
        info_changed = applyGroupInfo(group_id, QString::fromStdString(info.text()),
                                      QString::fromStdString(info.group_description()),
                                      static_cast<qint64>(r.send_ack().conv_seq()));
      return del.exec() && noteSeq(peer, r.send_ack().conv_seq());
    });
    if (info_changed)
      emit groupInfoChanged(group_id, profile_.username, QString::fromStdString(info.text()),
                            QString::fromStdString(info.group_description()));
    setStatus(peer, id, MessageStatus::Sent, static_cast<qint64>(r.send_ack().conv_seq()),
              static_cast<qint64>(r.send_ack().server_ts_ms()));
    if (key_distribution) flushOutbox();  // group messages waiting for this key may go now
    if (outboxSize() == 0) emit outboxDrained();
    return;
  }
  if (r.has_error() && r.error().code() == wire::FORBIDDEN) {
    // A group we are no longer in (or never were).
    QSqlQuery del(db_->db());
    del.prepare("DELETE FROM outbox WHERE seq = ?");
    del.addBindValue(seq);
    del.exec();
    setStatus(peer, id, MessageStatus::Failed);
    emit problem(QStringLiteral("the relay refused a group message: %1")
                     .arg(QString::fromStdString(r.error().reason())));
    return;
  }
  if (r.has_error() && r.error().code() == wire::UNKNOWN_RECIPIENT) {
    QSqlQuery del(db_->db());
    del.prepare("DELETE FROM outbox WHERE seq = ?");
    del.addBindValue(seq);
    del.exec();
    setStatus(peer, id, MessageStatus::Failed);
    emit problem(QStringLiteral("there is no user %1 on this relay").arg(peer));
    return;
  }
  // UNAVAILABLE, a dropped connection, a rate limit: the entry stays and goes again at the
  // next flush (after reconnecting, or after a short wait).
  if (r.has_error() && r.error().code() == wire::RATE_LIMITED)
    QTimer::singleShot(static_cast<int>(r.error().retry_after_ms()) + 10, this,
                       [this] { flushOutbox(); });
}

// ---- Groups: membership requests, our sender key, group sends ----

QString Messenger::groupPeer(const QByteArray& group_id) {
  return QLatin1Char('#') + QString::fromLatin1(group_id.toHex());
}

void Messenger::groupRequest(wire::ClientFrame f, const QByteArray& group_id, Done done) {
  relay_->request(std::move(f), [this, group_id, done = std::move(done)](const wire::ServerFrame& r) {
    if (r.has_error()) {
      if (done) done(QString::fromStdString(r.error().reason()));
      return;
    }
    if (r.has_group_updated()) {
      QSqlQuery q(db_->db());
      q.prepare("UPDATE groups SET epoch = MAX(epoch, ?) WHERE id = ?");
      q.addBindValue(static_cast<qlonglong>(r.group_updated().epoch()));
      q.addBindValue(group_id);
      q.exec();
    }
    if (done) done({});
  });
}

void Messenger::createGroup(const QString& name, const QStringList& members, GroupDone done) {
  QStringList folded;
  for (const auto& m : members) {
    std::string why;
    const auto f = fold_username(m.toStdString(), &why);
    if (f.empty()) return done({}, QString::fromStdString(why));
    if (QString::fromStdString(f) != profile_.username) folded << QString::fromStdString(f);
  }
  folded.removeDuplicates();
  wire::ClientFrame f;
  auto* c = f.mutable_create_group();
  for (const auto& m : folded) c->add_members(m.toStdString());
  relay_->request(f, [this, name, folded, done = std::move(done)](const wire::ServerFrame& r) {
    if (!r.has_group_created()) {
      return done({}, r.has_error() ? QString::fromStdString(r.error().reason())
                                    : QStringLiteral("unexpected answer from the relay"));
    }
    const auto gid = qbytes(r.group_created().group_id());
    const bool ok = db_->transaction([&] {
      QSqlQuery g(db_->db());
      g.prepare("INSERT INTO groups(id, name, epoch) VALUES(?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET name = excluded.name");
      g.addBindValue(gid);
      g.addBindValue(name);
      g.addBindValue(static_cast<qlonglong>(r.group_created().epoch()));
      if (!g.exec()) return false;
      QStringList all = folded;
      all << profile_.username;
      for (const auto& m : all) {
        QSqlQuery add(db_->db());
        add.prepare("INSERT OR IGNORE INTO group_members(group_id, username, admin) VALUES(?, ?, ?)");
        add.addBindValue(gid);
        add.addBindValue(m);
        add.addBindValue(m == profile_.username ? 1 : 0);
        if (!add.exec()) return false;
      }
      QSqlQuery conv(db_->db());
      conv.prepare("INSERT INTO conversations(peer, last_activity_ms) VALUES(?, ?)"
                   " ON CONFLICT(peer) DO NOTHING");
      conv.addBindValue(groupPeer(gid));
      conv.addBindValue(QDateTime::currentMSecsSinceEpoch());
      return conv.exec();
    });
    if (!ok) return done(gid, QStringLiteral("the group exists but could not be stored locally"));
    distributeSenderKey(gid);
    done(gid, {});
  });
}

void Messenger::addMembers(const QByteArray& group_id, const QStringList& users, Done done) {
  QString why;
  const auto folded = fold_usernames(users, &why);
  if (!folded) return done(why);
  wire::ClientFrame f;
  f.mutable_add_members()->set_group_id(sbytes(group_id));
  for (const auto& u : *folded) f.mutable_add_members()->add_usernames(u.toStdString());
  groupRequest(f, group_id, [this, group_id, folded = *folded, done = std::move(done)](const QString& error) {
    if (error.isEmpty()) {
      // The ADDED event confirms it; send our key now rather than after the fan-out.
      for (const auto& u : folded) {
        QSqlQuery add(db_->db());
        add.prepare("INSERT OR IGNORE INTO group_members(group_id, username, admin) VALUES(?, ?, 0)");
        add.addBindValue(group_id);
        add.addBindValue(u);
        add.exec();
      }
      distributeSenderKey(group_id);
    }
    done(error);
  });
}

void Messenger::removeMembers(const QByteArray& group_id, const QStringList& users, Done done) {
  QString why;
  const auto folded = fold_usernames(users, &why);
  if (!folded) return done(why);
  wire::ClientFrame f;
  f.mutable_remove_members()->set_group_id(sbytes(group_id));
  for (const auto& u : *folded) f.mutable_remove_members()->add_usernames(u.toStdString());
  groupRequest(f, group_id, [this, group_id, folded = *folded, done = std::move(done)](const QString& error) {
    if (error.isEmpty()) {
      db_->transaction([&] {
        for (const auto& u : folded) {
          QSqlQuery del(db_->db());
          del.prepare("DELETE FROM group_members WHERE group_id = ? AND username = ?");
          del.addBindValue(group_id);
          del.addBindValue(u);
          if (!del.exec()) return false;
        }
        // The removed members hold our current key: the next message uses a new one.
        QSqlQuery rot(db_->db());
        rot.prepare("UPDATE groups SET needs_rotation = 1 WHERE id = ?");
        rot.addBindValue(group_id);
        return rot.exec();
      });
    }
    done(error);
  });
}

void Messenger::leaveGroup(const QByteArray& group_id, Done done) {
  wire::ClientFrame f;
  f.mutable_leave_group()->set_group_id(sbytes(group_id));
  groupRequest(f, group_id, [this, group_id, done = std::move(done)](const QString& error) {
    if (error.isEmpty()) {
      QSqlQuery q(db_->db());
      q.prepare("UPDATE groups SET left = 1, my_sender_key = NULL WHERE id = ?");
      q.addBindValue(group_id);
      q.exec();
    }
    done(error);
  });
}

bool Messenger::distributeSenderKey(const QByteArray& group_id, bool rotate) {
  auto& db = db_->db();
  QSqlQuery g(db);
  g.prepare("SELECT my_sender_key, needs_rotation, left, name, epoch, description FROM groups"
            " WHERE id = ?");
  g.addBindValue(group_id);
  if (!g.exec() || !g.next() || g.value(2).toBool()) return false;
  const auto name = g.value(3).toString();
  const auto epoch = g.value(4).toLongLong();
  const auto description = g.value(5).toString();
  std::optional<crypto::SenderKeySender> sender;
  if (!g.value(0).isNull() && !rotate && !g.value(1).toBool())
    sender = crypto::SenderKeySender::deserialize(view(g.value(0).toByteArray()));
  if (!sender) {
    sender = crypto::SenderKeySender::generate();
    auto state = qbytes(crypto::ByteView(sender->serialize()));
    const bool ok = db_->transaction([&] {
      QSqlQuery save(db);
      // key_distributed_epoch: the epoch this key was made at; a departure at a later epoch
      // means it must be replaced (see onGroupEvent).
      save.prepare("UPDATE groups SET my_sender_key = ?, needs_rotation = 0,"
                   " key_distributed_epoch = ? WHERE id = ?");
      save.addBindValue(state);
      save.addBindValue(epoch);
      save.addBindValue(group_id);
      QSqlQuery reset(db);  // nobody has the new key yet
      reset.prepare("UPDATE group_members SET key_sent = NULL WHERE group_id = ?");
      reset.addBindValue(group_id);
      return save.exec() && reset.exec();
    });
    crypto::secure_zero(state.data(), static_cast<std::size_t>(state.size()));
    if (!ok) return false;
  }
  const QByteArray key_id(reinterpret_cast<const char*>(sender->key_id().data()),
                          static_cast<qsizetype>(sender->key_id().size()));
  QSqlQuery m(db);
  m.prepare("SELECT username FROM group_members WHERE group_id = ? AND username != ?"
            " AND (key_sent IS NULL OR key_sent != ?)");
  m.addBindValue(group_id);
  m.addBindValue(profile_.username);
  m.addBindValue(key_id);
  m.exec();
  QStringList lacking;
  while (m.next()) lacking << m.value(0).toString();
  if (lacking.isEmpty()) return true;
  auto encoded = sender->distribution().encode();
  bool all = true;
  for (const auto& member : lacking) {
    e2e::Content c;
    c.set_type(e2e::SENDER_KEY);
    c.set_group_id(sbytes(group_id));
    c.set_text(name.toStdString());
    c.set_group_description(description.toStdString());
    c.set_sender_key_distribution(sbytes(crypto::ByteView(encoded)));
    QString error;
    const bool queued = enqueue(member, std::move(c), &error, group_id).has_value();
    if (queued) {
      QSqlQuery mark(db);
      mark.prepare("UPDATE group_members SET key_sent = ? WHERE group_id = ? AND username = ?");
      mark.addBindValue(key_id);
      mark.addBindValue(group_id);
      mark.addBindValue(member);
      mark.exec();
    } else {
      all = false;
      emit problem(QStringLiteral("could not queue the group key for %1: %2").arg(member, error));
    }
  }
  crypto::secure_zero(encoded.data(), encoded.size());
  return all;
}

std::optional<QByteArray> Messenger::groupSend(const QByteArray& group_id, const QString& text,
                                               QString* error) {
  const auto utf8 = text.toUtf8();
  if (utf8.isEmpty() || utf8.size() > kMaxTextBytes) {
    *error = utf8.isEmpty() ? QStringLiteral("the message is empty")
                            : QStringLiteral("the message is longer than 64 KiB");
    return std::nullopt;
  }
  e2e::Content content;
  content.set_type(e2e::GROUP_TEXT);
  content.set_text(utf8.toStdString());
  return enqueueGroup(group_id, std::move(content), text, error);
}

std::optional<QByteArray> Messenger::enqueueGroup(const QByteArray& group_id, e2e::Content content,
                                                  const QString& text, QString* error) {
  // Makes the key if needed, rotates it after a removal, and queues it for whoever lacks it
  // (those outbox entries come before this message's).
  if (!distributeSenderKey(group_id)) {
    *error = QStringLiteral("not a member of this group");
    return std::nullopt;
  }
  auto& db = db_->db();
  QSqlQuery g(db);
  g.prepare("SELECT my_sender_key FROM groups WHERE id = ?");
  g.addBindValue(group_id);
  std::optional<crypto::SenderKeySender> sender;
  if (g.exec() && g.next()) sender = crypto::SenderKeySender::deserialize(view(g.value(0).toByteArray()));
  if (!sender) {
    *error = QStringLiteral("this group's sender key is missing or damaged");
    return std::nullopt;
  }
  const bool visible = !text.isEmpty();
  const auto id = random_id();
  const auto now = QDateTime::currentMSecsSinceEpoch();
  const auto peer = groupPeer(group_id);
  content.set_client_ts_ms(static_cast<std::uint64_t>(now));
  content.set_group_id(sbytes(group_id));
  const auto plain = qbytes(content.SerializeAsString());
  // Encrypted now, so the outbox holds the exact bytes every retry resends and the chain
  // advances in the same commit as the message that used it.
  const auto ciphertext = qbytes(crypto::ByteView(sender->encrypt(view(plain), view(group_id))));
  auto state = qbytes(crypto::ByteView(sender->serialize()));
  const bool ok = db_->transaction([&] {
    QSqlQuery save(db);
    save.prepare("UPDATE groups SET my_sender_key = ? WHERE id = ?");
    save.addBindValue(state);
    save.addBindValue(group_id);
    if (!save.exec()) return false;
    if (visible) {
      QSqlQuery conv(db);
      conv.prepare("INSERT INTO conversations(peer, last_activity_ms) VALUES(?, ?)"
                   " ON CONFLICT(peer) DO UPDATE SET last_activity_ms = excluded.last_activity_ms");
      conv.addBindValue(peer);
      conv.addBindValue(now);
      QSqlQuery msg(db);
      msg.prepare("INSERT INTO messages(peer, sender, client_msg_id, body, status, client_ts_ms)"
                  " VALUES(?, ?, ?, ?, 0, ?)");
      msg.addBindValue(peer);
      msg.addBindValue(profile_.username);
      msg.addBindValue(id);
      msg.addBindValue(text);
      msg.addBindValue(now);
      if (!conv.exec() || !msg.exec()) return false;
    }
    QSqlQuery out(db);
    out.prepare("INSERT INTO outbox(client_msg_id, peer, content, envelope, created_ms, group_id)"
                " VALUES(?, ?, ?, ?, ?, ?)");
    out.addBindValue(id);
    out.addBindValue(peer);
    out.addBindValue(plain);
    out.addBindValue(ciphertext);
    out.addBindValue(now);
    out.addBindValue(group_id);
    return out.exec();
  });
  crypto::secure_zero(state.data(), static_cast<std::size_t>(state.size()));
  if (!ok) {
    *error = QStringLiteral("could not write the message to the local store");
    return std::nullopt;
  }
  if (visible) emit messageSent(peer, id);
  flushOutbox();
  return id;
}

bool Messenger::isAdmin(const QByteArray& group_id, const QString& username) {
  QSqlQuery q(db_->db());
  q.prepare("SELECT admin FROM group_members WHERE group_id = ? AND username = ?");
  q.addBindValue(group_id);
  q.addBindValue(username);
  return q.exec() && q.next() && q.value(0).toBool();
}

bool Messenger::applyGroupInfo(const QByteArray& group_id, const QString& name,
                               const QString& description, qint64 seq) {
  QSqlQuery q(db_->db());
  q.prepare("UPDATE groups SET name = ?, description = ?, info_seq = ? WHERE id = ? AND info_seq < ?");
  q.addBindValue(name);
  q.addBindValue(description);
  q.addBindValue(seq);
  q.addBindValue(group_id);
  q.addBindValue(seq);
  return q.exec() && q.numRowsAffected() > 0;
}

bool Messenger::renameGroup(const QByteArray& group_id, const QString& name,
                            const QString& description, QString* error) {
  const auto name_utf8 = name.trimmed().toUtf8();
  const auto description_utf8 = description.toUtf8();
  if (name_utf8.isEmpty()) {
    *error = QStringLiteral("the group name is empty");
    return false;
  }
  if (name_utf8.size() + description_utf8.size() > kMaxTextBytes) {
    *error = QStringLiteral("the name and description are longer than 64 KiB");
    return false;
  }
  if (!isAdmin(group_id, profile_.username)) {
    *error = QStringLiteral("only a group admin can rename the group");
    return false;
  }
  e2e::Content content;
  content.set_type(e2e::GROUP_INFO);
  content.set_text(name_utf8.toStdString());
  content.set_group_description(description_utf8.toStdString());
  if (!enqueueGroup(group_id, std::move(content), {}, error)) return false;
  // Shown here at once; the group seq from the SendAck then orders it against other admins'.
  QSqlQuery q(db_->db());
  q.prepare("UPDATE groups SET name = ?, description = ? WHERE id = ?");
  q.addBindValue(QString::fromUtf8(name_utf8));
  q.addBindValue(description);
  q.addBindValue(group_id);
  q.exec();
  emit groupInfoChanged(group_id, profile_.username, QString::fromUtf8(name_utf8), description);
  return true;
}

QList<GroupMember> Messenger::groupMembers(const QByteArray& group_id) {
  QList<GroupMember> out;
  QSqlQuery q(db_->db());
  q.prepare("SELECT username, admin FROM group_members WHERE group_id = ? ORDER BY username");
  q.addBindValue(group_id);
  q.exec();
  while (q.next()) out.push_back({q.value(0).toString(), q.value(1).toBool()});
  return out;
}

QList<QByteArray> Messenger::groups() {
  QList<QByteArray> out;
  QSqlQuery q(db_->db());
  q.exec("SELECT id FROM groups WHERE left = 0 ORDER BY name, id");
  while (q.next()) out << q.value(0).toByteArray();
  return out;
}

QString Messenger::groupName(const QByteArray& group_id) {
  QSqlQuery q(db_->db());
  q.prepare("SELECT name FROM groups WHERE id = ?");
  q.addBindValue(group_id);
  return q.exec() && q.next() ? q.value(0).toString() : QString();
}

QString Messenger::groupDescription(const QByteArray& group_id) {
  QSqlQuery q(db_->db());
  q.prepare("SELECT description FROM groups WHERE id = ?");
  q.addBindValue(group_id);
  return q.exec() && q.next() ? q.value(0).toString() : QString();
}

int Messenger::readCount(const QByteArray& group_id, const QByteArray& client_msg_id) {
  QSqlQuery q(db_->db());
  q.prepare("SELECT COUNT(*) FROM group_reads WHERE group_id = ? AND client_msg_id = ?");
  q.addBindValue(group_id);
  q.addBindValue(client_msg_id);
  return q.exec() && q.next() ? q.value(0).toInt() : 0;
}

int Messenger::deliveredCount(const QByteArray& group_id, const QByteArray& client_msg_id) {
  QSqlQuery q(db_->db());
  q.prepare("SELECT COUNT(*) FROM group_receipts WHERE group_id = ? AND client_msg_id = ?");
  q.addBindValue(group_id);
  q.addBindValue(client_msg_id);
  return q.exec() && q.next() ? q.value(0).toInt() : 0;
}

}  // namespace parley::client
