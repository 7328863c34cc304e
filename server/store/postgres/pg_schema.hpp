#pragma once
// The PostgreSQL store's tables, made or brought up to date when a relay starts. Several
// relays may start at once against one database: the steps run under an advisory lock.
#include <chrono>

#include "store/postgres/pg_connection.hpp"

namespace parley::store::pg {

inline constexpr int kSchemaVersion = 3;

// How long a relay's statement waits for a lock another writer holds (its connections'
// lock_timeout, postgres_store.cpp): two gateways' batches can take the same rows in opposite
// orders, and giving up sooner than PostgreSQL's deadlock check breaks that sooner.
inline constexpr std::chrono::milliseconds kStatementLockWait{200};

// How long a schema step waits for the table locks its DDL takes. Other gateways keep running
// while one upgrades the schema, and a lock request waiting behind a long transaction of
// theirs queues every later statement on that table behind it: the whole tier would stall
// for as long as that transaction lasts. So a step gives up its wait after `lock_wait`, rolls
// back, and tries again after a pause (50 ms, doubling up to 2 s), which lets the queued
// statements through; once its tries have gone on for `give_up`, the relay does not start,
// saying why.
struct MigrationWaits {
  // Shorter than the other gateways' own wait, so their statements queued behind a try are
  // delayed, not failed.
  std::chrono::milliseconds lock_wait{kStatementLockWait / 2};
  std::chrono::milliseconds give_up{std::chrono::minutes(2)};
};
static_assert(MigrationWaits{}.lock_wait < kStatementLockWait);

void migrate_schema(Connection& db, const MigrationWaits& waits = {});

}  // namespace parley::store::pg
