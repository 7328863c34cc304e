// The client's local store: a new file gets the current schema and owner-only permissions,
// reopening changes nothing, a file from a newer Parley is refused, every table the
// messenger uses exists, and transaction() keeps nothing of a body that fails.
#include <QtTest>

#include <algorithm>

#include <QFileInfo>
#include <QSqlQuery>
#include <QSqlRecord>
#include <QTemporaryDir>
#include <sys/stat.h>

#include "messenger_internal.hpp"
#include "store/database.hpp"
#include "util/bytes.hpp"
#include "sealed_db.hpp"

using parley::client::Database;

namespace {

QStringList tables(QSqlDatabase& db) {
  QStringList out;
  QSqlQuery q(db);
  q.exec("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
  while (q.next()) out << q.value(0).toString();
  return out;
}

int count(QSqlDatabase& db, const QString& sql) {
  QSqlQuery q(db);
  return q.exec(sql) && q.next() ? q.value(0).toInt() : -1;
}

// Sets user_version on a file without going through Database (so no migration runs).
bool set_user_version(const QString& path, int version) {
  const QString name = QStringLiteral("raw-%1").arg(version);
  bool ok = false;
  {
    auto db = parley::test::sealedDatabase(path, name);
    if (db.open()) {
      QSqlQuery q(db);
      ok = q.exec(QStringLiteral("PRAGMA user_version = %1").arg(version));
      db.close();
    }
  }
  QSqlDatabase::removeDatabase(name);
  return ok;
}

}  // namespace

class StoreTest : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;

  QString path(const QString& name) { return dir_.filePath(name); }

 private slots:
  void initTestCase() { QVERIFY(dir_.isValid()); }

  // A ratchet's serialized state is taken into the bytes bound to a query; the vector it was
  // serialized into must not go back to the allocator with the keys in it.
  void serializedSecretsAreWipedOnTheirWayToTheStore() {
    parley::crypto::Bytes source(64, 0xab);
    // An rvalue reference only: the constructor wipes what it was given and keeps no part of it.
    const parley::client::SecretBytes state(static_cast<parley::crypto::Bytes&&>(source));
    QCOMPARE(state.get(), QByteArray(64, '\xab'));
    QCOMPARE(source.size(), std::size_t{64});
    QVERIFY(std::all_of(source.begin(), source.end(), [](std::uint8_t b) { return b == 0; }));
  }

  void newFileGetsCurrentSchemaAndOwnerOnlyMode() {
    const auto file = path("new.db");
    QVERIFY(!QFile::exists(file));
    QString error;
    auto db = parley::test::openStore(file, &error);
    QVERIFY2(db, qPrintable(error));
    QCOMPARE(db->schemaVersion(), Database::kSchemaVersion);
    struct stat st {};
    QCOMPARE(::stat(QFile::encodeName(file).constData(), &st), 0);
    QCOMPARE(st.st_mode & 0777, 0600u);
  }

  void openingAnExistingGroupReadableFileMakesItOwnerOnly() {
    const auto file = path("loose.db");
    {
      QFile f(file);
      QVERIFY(f.open(QIODevice::WriteOnly));
    }
    QVERIFY(QFile::setPermissions(file, QFile::ReadOwner | QFile::WriteOwner | QFile::ReadGroup |
                                            QFile::ReadOther));
    QString error;
    auto db = parley::test::openStore(file, &error);
    QVERIFY2(db, qPrintable(error));
    struct stat st {};
    QCOMPARE(::stat(QFile::encodeName(file).constData(), &st), 0);
    QCOMPARE(st.st_mode & 0777, 0600u);
  }

  void reopeningIsANoOp() {
    const auto file = path("reopen.db");
    QString error;
    {
      auto db = parley::test::openStore(file, &error);
      QVERIFY2(db, qPrintable(error));
      QSqlQuery q(db->db());
      QVERIFY(q.exec("INSERT INTO settings(key, value) VALUES('marker', 'kept')"));
    }
    auto db = parley::test::openStore(file, &error);
    QVERIFY2(db, qPrintable(error));
    QCOMPARE(db->schemaVersion(), Database::kSchemaVersion);
    // Data survives (no table was recreated) and there is still one table of each name.
    QSqlQuery q(db->db());
    QVERIFY(q.exec("SELECT value FROM settings WHERE key = 'marker'"));
    QVERIFY(q.next());
    QCOMPARE(q.value(0).toString(), QString("kept"));
    QCOMPARE(tables(db->db()).removeDuplicates(), 0);
    // Two handles on one file at once are independent connections.
    auto second = parley::test::openStore(file, &error);
    QVERIFY2(second, qPrintable(error));
    QCOMPARE(count(second->db(), "SELECT COUNT(*) FROM settings WHERE key = 'marker'"), 1);
  }

  void newerSchemaIsRefusedWithAClearError() {
    const auto file = path("future.db");
    QString error;
    {
      auto db = parley::test::openStore(file, &error);
      QVERIFY2(db, qPrintable(error));
    }
    QVERIFY(set_user_version(file, Database::kSchemaVersion + 1));
    error.clear();
    auto db = parley::test::openStore(file, &error);
    QVERIFY(!db);
    QVERIFY2(error.contains("newer"), qPrintable(error));
    QVERIFY2(error.contains(QString::number(Database::kSchemaVersion + 1)), qPrintable(error));
    QVERIFY2(error.contains("upgrade", Qt::CaseInsensitive), qPrintable(error));
  }

