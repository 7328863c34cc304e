// The WAL write-batching VFS (store/wal_write_batching.hpp) may change how many system calls
// carry a commit's frames, never what the files hold or when another connection can see a
// commit. Each case writes through the VFS and reads back through a second connection on
// SQLite's default VFS, as the sqlite3 shell or another process would.
#include <QTemporaryDir>
#include <QtTest>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <string>

#include "store/wal_write_batching.hpp"

using parley::store::wal_write_batching_vfs;
using parley::store::wal_writes_passed_down;

namespace {

constexpr int kRowBytes = 1000;

SQLite::Database open_batching(const std::string& path, const char* synchronous) {
  SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE, 0,
                      wal_write_batching_vfs());
  db.exec("PRAGMA journal_mode=WAL");
  db.exec(std::string("PRAGMA synchronous=") + synchronous);
  return db;
}

// Inserts rows first..first+count-1 in one transaction, each kRowBytes of its own bytes.
void insert_rows(SQLite::Database& db, int first, int count) {
  db.exec("BEGIN");
  SQLite::Statement st(db, "INSERT INTO t(id, v) VALUES(?, ?)");
  for (int id = first; id < first + count; ++id) {
    st.bind(1, id);
    st.bind(2, std::string(kRowBytes, static_cast<char>('a' + id % 26)));
    st.exec();
    st.reset();
  }
  db.exec("COMMIT");
}

// What a connection on the default VFS sees: row count, and whether every row holds its bytes.
std::pair<int, bool> seen_by_default_vfs(const std::string& path) {
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  SQLite::Statement st(db, "SELECT id, v FROM t ORDER BY id");
  int rows = 0;
  bool intact = true;
  while (st.executeStep()) {
    ++rows;
    const int id = st.getColumn(0).getInt();
    intact = intact && st.getColumn(1).getString() ==
                           std::string(kRowBytes, static_cast<char>('a' + id % 26));
  }
  return {rows, intact};
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

  // With synchronous=NORMAL nothing syncs at COMMIT, so the end of the commit frame is all
  // that pushes the frames down before SQLite publishes them in the WAL index. The batching
  // connection stays open (no close, no checkpoint): what the second one reads is what a
  // crash of this process would have left.
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
    }
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
