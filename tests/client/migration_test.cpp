// Schema migrations: a profile written by every earlier schema version opens with the current
// one, keeps its data, and gains what the later steps add.
#include <QtTest>

#include <QSqlQuery>
#include <QTemporaryDir>

#include "crypto/ratchet.hpp"
#include "crypto/sender_key.hpp"
#include "crypto/x3dh.hpp"
#include "store/database.hpp"
#include "store/migrations.hpp"
#include "sealed_db.hpp"

using parley::client::Database;

namespace {

// Builds a file at exactly `version` by running only the steps up to it, with one message,
// one contact and one outbox entry, as a client of that version would have left them.
bool make_old_profile(const QString& path, int version) {
  const QString name = QStringLiteral("old-%1").arg(version);
  bool ok = false;
  {
    auto db = QSqlDatabase::addDatabase("QSQLITE", name);
    db.setDatabaseName(path);
    QString error;
    if (db.open() && parley::client::migrate(db, version, &error)) {
      QSqlQuery q(db);
      ok = q.exec("INSERT INTO contacts(username, identity_key, added_ms) VALUES('bob', x'01', 1)") &&
           q.exec("INSERT INTO conversations(peer, last_activity_ms) VALUES('bob', 5)") &&
           q.exec("INSERT INTO messages(peer, sender, client_msg_id, conv_seq, body, status,"
                  " client_ts_ms) VALUES('bob', 'alice', x'00112233445566778899aabbccddeeff', 1,"
                  " 'kept across upgrades', 2, 5)") &&
           q.exec("INSERT INTO outbox(client_msg_id, peer, content, created_ms)"
                  " VALUES(x'ffeeddccbbaa99887766554433221100', 'bob', x'0a', 6)");
      if (!ok) qWarning("%s", qPrintable(q.lastQuery()));
    } else {
      qWarning("cannot build a version-%d file: %s", version, qPrintable(error));
    }
    db.close();
  }
  QSqlDatabase::removeDatabase(name);
  return ok;
}

int scalar(QSqlDatabase& db, const QString& sql) {
  QSqlQuery q(db);
  return q.exec(sql) && q.next() ? q.value(0).toInt() : -1;
}

}  // namespace

