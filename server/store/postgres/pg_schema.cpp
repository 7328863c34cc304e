#include "store/postgres/pg_schema.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace parley::store::pg {
namespace {

// Version 1: what SQLite's twelve steps (sqlite_schema.cpp) arrived at, with three changes
// for several relays writing at once:
// * a log entry's reference count is a column of the entry (group_log.refs), changed by one
//   UPDATE, not a table of its own read and then written;
// * each device's inbox weight by sender is a table kept by triggers (inbox_weights; what
//   leaves it counted apart since version 2), where SQLite sums a device's rows once and
//   keeps the sum in the one relay's memory;
// * the relay-wide mark counter is a sequence (a raise locks its owner's device row first,
//   so one owner's versions commit in order: postgres_store.cpp).
// Byte strings are bytea; names (users, senders) are text, as the relay validates them.
// A version's steps and its number are committed together.
void step_1(Connection& db) {
  db.exec(R"sql(
    CREATE TABLE meta(key text PRIMARY KEY, value bytea NOT NULL);
    CREATE TABLE users(
      id bigserial PRIMARY KEY,
      username text NOT NULL UNIQUE,
      created_ms bigint NOT NULL);
    CREATE TABLE devices(
      id bigserial PRIMARY KEY,
      user_id bigint NOT NULL REFERENCES users(id),
      device_id bigint NOT NULL,
      identity_key bytea NOT NULL,
      inbox_tail bigint NOT NULL DEFAULT 0,
      signed_prekey_id bigint,
      signed_prekey bytea,
      signed_prekey_sig bytea,
      UNIQUE(user_id, device_id));
    CREATE TABLE one_time_prekeys(
      device bigint NOT NULL REFERENCES devices(id),
      key_id bigint NOT NULL,
      public_key bytea NOT NULL,
      PRIMARY KEY(device, key_id));
    CREATE TABLE conversations(
      conv_key bytea PRIMARY KEY,
      last_seq bigint NOT NULL);
    CREATE TABLE sent(
      client_msg_id bytea NOT NULL,
      sender bigint NOT NULL,
      conv_seq bigint NOT NULL,
      server_ts bigint NOT NULL,
      PRIMARY KEY(client_msg_id, sender));
    CREATE INDEX sent_by_time ON sent(server_ts);
    CREATE TABLE inbox(
      device bigint NOT NULL REFERENCES devices(id),
      seq bigint NOT NULL,
      kind bigint NOT NULL,
      sender text NOT NULL,
      sender_device bigint NOT NULL,
      sender_pk bigint NOT NULL,
      client_msg_id bytea NOT NULL,
      conv_seq bigint NOT NULL,
      server_ts bigint NOT NULL,
      content_hint bigint NOT NULL,
      ciphertext bytea,
      group_id bytea,
      span bigint NOT NULL DEFAULT 1,
      conv_last bigint,
      PRIMARY KEY(device, seq));
    CREATE INDEX inbox_by_time ON inbox(server_ts);
    CREATE TABLE inbox_weights(
      device bigint NOT NULL,
      sender_pk bigint NOT NULL,
      bytes bigint NOT NULL,
      PRIMARY KEY(device, sender_pk));
    CREATE FUNCTION inbox_weighs_in() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO inbox_weights(device, sender_pk, bytes)
        VALUES(NEW.device, NEW.sender_pk, COALESCE(length(NEW.ciphertext), 0) + 128)
        ON CONFLICT(device, sender_pk) DO UPDATE SET bytes = inbox_weights.bytes + excluded.bytes;
      RETURN NULL;
    END $$;
    CREATE FUNCTION inbox_weighs_out() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE inbox_weights SET bytes = bytes - (COALESCE(length(OLD.ciphertext), 0) + 128)
        WHERE device = OLD.device AND sender_pk = OLD.sender_pk;
      DELETE FROM inbox_weights WHERE device = OLD.device AND sender_pk = OLD.sender_pk
        AND bytes <= 0;
      RETURN NULL;
    END $$;
    CREATE TRIGGER inbox_weighs_in AFTER INSERT ON inbox FOR EACH ROW
      WHEN (NEW.group_id IS NULL) EXECUTE FUNCTION inbox_weighs_in();
    CREATE TRIGGER inbox_weighs_out AFTER DELETE ON inbox FOR EACH ROW
      WHEN (OLD.group_id IS NULL) EXECUTE FUNCTION inbox_weighs_out();

    CREATE TABLE groups(
      id bytea PRIMARY KEY,
      created_ms bigint NOT NULL,
      next_seq bigint NOT NULL DEFAULT 1,
      epoch bigint NOT NULL DEFAULT 0);
    CREATE TABLE group_members(
      id bigserial PRIMARY KEY,
      group_id bytea NOT NULL REFERENCES groups(id),
      user_id bigint NOT NULL REFERENCES users(id),
      admin boolean NOT NULL,
      joined_seq bigint NOT NULL,
      left_seq bigint);
    CREATE INDEX group_members_by_group ON group_members(group_id, user_id);
    CREATE TABLE group_log(
      group_id bytea NOT NULL REFERENCES groups(id),
      seq bigint NOT NULL,
      kind bigint NOT NULL,
      sender text NOT NULL,
      sender_device bigint NOT NULL,
      sender_pk bigint NOT NULL,
      client_msg_id bytea NOT NULL,
      server_ts bigint NOT NULL,
      content_hint bigint NOT NULL,
      payload bytea NOT NULL,
      refs bigint NOT NULL DEFAULT 1,
      PRIMARY KEY(group_id, seq));
    CREATE TABLE group_fanout(
      group_id bytea PRIMARY KEY REFERENCES groups(id),
      done_seq bigint NOT NULL DEFAULT 0,
      done_device bigint NOT NULL DEFAULT 0,
      range_end bigint NOT NULL DEFAULT 0);
    CREATE TABLE group_sender_bytes(
      sender_pk bigint PRIMARY KEY,
      bytes bigint NOT NULL,
      pending bigint NOT NULL DEFAULT 0);
    CREATE FUNCTION group_log_weighs_in() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO group_sender_bytes(sender_pk, bytes)
        VALUES(NEW.sender_pk, length(NEW.payload) + 128)
        ON CONFLICT(sender_pk) DO UPDATE SET bytes = group_sender_bytes.bytes + excluded.bytes;
      RETURN NULL;
    END $$;
    CREATE FUNCTION group_log_weighs_out() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE group_sender_bytes SET bytes = bytes - (length(OLD.payload) + 128)
        WHERE sender_pk = OLD.sender_pk;
      DELETE FROM group_sender_bytes WHERE sender_pk = OLD.sender_pk AND bytes <= 0;
      RETURN NULL;
    END $$;
    CREATE TRIGGER group_log_weighs_in AFTER INSERT ON group_log FOR EACH ROW
      EXECUTE FUNCTION group_log_weighs_in();
    CREATE TRIGGER group_log_weighs_out AFTER DELETE ON group_log FOR EACH ROW
      EXECUTE FUNCTION group_log_weighs_out();

    CREATE TABLE delivery_marks(
      owner bigint NOT NULL REFERENCES devices(id),
      reader bigint NOT NULL REFERENCES devices(id),
      group_id bytea NOT NULL,
      from_seq bigint NOT NULL,
      up_to bigint NOT NULL,
      acked_ms bigint NOT NULL,
      version bigint NOT NULL,
      PRIMARY KEY(owner, reader, group_id));
    CREATE INDEX delivery_marks_by_group ON delivery_marks(group_id, reader);
    CREATE INDEX delivery_marks_by_version ON delivery_marks(owner, version);
    CREATE SEQUENCE mark_version;

    CREATE TABLE media(
      id bytea PRIMARY KEY,
      owner bigint NOT NULL REFERENCES users(id),
      size bigint NOT NULL,
      sha256 bytea,
      created_ms bigint NOT NULL,
      completed_ms bigint);
    CREATE INDEX media_by_owner ON media(owner, created_ms);
    CREATE INDEX media_by_created ON media(created_ms);
    CREATE INDEX media_by_sha256 ON media(sha256);
  )sql");
}

// What leaves an inbox is summed in a table of its own: a send of one sender's message to a
// device and that device's acknowledgement of the one before no longer update the same
// row, which either writer held to its commit while the other waited (and, with other rows
// taken in the other order, deadlocked). A device's weight from a sender is what came in
// less what went out; both only grow.
void step_2(Connection& db) {
  db.exec(R"sql(
    CREATE TABLE inbox_weights_out(
      device bigint NOT NULL,
      sender_pk bigint NOT NULL,
      bytes bigint NOT NULL,
      PRIMARY KEY(device, sender_pk));
    CREATE OR REPLACE FUNCTION inbox_weighs_out() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO inbox_weights_out(device, sender_pk, bytes)
        VALUES(OLD.device, OLD.sender_pk, COALESCE(length(OLD.ciphertext), 0) + 128)
        ON CONFLICT(device, sender_pk) DO UPDATE SET bytes = inbox_weights_out.bytes + excluded.bytes;
      RETURN NULL;
    END $$;
  )sql");
}

// The weights are summed by the relay that writes the rows, over its transaction, and written
// once at its commit for all its rows (postgres_store.cpp): a trigger per row cost more than
// every other statement of a delete but one, and as much as the rest of an insert. Its
// connections say so (parley.writer_weighs_inbox); a relay of an earlier version, still
// running while the gateways are upgraded one by one, does not, and the triggers go on
// weighing its rows.
void step_3(Connection& db) {
  db.exec(R"sql(
    DROP TRIGGER inbox_weighs_in ON inbox;
    DROP TRIGGER inbox_weighs_out ON inbox;
    CREATE TRIGGER inbox_weighs_in AFTER INSERT ON inbox FOR EACH ROW
      WHEN (NEW.group_id IS NULL AND
            current_setting('parley.writer_weighs_inbox', true) IS DISTINCT FROM 'on')
      EXECUTE FUNCTION inbox_weighs_in();
    CREATE TRIGGER inbox_weighs_out AFTER DELETE ON inbox FOR EACH ROW
      WHEN (OLD.group_id IS NULL AND
            current_setting('parley.writer_weighs_inbox', true) IS DISTINCT FROM 'on')
      EXECUTE FUNCTION inbox_weighs_out();
  )sql");
}

using Step = void (*)(Connection&);
constexpr Step kSteps[] = {step_1, step_2, step_3};
static_assert(std::size(kSteps) == kSchemaVersion);

// Any constant, the same in every relay: the key of the lock held while the schema changes.
#define PARLEY_SCHEMA_LOCK_KEY "5072617261"

// Holds the schema's advisory lock for the whole migration, at session level: a lock taken per
// transaction would go to the next starting relay at each rolled-back try, which would queue
// its own request for the same table lock at once and fill the pause meant for the traffic.
// Waited for without a bound whatever the server's default lock_timeout: a relay starting
// beside one that is upgrading waits for it.
class SchemaLock {
 public:
  explicit SchemaLock(Connection& db) : db_(db) {
    db_.exec("BEGIN");
    try {
      db_.exec("SET LOCAL lock_timeout = 0");
      db_.exec("SELECT pg_advisory_lock(" PARLEY_SCHEMA_LOCK_KEY ")");
      db_.exec("COMMIT");  // a session-level lock outlives the transaction that took it
    } catch (...) {
      db_.exec("ROLLBACK");
      throw;
    }
  }
  ~SchemaLock() {
    try {
      db_.exec("SELECT pg_advisory_unlock(" PARLEY_SCHEMA_LOCK_KEY ")");
    } catch (const std::exception&) {
      // A connection gone took the lock with it.
    }
  }
  SchemaLock(const SchemaLock&) = delete;
  SchemaLock& operator=(const SchemaLock&) = delete;

