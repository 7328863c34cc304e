#pragma once
// One libpq connection, used from the store thread only, with the few things the PostgreSQL
// store needs: statements prepared once per connection and run with binary parameters and
// binary results (no text formatting of integers or escaping of bytes on either side), and
// errors as exceptions. The server's primary message only: its DETAIL can quote a row's
// values (a duplicate key), which may be message metadata the relay must not log.
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

struct pg_conn;
struct pg_result;

namespace parley::store::pg {

class Error : public std::runtime_error {
 public:
  Error(const std::string& what, std::string sqlstate)
      : std::runtime_error(what), sqlstate_(std::move(sqlstate)) {}
  // Five characters (23505: unique violation, 40P01: deadlock); empty for a connection error.
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  std::string sqlstate_;
};

// Parameter types a statement declares, one letter each: i = bigint, b = bytea, t = text.
// Declared rather than left to the server to infer, so a binary bigint is never read as an
// int4 where an expression leaves its type open.
struct Statement {
  const char* name;
  const char* sql;
  const char* types;
};

class Params {
 public:
  Params() = default;
  // values_ points into ints_: a copy would point into the original.
  Params(const Params&) = delete;
  Params& operator=(const Params&) = delete;

  Params& i64(std::int64_t v);
  Params& u64(std::uint64_t v) { return i64(static_cast<std::int64_t>(v)); }
  // Bytes are not copied: the caller keeps them alive until the statement ran.
  Params& bytes(std::string_view v);
  Params& text(std::string_view v) { return bytes(v); }
  Params& null();

  int size() const { return static_cast<int>(values_.size()); }
  const char* const* values() const { return values_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  std::vector<const char*> values_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
  // Network-order copies of the integers, at fixed addresses (values_ points into it).
  std::uint64_t ints_[16] = {};
  int int_count_ = 0;
};

class Result {
 public:
  Result() = default;
  explicit Result(pg_result* r);
  Result(Result&&) noexcept;
  Result& operator=(Result&&) noexcept;
  ~Result();

  int rows() const;
  bool empty() const { return rows() == 0; }
  bool is_null(int row, int col) const;
  std::int64_t i64(int row, int col) const;  // bigint, integer or smallint; NULL throws
  std::uint64_t u64(int row, int col) const { return static_cast<std::uint64_t>(i64(row, col)); }
  std::uint32_t u32(int row, int col) const { return static_cast<std::uint32_t>(i64(row, col)); }
  bool boolean(int row, int col) const;
  std::string bytes(int row, int col) const;  // bytea or text; NULL reads as empty
  // Rows a command changed (INSERT, UPDATE, DELETE).
  std::uint64_t affected() const;

 private:
  pg_result* r_ = nullptr;
};

class Connection {
 public:
  // `conninfo`: a libpq connection string or URI (postgresql://...). Throws on failure,
  // saying why without the password.
  explicit Connection(const std::string& conninfo);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Plain SQL, possibly several statements, no parameters; what defer() holds goes first.
  void exec(const char* sql);
  // Plain SQL whose outcome nothing waits for (BEGIN, RELEASE): sent in front of the next
  // exec(), or alone before the next run(). A transaction of jobs then costs one round trip
  // fewer per job ("RELEASE job; SAVEPOINT job") and one fewer to begin.
  void defer(std::string_view sql);
  // Before a ROLLBACK: in a failed transaction a deferred RELEASE would fail, and with it
  // the statements after it in the same string.
  void discard_deferred() { deferred_.clear(); }
  Result query(const char* sql);  // one statement, no parameters, binary results
  // Prepares `st` on this connection the first time, then runs it.
  Result run(const Statement& st, const Params& params);
  Result run(const Statement& st) { return run(st, Params{}); }

  // A connection the server or the network dropped is made again before the next
  // transaction (its prepared statements and session settings with it); true if it is
  // usable.
  bool ensure_open();
  // Session settings (SET ...): run now, and again on every connection made again.
  void set_session(const char* sql);

 private:
  Result check(pg_result* r, const char* what);
  pg_conn* conn_ = nullptr;
  const char* session_sql_ = nullptr;
  std::string deferred_;
  std::vector<const char*> prepared_;  // names, for this connection
};

}  // namespace parley::store::pg
