// Schema migrations: a profile written by every earlier schema version opens with the current
// one, keeps its data, and gains what the later steps add.
#include <QtTest>

#include <QSqlQuery>
#include <QTemporaryDir>

#include "store/database.hpp"
#include "store/migrations.hpp"

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
    auto db = Database::open(file, &error);
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

  // Step 6: an attachment row for a message, found by its id.
  void attachmentsTableTakesARow() {
    const auto file = dir_.filePath("attachments.db");
    QVERIFY(make_old_profile(file, 5));
    QString error;
    auto db = Database::open(file, &error);
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
    auto db = Database::open(file, &error);
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
};

QTEST_GUILESS_MAIN(MigrationTest)
#include "migration_test.moc"
