// The WAL write-batching VFS (store/wal_write_batching.hpp) may change how many system calls
// carry a commit's frames, never what the files hold or when another connection can see a
// commit. Each case writes through the VFS and reads back through a second connection on
// SQLite's default VFS, as the sqlite3 shell or another process would.
#include <QTemporaryDir>
#include <QtTest>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <filesystem>
#include <string>

#include "store/wal_write_batching.hpp"

using parley::store::wal_write_batching_vfs;
using parley::store::wal_writes_passed_down;

namespace {

constexpr int kRowBytes = 1000;

std::string row_bytes(int id, int shift = 0) {
  return std::string(kRowBytes, static_cast<char>('a' + (id + shift) % 26));
}

SQLite::Database open_batching(const std::string& path, const char* synchronous) {
  SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE, 0,
                      wal_write_batching_vfs());
  db.exec("PRAGMA journal_mode=WAL");
  db.exec(std::string("PRAGMA synchronous=") + synchronous);
  return db;
}

// Inserts rows first..first+count-1 in the open transaction, each kRowBytes of its own bytes.
void insert_rows_in_transaction(SQLite::Database& db, int first, int count) {
  SQLite::Statement st(db, "INSERT INTO t(id, v) VALUES(?, ?)");
  for (int id = first; id < first + count; ++id) {
    st.bind(1, id);
    st.bind(2, row_bytes(id));
    st.exec();
    st.reset();
  }
}

// The same, in a transaction of their own.
void insert_rows(SQLite::Database& db, int first, int count) {
  db.exec("BEGIN");
  insert_rows_in_transaction(db, first, count);
  db.exec("COMMIT");
}

// Rows in `db`, and whether every row holds its own bytes (shifted for ids below `shifted`).
std::pair<int, bool> rows_of(SQLite::Database& db, int shifted = 0) {
  SQLite::Statement st(db, "SELECT id, v FROM t ORDER BY id");
  int rows = 0;
  bool intact = true;
  while (st.executeStep()) {
    ++rows;
    const int id = st.getColumn(0).getInt();
    intact = intact && st.getColumn(1).getString() == row_bytes(id, id < shifted ? 1 : 0);
  }
  return {rows, intact};
}

// What a connection on the default VFS sees through the shared WAL index.
std::pair<int, bool> seen_by_default_vfs(const std::string& path, int shifted = 0) {
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  return rows_of(db, shifted);
}

// What a crash of this process would leave: the database and WAL files as they are now,
// copied without the WAL index, so SQLite recovers from the WAL's frames and checksums alone.
std::pair<int, bool> seen_after_a_crash(const std::string& path, int shifted = 0) {
  namespace fs = std::filesystem;
  const auto copy = path + ".crash";
  fs::copy_file(path, copy, fs::copy_options::overwrite_existing);
  fs::copy_file(path + "-wal", copy + "-wal", fs::copy_options::overwrite_existing);
  fs::remove(copy + "-shm");
  SQLite::Database db(copy, SQLite::OPEN_READWRITE);
  if (db.execAndGet("PRAGMA integrity_check").getString() != "ok") return {-1, false};
  return rows_of(db, shifted);
}

}  // namespace

class WalWriteBatchingTest : public QObject {
  Q_OBJECT

  QTemporaryDir dir_;
  std::string path(const char* name) const { return dir_.filePath(name).toStdString(); }

 private slots:
  void initTestCase() {
    QVERIFY(dir_.isValid());
    QVERIFY2(wal_write_batching_vfs() != nullptr, "the VFS did not register");
  }

