// Encryption at rest of the profile's store (store/sealed_vfs.hpp, store/plain_file.hpp):
// what reaches the disk, what a crash leaves, and what a wrong key, a changed byte or a
// moved page meet. Files are read and changed here as an attacker or a crash would.
#include <QtTest>

#include <QFile>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QUuid>
#include <sodium.h>

#include "sealed_db.hpp"
#include "store/database.hpp"
#include "store/migrations.hpp"
#include "store/sealed_vfs.hpp"

using parley::client::Database;
using parley::client::StoreKey;

namespace {

constexpr char kMarker[] = "MARKER-plaintext-that-must-not-reach-the-disk";

StoreKey random_key() {
  StoreKey k;
  randombytes_buf(k.data(), k.size());
  return k;
}

QByteArray file_bytes(const QString& path) {
  QFile f(path);
  return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

bool write_bytes(const QString& path, const QByteArray& bytes) {
  QFile f(path);
  return f.open(QIODevice::WriteOnly | QIODevice::Truncate) && f.write(bytes) == bytes.size();
}

// `rows` messages whose bodies carry the marker, in one transaction.
bool insert_marked(QSqlDatabase& db, int first, int rows) {
  if (!db.transaction()) return false;
  QSqlQuery q(db);
  q.prepare("INSERT INTO messages(peer, sender, client_msg_id, conv_seq, body, status, client_ts_ms)"
            " VALUES('bob', 'bob', ?, ?, ?, 5, 1)");
  for (int i = first; i < first + rows; ++i) {
    q.addBindValue(QUuid::createUuid().toRfc4122());
    q.addBindValue(i);
    q.addBindValue(QStringLiteral("%1 number %2").arg(kMarker).arg(i));
    if (!q.exec()) {
      qWarning("%s", qPrintable(q.lastError().text()));
      db.rollback();
      return false;
    }
  }
  return db.commit();
}

int count_messages(QSqlDatabase& db) {
  QSqlQuery q(db);
  return q.exec("SELECT COUNT(*) FROM messages WHERE body LIKE 'MARKER%'") && q.next() ? q.value(0).toInt() : -1;
}

// Opens the store at `path` (a crash's, not yet recovered) through the VFS alone, with a
// listener bound before its WAL is first read, and counts the messages: how many pages the
// VFS reported refused, or -1 when the messages were not all there.
int recovery_refusals(const QString& path, const StoreKey& key) {
  parley::client::sealed::KeyBinding binding(key.view());
  int told = 0;
  binding.onRefused([&told] { ++told; });
  int counted = -1;
  {
    auto db = QSqlDatabase::addDatabase("QSQLITE", "recovery");
    db.setConnectOptions("QSQLITE_OPEN_URI");
    db.setDatabaseName(binding.uri(path));
    if (db.open()) counted = count_messages(db);
    db.close();
  }
  QSqlDatabase::removeDatabase("recovery");
  return counted == 30 ? told : -1;
}

// The store's files as a crash would leave them: the database and its WAL (not the shared
// memory index, which a crash loses with the machine), copied while the connection is open.
void copy_as_crashed(const QString& from, const QString& to) {
  for (const char* suffix : {"", "-wal"}) {
    QFile::remove(to + suffix);
    QVERIFY(QFile::copy(from + suffix, to + suffix));
  }
}

}  // namespace

class SealedStoreTest : public QObject {
  Q_OBJECT

  QTemporaryDir dir_;
  QString path(const QString& name) const { return dir_.filePath(name); }

 private slots:
  void initTestCase() {
    QVERIFY(dir_.isValid());
    QVERIFY(sodium_init() >= 0);
  }

