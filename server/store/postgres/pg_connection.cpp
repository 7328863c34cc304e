#include "store/postgres/pg_connection.hpp"

#include <endian.h>
#include <libpq-fe.h>

#include <algorithm>
#include <cstring>
#include <utility>

namespace parley::store::pg {
namespace {

// Type OIDs (pg_type.h, stable across releases).
constexpr Oid kBool = 16, kBytea = 17, kInt8 = 20, kInt2 = 21, kInt4 = 23, kText = 25,
              kInt8Array = 1016;

Oid oid_of(char c) {
  switch (c) {
    case 'i': return kInt8;
    case 'b': return kBytea;
    case 't': return kText;
    case 'I': return kInt8Array;
    default: throw std::logic_error("pg statement: unknown parameter type letter");
  }
}

std::string first_line(const char* msg) {
  std::string s = msg != nullptr ? msg : "";
  if (auto nl = s.find('\n'); nl != std::string::npos) s.resize(nl);
  return s;
}

void check_params(const Statement& st, const Params& params) {
  if (params.size() != static_cast<int>(std::strlen(st.types)))
    throw std::logic_error(std::string("pg statement ") + st.name + ": wrong parameter count");
}

}  // namespace

Params& Params::i64(std::int64_t v) {
  if (int_count_ == static_cast<int>(std::size(ints_)))
    throw std::logic_error("pg statement: more than 16 integer parameters");
  auto& slot = ints_[int_count_++];
  slot = htobe64(static_cast<std::uint64_t>(v));
  values_.push_back(reinterpret_cast<const char*>(&slot));
  lengths_.push_back(8);
  formats_.push_back(1);
  return *this;
}

Params& Params::bytes(std::string_view v) {
  // libpq reads a binary parameter by its length; a null pointer is a NULL value.
  static const char kEmpty = '\0';
  values_.push_back(v.data() != nullptr ? v.data() : &kEmpty);
  lengths_.push_back(static_cast<int>(v.size()));
  formats_.push_back(1);
  return *this;
}

Params& Params::i64_array(std::span<const std::int64_t> v) {
  if (v.empty()) throw std::logic_error("pg statement: an empty bigint[] parameter");
  const auto put32 = [](std::string& out, std::uint32_t x) {
    x = htobe32(x);
    out.append(reinterpret_cast<const char*>(&x), sizeof x);
  };
  // Dimensions, no NULLs, element type; the one dimension's length and lower bound; then
  // each element's length and value.
  auto& out = arrays_.emplace_back();
  out.reserve(20 + 12 * v.size());
  put32(out, 1);
  put32(out, 0);
  put32(out, kInt8);
  put32(out, static_cast<std::uint32_t>(v.size()));
  put32(out, 1);
  for (const auto x : v) {
    put32(out, 8);
    const auto be = htobe64(static_cast<std::uint64_t>(x));
    out.append(reinterpret_cast<const char*>(&be), sizeof be);
  }
  values_.push_back(out.data());
  lengths_.push_back(static_cast<int>(out.size()));
  formats_.push_back(1);
  return *this;
}

Params& Params::null() {
  values_.push_back(nullptr);
  lengths_.push_back(0);
  formats_.push_back(1);
  return *this;
}

Result::Result(pg_result* r) : r_(r) {}
Result::Result(Result&& o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
Result& Result::operator=(Result&& o) noexcept {
  if (this != &o) {
    PQclear(r_);
    r_ = std::exchange(o.r_, nullptr);
  }
  return *this;
}
Result::~Result() { PQclear(r_); }

int Result::rows() const { return r_ != nullptr ? PQntuples(r_) : 0; }

bool Result::is_null(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }

std::int64_t Result::i64(int row, int col) const {
  if (is_null(row, col)) throw std::runtime_error("pg result: NULL where a number was expected");
  const char* v = PQgetvalue(r_, row, col);
  switch (PQftype(r_, col)) {
    case kInt8: {
      std::uint64_t x;
      std::memcpy(&x, v, 8);
      return static_cast<std::int64_t>(be64toh(x));
    }
    case kInt4: {
      std::uint32_t x;
      std::memcpy(&x, v, 4);
      return static_cast<std::int32_t>(be32toh(x));
    }
    case kInt2: {
      std::uint16_t x;
      std::memcpy(&x, v, 2);
      return static_cast<std::int16_t>(be16toh(x));
    }
    case kBool: return *v != 0;
    default: throw std::runtime_error("pg result: column is not an integer (a missing ::bigint?)");
  }
}

bool Result::boolean(int row, int col) const { return i64(row, col) != 0; }

std::string Result::bytes(int row, int col) const {
  if (is_null(row, col)) return {};
  const auto t = PQftype(r_, col);
  if (t != kBytea && t != kText && t != 1043 /* varchar */)
    throw std::runtime_error("pg result: column is not bytes or text");
  return std::string(PQgetvalue(r_, row, col), static_cast<std::size_t>(PQgetlength(r_, row, col)));
}

std::uint64_t Result::affected() const {
  const char* n = PQcmdTuples(r_);
  return n != nullptr && *n != '\0' ? std::stoull(n) : 0;
}

std::string_view Result::command() const {
  const char* tag = r_ != nullptr ? PQcmdStatus(r_) : nullptr;
  return tag != nullptr ? tag : "";
}

Connection::Connection(const std::string& conninfo) {
  // libpq's parse errors quote the token they stopped at, which may be the password: a
  // string that does not parse is refused here, saying only that.
  char* parse_error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(conninfo.c_str(), &parse_error);
  if (parsed == nullptr) {
    PQfreemem(parse_error);
    throw Error("postgresql: the connection string does not parse (key=value pairs or a "
                "postgresql:// URI)", "");
  }
  PQconninfoFree(parsed);
  conn_ = PQconnectdb(conninfo.c_str());
  if (conn_ == nullptr) throw Error("postgresql: out of memory", "");
  if (PQstatus(conn_) != CONNECTION_OK) {
    const auto why = first_line(PQerrorMessage(conn_));
    PQfinish(conn_);
    conn_ = nullptr;
    throw Error("postgresql: cannot connect: " + why, "");
  }
  // Nothing the server says goes to the relay's stderr on its own (libpq prints notices by
  // default); failures come back as exceptions.
  PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
}

Connection::~Connection() {
  if (conn_ != nullptr) PQfinish(conn_);
}

bool Connection::ensure_open() {
  // A pipeline still open here lost its Sync (round_trip): the connection is made again.
  if (PQstatus(conn_) == CONNECTION_OK && PQpipelineStatus(conn_) == PQ_PIPELINE_OFF &&
      session_set_)
    return true;
  PQreset(conn_);
  prepared_.clear();
  queued_.clear();
  tx_ = Tx::None;
  if (PQstatus(conn_) != CONNECTION_OK) return false;
  // A pipeline the lost connection was in ends with it.
  if (PQpipelineStatus(conn_) != PQ_PIPELINE_OFF) PQexitPipelineMode(conn_);
  if (session_sql_.empty()) return true;
  // Until its settings are back, the connection is not usable: the next call makes it again.
  session_set_ = false;
  try {
    exec(session_sql_.c_str());
    session_set_ = true;
    return true;
  } catch (const Error&) {
    return false;
  }
}

void Connection::set_session(std::string sql) {
  exec(sql.c_str());
  session_sql_ = std::move(sql);
}

Result Connection::check(pg_result* r, const char* what) {
  Result owned(r);
  const auto status = r != nullptr ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return owned;
  std::string sqlstate;
  std::string msg;
  if (r != nullptr) {
    if (const char* s = PQresultErrorField(r, PG_DIAG_SQLSTATE)) sqlstate = s;
    msg = first_line(PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
  }
  if (msg.empty()) msg = first_line(PQerrorMessage(conn_));
  throw Error(std::string("postgresql: ") + what + ": " + msg, sqlstate);
}

Error Connection::client_error(const char* what) const {
  return Error(std::string("postgresql: ") + what + ": " + first_line(PQerrorMessage(conn_)), "");
}

void Connection::enter_pipeline() {
  if (!queued_.empty()) return;
  if (PQenterPipelineMode(conn_) != 1) throw client_error("cannot start a pipeline");
}

bool Connection::is_prepared(const char* name) const {
  return std::find(prepared_.begin(), prepared_.end(), name) != prepared_.end();
}

void Connection::send_prepare(const Statement& st) {
  std::vector<Oid> types;
  for (const char* t = st.types; *t != '\0'; ++t) types.push_back(oid_of(*t));
  if (PQsendPrepare(conn_, st.name, st.sql, static_cast<int>(types.size()), types.data()) != 1)
    throw client_error(st.name);
  // Taken as prepared from here, so a second use in the same pipeline does not prepare it
  // again; round_trip forgets it if the server refused.
  prepared_.push_back(st.name);
  queued_.push_back({st.name, true});
}

bool Connection::needs_begin(const Statement& st) const {
  if (tx_ != Tx::Pending) return false;
  if (std::strncmp(st.sql, "SELECT ", 7) != 0) return true;
  // Row locks, and the functions that change something from a SELECT.
  for (const char* sign : {" FOR UPDATE", " FOR NO KEY UPDATE", " FOR SHARE", " FOR KEY SHARE",
                           "nextval(", "setval(", "pg_advisory"})
    if (std::strstr(st.sql, sign) != nullptr) return true;
  return false;
}

void Connection::begin() { tx_ = Tx::Pending; }

void Connection::begin_now() {
  if (tx_ != Tx::Pending) return;
  send_sql("BEGIN", {});
  tx_ = Tx::Begun;
}

void Connection::commit() {
  // A COMMIT that fails leaves the transaction begun: the caller's rollback() ends it.
  if (tx_ == Tx::Begun) {
    // In a transaction an error already ended, PostgreSQL answers COMMIT with a ROLLBACK,
    // not an error: that must not pass for a commit. (Every error is thrown by the round
    // trip that carries it, so this is a second line, not the first.)
    if (query("COMMIT").command() == "ROLLBACK")
      throw Error("COMMIT: the transaction had failed, and was rolled back", "25P02");
  } else if (!queued_.empty()) {
    round_trip();  // reads alone, whose results are still owed
  }
  tx_ = Tx::None;
}

void Connection::rollback() {
  const bool begun = std::exchange(tx_, Tx::None) == Tx::Begun;
  discard_queued();
  if (begun) exec("ROLLBACK");
}

void Connection::send_query(const Statement& st, const Params& params, Then then) {
  check_params(st, params);
  if (needs_begin(st)) begin_now();
  enter_pipeline();
  if (!is_prepared(st.name)) send_prepare(st);
  if (PQsendQueryPrepared(conn_, st.name, params.size(), params.values(), params.lengths(),
                          params.formats(), 1) != 1)
    throw client_error(st.name);
  queued_.push_back({st.name, false, std::move(then)});
}

void Connection::queue(const Statement& st, const Params& params) { send_query(st, params, {}); }

void Connection::queue_read(const Statement& st, const Params& params) {
  send_query(st, params, keep());
}

void Connection::queue_read(const Statement& st, const Params& params, Then then) {
  send_query(st, params, std::move(then));
}

std::vector<Result> Connection::read_queued() {
  round_trip();
  return std::move(kept_);
}

void Connection::send_sql(const char* sql, Then then) {
  enter_pipeline();
  if (PQsendQueryParams(conn_, sql, 0, nullptr, nullptr, nullptr, nullptr, 1) != 1)
    throw client_error(sql);
  queued_.push_back({sql, false, std::move(then)});
}

void Connection::defer(const char* sql) {
  begin_now();
  send_sql(sql, {});
}

void Connection::discard_queued() {
  if (queued_.empty()) return;
  try {
    round_trip();
  } catch (const Error&) {
    // What failed is rolled back next; a lost connection is found by the ROLLBACK.
  }
}

void Connection::round_trip() {
  auto items = std::move(queued_);
  queued_.clear();
  kept_.clear();
  std::optional<Error> failed;
  const auto forget_prepared = [&](const Queued& q) {
    if (q.prepares) std::erase(prepared_, q.what);
  };
  if (PQpipelineSync(conn_) != 1) {
    // Nothing was read: the connection is gone (ensure_open makes it again).
    for (const auto& q : items) forget_prepared(q);
    throw client_error("connection lost");
  }
  bool lost = false;
  for (std::size_t i = 0; i < items.size(); ++i) {
    pg_result* r = lost ? nullptr : PQgetResult(conn_);
    if (r == nullptr) {
      // The connection broke: no result will come for this statement or the ones after.
      lost = true;
      forget_prepared(items[i]);
      if (!failed) failed.emplace(client_error("connection lost"));
      continue;
    }
    const auto status = PQresultStatus(r);
    if (status == PGRES_PIPELINE_ABORTED) {
      // Skipped by the server after an earlier statement failed.
      forget_prepared(items[i]);
      PQclear(r);
    } else if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      forget_prepared(items[i]);
      try {
        check(r, items[i].what);
      } catch (const Error& e) {
        if (!failed) failed.emplace(e);
      }
    } else if (items[i].then) {
      items[i].then(Result(r));
    } else {
      PQclear(r);
    }
    // Each statement's results end with a null.
    while (pg_result* more = PQgetResult(conn_)) PQclear(more);
  }
  if (!lost) {
    pg_result* sync = PQgetResult(conn_);
    if (sync == nullptr || PQresultStatus(sync) != PGRES_PIPELINE_SYNC) lost = true;
    PQclear(sync);
  }
  if (!lost) PQexitPipelineMode(conn_);
  if (failed) throw *failed;
  if (lost) throw client_error("connection lost");
}

void Connection::exec(const char* sql) {
  if (queued_.empty()) {
    check(PQexec(conn_, sql), "statement failed");
    return;
  }
  if (std::strchr(sql, ';') != nullptr) {
    // Several statements go only by the simple protocol, outside a pipeline.
    round_trip();
    check(PQexec(conn_, sql), "statement failed");
    return;
  }
  send_sql(sql, {});
  round_trip();
}

Result Connection::query(const char* sql) {
  if (queued_.empty())
    return check(PQexecParams(conn_, sql, 0, nullptr, nullptr, nullptr, nullptr, 1),
                 "query failed");
  send_sql(sql, keep());
  round_trip();
  return std::move(kept_.back());
}

Result Connection::run(const Statement& st, const Params& params) {
  if (queued_.empty() && is_prepared(st.name) && !needs_begin(st)) {
    check_params(st, params);
    return check(PQexecPrepared(conn_, st.name, params.size(), params.values(), params.lengths(),
                                params.formats(), 1),
                 st.name);
  }
  queue_read(st, params);
  round_trip();
  return std::move(kept_.back());
}

}  // namespace parley::store::pg
