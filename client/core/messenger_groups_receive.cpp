// Groups, receiving: sender keys arriving pairwise, group messages (held until their sender
// key arrives), read receipts and name/description changes. Membership events are checked in
// messenger_group_membership.cpp.
// Delivery of our group messages comes from the relay's delivery marks (messenger_marks.cpp).
#include <algorithm>
#include <utility>

#include <QDateTime>
#include <QTimer>
#include <QSqlQuery>
#include <QVariant>

#include "crypto/sender_key.hpp"
#include "e2e.pb.h"
#include "messenger.hpp"
#include "messenger_internal.hpp"
#include "sync/group_ticks.hpp"
#include "parley/limits.hpp"
#include "util/bytes.hpp"
#include "util/mentions.hpp"

namespace parley::client {

using detail::kMaxPendingBytesPerSender;
using detail::kMaxPendingGroupMessages;
using detail::kMaxPendingPerSender;
using detail::save_last_acked;

bool Messenger::storeSenderKey(const QString& sender, const e2e::Content& content, bool* info_changed) {
  const auto gid = qbytes(content.group_id());
  auto dist = crypto::SenderKeyDistribution::decode(view(content.sender_key_distribution()));
  if (gid.size() != static_cast<qsizetype>(limits::kGroupIdBytes) || !dist) return false;
  auto receiver = crypto::SenderKeyReceiver::from_distribution(*dist);
  if (!receiver) return false;
  auto& db = db_->db();
  const auto before = groupInfo(gid);
  // A group we have not heard of yet (its CREATED/ADDED event may still be on its way): kept
  // as not-joined until the event says we are a member. The name and description it offers
  // are taken now only from a member; otherwise they wait with the key (groupJoined).
  QSqlQuery g(db);
  const bool member = isMember(gid, sender);
  g.prepare("INSERT INTO groups(id, left) VALUES(?, 1) ON CONFLICT(id) DO UPDATE SET"
            " name = CASE WHEN groups.name = '' AND ? THEN ? ELSE groups.name END,"
            " description = CASE WHEN groups.info_seq < 0 AND groups.description = '' AND ?"
            " THEN ? ELSE groups.description END");
  g.addBindValue(gid);
  g.addBindValue(member ? 1 : 0);
  g.addBindValue(QString::fromStdString(content.text()));
  g.addBindValue(member ? 1 : 0);
  g.addBindValue(QString::fromStdString(content.group_description()));
  const SecretBytes state(receiver->serialize());
  QSqlQuery k(db);
  // OR IGNORE: a redelivered distribution must not rewind a chain we have already used.
  k.prepare("INSERT OR IGNORE INTO sender_keys(group_id, sender, key_id, state, created_ms,"
            " offered_name, offered_description) VALUES(?, ?, ?, ?, ?, ?, ?)");
  k.addBindValue(gid);
  k.addBindValue(sender);
  k.addBindValue(QByteArray(reinterpret_cast<const char*>(dist->key_id.data()),
                            static_cast<qsizetype>(dist->key_id.size())));
  k.addBindValue(state.get());
  k.addBindValue(QDateTime::currentMSecsSinceEpoch());
  k.addBindValue(QString::fromStdString(content.text()));
  k.addBindValue(QString::fromStdString(content.group_description()));
  QSqlQuery asked(db);  // it came: no longer asked for
  asked.prepare("DELETE FROM sender_key_requests WHERE group_id = ? AND sender = ? AND key_id = ?");
  asked.addBindValue(gid);
  asked.addBindValue(sender);
  asked.addBindValue(k.boundValue(2));
  const bool ok = g.exec() && k.exec() && asked.exec();
  if (ok) {
    const auto after = groupInfo(gid);
    *info_changed = after.name != before.name || after.description != before.description;
  }
  return ok;
}

Messenger::GroupOpen Messenger::openGroupMessage(const GroupEntry& e, const std::function<bool()>& extra,
                                                 bool fresh) {
  auto& db = db_->db();
  const auto peer = groupPeer(e.group_id);
  {
    QSqlQuery seen(db);
    // Shown messages, and handled control messages (read receipts, GROUP_INFO).
    seen.prepare("SELECT 1 FROM messages WHERE sender = ? AND client_msg_id = ?"
                 " UNION ALL SELECT 1 FROM group_controls WHERE sender = ? AND client_msg_id = ?");
    seen.addBindValue(e.sender);
    seen.addBindValue(e.client_msg_id);
    seen.addBindValue(e.sender);
    seen.addBindValue(e.client_msg_id);
    // A change that waited with it (applied already unless it opened meanwhile on another
    // path) is applied before the waiting copy goes.
    if (seen.exec() && seen.next())
      return db_->transaction([&] { return applyHeldRevision(peer, e.sender, e.client_msg_id) && extra(); })
                 ? GroupOpen::Duplicate
                 : GroupOpen::StoreFailed;
  }
  // Sender keys are kept from anyone (one may come before the change that adds its sender),
  // but only a member's message opens: the relay's say-so does not make a member. Entries
  // come in group order, so membership now is membership when it was written; a message
  // kept for its key was checked when it came.
  if (fresh && !mayWrite(e.group_id, e.sender, e.conv_seq)) return GroupOpen::NotMember;
  const auto header = crypto::sender_key_header(view(e.ciphertext));
  if (!header) return GroupOpen::Bad;
  const QByteArray key_id(reinterpret_cast<const char*>(header->first.data()),
                          static_cast<qsizetype>(header->first.size()));
  QSqlQuery k(db);
  k.prepare("SELECT state FROM sender_keys WHERE group_id = ? AND sender = ? AND key_id = ?");
  k.addBindValue(e.group_id);
  k.addBindValue(e.sender);
  k.addBindValue(key_id);
  if (!k.exec() || !k.next()) return GroupOpen::NoKey;
  auto receiver = crypto::SenderKeyReceiver::deserialize(view(k.value(0).toByteArray()));
  if (!receiver) return GroupOpen::Bad;
  auto plain = receiver->decrypt(view(e.ciphertext), view(e.group_id));
  if (!plain) return GroupOpen::Bad;
  e2e::Content content;
  const bool parsed = content.ParseFromArray(plain->data(), static_cast<int>(plain->size())) &&
                      (content.type() == e2e::GROUP_TEXT || content.type() == e2e::READ_RECEIPT ||
                       content.type() == e2e::GROUP_INFO || content.type() == e2e::REACTION ||
                       content.type() == e2e::EDIT || content.type() == e2e::UNSEND ||
                       content.type() == e2e::EXPIRE_TIMER ||
                       (content.type() == e2e::ATTACHMENT && validAttachment(content.attachment()) &&
                        !attachmentIdTaken(e.client_msg_id, e.sender))) &&
                      qbytes(content.group_id()) == e.group_id;
  const bool attached = parsed && content.type() == e2e::ATTACHMENT;
  crypto::secure_zero(plain->data(), plain->size());
  const SecretBytes state(receiver->serialize());
  const auto now = QDateTime::currentMSecsSinceEpoch();
  bool inserted = false;
  QList<QByteArray> newly_read;  // READ_RECEIPT: our messages this member had not read before
  QList<QPair<QByteArray, MessageStatus>> ticks_moved;  // of those, read by every member now
  bool info_changed = false;     // GROUP_INFO from an admin, newer than the one we show
  bool info_refused = false;     // GROUP_INFO from a non-admin
  bool info_invalid = false;     // GROUP_INFO whose avatar is not an image we accept
  bool timer_changed = false;    // EXPIRE_TIMER newer than the timer in force
  bool unarchived = false;       // the message brought the group out of the archive
  const bool stored = db_->transaction([&] {
    // The chain moves past this key only together with the message it opened.
    QSqlQuery save(db);
    save.prepare("UPDATE sender_keys SET state = ? WHERE group_id = ? AND sender = ? AND key_id = ?");
    save.addBindValue(state.get());
    save.addBindValue(e.group_id);
    save.addBindValue(e.sender);
    save.addBindValue(key_id);
    if (!save.exec()) return false;
    if (!parsed) return extra();
    // Any member may set it, as in a conversation of two. Every change leaves its line in
    // `messages`, so a redelivery is found there and only acknowledged.
    if (content.type() == e2e::EXPIRE_TIMER) {
      return recordExpireTimer(peer, e.sender, e.client_msg_id, e.conv_seq, e.server_ts_ms, content.expire_timer_s(),
                               static_cast<qint64>(std::min<std::uint64_t>(content.client_ts_ms(), INT64_MAX)),
                               &timer_changed) &&
             extra();
    }
    if (content.type() != e2e::GROUP_TEXT && !attached) {
      // Control messages: never shown, remembered so a redelivery is only acknowledged.
      QSqlQuery done(db);
      done.prepare("INSERT OR IGNORE INTO group_controls(sender, client_msg_id) VALUES(?, ?)");
      done.addBindValue(e.sender);
      done.addBindValue(e.client_msg_id);
      if (!done.exec()) return false;
      if (content.type() == e2e::REACTION) {
        if (!storeReaction(peer, e.sender, content, {})) return false;
      } else if (content.type() == e2e::EDIT || content.type() == e2e::UNSEND) {
        if (!storeRevision(peer, e.sender, content, e.server_ts_ms)) return false;
      } else if (content.type() == e2e::READ_RECEIPT) {
        for (const auto& raw : content.read_client_msg_ids()) {
          const auto read = qbytes(raw);
          QSqlQuery add(db);  // only for our own messages in this group
          add.prepare("INSERT OR IGNORE INTO group_reads(group_id, client_msg_id, member, at_ms)"
                      " SELECT ?, ?, ?, ? WHERE EXISTS(SELECT 1 FROM messages WHERE peer = ?"
                      " AND sender = ? AND client_msg_id = ?)");
          add.addBindValue(e.group_id);
          add.addBindValue(read);
          add.addBindValue(e.sender);
          add.addBindValue(e.server_ts_ms);
          add.addBindValue(peer);
          add.addBindValue(profile_.username);
          add.addBindValue(read);
          if (!add.exec()) return false;
          if (add.numRowsAffected() == 0) continue;
          newly_read << read;
          // Having read a message of ours written since they were sent our key, they hold
          // it: the copy kept to send them again goes (answerSenderKeyRequest).
          QSqlQuery holds(db);
          holds.prepare("UPDATE group_members SET key_sent_distribution = NULL WHERE group_id = ? AND"
                        " username = ? AND key_sent_distribution IS NOT NULL AND key_sent_ms <= (SELECT"
                        " client_ts_ms FROM messages WHERE peer = ? AND sender = ? AND client_msg_id = ?)");
          holds.addBindValue(e.group_id);
          holds.addBindValue(e.sender);
          holds.addBindValue(peer);
          holds.addBindValue(profile_.username);
          holds.addBindValue(read);
          if (!holds.exec()) return false;
          bool ok = true;
          if (const auto ticks = group_ticks::settle(db, profile_.username, e.group_id, read, &ok))
            ticks_moved.append({read, *ticks});
          if (!ok) return false;
        }
      } else if (!isAdmin(e.group_id, e.sender)) {
        info_refused = true;
      } else if (!groupAvatarProblem(qbytes(content.group_avatar())).isEmpty()) {
        info_invalid = true;
      } else {
        info_changed = applyGroupInfo(e.group_id, content, e.conv_seq);
      }
      return extra();
    }
    QSqlQuery msg(db);
    // Anyone may be quoted in a group: a member who has left, or one this device never saw.
    checkQuote(content, peer, e.sender, {});
    msg.prepare("INSERT OR IGNORE INTO messages(peer, sender, client_msg_id, conv_seq, body, status,"
                " client_ts_ms, server_ts_ms, received_ms, chain_ok, reply_to, reply_author, reply_text, expire_s,"
                " forwarded, mentions_me) VALUES(?, ?, ?, ?, ?, 10, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)");
    msg.addBindValue(peer);
    msg.addBindValue(e.sender);
    msg.addBindValue(e.client_msg_id);
    msg.addBindValue(e.conv_seq);
    msg.addBindValue(attached ? attachmentBody(content) : QString::fromStdString(content.text()));
    msg.addBindValue(static_cast<qlonglong>(content.client_ts_ms()));
    msg.addBindValue(e.server_ts_ms);
    msg.addBindValue(now);
    detail::bind_quote(msg, content);
    msg.addBindValue(std::min<qint64>(content.expire_timer_s(), kMaxExpireTimerS));
    msg.addBindValue(content.forwarded() ? 1 : 0);
    msg.addBindValue(e.sender != profile_.username && mentions(QString::fromStdString(content.text()), profile_.username)
                         ? 1
                         : 0);
    if (!msg.exec()) return false;
    inserted = msg.numRowsAffected() > 0;
    if (inserted && attached && !storeAttachment(e.sender, peer, e.client_msg_id, content.attachment(), {}))
      return false;
    if (inserted && !applyHeldRevision(peer, e.sender, e.client_msg_id)) return false;
    QSqlQuery conv(db);
    // An archived group comes back with a message, unless it is muted.
    conv.prepare("INSERT INTO conversations(peer, last_activity_ms, unread) VALUES(?, ?, ?)"
                 " ON CONFLICT(peer) DO UPDATE SET last_activity_ms = excluded.last_activity_ms,"
                 " unread = unread + excluded.unread, archived = CASE WHEN excluded.unread > 0 AND"
                 " muted_until_ms <= ? THEN 0 ELSE archived END");
    conv.addBindValue(peer);
    conv.addBindValue(now);
    conv.addBindValue(inserted ? 1 : 0);
    conv.addBindValue(now);
    const bool was_archived = inserted && detail::is_archived(db, peer);
    if (!conv.exec()) return false;
    unarchived = was_archived && !detail::is_archived(db, peer);
    return extra();
  });
  if (!stored) return GroupOpen::StoreFailed;
  if (!parsed) return GroupOpen::Bad;
  for (const auto& read : newly_read)
    emit groupReadChanged(e.group_id, read, e.sender, readCount(e.group_id, read));
  announceTicks(peer, ticks_moved);
  if (info_changed)
    emit groupInfoChanged(e.group_id, e.sender, QString::fromStdString(content.text()),
                          QString::fromStdString(content.group_description()));
  if (info_refused)
    emit problem(QStringLiteral("%1 is not an admin of group %2; their change to the group's"
                                " name, description or avatar was ignored")
                     .arg(e.sender, peer));
  if (info_invalid)
    emit problem(QStringLiteral("%1 sent group %2 an avatar that is not a PNG, JPEG or WebP image"
                                " of at most 64 KiB; the change was ignored")
                     .arg(e.sender, peer));
  if (inserted) {
    emit messageReceived(peer, e.client_msg_id);
    emit groupMessageReceived(e.group_id, e.sender, e.client_msg_id);
  }
  if (timer_changed || unarchived) emit chatSettingsChanged(peer);
  return GroupOpen::Stored;
}

void Messenger::onGroupDeliver(const wire::Deliver& d) {
  GroupEntry e{qbytes(d.group_id()), QString::fromStdString(d.sender()), qbytes(d.client_msg_id()),
               static_cast<qint64>(d.conv_seq()),
               detail::relay_time(d.server_ts_ms(), QDateTime::currentMSecsSinceEpoch()),
               qbytes(d.ciphertext())};
  const auto peer = groupPeer(e.group_id);
  const auto seq = d.inbox_seq();
  auto extra = [&] { return noteSeq(peer, d.conv_seq()) && save_last_acked(db_->db(), seq); };
  switch (openGroupMessage(e, extra, true)) {
    case GroupOpen::Stored:
    case GroupOpen::Duplicate:
      break;
    case GroupOpen::NoKey: {
      // The sender's key has not arrived yet (it is sent pairwise, just before). Acks are
      // cumulative, so the entry is kept here rather than left unacknowledged. Each sender
      // has a share of the room (count and bytes), so one member's junk under made-up key
      // ids pushes out its own messages, not others'.
      int by_share = 0, by_total = 0;
      const bool kept = db_->transaction([&] {
        QSqlQuery q(db_->db());
        q.prepare("INSERT OR IGNORE INTO pending_group_messages(group_id, sender, client_msg_id,"
                  " conv_seq, server_ts_ms, ciphertext, received_ms, key_id) VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
        q.addBindValue(e.group_id);
        q.addBindValue(e.sender);
        q.addBindValue(e.client_msg_id);
        q.addBindValue(e.conv_seq);
        q.addBindValue(e.server_ts_ms);
        q.addBindValue(e.ciphertext);
        q.addBindValue(QDateTime::currentMSecsSinceEpoch());
        // The header's key id, checked by openGroupMessage before it said NoKey.
        q.addBindValue(e.ciphertext.mid(1, static_cast<qsizetype>(crypto::SenderKeyId{}.size())));
        QSqlQuery share(db_->db());
        share.prepare("DELETE FROM pending_group_messages WHERE id IN (SELECT id FROM (SELECT id,"
                      " SUM(length(ciphertext)) OVER (ORDER BY id DESC) AS bytes,"
                      " ROW_NUMBER() OVER (ORDER BY id DESC) AS n FROM pending_group_messages"
                      " WHERE group_id = ? AND sender = ?) WHERE bytes > ? OR n > ?)");
        share.addBindValue(e.group_id);
        share.addBindValue(e.sender);
        share.addBindValue(kMaxPendingBytesPerSender);
        share.addBindValue(kMaxPendingPerSender);
        QSqlQuery trim(db_->db());
        trim.prepare("DELETE FROM pending_group_messages WHERE id <= (SELECT MAX(id) FROM"
                     " pending_group_messages) - ?");
        trim.addBindValue(kMaxPendingGroupMessages);
        // numRowsAffected() reads the connection's last change count: taken after each.
        if (!q.exec() || !share.exec()) return false;
        by_share = share.numRowsAffected();
        if (!trim.exec()) return false;
        by_total = trim.numRowsAffected();
        return extra();
      });
      if (!kept) return receiveFailed(QStringLiteral("could not keep a group message from %1").arg(e.sender));
      noteEvictions(peer, e.sender, by_share, by_total);
      keyAwaited();
      break;
    }
    case GroupOpen::Bad:
      db_->transaction(extra);
      emit problem(QStringLiteral("a group message from %1 could not be decrypted and was dropped")
                       .arg(e.sender));
      break;
    case GroupOpen::NotMember:
      db_->transaction(extra);
      emit problem(QStringLiteral("%1 is not a member of group %2; their message was dropped").arg(e.sender, peer));
      break;
    case GroupOpen::StoreFailed:
      return receiveFailed(QStringLiteral("could not store a group message from %1").arg(e.sender));
  }
  scheduleAck(seq);
}

void Messenger::retryPendingGroupMessages(const QByteArray& group_id, const QString& sender) {
  QSqlQuery q(db_->db());
  q.prepare("SELECT id, client_msg_id, conv_seq, server_ts_ms, ciphertext FROM pending_group_messages"
            " WHERE group_id = ? AND sender = ? ORDER BY conv_seq");
  q.addBindValue(group_id);
  q.addBindValue(sender);
  q.exec();
  struct Row {
    qint64 id;
    GroupEntry e;
  };
  std::vector<Row> rows;
  while (q.next())
    rows.push_back({q.value(0).toLongLong(),
                    {group_id, sender, q.value(1).toByteArray(), q.value(2).toLongLong(),
                     q.value(3).toLongLong(), q.value(4).toByteArray()}});
  for (const auto& r : rows) {
    auto drop = [&] {
      QSqlQuery del(db_->db());
      del.prepare("DELETE FROM pending_group_messages WHERE id = ?");
      del.addBindValue(r.id);
      return del.exec();
    };
    const auto result = openGroupMessage(r.e, drop, false);
    if (result == GroupOpen::Bad) {
      db_->transaction(drop);
      emit problem(QStringLiteral("a group message from %1 could not be decrypted and was dropped")
                       .arg(sender));
    }
  }
}

// A flood is told as one notice per sender and turn of the event loop (a replay delivers
// many entries in one), not one per message; the total's trim names no sender, since the
// oldest messages it drops may be anyone's.
void Messenger::noteEvictions(const QString& peer, const QString& sender, int by_share, int by_total) {
  if (by_share <= 0 && by_total <= 0) return;
  const bool scheduled = !evicted_by_share_.empty() || evicted_by_total_ > 0;
  if (by_share > 0) evicted_by_share_[{peer, sender}] += by_share;
  evicted_by_total_ += std::max(by_total, 0);
  if (scheduled) return;
  QTimer::singleShot(0, this, [this] {
    // Taken first: a slot that runs the event loop may bring more, told at their own turn.
    const auto shares = std::exchange(evicted_by_share_, {});
    const auto oldest = std::exchange(evicted_by_total_, 0);
    for (const auto& [key, count] : shares)
      emit problem(QStringLiteral("%1 has sent many messages to group %2 that no key of theirs opens"
                                  " yet; %3 of them were dropped")
                       .arg(key.second, key.first)
                       .arg(count));
    if (oldest > 0)
      emit problem(QStringLiteral("%1 of the oldest group messages waiting for a sender's key were"
                                  " dropped to make room")
                       .arg(oldest));
  });
}

}  // namespace parley::client
