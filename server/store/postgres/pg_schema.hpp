#pragma once
// The PostgreSQL store's tables, made or brought up to date when a relay starts. Several
// relays may start at once against one database: the steps run under an advisory lock.
#include "store/postgres/pg_connection.hpp"

namespace parley::store::pg {

inline constexpr int kSchemaVersion = 3;

void migrate_schema(Connection& db);

}  // namespace parley::store::pg
