// Groups, our side: membership requests to the relay, our sender key (made, rotated and sent
// pairwise to every member), group sends and the member list. Name/description/avatar are in
// messenger_group_info.cpp, receipts in messenger_group_receipts.cpp, receiving in
// messenger_groups_receive.cpp.
#include <QDateTime>
#include <QSqlQuery>
#include <QVariant>

#include <algorithm>

#include "crypto/secure_bytes.hpp"
#include "crypto/sender_key.hpp"
#include "e2e.pb.h"
#include "messenger.hpp"
#include "messenger_internal.hpp"
#include "util/bytes.hpp"

namespace parley::client {

using detail::fold_usernames;
using detail::kMaxTextBytes;
using detail::new_message_id;

namespace {
std::vector<std::string> to_std(const QStringList& names) {
  std::vector<std::string> out;
  out.reserve(static_cast<std::size_t>(names.size()));
  for (const auto& n : names) out.push_back(n.toStdString());
  return out;
}
}  // namespace

QString Messenger::groupPeer(const QByteArray& group_id) {
  return QLatin1Char('#') + QString::fromLatin1(group_id.toHex());
}

QByteArray Messenger::groupIdOf(const QString& peer) { return QByteArray::fromHex(peer.mid(1).toLatin1()); }

void Messenger::createGroup(const QString& name, const QStringList& members, GroupDone done) {
  QString why;
  auto folded = fold_usernames(members, &why);
  if (!folded) return done({}, why);
  folded->removeAll(profile_.username);
  GroupChange change{GroupChangeKind::Created, {}, to_std(*folded), false};
  // The id is ours: it is part of what we sign, so the relay cannot hand us another group's.
  QByteArray gid(16, '\0');
  crypto::random_bytes(reinterpret_cast<std::uint8_t*>(gid.data()), static_cast<std::size_t>(gid.size()));
  auto signed_change = signGroupChange(gid, change, &why);
  if (!signed_change) return done({}, why);
  wire::ClientFrame f;
  auto* c = f.mutable_create_group();
  for (const auto& m : change.targets) c->add_members(m);
  c->set_group_id(sbytes(gid));
  c->set_signature(signed_change->signature);
  relay_->request(f, [this, name, gid, after = signed_change->after, done = std::move(done)](const wire::ServerFrame& r) {
    if (!r.has_group_created()) {
      return done({}, r.has_error() ? QString::fromStdString(r.error().reason())
                                    : QStringLiteral("unexpected answer from the relay"));
    }
    if (qbytes(r.group_created().group_id()) != gid || r.group_created().epoch() != 1)
      return done({}, QStringLiteral("the relay answered for another group"));
    const bool ok = db_->transaction([&] {
      if (!saveGroupSeats(gid, after, 1, 0)) return false;
      QSqlQuery g(db_->db());
      g.prepare("UPDATE groups SET name = ? WHERE id = ?");
      g.addBindValue(name);
      g.addBindValue(gid);
      if (!g.exec()) return false;
      QSqlQuery conv(db_->db());
      conv.prepare("INSERT INTO conversations(peer, last_activity_ms) VALUES(?, ?)"
                   " ON CONFLICT(peer) DO NOTHING");
      conv.addBindValue(groupPeer(gid));
      conv.addBindValue(QDateTime::currentMSecsSinceEpoch());
      return conv.exec();
    });
    if (!ok) return done(gid, QStringLiteral("the group exists but could not be stored locally"));
    distributeSenderKey(gid);
    // A group we start takes our default timer, as its first change.
    if (const int timer = defaultExpireTimer(); timer > 0) {
      QString why_not;
      if (!setExpireTimer(groupPeer(gid), timer, &why_not))
        emit problem(QStringLiteral("the new group's disappearing-messages timer was not set: %1").arg(why_not));
    }
    done(gid, {});
  });
}

void Messenger::changeGroup(const QByteArray& group_id, GroupChange change, ChangeDone applied, Done done) {
  QString why;
  auto signed_change = signGroupChange(group_id, change, &why);
  if (!signed_change) return done(why);
  wire::ClientFrame f;
  const auto gid = sbytes(group_id);
  switch (change.kind) {
    case GroupChangeKind::Added:
      f.mutable_add_members()->set_group_id(gid);
      for (const auto& t : change.targets) f.mutable_add_members()->add_usernames(t);
      f.mutable_add_members()->set_signature(signed_change->signature);
      break;
    case GroupChangeKind::Removed:
      f.mutable_remove_members()->set_group_id(gid);
      for (const auto& t : change.targets) f.mutable_remove_members()->add_usernames(t);
      f.mutable_remove_members()->set_signature(signed_change->signature);
      break;
    case GroupChangeKind::Left:
      f.mutable_leave_group()->set_group_id(gid);
      f.mutable_leave_group()->set_signature(signed_change->signature);
      break;
    default:
      return done(QStringLiteral("unsupported group change"));
  }
  relay_->request(std::move(f), [this, group_id, change, sc = std::move(*signed_change),
                                 applied = std::move(applied), done = std::move(done)](const wire::ServerFrame& r) {
    if (r.has_error())
      return done(r.error().code() == wire::GROUP_CHANGE_MISMATCH
                      ? QStringLiteral("the group changed meanwhile; try again once its latest change has arrived")
                      : QString::fromStdString(r.error().reason()));
    const auto& updated = r.group_updated();
    if (!r.has_group_updated() || static_cast<qint64>(updated.epoch()) != sc.epoch || updated.seq() == 0)
      return done(QStringLiteral("unexpected answer from the relay"));
    // The change we signed is the one the relay made; its event, when it comes back, finds
    // it applied. If the event (or a later change) came first, it is applied already.
    const bool ok = db_->transaction([&] {
      if (groupState(group_id).epoch != sc.epoch - 1) return true;
      if (!saveGroupSeats(group_id, sc.after, sc.epoch, static_cast<qint64>(updated.seq()))) return false;
      if (change.kind == GroupChangeKind::Removed) {
        // Entries before the removal may still be on their way to us; the removed members'
        // among them open until the event itself arrives (onGroupEvent).
        for (const auto& name : change.targets) {
          QSqlQuery q(db_->db());
          q.prepare("INSERT OR REPLACE INTO group_departures(group_id, username, left_seq) VALUES(?, ?, ?)");
          q.addBindValue(group_id);
          q.addBindValue(QString::fromStdString(name));
          q.addBindValue(static_cast<qlonglong>(updated.seq()));
          if (!q.exec()) return false;
        }
      }
      return !applied || applied();
    });
    done(ok ? QString() : QStringLiteral("the change was made but could not be stored locally"));
  });
}

void Messenger::addMembers(const QByteArray& group_id, const QStringList& users, Done done) {
  QString why;
  const auto folded = fold_usernames(users, &why);
  if (!folded) return done(why);
  GroupChange change{GroupChangeKind::Added, {}, {}, false};
  const auto st = groupState(group_id);
  for (const auto& name : to_std(*folded))
    if (std::none_of(st.seats.begin(), st.seats.end(), [&](const GroupSeat& s) { return s.username == name; }))
      change.targets.push_back(name);
  if (st.member && change.targets.empty()) return done({});  // all are members already
  changeGroup(group_id, change, {}, [this, group_id, done = std::move(done)](const QString& error) {
    if (error.isEmpty()) {
      distributeSenderKey(group_id);  // now, rather than after the fan-out
      // New members learn the name and description with every member's sender key, but the
      // avatar is too big to repeat in each of those: the admin who added them sends it once
      // more to the group.
      const auto info = groupInfo(group_id);
      QString announce_error;
      if (!info.avatar.isEmpty() && isAdmin(group_id, profile_.username) &&
          !announceGroupInfo(group_id, info, &announce_error))
        emit problem(QStringLiteral("could not send the group's avatar to the new members: %1").arg(announce_error));
    }
    done(error);
  });
}

void Messenger::removeMembers(const QByteArray& group_id, const QStringList& users, Done done) {
  QString why;
  const auto folded = fold_usernames(users, &why);
  if (!folded) return done(why);
  const GroupChange change{GroupChangeKind::Removed, {}, to_std(*folded), false};
  changeGroup(group_id, change, [this, group_id] {
    // The removed members hold our current key: the next message uses a new one.
    QSqlQuery rot(db_->db());
    rot.prepare("UPDATE groups SET needs_rotation = 1 WHERE id = ?");
    rot.addBindValue(group_id);
    return rot.exec();
  }, std::move(done));
}

void Messenger::leaveGroup(const QByteArray& group_id, Done done) {
  changeGroup(group_id, {GroupChangeKind::Left, {}, {profile_.username.toStdString()}},
              [this, group_id] { return dropOwnSenderKey(group_id); }, std::move(done));
}

namespace detail {
e2e::Content sender_key_content(const QByteArray& group_id, const QString& name, const QString& description,
                                const std::string& distribution) {
  e2e::Content c;
  c.set_type(e2e::SENDER_KEY);
  c.set_group_id(sbytes(group_id));
  c.set_text(name.toStdString());
  c.set_group_description(description.toStdString());
  c.set_sender_key_distribution(distribution);
  return c;
}
}  // namespace detail

bool Messenger::dropOwnSenderKey(const QByteArray& group_id) {
  QSqlQuery q(db_->db());
  q.prepare("UPDATE groups SET my_sender_key = NULL WHERE id = ?");
  q.addBindValue(group_id);
  QSqlQuery given(db_->db());  // the copies kept to send again
  given.prepare("UPDATE group_members SET key_sent_distribution = NULL WHERE group_id = ?");
  given.addBindValue(group_id);
  return q.exec() && given.exec();
}

bool Messenger::distributeSenderKey(const QByteArray& group_id, bool rotate) {
  auto& db = db_->db();
  QSqlQuery g(db);
  g.prepare("SELECT my_sender_key, needs_rotation, left, name, epoch, description, out_of_step FROM groups"
            " WHERE id = ?");
  g.addBindValue(group_id);
  // Out of step: our member list may hold someone removed in the change we missed.
  if (!g.exec() || !g.next() || g.value(2).toBool() || g.value(6).toBool()) return false;
  const auto name = g.value(3).toString();
  const auto epoch = g.value(4).toLongLong();
  const auto description = g.value(5).toString();
  std::optional<crypto::SenderKeySender> sender;
  if (!g.value(0).isNull() && !rotate && !g.value(1).toBool())
    sender = crypto::SenderKeySender::deserialize(view(g.value(0).toByteArray()));
  if (!sender) {
    sender = crypto::SenderKeySender::generate();
    const SecretBytes state(sender->serialize());
    const bool ok = db_->transaction([&] {
      QSqlQuery save(db);
      // key_distributed_epoch: the epoch this key was made at; a departure at a later epoch
      // means it must be replaced (see onGroupEvent).
      save.prepare("UPDATE groups SET my_sender_key = ?, needs_rotation = 0,"
                   " key_distributed_epoch = ? WHERE id = ?");
      save.addBindValue(state.get());
      save.addBindValue(epoch);
      save.addBindValue(group_id);
      QSqlQuery reset(db);  // nobody has the new key yet
      reset.prepare("UPDATE group_members SET key_sent = NULL, key_sent_distribution = NULL WHERE group_id = ?");
      reset.addBindValue(group_id);
      return save.exec() && reset.exec();
    });
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
  // Kept per member, to send again as it was if their copy is lost (answerSenderKeyRequest).
  const SecretBytes kept(crypto::ByteView{encoded});
  bool all = true;
  for (const auto& member : lacking) {
    QString error;
    const bool queued =
        enqueue(member, detail::sender_key_content(group_id, name, description, sbytes(crypto::ByteView(encoded))),
                &error, group_id)
            .has_value();
    if (queued) {
      QSqlQuery mark(db);
      mark.prepare("UPDATE group_members SET key_sent = ?, key_sent_distribution = ?, key_sent_ms = ?,"
                   " key_resent_ms = 0 WHERE group_id = ? AND username = ?");
      mark.addBindValue(key_id);
      mark.addBindValue(kept.get());
      mark.addBindValue(QDateTime::currentMSecsSinceEpoch());
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
                                               QString* error, qint64 reply_to, Origin origin) {
  const auto utf8 = text.toUtf8();
  if (utf8.isEmpty() || utf8.size() > kMaxTextBytes) {
    *error = utf8.isEmpty() ? QStringLiteral("the message is empty")
                            : QStringLiteral("the message is longer than 64 KiB");
    return std::nullopt;
  }
  e2e::Content content;
  content.set_type(e2e::GROUP_TEXT);
  content.set_text(utf8.toStdString());
  content.set_forwarded(origin == Origin::Forwarded);
  if (reply_to != 0 && !quoteMessage(groupPeer(group_id), reply_to, content, error)) return std::nullopt;
  return enqueueGroup(group_id, std::move(content), text, error);
}

std::optional<QByteArray> Messenger::enqueueGroup(const QByteArray& group_id, e2e::Content content,
                                                  const QString& text, QString* error,
                                                  const QByteArray& client_msg_id) {
  // Makes the key if needed, rotates it after a removal, and queues it for whoever lacks it
  // (those outbox entries come before this message's).
  if (!distributeSenderKey(group_id)) {
    *error = groupState(group_id).out_of_step
                 ? QStringLiteral("a change to this group's members has not reached this device; ask an"
                                  " admin to remove you and add you again")
                 : QStringLiteral("not a member of this group");
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
  const auto id = client_msg_id.isEmpty() ? new_message_id() : client_msg_id;
  const auto now = QDateTime::currentMSecsSinceEpoch();
  const auto peer = groupPeer(group_id);
  if (content.client_ts_ms() == 0) content.set_client_ts_ms(static_cast<std::uint64_t>(now));  // as enqueue
  content.set_group_id(sbytes(group_id));
  const int expire_s = visible ? expireTimer(peer) : 0;  // as enqueue
  if (expire_s > 0) content.set_expire_timer_s(static_cast<std::uint32_t>(expire_s));
  dropGoneQuote(peer, content);
  const auto plain = qbytes(content.SerializeAsString());
  // Encrypted now, so the outbox holds the exact bytes every retry resends and the chain
  // advances in the same commit as the message that used it.
  const auto ciphertext = qbytes(crypto::ByteView(sender->encrypt(view(plain), view(group_id))));
  const SecretBytes state(sender->serialize());
  bool unarchived = false;
  const bool ok = db_->transaction([&] {
    QSqlQuery save(db);
    save.prepare("UPDATE groups SET my_sender_key = ? WHERE id = ?");
    save.addBindValue(state.get());
    save.addBindValue(group_id);
    if (!save.exec()) return false;
    if (content.type() == e2e::EXPIRE_TIMER &&
        !recordExpireTimer(peer, profile_.username, id, -1, 0, content.expire_timer_s(),
                           static_cast<qint64>(content.client_ts_ms())))
      return false;
    if (visible) {
      QSqlQuery conv(db);
      conv.prepare("INSERT INTO conversations(peer, last_activity_ms) VALUES(?, ?)"
                   " ON CONFLICT(peer) DO UPDATE SET last_activity_ms = excluded.last_activity_ms, archived = 0");
      conv.addBindValue(peer);
      conv.addBindValue(now);
      QSqlQuery msg(db);
      msg.prepare("INSERT INTO messages(peer, sender, client_msg_id, body, status, client_ts_ms,"
                  " reply_to, reply_author, reply_text, expire_s, forwarded) VALUES(?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?)");
      msg.addBindValue(peer);
      msg.addBindValue(profile_.username);
      msg.addBindValue(id);
      msg.addBindValue(text);
      msg.addBindValue(now);
      detail::bind_quote(msg, content);
      msg.addBindValue(expire_s);
      msg.addBindValue(content.forwarded() ? 1 : 0);
      const bool was_archived = detail::is_archived(db, peer);
      if (!conv.exec() || !msg.exec()) return false;
      unarchived = was_archived;  // the statement always brings it back
      if (content.type() == e2e::ATTACHMENT && !storeAttachment(profile_.username, peer, id, content.attachment(), {}))
        return false;
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
  if (!ok) {
    *error = QStringLiteral("could not write the message to the local store");
    return std::nullopt;
  }
  if (visible) emit messageSent(peer, id);
  if (unarchived) emit chatSettingsChanged(peer);
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

}  // namespace parley::client
