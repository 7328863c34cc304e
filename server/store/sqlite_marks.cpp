#include "store/sqlite_marks.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Transaction.h>

#include <string>

#include "store/sqlite_statement.hpp"

namespace parley::store {

struct SqliteMarks::Statements {
  explicit Statements(SQLite::Database& db)
      // A look and then an UPDATE or INSERT, not one upsert with RETURNING: RETURNING
      // builds an ephemeral table on every call, which cost more than the second seek.
      : find(db,
             "SELECT up_to, from_seq FROM delivery_marks WHERE owner = ? AND reader = ? AND "
             "group_id = ?"),
        insert(db,
               "INSERT INTO delivery_marks(owner, reader, group_id, from_seq, up_to, acked_ms, "
               "version) VALUES(?, ?, ?, ?, ?, ?, ?)"),
        update(db,
               "UPDATE delivery_marks SET up_to = ?, acked_ms = ?, version = ? WHERE owner = ? "
               "AND reader = ? AND group_id = ?"),
        after(db,
              "SELECT u.username, d.device_id, m.group_id, m.from_seq, m.up_to, m.acked_ms, "
              "m.version FROM delivery_marks m JOIN devices d ON d.id = m.reader JOIN users u "
              "ON u.id = d.user_id WHERE m.owner = ? AND m.version > ? ORDER BY m.version "
              "LIMIT ?"),
        forget_member(db,
                      "DELETE FROM delivery_marks WHERE group_id = ? AND reader IN "
                      "(SELECT id FROM devices WHERE user_id = ?)"),
        load_version(db, "SELECT value FROM meta WHERE key = 'mark_version'"),
        save_version(db,
                     "INSERT INTO meta(key, value) VALUES('mark_version', ?) "
                     "ON CONFLICT(key) DO UPDATE SET value = excluded.value") {}

  SQLite::Statement find, insert, update, after, forget_member, load_version, save_version;
};

namespace {
// Versions handed out in a previous run may be higher than the stored counter: with
// --durability normal a power loss can take back commits whose marks were already pushed,
// and a data directory can be restored from a backup. A client that saw such a version would
// then skip marks given it again, so each run starts this far above the stored counter
// (gaps are harmless; 2^31 runs fit in the 63 bits a version may use).
constexpr std::uint64_t kRunGap = std::uint64_t{1} << 32;
// Because of that gap the stored counter need not follow every raise. A run's start is
// stored, and synced, before the run hands out any version: if a power loss then takes back
// every commit of the run, the next one still starts above all its versions. After that it
// is written when the versions have run this far ahead of it (every 2^30 raises, about a day
// at 10,000 a second), which keeps the next run's start at least 2^31 above every version
// this one hands out even if a power loss took back the last write. A commit that raised
// marks then writes the marks' pages only, not the meta row's page too: one WAL frame in
// eight at moderate load (docs/performance.md).
constexpr std::uint64_t kSaveAhead = kRunGap / 4;
}  // namespace

SqliteMarks::SqliteMarks(SQLite::Database& db) : st_(std::make_unique<Statements>(db)) {
  auto& st = fresh(st_->load_version);
  std::uint64_t stored = 0;
  if (st.executeStep()) stored = as_u64(st.getColumn(0));
  st.reset();
  version_ = stored + kRunGap;
  // One synced commit per start, whatever the durability: under synchronous=NORMAL a WAL
  // commit is not synced, and the start must not be lost with the commits that follow it.
  const auto synchronous = db.execAndGet("PRAGMA synchronous").getInt();
  db.exec("PRAGMA synchronous=FULL");
  {
    SQLite::Transaction tx(db);
    save(version_);
    tx.commit();
  }
  db.exec("PRAGMA synchronous=" + std::to_string(synchronous));
  written_ = saved_ = version_;
}

SqliteMarks::~SqliteMarks() = default;

std::optional<MarkRaised> SqliteMarks::raise(DevicePk owner, DevicePk reader,
                                                      std::string_view group_id,
                                                      std::uint64_t from, std::uint64_t up_to,
                                                      std::uint64_t acked_ms) {
  auto& look = fresh(st_->find);
  look.bind(1, owner);
  look.bind(2, reader);
  bind_blob(look, 3, group_id);
  const bool exists = look.executeStep();
  const auto had_up_to = exists ? as_u64(look.getColumn(0)) : 0;
  const auto start = exists ? as_u64(look.getColumn(1)) : from;
  look.reset();
  if (exists && had_up_to >= up_to) return std::nullopt;  // a redelivery acknowledged again
  // A rolled-back job leaves a gap in the versions, which nothing relies on being dense.
  const auto next = ++version_;
  auto& st = fresh(exists ? st_->update : st_->insert);
  if (exists) {
    st.bind(1, static_cast<std::int64_t>(up_to));
    st.bind(2, static_cast<std::int64_t>(acked_ms));
    st.bind(3, static_cast<std::int64_t>(next));
    st.bind(4, owner);
    st.bind(5, reader);
    bind_blob(st, 6, group_id);
  } else {
    st.bind(1, owner);
    st.bind(2, reader);
    bind_blob(st, 3, group_id);
    st.bind(4, static_cast<std::int64_t>(from));
    st.bind(5, static_cast<std::int64_t>(up_to));
    st.bind(6, static_cast<std::int64_t>(acked_ms));
    st.bind(7, static_cast<std::int64_t>(next));
  }
  st.exec();
  return MarkRaised{next, start};
}

void SqliteMarks::forget_member(std::string_view group_id, UserId user) {
  auto& st = fresh(st_->forget_member);
  bind_blob(st, 1, group_id);
  st.bind(2, user);
  st.exec();
}

std::vector<DeliveryMarkRecord> SqliteMarks::after(DevicePk owner, std::uint64_t after,
                                                   std::size_t limit) {
  auto& st = fresh(st_->after);
  st.bind(1, owner);
  st.bind(2, static_cast<std::int64_t>(after));
  st.bind(3, static_cast<std::int64_t>(limit));
  std::vector<DeliveryMarkRecord> out;
  while (st.executeStep()) {
    DeliveryMarkRecord m;
    m.reader = st.getColumn(0).getString();
    m.reader_device = as_u32(st.getColumn(1));
    m.group_id = st.getColumn(2).getString();
    m.from = as_u64(st.getColumn(3));
    m.up_to = as_u64(st.getColumn(4));
    m.acked_ms = as_u64(st.getColumn(5));
    m.version = as_u64(st.getColumn(6));
    out.push_back(std::move(m));
  }
  return out;
}

void SqliteMarks::before_commit() {
  if (version_ - written_ >= kSaveAhead) save(version_);
}

void SqliteMarks::save(std::uint64_t version) {
  auto& st = fresh(st_->save_version);
  st.bind(1, static_cast<std::int64_t>(version));
  st.exec();
  written_ = version;
}

}  // namespace parley::store
