#include "store/migrations.hpp"

#include <QSqlError>
#include <QSqlQuery>
#include <QStringList>
#include <QVariant>

#include <optional>

#include "crypto/ratchet.hpp"
#include "crypto/sender_key.hpp"
#include "store/rewrite_states.hpp"

namespace parley::client {
namespace {

bool exec_all(QSqlDatabase& db, const QStringList& statements, QString* error) {
  for (const auto& sql : statements) {
    QSqlQuery q(db);
    if (!q.exec(sql)) {
      *error = q.lastError().text();
      return false;
    }
  }
  return true;
}

// Version 1: profile settings, contacts, conversations, messages, ratchet sessions, outbox.
bool step_1(QSqlDatabase& db, QString* error) {
  return exec_all(db, {
      "CREATE TABLE settings(key TEXT PRIMARY KEY, value BLOB NOT NULL)",
      "CREATE TABLE prekeys(kind INTEGER NOT NULL, id INTEGER NOT NULL, secret BLOB NOT NULL,"
      " public_key BLOB NOT NULL, created_ms INTEGER NOT NULL, PRIMARY KEY(kind, id))",
      "CREATE TABLE contacts(username TEXT PRIMARY KEY, identity_key BLOB,"
      " verified INTEGER NOT NULL DEFAULT 0, pending_identity_key BLOB,"
      " added_ms INTEGER NOT NULL)",
      "CREATE TABLE conversations(peer TEXT PRIMARY KEY, last_activity_ms INTEGER NOT NULL,"
      " unread INTEGER NOT NULL DEFAULT 0, last_chain_hash BLOB, peer_chain_hash BLOB)",
      "CREATE TABLE messages(id INTEGER PRIMARY KEY, peer TEXT NOT NULL, sender TEXT NOT NULL,"
      " client_msg_id BLOB NOT NULL, conv_seq INTEGER, body TEXT NOT NULL,"
      " status INTEGER NOT NULL, client_ts_ms INTEGER NOT NULL, server_ts_ms INTEGER,"
      " received_ms INTEGER, chain_ok INTEGER NOT NULL DEFAULT 1,"
      " UNIQUE(sender, client_msg_id))",
      "CREATE INDEX messages_by_conversation ON messages(peer, conv_seq)",
      // Every conv_seq seen in a conversation, visible message or not (receipts take
      // numbers too), so gaps are found among numbers rather than among shown messages.
      "CREATE TABLE seen_seqs(peer TEXT NOT NULL, conv_seq INTEGER NOT NULL,"
      " PRIMARY KEY(peer, conv_seq)) WITHOUT ROWID",
      // Several sessions per device: when both sides start at once each holds two until
      // one of them is used by the other side (the most recently used one sends).
      "CREATE TABLE sessions(id INTEGER PRIMARY KEY, peer TEXT NOT NULL, device INTEGER NOT NULL,"
      " state BLOB NOT NULL, prekey_header BLOB, last_used_ms INTEGER NOT NULL)",
      "CREATE INDEX sessions_by_peer ON sessions(peer, device, last_used_ms)",
      // A message waiting for its SendAck. The envelope is kept once encrypted, so a retry
      // resends the same bytes and never advances the ratchet twice for one message.
      "CREATE TABLE outbox(seq INTEGER PRIMARY KEY, client_msg_id BLOB NOT NULL UNIQUE,"
      " peer TEXT NOT NULL, content BLOB NOT NULL, envelope BLOB, created_ms INTEGER NOT NULL)",
  }, error);
}

// Version 2: groups. Group messages reuse `messages`, `conversations` and `seen_seqs` with
// peer = "#" + hex(group id), so history, gaps and the models work per group.
bool step_2(QSqlDatabase& db, QString* error) {
  return exec_all(db, {
      // my_sender_key: our SenderKeySender (secret). needs_rotation: a member was removed or
      // left since it was made, so the next message goes out under a new one. left: we are
      // no longer a member.
      "CREATE TABLE groups(id BLOB PRIMARY KEY, name TEXT NOT NULL DEFAULT '',"
      " epoch INTEGER NOT NULL DEFAULT 0, my_sender_key BLOB,"
      " key_distributed_epoch INTEGER NOT NULL DEFAULT -1,"
      " needs_rotation INTEGER NOT NULL DEFAULT 0, left INTEGER NOT NULL DEFAULT 0)",
      // key_sent: the key_id of our sender key this member has been sent (pairwise).
      "CREATE TABLE group_members(group_id BLOB NOT NULL, username TEXT NOT NULL,"
      " admin INTEGER NOT NULL DEFAULT 0, key_sent BLOB, PRIMARY KEY(group_id, username))",
      // One SenderKeyReceiver per (group, member, key id); several while rotations are in flight.
      "CREATE TABLE sender_keys(group_id BLOB NOT NULL, sender TEXT NOT NULL, key_id BLOB NOT NULL,"
      " state BLOB NOT NULL, created_ms INTEGER NOT NULL,"
      " PRIMARY KEY(group_id, sender, key_id))",
      // Members whose device acknowledged one of our group messages (relay receipts).
      "CREATE TABLE group_receipts(group_id BLOB NOT NULL, client_msg_id BLOB NOT NULL,"
      " member TEXT NOT NULL, PRIMARY KEY(group_id, client_msg_id, member)) WITHOUT ROWID",
      // Group messages that arrived before their sender key: kept (and acknowledged, since
      // acks are cumulative) until the pairwise distribution arrives.
      "CREATE TABLE pending_group_messages(id INTEGER PRIMARY KEY, group_id BLOB NOT NULL,"
      " sender TEXT NOT NULL, client_msg_id BLOB NOT NULL, conv_seq INTEGER NOT NULL,"
      " server_ts_ms INTEGER NOT NULL, ciphertext BLOB NOT NULL, received_ms INTEGER NOT NULL,"
      " UNIQUE(sender, client_msg_id))",
      // Outbox: group_id set on a GroupSend (peer "#hex", envelope = sender-key ciphertext)
      // and on the pairwise SENDER_KEY entries for that group.
      "ALTER TABLE outbox ADD COLUMN group_id BLOB",
  }, error);
}

// Version 3: group read receipts and group name/description (end-to-end control messages).
bool step_3(QSqlDatabase& db, QString* error) {
  return exec_all(db, {
      // info_seq: the group seq of the GROUP_INFO that set name/description (-1: none yet),
      // so an older one opened late (pending key) does not overwrite a newer one.
      "ALTER TABLE groups ADD COLUMN description TEXT NOT NULL DEFAULT ''",
      "ALTER TABLE groups ADD COLUMN info_seq INTEGER NOT NULL DEFAULT -1",
      // Members who sent an end-to-end read receipt for one of our group messages.
      "CREATE TABLE group_reads(group_id BLOB NOT NULL, client_msg_id BLOB NOT NULL,"
      " member TEXT NOT NULL, PRIMARY KEY(group_id, client_msg_id, member)) WITHOUT ROWID",
      // Group messages that are not shown (read receipts, GROUP_INFO) and have been handled:
      // a redelivery is acknowledged without trying a spent sender-key step again.
      "CREATE TABLE group_controls(sender TEXT NOT NULL, client_msg_id BLOB NOT NULL,"
      " PRIMARY KEY(sender, client_msg_id)) WITHOUT ROWID",
  }, error);
}

// Version 4: group avatars (end-to-end, inside GROUP_INFO) and when each member received and
// read our group messages, for per-member receipt details.
bool step_4(QSqlDatabase& db, QString* error) {
  return exec_all(db, {
      "ALTER TABLE groups ADD COLUMN avatar BLOB",
      "ALTER TABLE group_receipts ADD COLUMN at_ms INTEGER",
      "ALTER TABLE group_reads ADD COLUMN at_ms INTEGER",
  }, error);
}

// Version 5: full-text search over local history (SQLite FTS5). An external-content index
// over messages.body kept in step by triggers, so the text is stored once; existing history
// is indexed by the rebuild.
bool step_5(QSqlDatabase& db, QString* error) {
  return exec_all(db, {
      "CREATE VIRTUAL TABLE messages_fts USING fts5(body, content='messages',"
      " content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
      "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN"
      " INSERT INTO messages_fts(rowid, body) VALUES(new.id, new.body); END",
      "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN"
      " INSERT INTO messages_fts(messages_fts, rowid, body) VALUES('delete', old.id, old.body); END",
      "CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN"
      " INSERT INTO messages_fts(messages_fts, rowid, body) VALUES('delete', old.id, old.body);"
      " INSERT INTO messages_fts(rowid, body) VALUES(new.id, new.body); END",
      "INSERT INTO messages_fts(messages_fts) VALUES('rebuild')",
  }, error);
}

// Version 6: attachments. One row per message that carries a file (sent or received), with
// what is needed to fetch and open it: the key sits beside the ratchet secrets, in the same
// 0600 file. local_path: where the file is on this device (the source we sent, or where it
// was saved), empty until fetched.
bool step_6(QSqlDatabase& db, QString* error) {
  return exec_all(db, {
      "CREATE TABLE attachments(sender TEXT NOT NULL, client_msg_id BLOB NOT NULL,"
      " peer TEXT NOT NULL, media_id BLOB NOT NULL, key BLOB NOT NULL,"
      " ciphertext_size INTEGER NOT NULL, sha256 BLOB NOT NULL, plaintext_size INTEGER NOT NULL,"
      " file_name TEXT NOT NULL, mime_type TEXT NOT NULL, width INTEGER NOT NULL DEFAULT 0,"
      " height INTEGER NOT NULL DEFAULT 0, thumbnail BLOB, local_path TEXT,"
      " PRIMARY KEY(sender, client_msg_id)) WITHOUT ROWID",
      "CREATE INDEX attachments_by_id ON attachments(client_msg_id)",
  }, error);
}

// Version 7: delivery marks (docs/protocol.md 6.6). The relay no longer sends a receipt per
// message but, per (conversation, reader device), the highest conv_seq of ours that device
// has acknowledged. The marks are kept because one can arrive before the SendAck that tells
// us a message's conv_seq (the ack lost with a dropped connection); that SendAck then finds
// the mark here. peer is the conversation key of `messages` (username, or "#" + hex for a
// group); up_to never goes down. Marks are applied through messages_by_conversation
// (peer, conv_seq), so a mark reads only the messages it covers.
bool step_7(QSqlDatabase& db, QString* error) {
  return exec_all(db, {
      "CREATE TABLE delivery_marks(peer TEXT NOT NULL, reader TEXT NOT NULL,"
      " reader_device INTEGER NOT NULL, up_to INTEGER NOT NULL, at_ms INTEGER NOT NULL,"
      " PRIMARY KEY(peer, reader, reader_device)) WITHOUT ROWID",
  }, error);
}

// Version 8: a mark's first conv_seq (DeliveryMark.from_conv_seq), so a device or member that
// came later is not counted for our messages sent before it (1: from the start).
bool step_8(QSqlDatabase& db, QString* error) {
  return exec_all(db, {
      "ALTER TABLE delivery_marks ADD COLUMN from_seq INTEGER NOT NULL DEFAULT 1",
  }, error);
}

// Version 9: signed membership changes. `seat` keeps members in joining order, which the
// signed member lists use. `out_of_step`: the epoch of a signed change that did not follow
// from the members known here (one was missed; 0: none), so nothing is sent to the group
// until it is taken up to that epoch or an admin adds us back.
// `group_departures`: our own removals whose event has not come back yet, with its group seq,
// so the removed member's messages written before it still open. A member's SENDER_KEY
// offers the group's name and description, kept with the key until that member is known.
bool step_9(QSqlDatabase& db, QString* error) {
  return exec_all(db, {
      "ALTER TABLE group_members ADD COLUMN seat INTEGER NOT NULL DEFAULT 0",
      "UPDATE group_members SET seat = rowid",
      "ALTER TABLE groups ADD COLUMN out_of_step INTEGER NOT NULL DEFAULT 0",
      // Member lists from before: their order may not be the relay's (a creator stored
      // itself last), so it is compared with the relay's at the next login (adoptRelayOrder).
      "ALTER TABLE groups ADD COLUMN order_unchecked INTEGER NOT NULL DEFAULT 0",
      "UPDATE groups SET order_unchecked = 1 WHERE left = 0",
      "CREATE TABLE group_departures(group_id BLOB NOT NULL, username TEXT NOT NULL,"
      " left_seq INTEGER NOT NULL, PRIMARY KEY(group_id, username))",
      "ALTER TABLE sender_keys ADD COLUMN offered_name TEXT",
      "ALTER TABLE sender_keys ADD COLUMN offered_description TEXT",
  }, error);
}

// Version 10: every first message (X3DH) we answered, by the sender's identity and ephemeral
// key, while the signed prekey it names is kept: without a one-time prekey, nothing else
// stops the same first message from opening a second session.
bool step_10(QSqlDatabase& db, QString* error) {
  return exec_all(db, {
      "CREATE TABLE x3dh_seen(identity_key BLOB NOT NULL, ephemeral_key BLOB NOT NULL,"
      " signed_prekey_id INTEGER NOT NULL, PRIMARY KEY(identity_key, ephemeral_key)) WITHOUT ROWID",
  }, error);
}

// Version 11: ratchet sessions and sender keys in their state format 2, which records when
// each skipped message key was skipped (they expire: crypto/skipped_key_age.hpp). The keys
// of format 1 count from now. Rewriting them here also makes an older Parley refuse the
// profile with a clear error instead of failing to read every session.
bool step_11(QSqlDatabase& db, QString* error) {
  return rewrite_states(db, "sessions", [](crypto::ByteView b) {
           auto s = crypto::RatchetSession::deserialize(b);
           return s ? std::optional(s->serialize()) : std::nullopt;
         }, error) &&
         rewrite_states(db, "sender_keys", [](crypto::ByteView b) {
           auto r = crypto::SenderKeyReceiver::deserialize(b);
           return r ? std::optional(r->serialize()) : std::nullopt;
         }, error);
}

// Version 12: the files the user sent whose message is not queued yet (being encrypted or
// uploaded, or waiting their turn), so quitting or a crash does not lose them; each with the
// client_msg_id its message will take and, once encrypted, the attachment (key, size, hash)
// of its encrypted copy and the media id of its upload, so a later run goes on uploading.
bool step_12(QSqlDatabase& db, QString* error) {
  return exec_all(db, {
      "CREATE TABLE file_sends(id INTEGER PRIMARY KEY, peer TEXT NOT NULL, path TEXT NOT NULL,"
      " caption TEXT NOT NULL, client_msg_id BLOB NOT NULL UNIQUE, created_ms INTEGER NOT NULL,"
      " attachment BLOB, media_id BLOB)",
  }, error);
}

// Version 13: replies. The message a message answers (Content.quote): its sender and id, and
// the start of its text as the reply quoted it, shown when this device lacks the original.
bool step_13(QSqlDatabase& db, QString* error) {
  return exec_all(db, {
      "ALTER TABLE messages ADD COLUMN reply_to BLOB",
      "ALTER TABLE messages ADD COLUMN reply_author TEXT",
      "ALTER TABLE messages ADD COLUMN reply_text TEXT",
  }, error);
}

// Version 14: a file queued as a reply keeps the quote its message will carry (a serialised
// Quote), taken when it was queued.
bool step_14(QSqlDatabase& db, QString* error) {
  return exec_all(db, {"ALTER TABLE file_sends ADD COLUMN quote BLOB"}, error);
}

// Version 15: reactions. Each person's one reaction to a message (named by its sender and id
// within the conversation), with the reactor's clock so a late older one does not replace a
// newer one; a reaction taken back stays as an empty emoji for the same reason.
bool step_15(QSqlDatabase& db, QString* error) {
  return exec_all(db, {
      "CREATE TABLE reactions(peer TEXT NOT NULL, target_sender TEXT NOT NULL, target_id BLOB NOT NULL,"
      " reactor TEXT NOT NULL, emoji TEXT NOT NULL, at_ms INTEGER NOT NULL,"
      " PRIMARY KEY(peer, target_sender, target_id, reactor))",
  }, error);
}

// Version 16: edits and deletion. `edited_ms`: the sender's time of the edit the body now
// shows (NULL: never edited), so a late older edit does not replace a newer one. `removed`:
// 1 taken back by its sender for everyone, 2 deleted from this device; the row stays, its
// words, quote and file gone, so its number still counts as received (no gap) and a late
// edit or reaction finds nothing to bring back.
bool step_16(QSqlDatabase& db, QString* error) {
  return exec_all(db, {
      "ALTER TABLE messages ADD COLUMN edited_ms INTEGER",
      "ALTER TABLE messages ADD COLUMN removed INTEGER NOT NULL DEFAULT 0",
      // The conversation list's last message, skipping those deleted here, from an index.
      "CREATE INDEX messages_peer_shown ON messages(peer, id) WHERE removed != 2",
  }, error);
}

// Version 17: changes that wait, and messages that never left. `outbox.attempted`: the entry
// has been handed to the relay at least once, so it may be there even without an answer; an
// entry never attempted can be taken back without a trace (an unsend of a queued message).
// Entries from before cannot say (one re-encrypted after a changed key was accepted may have
// left before), so they all count as attempted. `pending_revisions`: an EDIT or UNSEND for a group message
// still waiting for its sender's key, applied when the message opens; one per message, the
// one that would win (an unsend over any edit, else the newest edit), and gone with the
// waiting message however it goes (opened, or dropped for room).
bool step_17(QSqlDatabase& db, QString* error) {
  return exec_all(db, {
      "ALTER TABLE outbox ADD COLUMN attempted INTEGER NOT NULL DEFAULT 0",
      "UPDATE outbox SET attempted = 1",
      "CREATE TABLE pending_revisions(group_id BLOB NOT NULL, sender TEXT NOT NULL,"
      " client_msg_id BLOB NOT NULL, unsend INTEGER NOT NULL, text TEXT NOT NULL,"
      " at_ms INTEGER NOT NULL, relay_ms INTEGER NOT NULL,"
      " PRIMARY KEY(group_id, sender, client_msg_id)) WITHOUT ROWID",
      "CREATE TRIGGER pending_revisions_follow AFTER DELETE ON pending_group_messages BEGIN"
      " DELETE FROM pending_revisions WHERE group_id = old.group_id AND sender = old.sender AND"
      " client_msg_id = old.client_msg_id; END",
  }, error);
}

// Version 18: the conversation list finds its last message in conversation order, through
// messages_by_conversation (peer, conv_seq); the partial index step 16 made for it, by
// arrival order, is no longer read and would only cost every message a write.
bool step_18(QSqlDatabase& db, QString* error) {
  return exec_all(db, {"DROP INDEX IF EXISTS messages_peer_shown"}, error);
}

// Version 19: `group_members.joined_seq`, the group seq of the change that added the member
// (0: there from the start): a message numbered after it went to them, one before did not,
// so our message's ticks wait for exactly the members it went to who are still in
// (sync/group_ticks.hpp). For members from before, the start of their delivery marks on our
// messages stands in (the relay starts a member's mark at the first entry it got, so none of
// ours lies between their join and it); without marks, the group's start.
bool step_19(QSqlDatabase& db, QString* error) {
  return exec_all(db, {
      "ALTER TABLE group_members ADD COLUMN joined_seq INTEGER NOT NULL DEFAULT 0",
      "UPDATE group_members SET joined_seq = COALESCE((SELECT MIN(from_seq) - 1 FROM delivery_marks"
      " WHERE peer = '#' || lower(hex(group_members.group_id)) AND reader = group_members.username), 0)",
  }, error);
}

// Version 20: a conversation's settings on this device. `muted_until_ms`: its messages
// notify nobody and stay out of the unread total until then (0: not muted; the largest
// integer: until the user unmutes). `pinned_ms`: kept at the top of the list, the most
// recently pinned first (NULL: not pinned). `marked_unread`: the user marked it unread, to
// come back to; opening it clears that.
bool step_20(QSqlDatabase& db, QString* error) {
  return exec_all(db, {
      "ALTER TABLE conversations ADD COLUMN muted_until_ms INTEGER NOT NULL DEFAULT 0",
      "ALTER TABLE conversations ADD COLUMN pinned_ms INTEGER",
      "ALTER TABLE conversations ADD COLUMN marked_unread INTEGER NOT NULL DEFAULT 0",
  }, error);
}

// Version 21: disappearing messages. `conversations.expire_timer_s`: the timer messages
// sent here carry (0: off), set by the change the relay numbered `expire_timer_seq` in the
// conversation (NULL: ours, not numbered yet): the one numbered last wins, on every device. `messages.kind`: 0 a message, 1 a
// line saying the timer changed to `expire_s`. For a message, `expire_s` is its lifetime and
// `expires_at_ms` when it goes (NULL: not counting down yet: unread, or not yet taken by the
// relay); the partial index lets the sweeper find the next one without reading the rest.
bool step_21(QSqlDatabase& db, QString* error) {
  return exec_all(db, {
      "ALTER TABLE conversations ADD COLUMN expire_timer_s INTEGER NOT NULL DEFAULT 0",
      "ALTER TABLE conversations ADD COLUMN expire_timer_seq INTEGER DEFAULT 0",
      "ALTER TABLE messages ADD COLUMN kind INTEGER NOT NULL DEFAULT 0",
      "ALTER TABLE messages ADD COLUMN expire_s INTEGER NOT NULL DEFAULT 0",
      "ALTER TABLE messages ADD COLUMN expires_at_ms INTEGER",
      "CREATE INDEX messages_expiring ON messages(expires_at_ms) WHERE expires_at_ms IS NOT NULL",
  }, error);
}

// Version 22: asking a group member again for a sender key that never arrived.
// `group_members.key_sent_distribution`: the distribution of our current key as we sent it to
// that member at `key_sent_ms` (secret, like my_sender_key; NULL once the key changes, the
// entry failed, the member showed they hold it, or after a week), so a request is answered
// with what they were given, no earlier step of the chain; `key_resent_ms`: when we last sent
// it again. `pending_group_messages.key_id`: the sender key a kept message waits for (from its
// header). `sender_key_requests`: keys whose messages wait here, asked for `attempts` times,
// last at `asked_ms`.
bool step_22(QSqlDatabase& db, QString* error) {
  return exec_all(db, {
      "ALTER TABLE group_members ADD COLUMN key_sent_distribution BLOB",
      "ALTER TABLE group_members ADD COLUMN key_sent_ms INTEGER NOT NULL DEFAULT 0",
      "ALTER TABLE group_members ADD COLUMN key_resent_ms INTEGER NOT NULL DEFAULT 0",
      "ALTER TABLE pending_group_messages ADD COLUMN key_id BLOB",
      "UPDATE pending_group_messages SET key_id = substr(ciphertext, 2, 16)",
      "CREATE INDEX pending_group_messages_key ON pending_group_messages(group_id, sender, key_id)",
      "CREATE TABLE sender_key_requests(group_id BLOB NOT NULL, sender TEXT NOT NULL,"
      " key_id BLOB NOT NULL, asked_ms INTEGER NOT NULL, attempts INTEGER NOT NULL,"
      " PRIMARY KEY(group_id, sender, key_id)) WITHOUT ROWID",
  }, error);
}

// Version 23: archived chats. `conversations.archived`: kept out of the main list on this
// device until the user brings it back, or a message comes or goes there (one that arrives
// while it is muted leaves it where it is).
bool step_23(QSqlDatabase& db, QString* error) {
  return exec_all(db, {"ALTER TABLE conversations ADD COLUMN archived INTEGER NOT NULL DEFAULT 0"}, error);
}

// Version 24: drafts. What the user was writing in a chat and has not sent, and the message
// it answers (messages.id; 0: none), kept on this device only (Messenger::setDraft).
bool step_24(QSqlDatabase& db, QString* error) {
  return exec_all(db, {
      "ALTER TABLE conversations ADD COLUMN draft TEXT NOT NULL DEFAULT ''",
      "ALTER TABLE conversations ADD COLUMN draft_reply_to INTEGER NOT NULL DEFAULT 0",
  }, error);
}

// Version 25: forwarded messages. `messages.forwarded`: a copy of words the sender did not
// write (Content.forwarded); `file_sends.forwarded`: a file queued as such a copy.
bool step_25(QSqlDatabase& db, QString* error) {
  return exec_all(db, {
      "ALTER TABLE messages ADD COLUMN forwarded INTEGER NOT NULL DEFAULT 0",
      "ALTER TABLE file_sends ADD COLUMN forwarded INTEGER NOT NULL DEFAULT 0",
  }, error);
}

// Version 26: mentions. `messages.mentions_me`: a group message from someone else that names
// us ("@alice", util/mentions.hpp); the partial index counts a chat's unread ones for its row
// in the list, and holds only those.
bool step_26(QSqlDatabase& db, QString* error) {
  return exec_all(db, {
      "ALTER TABLE messages ADD COLUMN mentions_me INTEGER NOT NULL DEFAULT 0",
      "CREATE INDEX messages_unread_mentions ON messages(peer) WHERE mentions_me = 1 AND status = 10 AND removed = 0",
  }, error);
}

using Step = bool (*)(QSqlDatabase&, QString*);
constexpr Step kSteps[] = {step_1, step_2,  step_3,  step_4,  step_5,  step_6,  step_7,  step_8,
                           step_9, step_10, step_11, step_12, step_13, step_14, step_15,
                           step_16, step_17, step_18, step_19, step_20, step_21, step_22, step_23,
                           step_24, step_25, step_26};

}  // namespace

bool migrate(QSqlDatabase& db, int target_version, QString* error) {
  QSqlQuery v(db);
  if (!v.exec("PRAGMA user_version") || !v.next()) {
    *error = v.lastError().text();
    return false;
  }
  const int current = v.value(0).toInt();
  // Done with, so no statement is left open on the connection: SQLite refuses to drop a
  // table or index while one is ("database table is locked").
  v.finish();
  if (current > target_version) {
    *error = QStringLiteral("the profile database has schema version %1, newer than this "
                            "Parley (%2); upgrade Parley")
                 .arg(current)
                 .arg(target_version);
    return false;
  }
  for (int next = current + 1; next <= target_version; ++next) {
    if (!db.transaction()) {
      *error = db.lastError().text();
      return false;
    }
    QSqlQuery set(db);
    if (!kSteps[next - 1](db, error) ||
        !set.exec(QStringLiteral("PRAGMA user_version = %1").arg(next)) || !db.commit()) {
      if (error->isEmpty()) *error = db.lastError().text();
      db.rollback();
      return false;
    }
  }
  return true;
}

}  // namespace parley::client
