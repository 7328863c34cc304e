#include "store/sqlite_marks.hpp"

#include <SQLiteCpp/Database.h>

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
                      "(SELECT id FROM devices WHERE user_id = ?)") {}

  SQLite::Statement find, insert, update, after, forget_member;
};

// A version given out by a commit a power cut then took back may already be on a client,
// which would skip a mark given it again: each run starts above every version the previous
// one gave out (run_floor.hpp). The counter is stored when a run starts and then only every
// 2^30 raises, not with every commit that raised a mark: one WAL frame in eight at moderate
// load (docs/performance-log.md).
SqliteMarks::SqliteMarks(SQLite::Database& db)
    : st_(std::make_unique<Statements>(db)),
      floor_(db, "mark_version", [] { return RunFloor::kRunGap; }),
      version_(floor_.start()) {}

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
  floor_.handed_out(next);
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
  return MarkRaised{next, start, std::nullopt};  // its one writer tells marks in order
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

}  // namespace parley::store
