#include "store/run_floor.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Transaction.h>

#include <utility>

#include "store/sqlite_statement.hpp"

namespace parley::store {

struct RunFloor::Statements {
  Statements(SQLite::Database& db, std::string key)
      : load(db, "SELECT value FROM meta WHERE key = ?"),
        save(db,
             "INSERT INTO meta(key, value) VALUES(?, ?) "
             "ON CONFLICT(key) DO UPDATE SET value = excluded.value"),
        key(std::move(key)) {}

  SQLite::Statement load, save;
  std::string key;
};

namespace {
// Saved this far ahead, a lost save still leaves the next start kRunGap / 2 above.
constexpr std::uint64_t kSaveAhead = RunFloor::kRunGap / 4;
}  // namespace

RunFloor::RunFloor(SQLite::Database& db, std::string key,
                   const std::function<std::uint64_t()>& first_start)
    : st_(std::make_unique<Statements>(db, std::move(key))) {
  auto& load = fresh(st_->load);
  load.bind(1, st_->key);
  start_ = load.executeStep() ? as_u64(load.getColumn(0)) + kRunGap : first_start();
  load.reset();
  high_ = start_;
  // Under synchronous=NORMAL a WAL commit is not synced, and the start must not be lost with
  // the commits that follow it: one synced commit per start.
  const auto synchronous = db.execAndGet("PRAGMA synchronous").getInt();
  db.exec("PRAGMA synchronous=FULL");
  {
    SQLite::Transaction tx(db);
    save(start_);
    tx.commit();
  }
  db.exec("PRAGMA synchronous=" + std::to_string(synchronous));
  saved_ = written_;
}

RunFloor::~RunFloor() = default;

void RunFloor::before_commit() {
  if (high_ - written_ >= kSaveAhead) save(high_);
}

void RunFloor::save(std::uint64_t value) {
  auto& st = fresh(st_->save);
  st.bind(1, st_->key);
  st.bind(2, static_cast<std::int64_t>(value));
  st.exec();
  written_ = value;
}

}  // namespace parley::store