class MigrationTest : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;

 private slots:
  void everyEarlierVersionUpgradesKeepingData_data() {
    QTest::addColumn<int>("version");
    for (int v = 1; v < Database::kSchemaVersion; ++v)
      QTest::newRow(qPrintable(QStringLiteral("from v%1").arg(v))) << v;
  }

  void everyEarlierVersionUpgradesKeepingData() {
    QFETCH(int, version);
    const auto file = dir_.filePath(QStringLiteral("v%1.db").arg(version));
    QVERIFY(make_old_profile(file, version));

    QString error;
    auto db = parley::test::openStore(file, &error);
    QVERIFY2(db, qPrintable(error));
    QCOMPARE(db->schemaVersion(), Database::kSchemaVersion);
    auto& d = db->db();
    QCOMPARE(scalar(d, "SELECT COUNT(*) FROM messages WHERE body = 'kept across upgrades'"), 1);
    QCOMPARE(scalar(d, "SELECT COUNT(*) FROM contacts WHERE username = 'bob'"), 1);
    QCOMPARE(scalar(d, "SELECT COUNT(*) FROM outbox"), 1);
    // What the later steps added is there and usable.
    for (const char* table : {"groups", "group_members", "sender_keys", "seen_seqs", "sessions",
                              "group_reads", "group_controls", "attachments", "delivery_marks"})
      QVERIFY2(scalar(d, QStringLiteral("SELECT COUNT(*) FROM %1").arg(table)) >= 0, table);
    QVERIFY(scalar(d, "SELECT COUNT(*) FROM outbox WHERE group_id IS NULL") == 1);
    QCOMPARE(scalar(d, "SELECT COUNT(*) FROM groups WHERE avatar IS NOT NULL"), 0);
    QCOMPARE(scalar(d, "SELECT COUNT(*) FROM group_receipts WHERE at_ms IS NOT NULL"), 0);
    QCOMPARE(scalar(d, "SELECT COUNT(*) FROM group_reads WHERE at_ms IS NOT NULL"), 0);
    // Steps 13 and 14: earlier messages answer nothing, and nothing queued carries a quote.
    QCOMPARE(scalar(d, "SELECT COUNT(*) FROM messages WHERE reply_to IS NULL AND reply_author IS NULL"
                       " AND reply_text IS NULL"), scalar(d, "SELECT COUNT(*) FROM messages"));
    QCOMPARE(scalar(d, "SELECT COUNT(*) FROM file_sends WHERE quote IS NOT NULL"), 0);
    // Step 16: earlier messages were never edited and are all still there to show.
    QCOMPARE(scalar(d, "SELECT COUNT(*) FROM messages WHERE edited_ms IS NULL AND removed = 0"),
             scalar(d, "SELECT COUNT(*) FROM messages"));
    // Step 17: an entry from before may have left (one written by a version-17 client says
    // for itself); changes that wait for their group message go with it.
    QCOMPARE(scalar(d, "SELECT COUNT(*) FROM outbox WHERE attempted = 1"), version < 17 ? 1 : 0);
    QSqlQuery held(d);
    QVERIFY(held.exec("INSERT INTO pending_group_messages(group_id, sender, client_msg_id, conv_seq,"
                      " server_ts_ms, ciphertext, received_ms) VALUES(x'aa', 'amy', x'bb', 1, 1, x'cc', 1)"));
    QVERIFY(held.exec("INSERT INTO pending_revisions(group_id, sender, client_msg_id, unsend, text, at_ms,"
                      " relay_ms) VALUES(x'aa', 'amy', x'bb', 0, 'new words', 2, 2)"));
    QVERIFY(held.exec("DELETE FROM pending_group_messages WHERE client_msg_id = x'bb'"));
    QCOMPARE(scalar(d, "SELECT COUNT(*) FROM pending_revisions"), 0);
    // Step 19: the column is there (its values: joinSeqsComeFromTheMarks).
    QCOMPARE(scalar(d, "SELECT COUNT(*) FROM group_members WHERE joined_seq != 0"), 0);
    // Step 20: a conversation from before is neither muted, pinned nor marked unread.
    QCOMPARE(scalar(d, "SELECT COUNT(*) FROM conversations WHERE muted_until_ms = 0 AND pinned_ms IS NULL"
                       " AND marked_unread = 0"),
             scalar(d, "SELECT COUNT(*) FROM conversations"));
    QVERIFY(scalar(d, "SELECT COUNT(*) FROM conversations") > 0);
    // Step 21: nothing from before disappears, and every row is a message, not a timer line.
    QCOMPARE(scalar(d, "SELECT COUNT(*) FROM conversations WHERE expire_timer_s = 0 AND expire_timer_seq = 0"),
             scalar(d, "SELECT COUNT(*) FROM conversations"));
    QCOMPARE(scalar(d, "SELECT COUNT(*) FROM messages WHERE kind = 0 AND expire_s = 0 AND expires_at_ms IS NULL"),
             scalar(d, "SELECT COUNT(*) FROM messages"));
    QCOMPARE(scalar(d, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'messages_expiring'"), 1);
    // Step 22: nothing kept to send a key again (those keys went out before), nothing asked.
    QCOMPARE(scalar(d, "SELECT COUNT(*) FROM group_members WHERE key_sent_distribution IS NOT NULL"
                       " OR key_resent_ms != 0"), 0);
    QCOMPARE(scalar(d, "SELECT COUNT(*) FROM sender_key_requests"), 0);
    // Step 23: nothing from before is archived.
    QCOMPARE(scalar(d, "SELECT COUNT(*) FROM conversations WHERE archived = 0"),
             scalar(d, "SELECT COUNT(*) FROM conversations"));
    // Step 24: nothing from before has a draft.
    QCOMPARE(scalar(d, "SELECT COUNT(*) FROM conversations WHERE draft = '' AND draft_reply_to = 0"),
             scalar(d, "SELECT COUNT(*) FROM conversations"));
    // Step 25: nothing from before was forwarded.
    QCOMPARE(scalar(d, "SELECT COUNT(*) FROM messages WHERE forwarded = 0"), scalar(d, "SELECT COUNT(*) FROM messages"));
    QCOMPARE(scalar(d, "SELECT COUNT(*) FROM file_sends WHERE forwarded != 0"), 0);
    // Step 26: nothing from before mentions us.
    QCOMPARE(scalar(d, "SELECT COUNT(*) FROM messages WHERE mentions_me != 0"), 0);
    QCOMPARE(scalar(d, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'messages_unread_mentions'"), 1);
    // Step 18: the index for the list's last message by arrival is gone.
    QCOMPARE(scalar(d, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'messages_peer_shown'"), 0);
    // Step 5: history written before the search index existed is found, and the triggers
    // keep the index in step with later inserts, edits and deletes.
    QCOMPARE(scalar(d, "SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH 'upgrades'"), 1);
    QSqlQuery q(d);
    QVERIFY(q.exec("INSERT INTO messages(peer, sender, client_msg_id, conv_seq, body, status,"
                   " client_ts_ms) VALUES('bob', 'bob', x'01', 2, 'later words', 10, 6)"));
    QCOMPARE(scalar(d, "SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH 'later'"), 1);
    QVERIFY(q.exec("UPDATE messages SET body = 'changed text' WHERE body = 'later words'"));
    QCOMPARE(scalar(d, "SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH 'later'"), 0);
    QCOMPARE(scalar(d, "SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH 'changed'"), 1);
    QVERIFY(q.exec("DELETE FROM messages WHERE body = 'changed text'"));
    QCOMPARE(scalar(d, "SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH 'changed'"), 0);
  }

  // Step 19: a member from before joined where their delivery marks on our messages start;
  // one without marks, at the group's start.
  void joinSeqsComeFromTheMarks() {
    const auto file = dir_.filePath("join-seqs.db");
    QVERIFY(make_old_profile(file, 18));
    {
      auto db = QSqlDatabase::addDatabase("QSQLITE", "fill18");
      db.setDatabaseName(file);
      QVERIFY(db.open());
      QSqlQuery q(db);
      QVERIFY(q.exec("INSERT INTO group_members(group_id, username) VALUES(x'aa', 'bob'), (x'aa', 'carol'),"
                     " (x'aa', 'dan')"));
      QVERIFY(q.exec("INSERT INTO delivery_marks(peer, reader, reader_device, from_seq, up_to, at_ms)"
                     " VALUES('#aa', 'bob', 1, 1, 9, 1), ('#aa', 'carol', 1, 7, 9, 1), ('#aa', 'carol', 2, 8, 9, 1)"));
      db.close();
    }
    QSqlDatabase::removeDatabase("fill18");
    QString error;
    auto db = parley::test::openStore(file, &error);
    QVERIFY2(db, qPrintable(error));
    QCOMPARE(scalar(db->db(), "SELECT joined_seq FROM group_members WHERE username = 'bob'"), 0);
    QCOMPARE(scalar(db->db(), "SELECT joined_seq FROM group_members WHERE username = 'carol'"), 6);
    QCOMPARE(scalar(db->db(), "SELECT joined_seq FROM group_members WHERE username = 'dan'"), 0);
  }

  // Step 6: an attachment row for a message, found by its id.
  void attachmentsTableTakesARow() {
    const auto file = dir_.filePath("attachments.db");
    QVERIFY(make_old_profile(file, 5));
    QString error;
    auto db = parley::test::openStore(file, &error);
    QVERIFY2(db, qPrintable(error));
    QSqlQuery q(db->db());
    QVERIFY(q.exec("INSERT INTO attachments(sender, client_msg_id, peer, media_id, key,"
                   " ciphertext_size, sha256, plaintext_size, file_name, mime_type)"
                   " VALUES('alice', x'00112233445566778899aabbccddeeff', 'bob', x'01', x'02', 41,"
                   " x'03', 0, 'a.txt', 'text/plain')"));
    QCOMPARE(scalar(db->db(), "SELECT ciphertext_size FROM attachments WHERE client_msg_id ="
                              " x'00112233445566778899aabbccddeeff'"), 41);
    // (sender, client_msg_id) is unique: a redelivery cannot add a second row.
    QVERIFY(!q.exec("INSERT INTO attachments(sender, client_msg_id, peer, media_id, key,"
                    " ciphertext_size, sha256, plaintext_size, file_name, mime_type)"
                    " VALUES('alice', x'00112233445566778899aabbccddeeff', 'bob', x'01', x'02', 41,"
                    " x'03', 0, 'a.txt', 'text/plain')"));
  }

  // Step 7: one delivery mark per (conversation, reader, reader device).
  void deliveryMarksTableTakesOneRowPerReaderDevice() {
    const auto file = dir_.filePath("delivery-marks.db");
    QVERIFY(make_old_profile(file, 6));
    QString error;
    auto db = parley::test::openStore(file, &error);
    QVERIFY2(db, qPrintable(error));
    QCOMPARE(db->schemaVersion(), Database::kSchemaVersion);
    QSqlQuery q(db->db());
    QVERIFY(q.exec("INSERT INTO delivery_marks(peer, reader, reader_device, up_to, at_ms)"
                   " VALUES('bob', 'bob', 1, 4, 10), ('bob', 'bob', 2, 3, 11),"
                   " ('#00', 'bob', 1, 9, 12)"));
    QCOMPARE(scalar(db->db(), "SELECT up_to FROM delivery_marks WHERE peer = 'bob' AND"
                              " reader_device = 2"), 3);
    QVERIFY(!q.exec("INSERT INTO delivery_marks(peer, reader, reader_device, up_to, at_ms)"
                    " VALUES('bob', 'bob', 1, 5, 13)"));
    QVERIFY(!q.exec("INSERT INTO delivery_marks(peer, reader, reader_device, at_ms)"
                    " VALUES('carol', 'carol', 1, 13)"));  // up_to is required
    // Step 8: marks kept from version 7 cover from the start.
    QCOMPARE(scalar(db->db(), "SELECT COUNT(*) FROM delivery_marks WHERE from_seq = 1"), 3);
  }

  // Step 11: sessions and sender keys in state format 2 (when each skipped key was
  // skipped), their keys counting from the upgrade; an unreadable state is left as it was.
  void statesMoveToTheFormatThatDatesSkippedKeys() {
    using namespace parley::crypto;
    QVERIFY(init());
    // A session and a sender key, each with one skipped key, as version 1 wrote them: the
    // format 2 bytes without the 8-byte time at the end (each has one key, written last).
    const IdentityKeyPair a = IdentityKeyPair::generate(), b = IdentityKeyPair::generate();
    const KeyPair spk = KeyPair::generate();
    PrekeyBundle bundle;
    bundle.identity_key = b.public_key();
    bundle.signed_prekey_id = 1;
    bundle.signed_prekey = spk.public_key();
    bundle.signed_prekey_signature = b.sign(spk.public_key().view());
    auto init = x3dh_initiate(a, bundle);
    QVERIFY(init);
    auto resp = x3dh_respond(b, spk, nullptr, a.public_key(), init->ephemeral_key);
    QVERIFY(resp);
    auto alice = RatchetSession::initiate(init->shared_secret, spk.public_key(), init->associated_data);
    auto bob = RatchetSession::respond(resp->shared_secret, spk, resp->associated_data);
    const auto late = alice.encrypt(Bytes{1});
    QVERIFY(bob.decrypt(alice.encrypt(Bytes{2})));
    auto v1 = [](Bytes v2) {
      v2.resize(v2.size() - 8);
      v2[4] = 1;
      return QByteArray(reinterpret_cast<const char*>(v2.data()), static_cast<qsizetype>(v2.size()));
    };
    auto sender = SenderKeySender::generate();
    auto receiver = SenderKeyReceiver::from_distribution(sender.distribution());
    QVERIFY(receiver);
    const auto skipped = sender.encrypt(Bytes{3}, Bytes{});
    QVERIFY(receiver->decrypt(sender.encrypt(Bytes{4}, Bytes{}), Bytes{}));

    const auto file = dir_.filePath("states.db");
    QVERIFY(make_old_profile(file, 10));
    {
      auto db = QSqlDatabase::addDatabase("QSQLITE", "states");
      db.setDatabaseName(file);
      QVERIFY(db.open());
      QSqlQuery q(db);
      q.prepare("INSERT INTO sessions(peer, device, state, last_used_ms) VALUES('bob', 1, ?, 1),"
                " ('bob', 1, x'00112233', 2)");
      q.addBindValue(v1(bob.serialize()));
      QVERIFY(q.exec());
      q.prepare("INSERT INTO sender_keys(group_id, sender, key_id, state, created_ms)"
                " VALUES(x'01', 'bob', x'02', ?, 1)");
      q.addBindValue(v1(receiver->serialize()));
      QVERIFY(q.exec());
      q.finish();
      db.close();
    }
    QSqlDatabase::removeDatabase("states");

    QString error;
    auto db = parley::test::openStore(file, &error);
    QVERIFY2(db, qPrintable(error));
    auto state = [&](const char* sql) {
      QSqlQuery q(db->db());
      const auto bytes = q.exec(sql) && q.next() ? q.value(0).toByteArray() : QByteArray();
      return Bytes(bytes.begin(), bytes.end());
    };
    auto session = state("SELECT state FROM sessions WHERE last_used_ms = 1");
    QCOMPARE(int(session.at(4)), 2);
    auto upgraded = RatchetSession::deserialize(session);
    QVERIFY(upgraded && upgraded->stored_skipped_keys() == 1);
    QVERIFY(upgraded->decrypt(late));
    QVERIFY(state("SELECT state FROM sessions WHERE last_used_ms = 2") == (Bytes{0x00, 0x11, 0x22, 0x33}));
    auto key = state("SELECT state FROM sender_keys");
    QCOMPARE(int(key.at(4)), 2);
    auto upgraded_key = SenderKeyReceiver::deserialize(key);
    QVERIFY(upgraded_key && upgraded_key->stored_skipped_keys() == 1);
    QVERIFY(upgraded_key->decrypt(skipped, Bytes{}));
  }
};

QTEST_GUILESS_MAIN(MigrationTest)
#include "migration_test.moc"