  void pagesOnDiskHoldNoPlaintext() {
    const auto file = path("plain-text.db");
    const auto key = random_key();
    QString error;
    {
      auto db = Database::open(file, key.view(), &error);
      QVERIFY2(db, qPrintable(error));
      QSqlQuery(db->db()).exec("PRAGMA wal_autocheckpoint=0");  // so the WAL keeps them
      QVERIFY(insert_marked(db->db(), 1, 500));
      QVERIFY(QFile::exists(file + "-wal"));
      QVERIFY(file_bytes(file + "-wal").size() > 100 * 1024);
      QVERIFY(!file_bytes(file + "-wal").contains(kMarker));
      QVERIFY(!file_bytes(file).contains(kMarker));
      QVERIFY(!file_bytes(file).contains("CREATE TABLE"));  // nor the schema
    }
    // Closed: the WAL went into the file, which is still sealed, and reads back.
    QVERIFY(!file_bytes(file).contains(kMarker));
    auto db = Database::open(file, key.view(), &error);
    QVERIFY2(db, qPrintable(error));
    QCOMPARE(count_messages(db->db()), 500);
    // The first 24 bytes say SQLite, the page size and the 40 bytes each page keeps for us.
    const auto head = file_bytes(file).left(24);
    QVERIFY(head.startsWith(QByteArray("SQLite format 3\0", 16)));
    QCOMPARE(static_cast<int>(static_cast<unsigned char>(head[20])), parley::client::sealed::kReserveBytes);
  }

  // A crash after a commit: the WAL holds the only copy of what was committed, and opening
  // the files again recovers it, page by page through the seal.
  void whatACrashLeavesInTheWalIsRecovered() {
    const auto file = path("live.db");
    const auto crashed = path("crashed.db");
    const auto key = random_key();
    QString error;
    auto db = Database::open(file, key.view(), &error);
    QVERIFY2(db, qPrintable(error));
    QSqlQuery(db->db()).exec("PRAGMA wal_autocheckpoint=0");
    QVERIFY(insert_marked(db->db(), 1, 50));
    QVERIFY(insert_marked(db->db(), 51, 50));
    copy_as_crashed(file, crashed);
    auto reopened = Database::open(crashed, key.view(), &error);
    QVERIFY2(reopened, qPrintable(error));
    QCOMPARE(count_messages(reopened->db()), 100);
  }

  // A crash in the middle of writing a commit: a frame of it is torn. Recovery keeps every
  // earlier commit and drops that one, as SQLite does on a plain file.
  void aTornCommitIsDroppedAndTheOnesBeforeItKept() {
    const auto key = random_key();
    for (const bool truncate : {true, false}) {
      const auto file = path(truncate ? "torn-live.db" : "garbled-live.db");
      const auto crashed = path(truncate ? "torn.db" : "garbled.db");
      QString error;
      auto db = Database::open(file, key.view(), &error);
      QVERIFY2(db, qPrintable(error));
      QSqlQuery(db->db()).exec("PRAGMA wal_autocheckpoint=0");
      QVERIFY(insert_marked(db->db(), 1, 30));
      const auto wal_before = file_bytes(file + "-wal").size();
      QVERIFY(insert_marked(db->db(), 31, 30));
      copy_as_crashed(file, crashed);
      auto wal = file_bytes(crashed + "-wal");
      QVERIFY(wal.size() > wal_before);
      // The second commit's first frame: cut in its page, or its page garbled. (Its last
      // frames cannot serve: SQLite repeats a commit's last frame up to the next sector
      // boundary, so cutting the file's end may only take a copy.)
      const auto torn_at = wal_before + 24 + 2000;
      if (truncate) {
        wal.truncate(torn_at);
      } else {
        for (qsizetype i = torn_at; i < torn_at + 64; ++i) wal[i] = static_cast<char>(wal[i] ^ 0x5a);
      }
      QVERIFY(write_bytes(crashed + "-wal", wal));
      QVERIFY(QFile::copy(crashed, crashed + "-raw") && QFile::copy(crashed + "-wal", crashed + "-raw-wal"));
      auto reopened = Database::open(crashed, key.view(), &error);
      QVERIFY2(reopened, qPrintable(error));
      QCOMPARE(count_messages(reopened->db()), 30);
      // The torn frame is what a crash leaves, not damage: whoever listens is not told.
      QCOMPARE(recovery_refusals(crashed + "-raw", key), 0);
    }
  }

