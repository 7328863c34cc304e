#pragma once
// A prepared statement held by its raw handle, for the few statements that read many rows
// per job: a replay page and the rows an ack deletes. SQLiteCpp's Column copies a shared_ptr
// to its statement for every value read, and those copies were ~8 % of the store thread in
// a replay drain (docs/performance-log.md); here a value is one sqlite3_column_* call.
// Everything else in the store keeps SQLiteCpp's Statement.
#include <SQLiteCpp/Database.h>

#include <cstdint>
#include <string>

struct sqlite3_stmt;

namespace parley::store {

class RowStatement {
 public:
  // Throws SQLite::Exception when `sql` does not prepare.
  RowStatement(SQLite::Database& db, const char* sql);
  ~RowStatement();
  RowStatement(const RowStatement&) = delete;
  RowStatement& operator=(const RowStatement&) = delete;

  // Ready for new bindings (a reused statement).
  RowStatement& fresh();
  void bind(int index, std::int64_t value);
  // Steps to the next row: true while there is one; throws SQLite::Exception on an error.
  bool step();
  // Ends the read early, so it is not held open across COMMIT.
  void reset();

  // Columns of the current row.
  bool is_null(int col) const;
  std::int64_t i64(int col) const;
  std::uint64_t u64(int col) const { return static_cast<std::uint64_t>(i64(col)); }
  std::uint32_t u32(int col) const { return static_cast<std::uint32_t>(i64(col)); }
  // The bytes of a TEXT or BLOB value (empty for NULL).
  std::string bytes(int col) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* st_ = nullptr;
};

}  // namespace parley::store