  void aCommitsFramesGoDownInOneWrite() {
    auto db = open_batching(path("one.db"), "FULL");
    db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)");
    const auto before = wal_writes_passed_down();
    insert_rows(db, 0, 80);  // ~21 frames (86 KB): 42 writes without the VFS
    QCOMPARE(wal_writes_passed_down() - before, std::uint64_t{1});
  }

  // With synchronous=NORMAL nothing syncs at COMMIT: the frames must still be in the file
  // before SQLite publishes the commit in the WAL index, for a second connection to read them
  // and for a crash of this process (the files copied without the index) to keep them. The
  // batching connection stays open throughout: no close, no checkpoint.
  void everyCommitIsInTheFileWhenCommitReturns_data() {
    QTest::addColumn<QString>("synchronous");
    QTest::newRow("NORMAL") << "NORMAL";
    QTest::newRow("FULL") << "FULL";
  }
  void everyCommitIsInTheFileWhenCommitReturns() {
    QFETCH(QString, synchronous);
    const auto file = path(("visible-" + synchronous + ".db").toUtf8().constData());
    auto db = open_batching(file, synchronous.toUtf8().constData());
    db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)");
    for (int commit = 0; commit < 5; ++commit) {
      insert_rows(db, commit * 30, 30);
      const auto [rows, intact] = seen_by_default_vfs(file);
      QCOMPARE(rows, (commit + 1) * 30);
      QVERIFY(intact);
      const auto [kept, kept_intact] = seen_after_a_crash(file);
      QCOMPARE(kept, (commit + 1) * 30);
      QVERIFY(kept_intact);
    }
    insert_rows(db, 1000, 1);  // a commit of a page or two
    QCOMPARE(seen_by_default_vfs(file).first, 151);
    QCOMPARE(seen_after_a_crash(file).first, 151);
  }

  // A transaction larger than its page cache spills frames to the WAL before it commits; when
  // it changes a spilled page again SQLite overwrites that frame and, at the commit, rewrites
  // the checksums of the frames after it (header by header, between reads). A crash right
  // after COMMIT must keep all of it.
  // Also in exclusive locking mode, where the WAL index is in heap memory and SQLite calls
  // neither the barrier nor the lock this VFS otherwise watches.
  void aSpilledTransactionRewritingItsFramesSurvivesACrash_data() {
    QTest::addColumn<QString>("locking");
    QTest::newRow("normal locking") << "NORMAL";
    QTest::newRow("exclusive locking") << "EXCLUSIVE";
  }
  void aSpilledTransactionRewritingItsFramesSurvivesACrash() {
    QFETCH(QString, locking);
    const auto file = path(("spill-" + locking + ".db").toUtf8().constData());
    SQLite::Database db(file, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE, 0,
                        wal_write_batching_vfs());
    db.exec(("PRAGMA locking_mode=" + locking).toStdString());
    db.exec("PRAGMA journal_mode=WAL");
    db.exec("PRAGMA synchronous=NORMAL");
    db.exec("PRAGMA cache_size=10");
    db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)");
    db.exec("BEGIN");
    insert_rows_in_transaction(db, 0, 400);
    SQLite::Statement update(db, "UPDATE t SET v = ? WHERE id = ?");
    for (int id = 0; id < 100; ++id) {
      update.bind(1, row_bytes(id, 1));
      update.bind(2, id);
      update.exec();
      update.reset();
    }
    db.exec("COMMIT");
    const auto [rows, intact] = seen_after_a_crash(file, 100);
    QCOMPARE(rows, 400);
    QVERIFY(intact);
  }

  // Frames a rolled-back transaction spilled must never land on top of what another writer
  // commits after the rollback released the write lock.
  void aRollbacksSpilledFramesNeverOverwriteAnotherWritersCommit() {
    const auto file = path("two-writers.db");
    auto a = open_batching(file, "NORMAL");
    a.exec("PRAGMA cache_size=10");
    a.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)");
    a.exec("BEGIN");
    a.exec("WITH RECURSIVE n(i) AS (SELECT 5000 UNION ALL SELECT i + 1 FROM n WHERE i < 5400) "
           "INSERT INTO t(id, v) SELECT i, zeroblob(1000) FROM n");
    a.exec("ROLLBACK");
    {
      SQLite::Database b(file, SQLite::OPEN_READWRITE);
      insert_rows(b, 0, 20);
    }
    insert_rows(a, 20, 20);
    const auto [rows, intact] = seen_by_default_vfs(file);
    QCOMPARE(rows, 40);
    QVERIFY(intact);
    const auto [kept, kept_intact] = seen_after_a_crash(file);
    QCOMPARE(kept, 40);
    QVERIFY(kept_intact);
    QCOMPARE(a.execAndGet("PRAGMA integrity_check").getString(), std::string("ok"));
  }

  // Frames written mid-transaction (a page cache too small for it spills), a rollback that
  // discards them, transactions larger than what the VFS holds, and the WAL starting over
  // at its beginning after checkpoints: the database comes out whole either way.
  void spillsRollbacksLargeCommitsAndRestartsKeepTheDatabaseWhole() {
    const auto file = path("whole.db");
    {
      auto db = open_batching(file, "FULL");
      db.exec("PRAGMA cache_size=20");
      db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)");
      insert_rows(db, 0, 3000);  // ~3 MB in one commit: beyond what is held at once, spilled
      db.exec("BEGIN");
      db.exec("DELETE FROM t WHERE id < 2000");
      db.exec("INSERT INTO t(id, v) SELECT id + 100000, v FROM t");
      db.exec("ROLLBACK");
      for (int commit = 0; commit < 40; ++commit) insert_rows(db, 3000 + commit * 50, 50);
      QCOMPARE(db.execAndGet("PRAGMA integrity_check").getString(), std::string("ok"));
      const auto [rows, intact] = seen_by_default_vfs(file);
      QCOMPARE(rows, 5000);
      QVERIFY(intact);
      db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
      insert_rows(db, 5000, 10);  // the first frames of a WAL begun again
    }
    SQLite::Database db(file, SQLite::OPEN_READONLY);
    QCOMPARE(db.execAndGet("PRAGMA integrity_check").getString(), std::string("ok"));
    const auto [rows, intact] = seen_by_default_vfs(file);
    QCOMPARE(rows, 5010);
    QVERIFY(intact);
  }
};

QTEST_GUILESS_MAIN(WalWriteBatchingTest)
#include "wal_write_batching_test.moc"