  // A power cut while a checkpoint writes page 1 leaves it torn in the file, with the WAL
  // (which holds page 1 whole) not yet reset: the store opens from the WAL, as a plain one
  // would. Without a WAL to take page 1 from, the torn page is refused.
  void aPage1TornInACheckpointIsReadFromTheWal() {
    const auto file = path("torn-page-one-live.db");
    const auto crashed = path("torn-page-one.db");
    const auto key = random_key();
    QString error;
    {
      auto db = Database::open(file, key.view(), &error);
      QVERIFY2(db, qPrintable(error));
      QVERIFY(insert_marked(db->db(), 1, 20));
    }
    auto db = Database::open(file, key.view(), &error);
    QVERIFY2(db, qPrintable(error));
    QSqlQuery(db->db()).exec("PRAGMA wal_autocheckpoint=0");
    QVERIFY(insert_marked(db->db(), 21, 50));  // the file grows: page 1 is in the WAL
    copy_as_crashed(file, crashed);
    auto torn = file_bytes(crashed);
    for (int i = 1000; i < 1100; ++i) torn[i] = static_cast<char>(torn[i] ^ 0x33);
    QVERIFY(write_bytes(crashed, torn));
    {
      auto reopened = Database::open(crashed, key.view(), &error);
      QVERIFY2(reopened, qPrintable(error));
      QCOMPARE(count_messages(reopened->db()), 70);
    }
    // Closed cleanly: the checkpoint wrote page 1 whole again.
    QVERIFY(!QFile::exists(crashed + "-wal"));
    {
      auto again = Database::open(crashed, key.view(), &error);
      QVERIFY2(again, qPrintable(error));
      QCOMPARE(count_messages(again->db()), 70);
    }
    // The same tear with no WAL behind it, or under another key: refused.
    QVERIFY(write_bytes(crashed, torn));
    QFile::remove(crashed + "-wal");
    QVERIFY(!Database::open(crashed, key.view(), &error));
    QVERIFY2(error.contains("do not open"), qPrintable(error));
    copy_as_crashed(file, crashed);
    QVERIFY(write_bytes(crashed, torn));
    QVERIFY(!Database::open(crashed, random_key().view(), &error));
    QVERIFY2(error.contains("do not open"), qPrintable(error));
  }

  void anotherKeyIsToldApartFromDamage() {
    const auto file = path("other-key.db");
    QString error;
    {
      auto db = Database::open(file, random_key().view(), &error);
      QVERIFY2(db, qPrintable(error));
      QVERIFY(insert_marked(db->db(), 1, 5));
    }
    QVERIFY(!Database::open(file, random_key().view(), &error));
    QVERIFY2(error.contains("do not open with this profile's key") && error.contains("from a backup"),
             qPrintable(error));
  }

  // One changed byte anywhere in a page, or two pages swapped: the page is refused, never
  // read as something else.
  void aChangedByteOrAMovedPageIsRefused() {
    const auto key = random_key();
    const auto file = path("tampered.db");
    QString error;
    {
      auto db = Database::open(file, key.view(), &error);
      QVERIFY2(db, qPrintable(error));
      QVERIFY(insert_marked(db->db(), 1, 300));
    }
    const auto original = file_bytes(file);
    constexpr int kPage = 4096;
    QVERIFY(original.size() >= 6 * kPage);
    auto flipped = original;
    flipped[3 * kPage + 1234] = static_cast<char>(flipped[3 * kPage + 1234] ^ 1);
    auto swapped = original;
    swapped.replace(2 * kPage, kPage, original.mid(4 * kPage, kPage));
    swapped.replace(4 * kPage, kPage, original.mid(2 * kPage, kPage));
    auto header = original;  // the readable part of page 1 is authenticated too
    header[22] = static_cast<char>(header[22] ^ 1);
    for (const auto& changed : {flipped, swapped, header}) {
      QVERIFY(write_bytes(file, changed));
      parley::client::sealed::clearLastFailure();
      auto db = Database::open(file, key.view(), &error);
      if (db) {
        int told = 0;
        db->onDamage([&told] { ++told; });
        QSqlQuery q(db->db());
        QVERIFY(!q.exec("PRAGMA integrity_check") || !q.next() || q.value(0).toString() != "ok");
        QVERIFY(parley::client::sealed::lastFailureWasAuthentication());
        QVERIFY(told > 0);
      } else {
        QVERIFY2(error.contains("do not open"), qPrintable(error));
      }
    }
    QVERIFY(write_bytes(file, original));
    auto db = Database::open(file, key.view(), &error);
    QVERIFY2(db, qPrintable(error));
    int told = 0;
    db->onDamage([&told] { ++told; });
    QCOMPARE(count_messages(db->db()), 300);
    QSqlQuery check(db->db());
    QVERIFY(check.exec("PRAGMA integrity_check") && check.next());
    QCOMPARE(check.value(0).toString(), QString("ok"));
    QCOMPARE(told, 0);
  }

