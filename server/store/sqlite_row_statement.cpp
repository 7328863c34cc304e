#include "store/sqlite_row_statement.hpp"

#include <sqlite3.h>

namespace parley::store {

RowStatement::RowStatement(SQLite::Database& db, const char* sql) : db_(db.getHandle()) {
  // Persistent: it is kept for the store's lifetime and reused for every job.
  const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &st_, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(st_);
    throw SQLite::Exception(db_, rc);
  }
}

RowStatement::~RowStatement() { sqlite3_finalize(st_); }

RowStatement& RowStatement::fresh() {
  sqlite3_reset(st_);
  sqlite3_clear_bindings(st_);
  return *this;
}

void RowStatement::bind(int index, std::int64_t value) {
  const int rc = sqlite3_bind_int64(st_, index, value);
  if (rc != SQLITE_OK) throw SQLite::Exception(db_, rc);
}

bool RowStatement::step() {
  const int rc = sqlite3_step(st_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // sqlite3_reset returns the error of the failed step (and clears it for the next use).
  throw SQLite::Exception(db_, sqlite3_reset(st_));
}

void RowStatement::reset() { sqlite3_reset(st_); }

bool RowStatement::is_null(int col) const { return sqlite3_column_type(st_, col) == SQLITE_NULL; }

std::int64_t RowStatement::i64(int col) const { return sqlite3_column_int64(st_, col); }

std::string RowStatement::bytes(int col) const {
  // The pointer first, then the size: that order is what SQLite documents as safe.
  const void* p = sqlite3_column_blob(st_, col);
  const int n = sqlite3_column_bytes(st_, col);
  return p ? std::string(static_cast<const char*>(p), static_cast<std::size_t>(n)) : std::string();
}

}  // namespace parley::store