 private:
  Connection& db_;
};

// One step's tries at its table locks, each given up after MigrationWaits::lock_wait: the
// pause before the next, or, once they have gone on for give_up, why the relay cannot start.
class LockTries {
 public:
  explicit LockTries(const MigrationWaits& waits) : waits_(waits) {}

  // The step went through: the next one starts afresh.
  void reset() {
    tries_ = 0;
    pause_ = kFirstPause;
  }

  // After a wait that ran out, for `step` (0: the version table, not read yet): sleeps
  // before the next try, or throws.
  void pause_or_give_up(int step) {
    const auto now = Clock::now();
    if (tries_++ == 0) first_ = now;
    if (now - first_ + pause_ > waits_.give_up) {
      const auto what = step == 0 ? std::string("the schema's version table")
                                  : "schema step " + std::to_string(step);
      throw std::runtime_error(fmt::format(
          "{} could not lock its tables: {} waits of {} ms ran out over {:.1f} s; a long "
          "transaction holds them (see pg_stat_activity): end it and start the relay again",
          what, tries_, waits_.lock_wait.count(),
          std::chrono::duration<double>(now - first_).count()));
    }
    spdlog::warn("event=schema_step_waiting step={} tries={}",
                 step == 0 ? "version_table" : std::to_string(step), tries_);
    std::this_thread::sleep_for(pause_);
    pause_ = std::min(pause_ * 2, kLongestPause);
  }

