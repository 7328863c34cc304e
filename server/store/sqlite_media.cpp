#include "store/sqlite_media.hpp"

#include <SQLiteCpp/Database.h>

#include "store/sqlite_statement.hpp"

namespace parley::store {
namespace {

std::int64_t i64(std::uint64_t v) { return static_cast<std::int64_t>(v); }

constexpr const char* kColumns = "id, owner, size, sha256, created_ms, completed_ms";

MediaRecord row(SQLite::Statement& st) {
  MediaRecord m;
  m.id = st.getColumn(0).getString();
  m.owner = st.getColumn(1).getInt64();
  m.size = as_u64(st.getColumn(2));
  if (!st.getColumn(3).isNull()) m.sha256 = st.getColumn(3).getString();
  m.created_ms = as_u64(st.getColumn(4));
  if (!st.getColumn(5).isNull()) m.completed_ms = as_u64(st.getColumn(5));
  return m;
}

}  // namespace

struct SqliteMedia::Statements {
  explicit Statements(SQLite::Database& db)
      : insert(db, "INSERT INTO media(id, owner, size, created_ms) VALUES(?, ?, ?, ?)"),
        find(db, std::string("SELECT ") + kColumns + " FROM media WHERE id = ?"),
        bytes_of(db, "SELECT COALESCE(SUM(size), 0) FROM media WHERE owner = ?"),
        unfinished(db,
                   "SELECT COUNT(*) FROM media WHERE owner = ? AND sha256 IS NULL "
                   "AND created_ms >= ?"),
        complete(db, "UPDATE media SET sha256 = ?, completed_ms = ? WHERE id = ?"),
        expired(db, std::string("SELECT ") + kColumns +
                        " FROM media WHERE created_ms < ? OR (sha256 IS NULL AND created_ms < ?)"),
        remove(db, "DELETE FROM media WHERE id = ?"),
        referenced(db, "SELECT 1 FROM media WHERE sha256 = ? LIMIT 1") {}

  SQLite::Statement insert, find, bytes_of, unfinished, complete, expired, remove, referenced;
};

SqliteMedia::SqliteMedia(SQLite::Database& db) : st_(std::make_unique<Statements>(db)) {}
SqliteMedia::~SqliteMedia() = default;

void SqliteMedia::create(const MediaRecord& media) {
  auto& st = fresh(st_->insert);
  bind_blob(st, 1, media.id);
  st.bind(2, media.owner);
  st.bind(3, i64(media.size));
  st.bind(4, i64(media.created_ms));
  st.exec();
}

std::optional<MediaRecord> SqliteMedia::find(std::string_view media_id) {
  auto& st = fresh(st_->find);
  bind_blob(st, 1, media_id);
  if (!st.executeStep()) return std::nullopt;
  return row(st);
}

std::uint64_t SqliteMedia::bytes_of(UserId owner) {
  auto& st = fresh(st_->bytes_of);
  st.bind(1, owner);
  st.executeStep();
  return as_u64(st.getColumn(0));
}

std::uint32_t SqliteMedia::unfinished(UserId owner, std::uint64_t since_ms) {
  auto& st = fresh(st_->unfinished);
  st.bind(1, owner);
  st.bind(2, i64(since_ms));
  st.executeStep();
  return static_cast<std::uint32_t>(st.getColumn(0).getInt64());
}

bool SqliteMedia::complete(std::string_view media_id, std::string_view sha256,
                           std::uint64_t now_ms) {
  auto& st = fresh(st_->complete);
  bind_blob(st, 1, sha256);
  st.bind(2, i64(now_ms));
  bind_blob(st, 3, media_id);
  return st.exec() > 0;
}

std::vector<MediaRecord> SqliteMedia::purge(std::uint64_t before_ms,
                                            std::uint64_t unfinished_before_ms) {
  std::vector<MediaRecord> out;
  auto& st = fresh(st_->expired);
  st.bind(1, i64(before_ms));
  st.bind(2, i64(unfinished_before_ms));
  while (st.executeStep()) out.push_back(row(st));
  for (const auto& m : out) {
    auto& del = fresh(st_->remove);
    bind_blob(del, 1, m.id);
    del.exec();
  }
  return out;
}

bool SqliteMedia::referenced(std::string_view sha256) {
  auto& st = fresh(st_->referenced);
  bind_blob(st, 1, sha256);
  return st.executeStep();
}

}  // namespace parley::store
