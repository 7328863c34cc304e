#pragma once
namespace SQLite {
class Database;
}

namespace parley::store {

// Brings the database to the newest schema, one step per version (PRAGMA user_version), each
// step in its own transaction. Throws when the file is newer than this relay understands.
void migrate_schema(SQLite::Database& db);

inline constexpr int kSchemaVersion = 12;

}  // namespace parley::store
