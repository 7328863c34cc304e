// SQLite's allocator in the relay (store/sqlite_small_blocks.hpp): small blocks come back
// for reuse, a resized block keeps its bytes, what a thread keeps is bounded, a block freed on
// another thread is that thread's to reuse, and SQLite, once given it, stops calling malloc
// for each statement it runs.
#include <QTemporaryDir>
#include <QtTest>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <sqlite3.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#include "store/sqlite_small_blocks.hpp"
#include "store/wal_write_batching.hpp"

namespace blocks = parley::store::sqlite_blocks;

namespace {

void fill(void* block, int bytes, unsigned char seed) {
  auto* p = static_cast<unsigned char*>(block);
  for (int i = 0; i < bytes; ++i) p[i] = static_cast<unsigned char>(seed + i);
}

bool holds(void* block, int bytes, unsigned char seed) {
  const auto* p = static_cast<const unsigned char*>(block);
  for (int i = 0; i < bytes; ++i)
    if (p[i] != static_cast<unsigned char>(seed + i)) return false;
  return true;
}

// Row i's bytes: as long as those of every row with its id (i % 500), so replacing rows keeps
// the table's pages as they are.
std::string row(int i) { return std::string(200 + i % 500 / 2, static_cast<char>('a' + i % 26)); }

}  // namespace

