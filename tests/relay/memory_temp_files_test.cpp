// SQLite's temporary files through the relay's VFS (store/memory_temp_files.hpp): a
// savepoint's sub-journal and temporary tables live in memory, and a rolled-back savepoint
// still restores every page it changed, transaction after transaction (the buffer is reused).
#include <QTemporaryDir>
#include <QtTest>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <sqlite3.h>

#include <string>

#include "store/memory_temp_files.hpp"
#include "store/wal_write_batching.hpp"

using parley::store::memory_temp_bytes_written;
using parley::store::wal_write_batching_vfs;

namespace {

constexpr int kRows = 2000;
constexpr int kRowBytes = 1000;  // ~500 pages of 4 KiB: far past any one allocation

std::string row_bytes(int id, int shift) {
  return std::string(kRowBytes, static_cast<char>('a' + (id + shift) % 26));
}

// As the relay opens its store: WAL, and temporary files handed to the VFS.
SQLite::Database open_store(const std::string& path) {
  SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE, 0,
                      wal_write_batching_vfs());
  db.exec("PRAGMA journal_mode=WAL");
  db.exec("PRAGMA temp_store=FILE");
  return db;
}

// Rows whose bytes are not those of `shift` for ids below `shifted_below` and of 0 above.
int wrong_rows(SQLite::Database& db, int shift, int shifted_below) {
  SQLite::Statement st(db, "SELECT id, v FROM t ORDER BY id");
  int wrong = 0, rows = 0;
  while (st.executeStep()) {
    ++rows;
    const int id = st.getColumn(0).getInt();
    wrong += st.getColumn(1).getString() != row_bytes(id, id < shifted_below ? shift : 0);
  }
  return wrong + (kRows - rows);
}

// kRows rows of their own bytes (shifted by `shift`) into `table`, in one transaction.
void fill(SQLite::Database& db, const std::string& table, int shift) {
  db.exec("BEGIN");
  SQLite::Statement st(db, "INSERT INTO " + table + "(id, v) VALUES(?, ?)");
  for (int id = 0; id < kRows; ++id) {
    st.bind(1, id);
    st.bind(2, row_bytes(id, shift));
    st.exec();
    st.reset();
  }
  db.exec("COMMIT");
}

// A store at `path` with table t of kRows rows of their own bytes.
SQLite::Database open_filled(const QString& path) {
  auto db = open_store(path.toStdString());
  db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB NOT NULL)");
  fill(db, "t", 0);
  return db;
}

void shift_rows(SQLite::Database& db, int below) {
  SQLite::Statement st(db, "UPDATE t SET v = ? WHERE id = ?");
  for (int id = 0; id < below; ++id) {
    st.bind(1, row_bytes(id, 1));
    st.bind(2, id);
    st.exec();
    st.reset();
  }
}

}  // namespace

