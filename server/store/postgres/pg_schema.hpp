#pragma once
// The PostgreSQL store's tables, made or brought up to date when a relay starts. Several
// relays may start at once against one database: the steps run under an advisory lock.
#include <chrono>

#include "store/postgres/pg_connection.hpp"

namespace parley::store::pg {

inline constexpr int kSchemaVersion = 3;

// How long a step waits for the table locks its DDL takes. Other gateways keep running while
// one upgrades the schema, and a lock request waiting behind a long transaction of theirs
// queues every later statement on that table behind it: the whole tier would stall for as
// long as that transaction lasts. So a step gives up its wait after `lock_wait`, rolls back,
// and tries again after a pause, which lets the queued statements through; after `give_up`
// the relay does not start, saying why.
struct MigrationWaits {
  std::chrono::milliseconds lock_wait{500};
  std::chrono::milliseconds give_up{std::chrono::minutes(2)};
};

void migrate_schema(Connection& db, const MigrationWaits& waits = {});

}  // namespace parley::store::pg