  // A store from before encryption at rest, with part of its history still in its WAL.
  void aPlainStoreIsSealedWhenFirstOpened() {
    const auto live = path("plain-live.db");
    const auto file = path("plain.db");
    {
      auto plain = QSqlDatabase::addDatabase("QSQLITE", "plain");
      plain.setDatabaseName(live);
      QVERIFY(plain.open());
      QString error;
      QVERIFY2(parley::client::migrate(plain, Database::kSchemaVersion, &error), qPrintable(error));
      QSqlQuery q(plain);
      QVERIFY(q.exec("PRAGMA journal_mode=WAL"));
      QVERIFY(q.exec("PRAGMA wal_autocheckpoint=0"));
      q.finish();
      QVERIFY(insert_marked(plain, 1, 40));
      QVERIFY(insert_marked(plain, 41, 40));
      copy_as_crashed(live, file);
      plain.close();
    }
    QSqlDatabase::removeDatabase("plain");
    QVERIFY(file_bytes(file + "-wal").contains(kMarker));
    const auto key = random_key();
    QString error;
    {
      auto db = Database::open(file, key.view(), &error);
      QVERIFY2(db, qPrintable(error));
      QCOMPARE(count_messages(db->db()), 80);
      QCOMPARE(db->schemaVersion(), Database::kSchemaVersion);
    }
    QVERIFY(!file_bytes(file).contains(kMarker));
    QVERIFY(!QFile::exists(file + ".sealing"));
    QVERIFY(!QFile::exists(file + "-wal") || !file_bytes(file + "-wal").contains(kMarker));
    auto db = Database::open(file, key.view(), &error);
    QVERIFY2(db, qPrintable(error));
    QCOMPARE(count_messages(db->db()), 80);
  }

  // Rollback journals (a store switched out of WAL) are sealed the same way; a rolled-back
  // transaction leaves nothing behind.
  void aRollbackJournalWorksSealed() {
    const auto file = path("journal.db");
    const auto key = random_key();
    QString error;
    {
      auto db = Database::open(file, key.view(), &error);
      QVERIFY2(db, qPrintable(error));
      QSqlQuery q(db->db());
      QVERIFY(q.exec("PRAGMA journal_mode=DELETE"));
      QCOMPARE(q.next() ? q.value(0).toString() : QString(), QString("delete"));
      q.finish();
      QVERIFY(insert_marked(db->db(), 1, 100));
      QVERIFY(db->db().transaction());
      QVERIFY(q.exec("DELETE FROM messages"));
      QVERIFY(db->db().rollback());
      QCOMPARE(count_messages(db->db()), 100);
      QVERIFY(insert_marked(db->db(), 101, 100));
    }
    QVERIFY(!file_bytes(file).contains(kMarker));
    auto db = Database::open(file, key.view(), &error);
    QVERIFY2(db, qPrintable(error));
    QCOMPARE(count_messages(db->db()), 200);
  }