class MemoryTempFilesTest : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() {
    // Before SQLite initialises, as SqliteStore does: sub-journals straight to the VFS.
    QCOMPARE(sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, 0), SQLITE_OK);
    QVERIFY(wal_write_batching_vfs() != nullptr);
  }

  void aRolledBackSavepointRestoresEveryPageItChanged() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    auto db = open_filled(dir.filePath("store.db"));

    // Three transactions in a row, each with a savepoint rolled back over every row and one
    // released over some. Each journal (~2 MB) is past what is kept, so each transaction has
    // a fresh buffer; aReusedBufferHoldsOnlyItsNewFile covers the kept one.
    for (int round = 1; round <= 3; ++round) {
      db.exec("BEGIN");
      db.exec("SAVEPOINT job");
      const auto before = memory_temp_bytes_written();
      shift_rows(db, kRows);
      // The changed pages went to the sub-journal in memory (~2 MB of them).
      QVERIFY2(memory_temp_bytes_written() - before >= std::uint64_t{kRows} * kRowBytes / 2,
               "the sub-journal did not go through the memory files");
      QCOMPARE(wrong_rows(db, 1, kRows), 0);
      db.exec("ROLLBACK TO job");
      db.exec("RELEASE job");
      QCOMPARE(wrong_rows(db, 1, (round - 1) * 100), 0);  // as the last round left them
      db.exec("SAVEPOINT job");
      shift_rows(db, round * 100);
      db.exec("RELEASE job");
      db.exec("COMMIT");
      QCOMPARE(wrong_rows(db, 1, round * 100), 0);
    }
    // What was committed is on disk, as another connection on SQLite's own VFS reads it.
    SQLite::Database other(dir.filePath("store.db").toStdString(), SQLite::OPEN_READONLY);
    QCOMPARE(wrong_rows(other, 1, 300), 0);
  }

  // A journal small enough to be kept goes back as the thread's spare when its transaction
  // ends, and the next files take it: a temporary table that spills and rolls back, and a
  // later savepoint's rollback, still read back exactly what they wrote. (SQLite reads these
  // files by offset, so stale bytes past what a file wrote would not show here; the buffer is
  // emptied and zeroed on close all the same.)
  void aReusedBufferHoldsOnlyItsNewFile() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    auto db = open_filled(dir.filePath("reuse.db"));
    // ~100 KB of page images: under what is kept.
    constexpr int kFew = 100;
    db.exec("BEGIN");
    db.exec("SAVEPOINT job");
    const auto before = memory_temp_bytes_written();
    shift_rows(db, kFew);
    QVERIFY(memory_temp_bytes_written() - before > 0);
    db.exec("RELEASE job");
    db.exec("COMMIT");  // the sub-journal closes: its buffer becomes the spare
    db.exec("PRAGMA temp.cache_size = 10");  // its pages go to its file at once
    db.exec("CREATE TEMP TABLE scratch(id INTEGER PRIMARY KEY, v BLOB NOT NULL)");
    fill(db, "scratch", 2);
    // A rolled-back change to it: its journal (no sync, so read to its size) must hold only
    // this transaction's pages.
    db.exec("BEGIN");
    db.exec("UPDATE scratch SET v = zeroblob(1000)");
    db.exec("ROLLBACK");
    {
      SQLite::Statement st(db, "SELECT id, v FROM scratch");
      int rows = 0, wrong = 0;
      while (st.executeStep()) {
        ++rows;
        wrong += st.getColumn(1).getString() != row_bytes(st.getColumn(0).getInt(), 2);
      }
      QCOMPARE(rows, kRows);
      QCOMPARE(wrong, 0);
    }
    QCOMPARE(db.execAndGet("PRAGMA temp.integrity_check").getString(), std::string("ok"));
    db.exec("DROP TABLE scratch");
    db.exec("BEGIN");
    db.exec("SAVEPOINT job");
    db.exec("UPDATE t SET v = zeroblob(1000) WHERE id < 50");
    QCOMPARE(wrong_rows(db, 1, kFew), 50);
    db.exec("ROLLBACK TO job");
    db.exec("RELEASE job");
    db.exec("COMMIT");
    QCOMPARE(wrong_rows(db, 1, kFew), 0);
    QCOMPARE(db.execAndGet("PRAGMA integrity_check").getString(), std::string("ok"));
  }

  // Temporary tables (and the cache pages they spill) live in the same memory files.
  void temporaryTablesWork() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    auto db = open_store(dir.filePath("temp.db").toStdString());
    db.exec("PRAGMA temp.cache_size = 10");  // spill at once
    db.exec("CREATE TEMP TABLE scratch(id INTEGER PRIMARY KEY, v BLOB NOT NULL)");
    const auto before = memory_temp_bytes_written();
    fill(db, "scratch", 3);
    QVERIFY(memory_temp_bytes_written() - before >= std::uint64_t{kRows} * kRowBytes / 2);
    SQLite::Statement st(db, "SELECT id, v FROM scratch ORDER BY v, id DESC");
    int rows = 0, wrong = 0;
    while (st.executeStep()) {
      ++rows;
      const int id = st.getColumn(0).getInt();
      wrong += st.getColumn(1).getString() != row_bytes(id, 3);
    }
    QCOMPARE(rows, kRows);
    QCOMPARE(wrong, 0);
  }
};

QTEST_GUILESS_MAIN(MemoryTempFilesTest)
#include "memory_temp_files_test.moc"
