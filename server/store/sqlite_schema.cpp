#include "store/sqlite_schema.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Transaction.h>

#include <stdexcept>
#include <string>

namespace parley::store {
namespace {

// Version 1: accounts, prekeys, conversations, dedup window and per-device inboxes.
void step_1(SQLite::Database& db) {
  db.exec(R"sql(
    CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB NOT NULL);
    CREATE TABLE users(
      id INTEGER PRIMARY KEY,
      username TEXT NOT NULL UNIQUE,
      created_ms INTEGER NOT NULL);
    CREATE TABLE devices(
      id INTEGER PRIMARY KEY,
      user_id INTEGER NOT NULL REFERENCES users(id),
      device_id INTEGER NOT NULL,
      identity_key BLOB NOT NULL,
      inbox_tail INTEGER NOT NULL DEFAULT 0,
      signed_prekey_id INTEGER,
      signed_prekey BLOB,
      signed_prekey_sig BLOB,
      UNIQUE(user_id, device_id));
    CREATE TABLE one_time_prekeys(
      device INTEGER NOT NULL REFERENCES devices(id),
      key_id INTEGER NOT NULL,
      public_key BLOB NOT NULL,
      PRIMARY KEY(device, key_id)) WITHOUT ROWID;
    CREATE TABLE conversations(
      conv_key TEXT PRIMARY KEY,
      last_seq INTEGER NOT NULL) WITHOUT ROWID;
    CREATE TABLE sent(
      sender INTEGER NOT NULL,
      client_msg_id BLOB NOT NULL,
      conv_seq INTEGER NOT NULL,
      server_ts INTEGER NOT NULL,
      PRIMARY KEY(sender, client_msg_id)) WITHOUT ROWID;
    CREATE INDEX sent_by_time ON sent(server_ts);
    CREATE TABLE inbox(
      id INTEGER PRIMARY KEY,
      device INTEGER NOT NULL REFERENCES devices(id),
      seq INTEGER NOT NULL,
      kind INTEGER NOT NULL,
      sender TEXT NOT NULL,
      sender_device INTEGER NOT NULL,
      sender_pk INTEGER NOT NULL,
      client_msg_id BLOB NOT NULL,
      conv_seq INTEGER NOT NULL,
      server_ts INTEGER NOT NULL,
      content_hint INTEGER NOT NULL,
      ciphertext BLOB,
      UNIQUE(device, seq));
    CREATE INDEX inbox_by_time ON inbox(server_ts);
  )sql");
}

// Version 2: groups. A group's ordered log, its membership history (so fan-out of entry s
// goes to exactly the members of s), durable fan-out progress, and the group id on inbox
// entries.
void step_2(SQLite::Database& db) {
  db.exec(R"sql(
    CREATE TABLE groups(
      id BLOB PRIMARY KEY,
      created_ms INTEGER NOT NULL,
      next_seq INTEGER NOT NULL DEFAULT 1,
      epoch INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
    CREATE TABLE group_members(
      id INTEGER PRIMARY KEY,
      group_id BLOB NOT NULL REFERENCES groups(id),
      user_id INTEGER NOT NULL REFERENCES users(id),
      admin INTEGER NOT NULL,
      joined_seq INTEGER NOT NULL,
      left_seq INTEGER);
    CREATE INDEX group_members_by_group ON group_members(group_id, user_id);
    CREATE TABLE group_log(
      id INTEGER PRIMARY KEY,
      group_id BLOB NOT NULL REFERENCES groups(id),
      seq INTEGER NOT NULL,
      kind INTEGER NOT NULL,
      sender TEXT NOT NULL,
      sender_device INTEGER NOT NULL,
      sender_pk INTEGER NOT NULL,
      client_msg_id BLOB NOT NULL,
      server_ts INTEGER NOT NULL,
      content_hint INTEGER NOT NULL,
      payload BLOB NOT NULL,
      UNIQUE(group_id, seq));
    CREATE TABLE group_fanout(
      group_id BLOB PRIMARY KEY REFERENCES groups(id),
      done_seq INTEGER NOT NULL DEFAULT 0,
      done_device INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
    ALTER TABLE inbox ADD COLUMN group_id BLOB;
  )sql");
}

// Version 3: media. Who owns each upload, its reserved size, and (once finished) the hash
// naming its blob in the blob store.
void step_3(SQLite::Database& db) {
  db.exec(R"sql(
    CREATE TABLE media(
      id BLOB PRIMARY KEY,
      owner INTEGER NOT NULL REFERENCES users(id),
      size INTEGER NOT NULL,
      sha256 BLOB,
      created_ms INTEGER NOT NULL,
      completed_ms INTEGER) WITHOUT ROWID;
    CREATE INDEX media_by_owner ON media(owner, created_ms);
    CREATE INDEX media_by_created ON media(created_ms);
    CREATE INDEX media_by_sha256 ON media(sha256);
  )sql");
}

// Version 4: group entries are stored once. A member's inbox row for a group entry holds no
// ciphertext (NULL) and names the log entry by (group_id, conv_seq); group_log_refs counts
// the inbox rows naming each entry, plus one while its fan-out is unfinished, so the entry
// is deleted when the last member acknowledges it. Entries still in the log at upgrade are
// all unfinished (finished ones were deleted) and hold only that one reference; inbox rows
// written before the upgrade keep their own copy.
void step_4(SQLite::Database& db) {
  db.exec(R"sql(
    CREATE TABLE group_log_refs(
      group_id BLOB NOT NULL,
      seq INTEGER NOT NULL,
      refs INTEGER NOT NULL,
      PRIMARY KEY(group_id, seq)) WITHOUT ROWID;
    INSERT INTO group_log_refs(group_id, seq, refs) SELECT group_id, seq, 1 FROM group_log;
  )sql");
}

// Version 5: the dedup window is keyed by (client_msg_id, sender) instead of (sender,
// client_msg_id). Clients make time-ordered ids (parley/message_id.hpp), so new rows land
// at the right edge of the B-tree; keyed by sender first, every sender's rows were a
// separate place to insert into, and a commit of N sends from N senders dirtied N pages
// (measured: ~7.6 KB of disk writes per message of ~12 KB in all). And the inbox loses its
// index on server_ts, a third of the B-tree work of every append and delete: retention
// finds old entries by rowid instead, which follows insertion order (sqlite_store.cpp).
void step_5(SQLite::Database& db) {
  db.exec(R"sql(
    CREATE TABLE sent_v5(
      client_msg_id BLOB NOT NULL,
      sender INTEGER NOT NULL,
      conv_seq INTEGER NOT NULL,
      server_ts INTEGER NOT NULL,
      PRIMARY KEY(client_msg_id, sender)) WITHOUT ROWID;
    INSERT INTO sent_v5(client_msg_id, sender, conv_seq, server_ts)
      SELECT client_msg_id, sender, conv_seq, server_ts FROM sent;
    DROP TABLE sent;
    ALTER TABLE sent_v5 RENAME TO sent;
    CREATE INDEX sent_by_time ON sent(server_ts);
    DROP INDEX IF EXISTS inbox_by_time;
  )sql");
}

// Version 6: delivery receipts become delivery marks. Instead of a DELIVERY_RECEIPT entry in
// the sender's inbox for every acknowledged message (an insert, and a delete once the sender
// acknowledged it), one row per (sending device, receiving device, conversation) holds the
// highest conv_seq the receiving device has acknowledged, raised in place. Receipt entries
// still pending become marks (their versions 1..n, which meta's mark_version continues), and
// their devices' inbox tails are saved first, as every delete of inbox rows does.
void step_6(SQLite::Database& db) {
  db.exec(R"sql(
    CREATE TABLE delivery_marks(
      owner INTEGER NOT NULL REFERENCES devices(id),
      reader INTEGER NOT NULL REFERENCES devices(id),
      group_id BLOB NOT NULL,
      up_to INTEGER NOT NULL,
      acked_ms INTEGER NOT NULL,
      version INTEGER NOT NULL,
      PRIMARY KEY(owner, reader, group_id)) WITHOUT ROWID;
    INSERT INTO delivery_marks(owner, reader, group_id, up_to, acked_ms, version)
      SELECT device, sender_pk, COALESCE(group_id, x''), MAX(conv_seq), MAX(server_ts),
             ROW_NUMBER() OVER (ORDER BY MIN(seq))
      FROM inbox WHERE kind = 2 GROUP BY device, sender_pk, COALESCE(group_id, x'');
    INSERT INTO meta(key, value) SELECT 'mark_version', COUNT(*) FROM delivery_marks;
    UPDATE devices SET inbox_tail = MAX(inbox_tail, (SELECT MAX(seq) FROM inbox
      WHERE device = devices.id)) WHERE id IN (SELECT device FROM inbox WHERE kind = 2);
    DELETE FROM inbox WHERE kind = 2;
  )sql");
}

// Version 7: a mark knows where it starts. A device registered later, or a member added to a
// group (again), must not be counted for messages sent before it could get them, so a mark
// row keeps the first conv_seq it covered (1 for rows made by step 6: unknown), and a group's
// marks of a member are deleted when the membership ends (group_id first, to find them).
void step_7(SQLite::Database& db) {
  db.exec(R"sql(
    ALTER TABLE delivery_marks ADD COLUMN from_seq INTEGER NOT NULL DEFAULT 1;
    CREATE INDEX delivery_marks_by_group ON delivery_marks(group_id, reader);
  )sql");
}

// Version 8: a login reads its device's marks by version, a page at a time; without an index
// every page scanned and sorted all of the device's marks (a member of many large groups
// has tens of thousands). The index costs each raise an index update (the version changes).
void step_8(SQLite::Database& db) {
  db.exec("CREATE INDEX delivery_marks_by_version ON delivery_marks(owner, version)");
}

// Version 9: a group's fan-out goes device by device over a range of log entries instead of
// entry by entry, so a member gets the range in one write and acknowledges it once. The
// cursor keeps the range's end; a fan-out caught half-way through an entry at upgrade is a
// range of that one entry.
void step_9(SQLite::Database& db) {
  db.exec(R"sql(
    ALTER TABLE group_fanout ADD COLUMN range_end INTEGER NOT NULL DEFAULT 0;
    UPDATE group_fanout SET range_end = done_seq + 1 WHERE done_device > 0;
  )sql");
}

// Version 10: a member's inbox row for group entries names a whole fan-out range of the log,
// not one entry: entries conv_seq..conv_last less the device's own messages, `span` inbox
// seqs ending at `seq` (so seq stays the row's key and the device's tail). One row written
// and one deleted per member and range instead of per member and entry. A row of a 1:1 message
// spans 1 and has no conv_last. Rows naming one log entry (step 4) become ranges of that
// entry; kind 0 marks a range row (the kinds of its entries are in the log).
// Retention before this step removed old log entries by age while a row fanned out late,
// above its bound, could outlive them, and left counts too high for rows it removed. A row
// whose entry is gone would now fail every read of its inbox, so such rows go (their
// devices' tails saved first, as every delete does), and the counts are made again from the
// rows (plus the fan-out's own reference while an entry is not fanned out to everyone);
// entries nothing names any more leave the log.
void step_10(SQLite::Database& db) {
  db.exec(R"sql(
    CREATE TEMP TABLE orphan_rows AS SELECT i.id, i.device FROM inbox i
      WHERE i.ciphertext IS NULL AND i.group_id IS NOT NULL AND NOT EXISTS(SELECT 1
      FROM group_log l WHERE l.group_id = i.group_id AND l.seq = i.conv_seq);
    UPDATE devices SET inbox_tail = MAX(inbox_tail, (SELECT MAX(seq) FROM inbox
      WHERE device = devices.id)) WHERE id IN (SELECT device FROM orphan_rows);
    DELETE FROM inbox WHERE id IN (SELECT id FROM orphan_rows);
    DROP TABLE orphan_rows;
    ALTER TABLE inbox ADD COLUMN span INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE inbox ADD COLUMN conv_last INTEGER;
    UPDATE inbox SET kind = 0, conv_last = conv_seq WHERE ciphertext IS NULL AND group_id IS NOT NULL;
    DELETE FROM group_log_refs;
    INSERT INTO group_log_refs(group_id, seq, refs)
      SELECT l.group_id, l.seq, COALESCE(r.n, 0) + (l.seq > f.done_seq) FROM group_log l
      JOIN group_fanout f ON f.group_id = l.group_id
      LEFT JOIN (SELECT group_id, conv_seq, COUNT(*) AS n FROM inbox WHERE conv_last IS NOT NULL
                 GROUP BY group_id, conv_seq) r ON r.group_id = l.group_id AND r.conv_seq = l.seq;
    DELETE FROM group_log WHERE EXISTS(SELECT 1 FROM group_log_refs r WHERE r.refs = 0
      AND r.group_id = group_log.group_id AND r.seq = group_log.seq);
    DELETE FROM group_log_refs WHERE refs = 0;
  )sql");
}

// Version 11: what each sender's entries in group logs weigh (each its payload's bytes plus
// 128 for its rows, Store::kGroupEntryBytes), so a GroupSend checks its sender's share with
// one read (Store::group_load_of since step 12). Triggers keep it, so every way an entry comes or goes
// (an append, the last member's ack, retention, an abandoned group, a rollback) moves it
// with the rows themselves. A sender with nothing left in any log has no row: the relay
// keeps no trace of who once wrote to a group.
void step_11(SQLite::Database& db) {
  db.exec(R"sql(
    CREATE TABLE group_sender_bytes(
      sender_pk INTEGER PRIMARY KEY,
      bytes INTEGER NOT NULL);
    INSERT INTO group_sender_bytes(sender_pk, bytes)
      SELECT sender_pk, SUM(length(payload) + 128) FROM group_log GROUP BY sender_pk;
    CREATE TRIGGER group_log_weighs_in AFTER INSERT ON group_log BEGIN
      INSERT INTO group_sender_bytes(sender_pk, bytes)
        VALUES(NEW.sender_pk, length(NEW.payload) + 128)
        ON CONFLICT(sender_pk) DO UPDATE SET bytes = bytes + excluded.bytes;
    END;
    CREATE TRIGGER group_log_weighs_out AFTER DELETE ON group_log BEGIN
      UPDATE group_sender_bytes SET bytes = bytes - (length(OLD.payload) + 128)
        WHERE sender_pk = OLD.sender_pk;
      DELETE FROM group_sender_bytes WHERE sender_pk = OLD.sender_pk AND bytes <= 0;
    END;
  )sql");
}

// Version 12: a member's range row weighs 128 bytes too, charged to the sender of the last
// entry it names (kept in the row's sender_pk, unused by range rows until now), until it
// goes: without it, one sender's entries within its share could still make the relay keep
// a row per member device for each of them. And each sender's count of entries the fan-out
// has not finished (`pending`): their rows are not yet weighed, so that count is bounded
// apart. The store keeps both from here (SqliteStore's share_delta).
void step_12(SQLite::Database& db) {
  db.exec(R"sql(
    ALTER TABLE group_sender_bytes ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
    UPDATE inbox SET sender_pk = COALESCE((SELECT l.sender_pk FROM group_log l
      WHERE l.group_id = inbox.group_id AND l.seq = inbox.conv_last), 0)
      WHERE conv_last IS NOT NULL;
    UPDATE group_sender_bytes SET bytes = bytes + 128 * r.n
      FROM (SELECT sender_pk, COUNT(*) AS n FROM inbox WHERE conv_last IS NOT NULL
            GROUP BY sender_pk) r
      WHERE r.sender_pk = group_sender_bytes.sender_pk;
    UPDATE group_sender_bytes SET pending = w.n
      FROM (SELECT l.sender_pk, COUNT(*) AS n FROM group_log l
            JOIN group_fanout f ON f.group_id = l.group_id WHERE l.seq > f.done_seq
            GROUP BY l.sender_pk) w
      WHERE w.sender_pk = group_sender_bytes.sender_pk;
  )sql");
}

using Step = void (*)(SQLite::Database&);
constexpr Step kSteps[] = {step_1, step_2, step_3,  step_4,  step_5,  step_6,
                           step_7, step_8, step_9, step_10, step_11, step_12};
static_assert(std::size(kSteps) == kSchemaVersion);

}  // namespace

void migrate_schema(SQLite::Database& db) {
  const int current = db.execAndGet("PRAGMA user_version").getInt();
  if (current > kSchemaVersion) {
    throw std::runtime_error("relay.db has schema version " + std::to_string(current) +
                             ", newer than this relay (" + std::to_string(kSchemaVersion) +
                             "); upgrade parley-relay");
  }
  for (int v = current; v < kSchemaVersion; ++v) {
    SQLite::Transaction tx(db);
    kSteps[v](db);
    db.exec("PRAGMA user_version = " + std::to_string(v + 1));
    tx.commit();
  }
}

}  // namespace parley::store
