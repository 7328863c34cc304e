#pragma once
// One libpq connection, used from the store thread only, with the few things the PostgreSQL
// store needs: statements prepared once per connection and run with binary parameters and
// binary results (no text formatting of integers or escaping of bytes on either side), and
// errors as exceptions. The server's primary message only: its DETAIL can quote a row's
// values (a duplicate key), which may be message metadata the relay must not log.
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
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

// Parameter types a statement declares, one letter each: i = bigint, b = bytea, t = text,
// I = bigint[].
// Declared rather than left to the server to infer, so a binary bigint is never read as an
// int4 where an expression leaves its type open. A statement that starts with SELECT, locks
// no rows (no FOR UPDATE / SHARE) and calls none of nextval, setval, pg_advisory_* is taken
// to change nothing, so it may run before its transaction's BEGIN (Connection::begin): keys
// in capitals, as this store writes them, and no other function that writes.
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
  // A bigint[] (type letter I), in PostgreSQL's binary array form, copied. Not empty: an
  // empty array has another form, and nothing here sends one.
  Params& i64_array(std::span<const std::int64_t> v);
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
  std::deque<std::string> arrays_;  // at fixed addresses, as ints_
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
  // The command's tag ("COMMIT", "ROLLBACK", "INSERT 0 1", ...).
  std::string_view command() const;

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

  // Every call below is one round trip to the server, carrying whatever queue() and defer()
  // hold in front of it (a libpq pipeline, ended by a Sync), so statements whose outcome
  // nothing reads cost no round trip of their own. A queued statement's error is thrown by
  // the call that carries it, after the rest of the pipeline was skipped by the server.

  // Plain SQL, possibly several statements (those alone, after a round trip for the queue).
  void exec(const char* sql);
  Result query(const char* sql);  // one statement, no parameters, binary results
  // Prepares `st` on this connection the first time (in the same round trip), then runs it.
  Result run(const Statement& st, const Params& params);
  Result run(const Statement& st) { return run(st, Params{}); }

  // A statement whose result nothing reads (an INSERT, a lock): sent with the next round
  // trip. `params` may go once this returns: libpq has copied them into its buffer.
  void queue(const Statement& st, const Params& params);
  // A statement whose result is read, queued likewise: read_queued(), before any other call
  // that reads, sends the queue and returns these results in the order they were queued.
  void queue_read(const Statement& st, const Params& params);
  std::vector<Result> read_queued();
  // A statement whose result `then` takes whenever a round trip reads it (the next one,
  // whichever call makes it); a statement that failed or was skipped never calls it.
  using Then = std::function<void(Result)>;
  void queue_read(const Statement& st, const Params& params, Then then);
  // One plain statement inside the transaction (SAVEPOINT, RELEASE), queued likewise: a
  // transaction not begun yet begins with it.
  void defer(const char* sql);
  // Before a ROLLBACK: what is queued is sent and its outcome dropped. In a failed
  // transaction the queued statements fail, and the server would skip a ROLLBACK sent in
  // the same pipeline after them.
  void discard_queued();

  // Transactions, READ COMMITTED. begin() sends nothing: BEGIN goes in front of the first
  // statement that writes or locks rows, or of a defer(). Reads before it run each as a
  // transaction of its own, which sees what it would have seen inside, since the transaction
  // had not changed anything yet; so one that only read ends without a round trip.
  void begin();
  void commit();
  void rollback();

  // A connection the server or the network dropped is made again before the next
  // transaction (its prepared statements and session settings with it); true if it is
  // usable.
  bool ensure_open();
  // Session settings (SET ...): run now, and again on every connection made again.
  void set_session(std::string sql);

 private:
  Result check(pg_result* r, const char* what);
  // libpq's own complaint (a send that failed, a lost connection), after `what`.
  Error client_error(const char* what) const;
  // Sends what is queued and a Sync, reads every result in order, handing each to its
  // statement's Then. Throws the first error after reading to the Sync.
  void round_trip();
  // Queue a statement; its result goes to `then` (none: dropped).
  void send_query(const Statement& st, const Params& params, Then then);
  void send_sql(const char* sql, Then then);
  // A Then that keeps the result in kept_, for read_queued() and the calls that read.
  Then keep() {
    return [this](Result r) { kept_.push_back(std::move(r)); };
  }
  void begin_now();
  // Whether `st` needs the transaction begun first (it writes or locks rows).
  bool needs_begin(const Statement& st) const;
  void enter_pipeline();
  void send_prepare(const Statement& st);
  bool is_prepared(const char* name) const;

  // What a queued statement was, to name it in an error and to forget a prepare that failed.
  struct Queued {
    const char* what;  // a statement's name, or the plain SQL
    bool prepares;     // a PQsendPrepare of `what`
    Then then = {};    // takes its result
  };
  pg_conn* conn_ = nullptr;
  std::string session_sql_;  // empty: none
  // False once making the connection again failed to run session_sql_ on it: a relay's
  // connection without its settings would wait on locks for ever, and have its inbox rows
  // weighed twice (pg_schema.cpp, step 3).
  bool session_set_ = true;
  enum class Tx { None, Pending, Begun } tx_ = Tx::None;
  std::vector<Queued> queued_;
  std::vector<Result> kept_;
  std::vector<const char*> prepared_;  // names, for this connection
};

}  // namespace parley::store::pg