 private:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kFirstPause{50}, kLongestPause{2000};
  const MigrationWaits& waits_;
  int tries_ = 0;
  Clock::time_point first_;  // when the first wait ran out
  std::chrono::milliseconds pause_ = kFirstPause;
};

}  // namespace

void migrate_schema(Connection& db, const MigrationWaits& waits) {
  const SchemaLock lock(db);
  const auto set_wait = fmt::format("SET LOCAL lock_timeout = '{}ms'", waits.lock_wait.count());
  LockTries tries(waits);
  for (;;) {
    int current = -1;  // not read yet
    db.exec("BEGIN");
    try {
      db.exec(set_wait.c_str());
      db.exec("CREATE TABLE IF NOT EXISTS parley_schema(version integer NOT NULL)");
      auto r = db.query("SELECT version FROM parley_schema");
      current = r.empty() ? 0 : static_cast<int>(r.i64(0, 0));
      if (current > kSchemaVersion) {
        throw std::runtime_error("the database has Parley schema version " +
                                 std::to_string(current) + ", newer than this relay (" +
                                 std::to_string(kSchemaVersion) + "); upgrade parley-relay");
      }
      if (current == kSchemaVersion) {
        db.exec("COMMIT");
        return;
      }
      kSteps[current](db);
      db.exec(r.empty() ? "INSERT INTO parley_schema(version) VALUES(1)"
                        : "UPDATE parley_schema SET version = version + 1");
      db.exec("COMMIT");
      tries.reset();
    } catch (const Error& e) {
      db.exec("ROLLBACK");
      if (e.sqlstate() != "55P03") throw;  // lock_not_available: the lock wait ran out
      tries.pause_or_give_up(current + 1);
    } catch (...) {
      db.exec("ROLLBACK");
      throw;
    }
  }
}

#undef PARLEY_SCHEMA_LOCK_KEY

}  // namespace parley::store::pg