  void everyTableTheMessengerUsesExists() {
    QString error;
    auto db = parley::test::openStore(path("tables.db"), &error);
    QVERIFY2(db, qPrintable(error));
    const auto have = tables(db->db());
    for (const char* t : {"settings", "prekeys", "contacts", "conversations", "messages",
                          "seen_seqs", "sessions", "outbox"})
      QVERIFY2(have.contains(t), t);

    // Columns the messenger's queries name (a renamed column would break it at run time).
    const QHash<QString, QStringList> columns{
        {"settings", {"key", "value"}},
        {"prekeys", {"kind", "id", "secret", "public_key", "created_ms"}},
        {"contacts", {"username", "identity_key", "verified", "pending_identity_key", "added_ms"}},
        {"conversations",
         {"peer", "last_activity_ms", "unread", "last_chain_hash", "peer_chain_hash"}},
        {"messages",
         {"id", "peer", "sender", "client_msg_id", "conv_seq", "body", "status", "client_ts_ms",
          "server_ts_ms", "received_ms", "chain_ok"}},
        {"seen_seqs", {"peer", "conv_seq"}},
        {"sessions", {"id", "peer", "device", "state", "prekey_header", "last_used_ms"}},
        {"outbox", {"seq", "client_msg_id", "peer", "content", "envelope", "created_ms"}},
    };
    for (auto it = columns.begin(); it != columns.end(); ++it) {
      const auto record = db->db().record(it.key());
      for (const auto& c : it.value())
        QVERIFY2(record.indexOf(c) >= 0, qPrintable(it.key() + "." + c));
    }

    // A redelivered message is dropped by the store itself.
    QSqlQuery ins(db->db());
    const char* sql =
        "INSERT OR IGNORE INTO messages(peer, sender, client_msg_id, body, status, client_ts_ms)"
        " VALUES('bob', 'bob', x'01', 'hi', 10, 1)";
    QVERIFY(ins.exec(sql));
    QCOMPARE(ins.numRowsAffected(), 1);
    QVERIFY(ins.exec(sql));
    QCOMPARE(ins.numRowsAffected(), 0);
    QCOMPARE(count(db->db(), "SELECT COUNT(*) FROM messages"), 1);
  }

  void pragmasForDurability() {
    QString error;
    auto db = parley::test::openStore(path("pragmas.db"), &error);
    QVERIFY2(db, qPrintable(error));
    QSqlQuery q(db->db());
    QVERIFY(q.exec("PRAGMA journal_mode") && q.next());
    QCOMPARE(q.value(0).toString().toLower(), QString("wal"));
    QVERIFY(q.exec("PRAGMA synchronous") && q.next());
    QCOMPARE(q.value(0).toInt(), 2);  // FULL
    QVERIFY(q.exec("PRAGMA foreign_keys") && q.next());
    QCOMPARE(q.value(0).toInt(), 1);
  }

  void transactionRollsBackWhenTheBodyFails() {
    QString error;
    auto db = parley::test::openStore(path("tx.db"), &error);
    QVERIFY2(db, qPrintable(error));
    auto insert = [&](const QString& key) {
      QSqlQuery q(db->db());
      q.prepare("INSERT INTO settings(key, value) VALUES(?, 'v')");
      q.addBindValue(key);
      return q.exec();
    };

    QVERIFY(!db->transaction([&] {
      return insert("a") && insert("b") && false;  // both rows written, then the body fails
    }));
    QCOMPARE(count(db->db(), "SELECT COUNT(*) FROM settings WHERE key IN ('a', 'b')"), 0);

    // A failing statement in the middle rolls back what came before it.
    QVERIFY(!db->transaction([&] { return insert("c") && insert("c"); }));
    QCOMPARE(count(db->db(), "SELECT COUNT(*) FROM settings WHERE key = 'c'"), 0);

    QVERIFY(db->transaction([&] { return insert("d") && insert("e"); }));
    QCOMPARE(count(db->db(), "SELECT COUNT(*) FROM settings WHERE key IN ('d', 'e')"), 2);

    // Committed data is visible to another connection; rolled-back data never was.
    auto other = parley::test::openStore(path("tx.db"), &error);
    QVERIFY2(other, qPrintable(error));
    QCOMPARE(count(other->db(), "SELECT COUNT(*) FROM settings"), 2);

    // The connection is usable (not stuck in a transaction) after a rollback.
    QVERIFY(!db->transaction([] { return false; }));
    QVERIFY(db->transaction([&] { return insert("f"); }));
    QCOMPARE(count(other->db(), "SELECT COUNT(*) FROM settings WHERE key = 'f'"), 1);
  }

  // The last processed inbox entry only moves up, also across a 64-bit value Qt binds as text.
  void lastAckedNeverGoesDown() {
    QString error;
    auto db = parley::test::openStore(path("acked.db"), &error);
    QVERIFY2(db, qPrintable(error));
    using parley::client::detail::save_last_acked;
    QVERIFY(save_last_acked(db->db(), 40));
    QVERIFY(save_last_acked(db->db(), 43));
    QCOMPARE(count(db->db(), "SELECT value FROM settings WHERE key = 'last_acked'"), 43);
    QVERIFY(save_last_acked(db->db(), 9));
    QCOMPARE(count(db->db(), "SELECT value FROM settings WHERE key = 'last_acked'"), 43);
  }

  void unwritablePathIsReported() {
    QString error;
    auto db = parley::test::openStore(path("no/such/dir/x.db"), &error);
    QVERIFY(!db);
    QVERIFY2(error.contains("no/such/dir"), qPrintable(error));
  }
};

QTEST_GUILESS_MAIN(StoreTest)
#include "store_test.moc"