class SqliteSmallBlocksTest : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() {
    // Before anything in this process initialises SQLite, as the relay's store does, with
    // its statement journals going straight to the VFS's memory files.
    QVERIFY(blocks::install());
    QCOMPARE(sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, 0), SQLITE_OK);
  }

  void everyBlockHoldsWhatWasAskedAndSaysSo() {
    for (int bytes : {1, 7, 8, 63, 64, 65, 200, 511, 512, 1000, 1024, 1025, 4096, 70000}) {
      void* b = blocks::allocate(bytes);
      QVERIFY(b != nullptr);
      QCOMPARE(reinterpret_cast<std::uintptr_t>(b) % 8, std::uintptr_t{0});
      QVERIFY2(blocks::usable_bytes(b) >= bytes, qPrintable(QString::number(bytes)));
      QCOMPARE(blocks::usable_bytes(b), blocks::round_up(bytes));
      fill(b, blocks::usable_bytes(b), 3);  // all of it is the caller's (ASan checks)
      blocks::release(b);
    }
    blocks::release(nullptr);
  }

  void aFreedSmallBlockIsHandedOutAgain() {
    const auto before = blocks::thread_counts();
    void* a = blocks::allocate(100);
    blocks::release(a);
#if defined(__SANITIZE_ADDRESS__)
    // Kept, it is off limits: a use after SQLite freed it is still reported.
    QVERIFY(__asan_address_is_poisoned(a));
    QVERIFY(__asan_address_is_poisoned(static_cast<char*>(a) + 127));
#endif
    void* b = blocks::allocate(120);  // the same class (128)
    QCOMPARE(b, a);
#if defined(__SANITIZE_ADDRESS__)
    QVERIFY(!__asan_address_is_poisoned(static_cast<char*>(b) + 127));  // all of it is ours again
#endif
    void* c = blocks::allocate(300);  // another class: not that block
    QVERIFY(c != a);
    blocks::release(b);
    blocks::release(c);
    const auto after = blocks::thread_counts();
    QVERIFY(after.reused >= before.reused + 1);
    QCOMPARE(after.kept, before.kept + 3);
  }

  void aResizedBlockKeepsItsBytes() {
    void* b = blocks::allocate(60);
    fill(b, 60, 11);
    QCOMPARE(blocks::resize(b, 64), b);  // fits where it is
    b = blocks::resize(b, 500);
    QVERIFY(holds(b, 60, 11));
    fill(b, 500, 12);
    b = blocks::resize(b, 5000);  // into malloc's sizes
    QVERIFY(holds(b, 500, 12));
    fill(b, 5000, 13);
    b = blocks::resize(b, 100000);  // malloc's block grown by realloc
    QVERIFY(holds(b, 5000, 13));
    b = blocks::resize(b, 100);  // back into a kept class
    QVERIFY(holds(b, 100, 13));
    QCOMPARE(blocks::usable_bytes(b), 128);
    blocks::release(b);
    void* fresh = blocks::resize(nullptr, 40);
    QVERIFY(fresh != nullptr);
    blocks::release(fresh);
  }

  void aThreadKeepsABoundedNumberOfBlocks() {
    std::vector<void*> taken;
    const std::size_t n = 3 * blocks::kKeptPerClass;
    for (std::size_t i = 0; i < n; ++i) taken.push_back(blocks::allocate(900));
    const auto before = blocks::thread_counts();
    for (void* b : taken) blocks::release(b);
    const auto after = blocks::thread_counts();
    QVERIFY(after.held <= before.held + blocks::kKeptPerClass);
    QVERIFY(after.to_free >= before.to_free + n - blocks::kKeptPerClass);
    // Larger than every class: never kept.
    void* big = blocks::allocate(2000);
    const auto kept = blocks::thread_counts().kept;
    blocks::release(big);
    QCOMPARE(blocks::thread_counts().kept, kept);
  }

  void aBlockFreedOnAnotherThreadIsThatThreadsToReuse() {
    void* b = blocks::allocate(200);
    fill(b, 200, 5);
    const auto here = blocks::thread_counts();
    bool intact = false, reused_there = false, kept_there = false;
    std::thread([&] {
      intact = holds(b, 200, 5);
      blocks::release(b);
      kept_there = blocks::thread_counts().kept == 1;
      void* again = blocks::allocate(256);
      reused_there = again == b;
      blocks::release(again);
    }).join();  // the thread's list is freed as it ends (LeakSanitizer checks in the debug preset)
    QVERIFY(intact);
    QVERIFY(kept_there);
    QVERIFY(reused_there);
    QCOMPARE(blocks::thread_counts().kept, here.kept);
  }

  // What the relay gets from it: a statement run again and again takes its records and column
  // copies from the lists, not from malloc, and every byte written reads back.
  void sqliteStopsCallingMallocPerStatement() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    // Opened as the relay's store is: WAL, temporary files in the VFS's memory.
    SQLite::Database db(dir.filePath("t.db").toStdString(),
                        SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE, 0,
                        parley::store::wal_write_batching_vfs());
    db.exec("PRAGMA journal_mode=WAL");
    db.exec("PRAGMA temp_store=FILE");
    db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB NOT NULL)");
    db.exec("CREATE INDEX t_v ON t(v)");
    SQLite::Statement put(db, "INSERT OR REPLACE INTO t(id, v) VALUES(?, ?)");
    SQLite::Statement get(db, "SELECT v FROM t WHERE id = ?");
    auto run = [&](int from, int to) {
      for (int i = from; i < to; ++i) {
        if (i % 50 == 0) db.exec("BEGIN");  // transactions as the store's group commits
        const std::string v = row(i);
        put.bind(1, i % 500);
        put.bind(2, v.data(), static_cast<int>(v.size()));
        put.exec();
        put.reset();
        get.bind(1, i % 500);
        if (!get.executeStep()) return false;
        const auto col = get.getColumn(0);
        if (col.getString() != v) return false;
        get.reset();
        if (i % 50 == 49) db.exec("COMMIT");
      }
      return true;
    };
    QVERIFY(run(0, 500));  // the table's rows; warms the page cache and the lists
    const auto before = blocks::thread_counts();
    QVERIFY(run(500, 1500));
    const auto after = blocks::thread_counts();
    const std::uint64_t statements = 2 * 1000;
    // SQLite asked, and was served from the lists. What still goes to malloc is larger than
    // any class and made per transaction (a commit's buffers, a page the cache adds), not per
    // statement: ~90 here for 20 commits. Without the lists it is several per statement.
    QVERIFY2(after.reused - before.reused >= statements,
             qPrintable(QString::number(after.reused - before.reused)));
    QVERIFY2(after.from_malloc - before.from_malloc < statements / 10,
             qPrintable(QString::number(after.from_malloc - before.from_malloc)));
    SQLite::Statement big(db, "INSERT INTO t(id, v) VALUES(?, ?)");
    const std::string large(200000, 'z');
    big.bind(1, 100000);
    big.bind(2, large.data(), static_cast<int>(large.size()));
    big.exec();
    SQLite::Statement back(db, "SELECT v FROM t WHERE id = 100000");
    QVERIFY(back.executeStep());
    QCOMPARE(back.getColumn(0).getString(), large);
  }

  void itCannotBeInstalledOnceSqliteRuns() {
    QCOMPARE(sqlite3_initialize(), SQLITE_OK);
    QVERIFY(!blocks::install());
  }
};

QTEST_GUILESS_MAIN(SqliteSmallBlocksTest)
#include "sqlite_small_blocks_test.moc"