  // A transaction bigger than SQLite's cache spills pages into the WAL before its commit and
  // then writes some of them again: SQLite overwrites those frames in place, writes the
  // frames after them with zero salts, and puts the real salts and checksums in at commit.
  // Every page must open after that, and after a crash.
  void aTransactionThatRewritesItsOwnFramesCommitsWhole() {
    const auto file = path("rewrites-live.db");
    const auto crashed = path("rewrites.db");
    const auto key = random_key();
    QString error;
    auto db = Database::open(file, key.view(), &error);
    QVERIFY2(db, qPrintable(error));
    QSqlQuery q(db->db());
    QVERIFY(q.exec("PRAGMA wal_autocheckpoint=0"));
    QVERIFY(q.exec("PRAGMA cache_size=10"));
    QVERIFY(insert_marked(db->db(), 1, 300));
    QVERIFY(db->db().transaction());
    QSqlQuery add(db->db());
    add.prepare("INSERT INTO messages(peer, sender, client_msg_id, conv_seq, body, status, client_ts_ms)"
                " VALUES('bob', 'bob', ?, ?, ?, 5, 1)");
    for (int round = 0; round < 4; ++round) {
      QVERIFY(q.exec(QStringLiteral("UPDATE messages SET body = body || ' %1' WHERE body LIKE 'MARKER%'").arg(round)));
      for (int i = 0; i < 50; ++i) {
        add.addBindValue(QUuid::createUuid().toRfc4122());
        add.addBindValue(1000 + round * 100 + i);
        add.addBindValue(QStringLiteral("%1 added in round %2").arg(kMarker).arg(round));
        QVERIFY(add.exec());
      }
    }
    QVERIFY(db->db().commit());
    QCOMPARE(count_messages(db->db()), 300 + 4 * 50);
    QVERIFY(q.exec("PRAGMA integrity_check") && q.next());
    QCOMPARE(q.value(0).toString(), QString("ok"));
    q.finish();
    copy_as_crashed(file, crashed);
    auto reopened = Database::open(crashed, key.view(), &error);
    QVERIFY2(reopened, qPrintable(error));
    QCOMPARE(count_messages(reopened->db()), 500);
  }

  // A crash in the middle of a transaction in rollback-journal mode, after SQLite spilled
  // changed pages into the file: the journal's sealed pages put the file back as it was.
  void aHotJournalRollsBackThroughTheSeal() {
    const auto file = path("hot-live.db");
    const auto crashed = path("hot.db");
    const auto key = random_key();
    QString error;
    auto db = Database::open(file, key.view(), &error);
    QVERIFY2(db, qPrintable(error));
    QSqlQuery q(db->db());
    QVERIFY(q.exec("PRAGMA journal_mode=DELETE"));
    q.finish();
    QVERIFY(insert_marked(db->db(), 1, 2000));
    QVERIFY(q.exec("PRAGMA cache_size=10"));  // so the transaction below spills into the file
    const auto before = file_bytes(file);
    QVERIFY(db->db().transaction());
    QVERIFY(q.exec("UPDATE messages SET body = 'changed, never committed' WHERE body LIKE 'MARKER%'"));
    QVERIFY(QFile::exists(file + "-journal"));
    QVERIFY(file_bytes(file) != before);  // spilled
    for (const char* suffix : {"", "-journal"}) {
      QFile::remove(crashed + suffix);
      QVERIFY(QFile::copy(file + suffix, crashed + suffix));
    }
    QVERIFY(!file_bytes(crashed + "-journal").contains(kMarker));
    QVERIFY(db->db().rollback());
    auto reopened = Database::open(crashed, key.view(), &error);
    QVERIFY2(reopened, qPrintable(error));
    QCOMPARE(count_messages(reopened->db()), 2000);
    QSqlQuery check(reopened->db());
    QVERIFY(check.exec("PRAGMA integrity_check") && check.next());
    QCOMPARE(check.value(0).toString(), QString("ok"));
  }

  // Temporary files are refused, so sorts and indexes bigger than SQLite's cache must stay
  // in memory (temp_store=MEMORY) rather than fail.
  void bigSortsAndIndexesStayInMemory() {
    const auto file = path("sorts.db");
    const auto key = random_key();
    QString error;
    auto db = Database::open(file, key.view(), &error);
    QVERIFY2(db, qPrintable(error));
    QVERIFY(insert_marked(db->db(), 1, 20000));
    QSqlQuery q(db->db());
    QVERIFY2(q.exec("SELECT body FROM messages ORDER BY random()"), qPrintable(q.lastError().text()));
    int rows = 0;
    while (q.next()) ++rows;
    QCOMPARE(rows, 20000);
    QVERIFY2(q.exec("CREATE INDEX sorts_by_body ON messages(body, client_ts_ms)"),
             qPrintable(q.lastError().text()));
    QVERIFY2(q.exec("VACUUM"), qPrintable(q.lastError().text()));
    QCOMPARE(count_messages(db->db()), 20000);
  }
};

QTEST_GUILESS_MAIN(SealedStoreTest)
#include "sealed_store_test.moc"
