#include "store/sqlite_store.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <sodium.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/account_cache.hpp"
#include "store/deferred_sums.hpp"
#include "store/inbox_weights.hpp"
#include "store/range_rows.hpp"
#include "store/run_floor.hpp"
#include "store/sqlite_row_statement.hpp"
#include "store/sqlite_schema.hpp"
#include "store/sqlite_small_blocks.hpp"
#include "store/sqlite_statement.hpp"
#include "store/wal_write_batching.hpp"

namespace parley::store {

struct SqliteStore::Impl {
  SQLite::Database db;
  // Every inbox_seq this run gives is above it, so above every one an earlier run gave, even
  // a seq whose commit a power cut took back after the device had it and acknowledged it
  // (run_floor.hpp): the next entry must not take a number the device's cursor has passed.
  // A relay's first run starts at 0; an upgraded one that never kept the floor starts above
  // the highest seq it knows of.
  RunFloor inbox_floor;
  std::uint64_t depth = 0;
  std::uint64_t depth_at_begin = 0;
  std::uint64_t depth_at_savepoint = 0;

  // Inbox tails: the last inbox_seq given to each device, kept here so that an append does
  // not also update the device's row (that update was a quarter of the store thread's time
  // in the pairs benchmark). The rule that keeps it durable: a transaction that deletes any
  // of a device's entries raises devices.inbox_tail to the tail before it commits, so in
  // every committed state the true tail is max(devices.inbox_tail, MAX(inbox.seq)) and a
  // tail lost here (restart, rollback, eviction between transactions) is rebuilt from the
  // database. Inside a transaction the tail stays here from before the first delete to the
  // commit: a job's rollback takes back only that job's changes (the journal), and eviction
  // waits for the next transaction.
  std::unordered_map<DevicePk, std::uint64_t> tails;
  std::vector<std::pair<DevicePk, std::optional<std::uint64_t>>> tails_journal;  // this job's
  std::vector<DevicePk> tails_to_save;  // devices whose entries this transaction deleted
  std::size_t tails_to_save_at_savepoint = 0;
  static constexpr std::size_t kMaxCachedTails = 1 << 16;
  // Conversation sequences, cached the same way (dropped on every rollback, a job's too, and
  // between transactions when the map is full), so a send
  // writes its conversation's row with a plain UPDATE: the upsert with RETURNING it replaces
  // built an ephemeral table per call and was 14 % of the store thread in the pairs
  // benchmark.
  std::unordered_map<std::string, std::uint64_t> conv_seqs;
  // Each device's inbox weight, in all and by sender (inbox_weights.hpp).
  InboxWeights held;
  std::uint64_t weighings = 0;  // sums from the table
  AccountCache accounts;
  // Log ranges used lately: a group's log entries lo..end and, for a fan-out range, the
  // devices owed them. A fan-out reads its open range once instead of at every step (a range
  // of 64 entries to 1,000 members takes 250 steps; the device query sorts every member),
  // and the members' range rows are expanded from it when they are acknowledged or replayed
  // (an ack of a range no longer cached reads only the entries' senders, and caches nothing,
  // so it cannot push the open range out).
  // Membership cannot change inside a range, and a device registered after it opened was
  // not there when its entries were sent; a log entry never changes while a row names it.
  // Least recently used first, bounded in count and in bytes (payloads up to 200 KiB each),
  // so groups taking turns in the fan-out worker keep theirs; dropped on every rollback, a
  // job's too.
  struct FanoutTarget {
    DevicePk pk;
    std::uint32_t device_id;
    std::string username;
  };
  struct LogRange {
    std::string group_id;
    std::uint64_t lo = 0, end = 0;
    std::vector<std::shared_ptr<InboxEntry>> entries;
    std::optional<std::vector<FanoutTarget>> devices;  // by pk; read when a fan-out needs them
    std::uint64_t newest_ts = 0;
    std::size_t bytes = 0;

    std::span<const std::shared_ptr<InboxEntry>> slice(std::uint64_t from, std::uint64_t to) const {
      return std::span(entries).subspan(from - lo, to - from + 1);
    }
  };
  std::vector<LogRange> log_ranges;
  std::size_t log_range_bytes = 0;
  static constexpr std::size_t kCachedRanges = 64;
  static constexpr std::size_t kCachedRangeBytes = 32u << 20;

  // Open the database and apply pragmas before any statement is prepared.
  static SQLite::Database open(const std::filesystem::path& dir) {
    // SQLite's memory statistics take a process-wide mutex on every allocation, and we read
    // none of them. Possible only before SQLite initialises; later calls are refused
    // (SQLITE_MISUSE) and change nothing, which is harmless.
    static const int memstatus_off = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    (void)memstatus_off;
    // Small blocks SQLite frees are kept per thread and handed out again, as its lookaside
    // would if Debian's build had one (sqlite_small_blocks.hpp). Refused once SQLite has
    // initialised, like the setting below, which says so for both.
    static const bool small_blocks = sqlite_blocks::install();
    (void)small_blocks;
    // Savepoint sub-journals straight to the VFS's memory files (memory_temp_files.hpp), not
    // first through SQLite's own in-memory journal (see temp_store below). Process-wide: a
    // connection on another VFS with temp_store=FILE would write them to unlinked temporary
    // files; the relay opens none. Refused if SQLite was initialised first: still correct,
    // only slower, and said so.
    static const int subjournal_direct = sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, 0);
    if (subjournal_direct != SQLITE_OK)
      spdlog::warn("store: SQLite was initialised before the store; savepoint journals use "
                   "SQLite's own memory journal, and its small blocks go to malloc");
    // NOMUTEX: the connection is only ever used by the store worker's thread (store.hpp),
    // so SQLite's per-call connection mutex would guard nothing. The VFS writes each commit's
    // WAL frames in one system call instead of two per frame (wal_write_batching.hpp).
    const char* vfs = wal_write_batching_vfs();
    SQLite::Database d((dir / "relay.db").string(),
                       SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX, 0,
                       vfs != nullptr ? vfs : "");
    // Everything below (the syncs, the checkpoints, the VFS) assumes the WAL: a file system
    // without shared memory for its index would leave the rollback journal on.
    if (const auto mode = d.execAndGet("PRAGMA journal_mode=WAL").getString(); mode != "wal")
      throw std::runtime_error("relay.db cannot use SQLite's write-ahead log (journal_mode is " +
                               mode + "): put the data directory on a local file system");
    // NORMAL in either mode: SQLite then syncs the WAL at checkpoints (before copying it into
    // relay.db, and relay.db after) and never at a commit. Under Full, commit() syncs it
    // itself once COMMIT has returned, and commit_unsynced() leaves that to the next synced
    // commit or checkpoint: a transaction of fan-out steps alone then costs no fsync
    // (store_worker.hpp, Background). SQLite's FULL would sync every commit, and its safety
    // level cannot change inside a transaction, where the worker learns what it holds.
    d.exec("PRAGMA synchronous=NORMAL");
    d.exec("PRAGMA foreign_keys=ON");
    // Temporary files in memory either way: through this VFS, which keeps them in buffers it
    // reuses (FILE hands them to it), or in SQLite's own memory journal.
    d.exec(vfs != nullptr ? "PRAGMA temp_store=FILE" : "PRAGMA temp_store=MEMORY");
    // A delivered entry is deleted, and its bytes with it: SQLite zeroes deleted cells and
    // freed pages instead of leaving them readable in relay.db. Debian builds SQLite with
    // this on; set here so the relay does not depend on how its SQLite was built. It costs
    // ~7 % of the store thread in a replay drain (docs/performance-log.md).
    d.exec("PRAGMA secure_delete=ON");
    migrate_schema(d);
    return d;
  }

  explicit Impl(const std::filesystem::path& dir, Durability durability)
      : db(open(dir)),
        inbox_floor(db, "inbox_seq_floor",
                    [this] {
                      const auto high = static_cast<std::uint64_t>(
                          db.execAndGet("SELECT MAX(COALESCE((SELECT MAX(inbox_tail) FROM "
                                        "devices), 0), COALESCE((SELECT MAX(seq) FROM inbox), 0))")
                              .getInt64());
                      return high == 0 ? 0 : high + RunFloor::kRunGap;
                    }),
        syncs_commits(durability == Durability::Full),
        // With NORMAL no commit syncs the WAL, so a checkpoint syncs all of it written since
        // the last one: at SQLite's 1,000 pages that held ~1 % of commits 2-5 ms and doubled
        // the open loop's p99. A quarter of it keeps that sync near a millisecond. Full keeps
        // SQLite's 1,000: its commits have synced their frames (but fan-out steps' alone), and
        // checkpointing more often only writes the same pages to relay.db more often
        // (docs/performance-log.md, "Checkpoints every 250 pages").
        checkpoint_pages(durability == Durability::Normal ? SqliteStore::kNormalCheckpointPages
                                                          : SqliteStore::kFullCheckpointPages),
        begin(db, "BEGIN IMMEDIATE"),
        commit(db, "COMMIT"),
        rollback(db, "ROLLBACK"),
        savepoint(db, "SAVEPOINT job"),
        release(db, "RELEASE job"),
        rollback_to(db, "ROLLBACK TO job"),
        find_user(db, "SELECT id FROM users WHERE username = ?"),
        find_device(db,
                    "SELECT d.user_id, d.id, d.device_id, d.identity_key, d.inbox_tail "
                    "FROM devices d JOIN users u ON u.id = d.user_id "
                    "WHERE u.username = ? AND d.device_id = ?"),
        insert_user(db, "INSERT OR IGNORE INTO users(username, created_ms) VALUES(?, ?)"),
        // Only create_account writes these two: the account cache (account_cache.hpp) relies
        // on an account and its devices never changing once made.
        insert_device(db, "INSERT INTO devices(user_id, device_id, identity_key) VALUES(?, ?, ?)"),
        device_addresses(db, "SELECT id, device_id FROM devices WHERE user_id = ? ORDER BY device_id"),
        load_tail(db,
                  "SELECT MAX(d.inbox_tail, COALESCE((SELECT MAX(seq) FROM inbox "
                  "WHERE device = d.id), 0)) FROM devices d WHERE d.id = ?"),
        raise_tail(db, "UPDATE devices SET inbox_tail = ?2 WHERE id = ?1 AND inbox_tail < ?2"),
        set_signed(db,
                   "UPDATE devices SET signed_prekey_id = ?, signed_prekey = ?, "
                   "signed_prekey_sig = ? WHERE id = ?"),
        has_signed(db, "SELECT signed_prekey IS NOT NULL FROM devices WHERE id = ?"),
        add_otp(db,
                "INSERT OR IGNORE INTO one_time_prekeys(device, key_id, public_key) "
                "VALUES(?, ?, ?)"),
        count_otp(db, "SELECT COUNT(*) FROM one_time_prekeys WHERE device = ?"),
        bundle_devices(db,
                       "SELECT id, device_id, identity_key, signed_prekey_id, signed_prekey, "
                       "signed_prekey_sig FROM devices WHERE user_id = ? ORDER BY device_id"),
        take_otp(db,
                 "DELETE FROM one_time_prekeys WHERE device = ?1 AND key_id = "
                 "(SELECT key_id FROM one_time_prekeys WHERE device = ?1 ORDER BY key_id "
                 "LIMIT 1) RETURNING key_id, public_key"),
        find_sent(db,
                  "SELECT conv_seq, server_ts FROM sent WHERE sender = ? AND client_msg_id = ?"),
        insert_sent(db,
                    "INSERT INTO sent(sender, client_msg_id, conv_seq, server_ts) "
                    "VALUES(?, ?, ?, ?)"),
        load_conv(db, "SELECT last_seq FROM conversations WHERE conv_key = ?"),
        insert_conv(db, "INSERT INTO conversations(conv_key, last_seq) VALUES(?, 1)"),
        update_conv(db, "UPDATE conversations SET last_seq = ? WHERE conv_key = ?"),
        insert_inbox(db,
                     "INSERT INTO inbox(device, seq, kind, sender, sender_device, sender_pk, "
                     "client_msg_id, conv_seq, server_ts, content_hint, ciphertext, group_id) "
                     "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
        // A member's row for group entries names a range of the log (schema step 10); its
        // sender_pk is the sender its row is charged to (step 12).
        insert_range(db,
                     "INSERT INTO inbox(device, seq, kind, sender, sender_device, sender_pk, "
                     "client_msg_id, conv_seq, server_ts, content_hint, group_id, span, "
                     "conv_last) VALUES(?1, ?2, 0, '', 0, ?8, x'', ?3, ?4, 0, ?5, ?6, ?7)"),
        // Summed here row by row: a GROUP BY sender would sort the device's rows first. Only
        // 1:1 rows weigh (group_id NULL): not a range row, nor a group row from before schema
        // step 4 (its own copy of the entry). SQLite reads the group rows anyway (the index
        // is on device and seq), so the count of every row is what a sum costs.
        weigh_inbox(db,
                    "SELECT group_id IS NULL, sender_pk, COALESCE(LENGTH(ciphertext), 0) "
                    "FROM inbox WHERE device = ?"),
        read_inbox(db,
                   "SELECT seq, kind, sender, sender_device, sender_pk, client_msg_id, "
                   "conv_seq, server_ts, content_hint, ciphertext, group_id, span, conv_last "
                   "FROM inbox WHERE device = ? AND seq > ? ORDER BY seq LIMIT ?"),
        // Read, then delete: a DELETE with RETURNING builds an ephemeral table on every call,
        // which cost more than reading the same rows twice. Read in order and one row past
        // the ack, which may be a range row the ack ends inside; unbounded because the
        // reader stops there (one seek, where a second query for that row was 3 % of the
        // store thread in the pairs benchmark).
        select_acked(db,
                     "SELECT sender, sender_device, sender_pk, conv_seq, kind, group_id, span, "
                     "conv_last, seq, COALESCE(LENGTH(ciphertext), 0) FROM inbox WHERE device = ? "
                     "ORDER BY seq"),
        delete_acked(db, "DELETE FROM inbox WHERE device = ? AND seq <= ?"),
        trim_range(db, "UPDATE inbox SET span = ?, conv_seq = ? WHERE device = ? AND seq = ?"),
        // Retention without an index on server_ts: a new row's rowid is above every row
        // present, so rowid order is insertion order, which is time order but for group
        // rows fanned out late. Everything old below the first new-enough row goes; an old
        // row above it goes in a later pass, once the rows before it are old too.
        purge_bound(db, "SELECT id FROM inbox WHERE server_ts >= ? ORDER BY id LIMIT 1"),
        purged_rows(db,
                    "SELECT span, group_id, conv_seq, conv_last, device, "
                    "COALESCE(LENGTH(ciphertext), 0), sender_pk FROM inbox "
                    "WHERE id < ?2 AND server_ts < ?1"),
        raise_purged_tails(db,
                           "UPDATE devices SET inbox_tail = MAX(inbox_tail, (SELECT MAX(seq) "
                           "FROM inbox WHERE device = devices.id)) WHERE id IN (SELECT device "
                           "FROM inbox WHERE id < ?2 AND server_ts < ?1)"),
        purge_inbox(db, "DELETE FROM inbox WHERE id < ?2 AND server_ts < ?1"),
        purge_sent(db, "DELETE FROM sent WHERE server_ts < ?"),
        insert_group(db, "INSERT INTO groups(id, created_ms) VALUES(?, ?)"),
        insert_fanout(db, "INSERT INTO group_fanout(group_id) VALUES(?)"),
        find_group(db, "SELECT next_seq, epoch FROM groups WHERE id = ?"),
        group_members(db,
                      "SELECT m.user_id, u.username, m.admin, m.joined_seq FROM group_members m "
                      "JOIN users u ON u.id = m.user_id WHERE m.group_id = ? AND m.left_seq "
                      "IS NULL ORDER BY m.joined_seq, m.id"),
        add_member(db,
                   "INSERT INTO group_members(group_id, user_id, admin, joined_seq) "
                   "VALUES(?, ?, ?, ?)"),
        end_member(db,
                   "UPDATE group_members SET left_seq = ? WHERE group_id = ? AND user_id = ? "
                   "AND left_seq IS NULL"),
        set_admin(db,
                  "UPDATE group_members SET admin = ? WHERE group_id = ? AND user_id = ? "
                  "AND left_seq IS NULL"),
        find_member(db,
                    "SELECT m.user_id, u.username, m.admin, m.joined_seq FROM group_members m "
                    "JOIN users u ON u.id = m.user_id WHERE m.group_id = ? AND m.user_id = ? "
                    "AND m.left_seq IS NULL"),
        bump_epoch(db, "UPDATE groups SET epoch = epoch + 1 WHERE id = ? RETURNING epoch"),
        bump_group_seq(db,
                       "UPDATE groups SET next_seq = next_seq + 1 WHERE id = ? "
                       "RETURNING next_seq - 1"),
        insert_log(db,
                   "INSERT INTO group_log(group_id, seq, kind, sender, sender_device, sender_pk, "
                   "client_msg_id, server_ts, content_hint, payload) "
                   "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
        fanout_state(db,
                     "SELECT f.done_seq, f.done_device, f.range_end, g.next_seq FROM group_fanout f "
                     "JOIN groups g ON g.id = f.group_id WHERE f.group_id = ?"),
        // The first seq in (?2, ?3] at which a member joins or (having left at the seq
        // before) stops getting entries: a fan-out range ends before it.
        membership_change(db,
                          "SELECT MIN(c) FROM (SELECT joined_seq AS c FROM group_members "
                          "WHERE group_id = ?1 AND joined_seq > ?2 AND joined_seq <= ?3 "
                          "UNION ALL SELECT left_seq + 1 FROM group_members WHERE group_id = ?1 "
                          "AND left_seq + 1 > ?2 AND left_seq + 1 <= ?3)"),
        read_log(db,
                 "SELECT seq, kind, sender, sender_device, sender_pk, client_msg_id, server_ts, "
                 "content_hint, payload FROM group_log WHERE group_id = ? AND seq BETWEEN ? AND ? "
                 "ORDER BY seq"),
        read_log_senders(db,
                         "SELECT seq, kind, sender, sender_device, sender_pk FROM group_log "
                         "WHERE group_id = ? AND seq BETWEEN ? AND ? ORDER BY seq"),
        fanout_devices(db,
                       "SELECT d.id, d.device_id, u.username FROM group_members m "
                       "JOIN devices d ON d.user_id = m.user_id JOIN users u ON u.id = m.user_id "
                       "WHERE m.group_id = ?1 AND m.joined_seq <= ?2 AND (m.left_seq IS NULL OR "
                       "m.left_seq >= ?2) ORDER BY d.id"),
        save_fanout(db,
                    "UPDATE group_fanout SET done_seq = ?, done_device = ?, range_end = ? "
                    "WHERE group_id = ?"),
        delete_log(db, "DELETE FROM group_log WHERE group_id = ? AND seq = ?"),
        insert_log_ref(db, "INSERT INTO group_log_refs(group_id, seq, refs) VALUES(?, ?, 1)"),
        // A plain UPDATE and a look for what it emptied rather than UPDATE … RETURNING (an
        // ephemeral table per call); a look only where references were taken away.
        add_log_refs_between(db,
                             "UPDATE group_log_refs SET refs = refs + ?4 "
                             "WHERE group_id = ?1 AND seq BETWEEN ?2 AND ?3"),
        emptied_log_refs(db,
                         "SELECT seq FROM group_log_refs "
                         "WHERE group_id = ?1 AND seq BETWEEN ?2 AND ?3 AND refs <= 0"),
        delete_log_ref(db, "DELETE FROM group_log_refs WHERE group_id = ? AND seq = ?"),
        group_share(db, "SELECT bytes, pending FROM group_sender_bytes WHERE sender_pk = ?"),
        add_share(db,
                  "INSERT INTO group_sender_bytes(sender_pk, bytes, pending) VALUES(?1, ?2, ?3) "
                  "ON CONFLICT(sender_pk) DO UPDATE SET bytes = bytes + excluded.bytes, "
                  "pending = pending + excluded.pending"),
        groups_behind(db,
                      "SELECT f.group_id, g.next_seq - 1 - f.done_seq FROM group_fanout f "
                      "JOIN groups g ON g.id = f.group_id WHERE f.done_seq < g.next_seq - 1") {
    depth = static_cast<std::uint64_t>(
        db.execAndGet("SELECT COALESCE(SUM(span), 0) FROM inbox").getInt64());
    // In place of SQLite's automatic checkpoint, which runs inside COMMIT, before the WAL
    // sync commit() makes after it, and ignores its own errors: a checkpoint whose WAL sync
    // failed would then let that later sync report success over pages Linux had dropped.
    // The store checkpoints after the sync instead (checkpoint_if_due).
    sqlite3_wal_hook(db.getHandle(), &Impl::note_wal_frames, this);
  }

  const bool syncs_commits;
  const int checkpoint_pages;
  int wal_frames = 0;                  // in the WAL after the last commit (note_wal_frames)
  sqlite3_int64 changes_at_begin = 0;  // sqlite3_total_changes64 when the transaction began
  SQLite::Statement begin, commit, rollback, savepoint, release, rollback_to;
  SQLite::Statement find_user, find_device, insert_user, insert_device, device_addresses;
  SQLite::Statement load_tail, raise_tail;
  SQLite::Statement set_signed, has_signed, add_otp, count_otp, bundle_devices, take_otp;
  SQLite::Statement find_sent, insert_sent, load_conv, insert_conv, update_conv, insert_inbox;
  SQLite::Statement insert_range;
  RowStatement weigh_inbox, read_inbox, select_acked;
  SQLite::Statement delete_acked, trim_range;
  SQLite::Statement purge_bound, purged_rows, raise_purged_tails, purge_inbox, purge_sent;
  SQLite::Statement insert_group, insert_fanout, find_group, group_members, add_member;
  SQLite::Statement end_member, set_admin, find_member, bump_epoch, bump_group_seq, insert_log;
  SQLite::Statement fanout_state, membership_change, read_log, read_log_senders, fanout_devices,
      save_fanout, delete_log;
  SQLite::Statement insert_log_ref, add_log_refs_between, emptied_log_refs, delete_log_ref;
  SQLite::Statement group_share, add_share;
  SQLite::Statement groups_behind;

  // What the last delete_acked acknowledged, which it returns a view of.
  std::vector<AckedMessages> acked;

  // Changes to log entries' reference counts, written at the commit (deferred_sums.hpp):
  // each member's ack (and each fan-out step) changes the count of the same entries.
  RangeSums refs_delta;
  DeferredSums<DevicePk, ShareDelta> share_delta;

  // Adds `delta` to the references of log entries lo..hi.
  void add_log_refs(std::string_view group_id, std::uint64_t lo, std::uint64_t hi,
                    std::int64_t delta) {
    refs_delta.add(group_id, lo, hi, delta);
  }
  void flush_deferred() {
    // A sender's row goes with its last entry (schema step 11's trigger), which a row
    // charged to it outlives by no batch: the row names that entry.
    share_delta.flush([this](DevicePk sender, const ShareDelta& d) {
      auto& add = fresh(add_share);
      add.bind(1, sender);
      add.bind(2, d.bytes);
      add.bind(3, d.pending);
      add.exec();
    });
    refs_delta.flush([this](const std::string& group_id, std::uint64_t lo, std::uint64_t hi,
                            std::int64_t delta) {
      change_log_refs(group_id, lo, hi, delta);
    });
  }
  void keep_deferred() {
    refs_delta.keep();
    share_delta.keep();
  }
  void take_back_deferred() {
    refs_delta.take_back();
    share_delta.take_back();
  }
  void forget_deferred() {
    refs_delta.forget();
    share_delta.forget();
  }

  std::vector<std::uint64_t> emptied;  // change_log_refs's, kept for its capacity

  // Adds `delta` to the references of log entries lo..hi of a group; an entry left at zero
  // is named by nothing any more (fan-out finished, every inbox row acknowledged) and is
  // deleted. Entries from before schema step 4 hold no references and are not touched.
  void change_log_refs(std::string_view group_id, std::uint64_t lo, std::uint64_t hi,
                       std::int64_t delta) {
    auto& add = fresh(add_log_refs_between);
    bind_blob(add, 1, group_id);
    add.bind(2, static_cast<std::int64_t>(lo));
    add.bind(3, static_cast<std::int64_t>(hi));
    add.bind(4, delta);
    add.exec();
    if (delta > 0) return;
    auto& look = fresh(emptied_log_refs);
    bind_blob(look, 1, group_id);
    look.bind(2, static_cast<std::int64_t>(lo));
    look.bind(3, static_cast<std::int64_t>(hi));
    emptied.clear();
    while (look.executeStep()) emptied.push_back(as_u64(look.getColumn(0)));
    look.reset();
    for (const auto seq : emptied) {
      exec_on_log_entry(delete_log, group_id, seq);
      exec_on_log_entry(delete_log_ref, group_id, seq);
    }
  }

  // Runs a statement whose parameters are a log entry's key: (group_id, seq).
  static void exec_on_log_entry(SQLite::Statement& st, std::string_view group_id,
                                std::uint64_t seq) {
    fresh(st);
    bind_blob(st, 1, group_id);
    st.bind(2, static_cast<std::int64_t>(seq));
    st.exec();
  }

  DeviceRecord device_row(SQLite::Statement& st) {
    DeviceRecord d;
    d.user_id = st.getColumn(0).getInt64();
    d.pk = st.getColumn(1).getInt64();
    d.device_id = as_u32(st.getColumn(2));
    d.identity_key = st.getColumn(3).getString();
    d.inbox_tail = tail_of(d.pk);
    return d;
  }

  // nullptr: no such device.
  std::uint64_t* find_tail(DevicePk device) {
    if (auto it = tails.find(device); it != tails.end()) return &it->second;
    auto& st = fresh(load_tail);
    st.bind(1, device);
    if (!st.executeStep()) return nullptr;
    tails_journal.emplace_back(device, std::nullopt);
    return &(tails[device] = std::max(as_u64(st.getColumn(0)), inbox_floor.start()));
  }

  std::uint64_t& tail_of(DevicePk device) {
    auto* tail = find_tail(device);
    if (tail == nullptr) throw std::runtime_error("inbox: unknown device");
    return *tail;
  }

  // The tail an append raises; the job's rollback puts the old value back.
  std::uint64_t& tail_to_raise(DevicePk device) {
    auto& tail = tail_of(device);
    tails_journal.emplace_back(device, tail);
    return tail;
  }

  void take_back_tails() {
    for (auto it = tails_journal.rbegin(); it != tails_journal.rend(); ++it) {
      if (it->second) tails[it->first] = *it->second;
      else tails.erase(it->first);
    }
    tails_journal.clear();
  }

  // Some of the device's entries are about to be deleted: its tail is held here until the
  // commit writes it (save_tails).
  void note_deletion(DevicePk device) {
    tail_of(device);
    tails_to_save.push_back(device);
  }

  // Makes devices.inbox_tail cover every entry given so far, for each device whose entries
  // this transaction deleted: one UPDATE per device per commit, not one per acknowledgement.
  void save_tails() {
    std::ranges::sort(tails_to_save);
    const auto [end, _] = std::ranges::unique(tails_to_save);
    tails_to_save.erase(end, tails_to_save.end());
    for (const auto device : tails_to_save) {
      auto& st = fresh(raise_tail);
      st.bind(1, device);
      st.bind(2, static_cast<std::int64_t>(tail_of(device)));
      st.exec();
    }
    tails_to_save.clear();
  }

  // The cached range holding the group's log entries lo..end (exactly those when `exact`),
  // most recently used now; nullptr if none.
  LogRange* cached_range(std::string_view group_id, std::uint64_t lo, std::uint64_t end,
                         bool exact) {
    for (auto it = log_ranges.begin(); it != log_ranges.end(); ++it) {
      if (it->group_id != group_id || it->lo > lo || it->end < end) continue;
      if (exact && (it->lo != lo || it->end != end)) continue;
      std::rotate(it, it + 1, log_ranges.end());
      return &log_ranges.back();
    }
    return nullptr;
  }

  // Columns 0-4 of read_log and read_log_senders: what every use of a log entry needs.
  static void read_log_head(SQLite::Statement& st, InboxEntry& e) {
    e.conv_seq = as_u64(st.getColumn(0));
    e.kind = static_cast<EntryKind>(st.getColumn(1).getInt());
    e.sender = st.getColumn(2).getString();
    e.sender_device = as_u32(st.getColumn(3));
    e.sender_pk = st.getColumn(4).getInt64();
  }

  // Reads the group's log entries lo..end into the cache.
  LogRange& read_range(std::string_view group_id, std::uint64_t lo, std::uint64_t end) {
    LogRange r{std::string(group_id), lo, end, {}, std::nullopt, 0, 0};
    auto& st = fresh(read_log);
    bind_blob(st, 1, group_id);
    st.bind(2, static_cast<std::int64_t>(lo));
    st.bind(3, static_cast<std::int64_t>(end));
    while (st.executeStep()) {
      // One entry object per log entry, shared by every member's live push; each member's
      // inbox_seq travels beside it.
      auto e = std::make_shared<InboxEntry>();
      read_log_head(st, *e);
      e->client_msg_id = st.getColumn(5).getString();
      e->server_ts_ms = as_u64(st.getColumn(6));
      e->content_hint = as_u32(st.getColumn(7));
      e->ciphertext = st.getColumn(8).getString();
      e->group_id = r.group_id;
      if (e->conv_seq != lo + r.entries.size()) break;
      r.newest_ts = std::max(r.newest_ts, e->server_ts_ms);
      r.bytes += sizeof(InboxEntry) + e->ciphertext.size() + e->sender.size();
      r.entries.push_back(std::move(e));
    }
    st.reset();
    if (r.entries.size() != end - lo + 1) missing_log_entries(lo, end, r.entries.size());
    while (!log_ranges.empty() && (log_ranges.size() >= kCachedRanges ||
                                   log_range_bytes + r.bytes > kCachedRangeBytes)) {
      log_range_bytes -= log_ranges.front().bytes;
      log_ranges.erase(log_ranges.begin());
    }
    log_range_bytes += r.bytes;
    log_ranges.push_back(std::move(r));
    return log_ranges.back();
  }

  // The group's log entries lo..end, valid until the cache is next used.
  std::span<const std::shared_ptr<InboxEntry>> log_entries(std::string_view group_id,
                                                           std::uint64_t lo, std::uint64_t end) {
    auto* r = cached_range(group_id, lo, end, false);
    if (r == nullptr) r = &read_range(group_id, lo, end);
    return r->slice(lo, end);
  }

  // The open range [lo, end] of a group's fan-out with the devices owed it, read on first use.
  const LogRange& fanout_range(std::string_view group_id, std::uint64_t lo, std::uint64_t end) {
    auto* r = cached_range(group_id, lo, end, true);
    if (r == nullptr) r = &read_range(group_id, lo, end);
    if (r->devices) return *r;
    auto& devices = r->devices.emplace();
    auto& st = fresh(fanout_devices);
    bind_blob(st, 1, group_id);
    st.bind(2, static_cast<std::int64_t>(lo));
    while (st.executeStep()) {
      devices.push_back({st.getColumn(0).getInt64(), as_u32(st.getColumn(1)),
                         st.getColumn(2).getString()});
      r->bytes += sizeof(FanoutTarget) + devices.back().username.size();
      log_range_bytes += sizeof(FanoutTarget) + devices.back().username.size();
    }
    return *r;
  }

  // Calls f(entry) for the group's log entries lo..end, in order, with at least their seq,
  // kind and sender: what an ack needs. From the cache when it holds them; otherwise read
  // without their payloads and not cached.
  template <class F>
  void visit_senders(std::string_view group_id, std::uint64_t lo, std::uint64_t end, F&& f) {
    if (auto* r = cached_range(group_id, lo, end, false)) {
      for (const auto& e : r->slice(lo, end)) f(*e);
      return;
    }
    auto& st = fresh(read_log_senders);
    bind_blob(st, 1, group_id);
    st.bind(2, static_cast<std::int64_t>(lo));
    st.bind(3, static_cast<std::int64_t>(end));
    InboxEntry e;
    e.group_id = std::string(group_id);
    auto next = lo;
    while (st.executeStep() && as_u64(st.getColumn(0)) == next) {
      read_log_head(st, e);
      ++next;
      f(e);
    }
    st.reset();
    if (next != end + 1) missing_log_entries(lo, end, next - lo);
  }

  void forget_log_ranges() {
    log_ranges.clear();
    log_range_bytes = 0;
  }

  // Stores the device's range row for the group's log entries lo..end, `span` of them its
  // own, charged to `charged` (the sender of entry `end`), and returns the last inbox_seq it
  // takes. The caller adds the charge to share_delta, once for all of a range's rows.
  std::uint64_t append_range(DevicePk device, std::string_view group_id, std::uint64_t lo,
                             std::uint64_t end, std::uint64_t span, std::uint64_t server_ts,
                             DevicePk charged) {
    auto& tail = tail_to_raise(device);
    tail += span;
    inbox_floor.handed_out(tail);
    auto& st = fresh(insert_range);
    st.bind(1, device);
    st.bind(2, static_cast<std::int64_t>(tail));
    st.bind(3, static_cast<std::int64_t>(lo));
    st.bind(4, static_cast<std::int64_t>(server_ts));
    bind_blob(st, 5, group_id);
    st.bind(6, static_cast<std::int64_t>(span));
    st.bind(7, static_cast<std::int64_t>(end));
    st.bind(8, charged);
    st.exec();
    depth += span;
    return tail;
  }

  // A range row: its last inbox seq, how many inbox seqs it stands for (ending at that one),
  // and the group's log entries lo..end it names.
  struct RangeRow {
    std::uint64_t seq = 0, span = 0;
    std::string group_id;
    std::uint64_t lo = 0, end = 0;
  };

  // An ack ending inside a range row acknowledges its head: the row keeps the rest, from the
  // log entry after the last one acknowledged, and releases the entries before. Returns how
  // many entries were acknowledged.
  std::uint64_t ack_range_head(DevicePk device, std::uint64_t up_to, const RangeRow& row,
                               std::vector<AckedMessages>& acked) {
    const auto& [seq, span, group_id, lo, end] = row;
    const auto take = up_to - (seq - span);
    std::uint64_t taken = 0, next_lo = lo;
    visit_senders(group_id, lo, end, [&](const InboxEntry& e) {
      if (taken == take || sent_by(e, device)) return;
      ++taken;
      next_lo = e.conv_seq + 1;
      note_acked(acked, e);
    });
    if (taken != take) range_row_mismatch(device, seq);
    add_log_refs(group_id, lo, next_lo - 1, -1);
    auto& trim = fresh(trim_range);
    trim.bind(1, static_cast<std::int64_t>(seq - up_to));
    trim.bind(2, static_cast<std::int64_t>(next_lo));
    trim.bind(3, device);
    trim.bind(4, static_cast<std::int64_t>(seq));
    trim.exec();
    return take;
  }

  // Stores `e` as the device's next inbox entry and returns its inbox_seq.
  std::uint64_t append_row(DevicePk device, const InboxEntry& e) {
    const std::uint64_t seq = ++tail_to_raise(device);
    inbox_floor.handed_out(seq);
    auto& st = fresh(insert_inbox);
    st.bind(1, device);
    st.bind(2, static_cast<std::int64_t>(seq));
    st.bind(3, static_cast<int>(e.kind));
    st.bind(4, e.sender);
    st.bind(5, e.sender_device);
    st.bind(6, e.sender_pk);
    bind_blob(st, 7, e.client_msg_id);
    st.bind(8, static_cast<std::int64_t>(e.conv_seq));
    st.bind(9, static_cast<std::int64_t>(e.server_ts_ms));
    st.bind(10, e.content_hint);
    bind_blob(st, 11, e.ciphertext);
    if (e.group_id.empty()) {
      st.bind(12);  // NULL
    } else {
      bind_blob(st, 12, e.group_id);
    }
    st.exec();
    ++depth;
    if (e.group_id.empty()) held.adjust(device, e.sender_pk, row_weight(e.ciphertext.size()));
    return seq;
  }

  // What one 1:1 row weighs in inbox_bytes: its ciphertext and the row.
  static std::int64_t row_weight(std::uint64_t ciphertext_bytes) {
    return static_cast<std::int64_t>(ciphertext_bytes + Store::kInboxRowBytes);
  }

  const InboxWeights::Weight& weigh(DevicePk device) {
    if (const auto* cached = held.find(device)) return *cached;
    InboxWeights::Weight weight;
    auto& st = weigh_inbox.fresh();
    st.bind(1, device);
    while (st.step()) {
      ++weight.rows_read;
      if (st.i64(0) != 0)
        weight.add_row(st.i64(1), static_cast<std::uint64_t>(row_weight(st.u64(2))));
    }
    ++weighings;
    return held.add_summed(device, std::move(weight));
  }

  static void run(SQLite::Statement& st) {
    fresh(st);
    st.exec();
  }

  // A reused statement that returned a row and was not stepped to its end keeps the
  // connection's read transaction open past COMMIT. While it does, SQLite cannot checkpoint
  // (sqlite3_wal_checkpoint gets SQLITE_LOCKED), so the WAL would grow without bound and
  // every read would search an ever larger WAL index. Resetting them all before the
  // transaction ends lets the automatic checkpoint run. This also covers SqliteMedia's
  // statements, which share the connection.
  void finish_statements() {
    sqlite3* handle = db.getHandle();
    for (sqlite3_stmt* st = sqlite3_next_stmt(handle, nullptr); st != nullptr;
         st = sqlite3_next_stmt(handle, st)) {
      if (sqlite3_stmt_busy(st) != 0) sqlite3_reset(st);
    }
  }

  // SQLite's WAL hook, after every commit that wrote frames: how many the WAL holds.
  static int note_wal_frames(void* impl, sqlite3*, const char*, int frames) {
    static_cast<Impl*>(impl)->wal_frames = frames;
    return SQLITE_OK;
  }

  // What SQLite's FULL would have done at the COMMIT: the WAL synced through SQLite's own
  // file (the VFS's, with its held writes) and flags.
  void sync_wal() {
    sqlite3_file* wal = nullptr;
    int rc = sqlite3_file_control(db.getHandle(), "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal);
    if (rc == SQLITE_OK && (wal == nullptr || wal->pMethods == nullptr)) rc = SQLITE_MISUSE;
    if (rc == SQLITE_OK) rc = wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL);
    if (rc != SQLITE_OK) stop_on_failed_sync("syncing relay.db-wal", rc);
  }

  // SQLite's automatic checkpoint (PASSIVE, once the WAL holds checkpoint_pages), after the
  // commit's sync. Not done (readers, which the relay does not have, or a full disk) it is
  // tried again after the next commit, as SQLite's would be, the WAL growing meanwhile.
  void checkpoint_if_due() {
    if (wal_frames < checkpoint_pages) return;
    wal_frames = 0;
    const int rc = sqlite3_wal_checkpoint_v2(db.getHandle(), "main", SQLITE_CHECKPOINT_PASSIVE,
                                             nullptr, nullptr);
    if ((rc & 0xff) == SQLITE_IOERR) stop_on_failed_sync("checkpointing relay.db-wal", rc);
    if (rc != SQLITE_OK)
      spdlog::warn("store: checkpoint of relay.db-wal put off: {}", sqlite3_errstr(rc));
  }

  // A failed sync is not retried: after a failed fsync Linux may have dropped the dirty
  // pages and report the next one clean, so the commits it covered are not known to be on
  // disk, and their jobs must not be told they are. The relay stops before answering them;
  // their clients send again, and what did reach the disk answers them as duplicates.
  // (PostgreSQL stops on a failed fsync too.)
  [[noreturn]] static void stop_on_failed_sync(const char* what, int rc) {
    spdlog::critical("store: {} failed ({}); what was committed may not be on disk, so the "
                     "relay stops: check the disk, then start it again",
                     what, sqlite3_errstr(rc));
    std::abort();
  }
};

SqliteStore::SqliteStore(const std::filesystem::path& data_dir, Durability durability)
    : impl_(std::make_unique<Impl>(data_dir, durability)),
      media_(std::make_unique<SqliteMedia>(impl_->db)),
      marks_(std::make_unique<SqliteMarks>(impl_->db)) {}

SqliteStore::~SqliteStore() = default;

// inbox_depth is kept in memory, so it is snapshotted with the transaction and a savepoint
// (when a job has one) and restored when they roll back.
void SqliteStore::begin() {
  if (impl_->tails.size() > Impl::kMaxCachedTails) impl_->tails.clear();
  if (impl_->conv_seqs.size() > Impl::kMaxCachedTails) impl_->conv_seqs.clear();
  impl_->held.shed_if_over();
  Impl::run(impl_->begin);
  impl_->changes_at_begin = sqlite3_total_changes64(impl_->db.getHandle());
  impl_->depth_at_begin = impl_->depth;
}
void SqliteStore::commit() { end_transaction(true); }
bool SqliteStore::commit_unsynced() { return end_transaction(false); }
bool SqliteStore::end_transaction(bool sync) {
  impl_->save_tails();
  impl_->flush_deferred();
  marks_->before_commit();
  impl_->inbox_floor.before_commit();
  impl_->finish_statements();
  // Every write the relay makes is a row changed (no schema change runs in a transaction of
  // the worker's), and a transaction that changed none wrote no WAL frame to sync.
  const bool wrote = sqlite3_total_changes64(impl_->db.getHandle()) != impl_->changes_at_begin;
  Impl::run(impl_->commit);
  impl_->tails_journal.clear();
  impl_->held.keep();
  marks_->committed();
  impl_->inbox_floor.committed();
  const bool owes_sync = wrote && impl_->syncs_commits;
  if (owes_sync && sync) impl_->sync_wal();
  impl_->checkpoint_if_due();  // after the sync (the WAL hook in Impl's constructor says why)
  return owes_sync && !sync;
}
void SqliteStore::rollback() {
  marks_->rolled_back();
  impl_->inbox_floor.rolled_back();
  impl_->forget_deferred();
  impl_->depth = impl_->depth_at_begin;
  impl_->tails.clear();  // may hold tails of rolled-back appends; rebuilt from the database
  impl_->tails_journal.clear();
  impl_->tails_to_save.clear();
  impl_->conv_seqs.clear();
  impl_->held.clear();
  impl_->accounts.clear();
  impl_->forget_log_ranges();
  impl_->finish_statements();
  Impl::run(impl_->rollback);
}
void SqliteStore::savepoint() {
  impl_->keep_deferred();
  impl_->tails_journal.clear();
  impl_->held.keep();
  Impl::run(impl_->savepoint);
  impl_->depth_at_savepoint = impl_->depth;
  impl_->tails_to_save_at_savepoint = impl_->tails_to_save.size();
}
void SqliteStore::release_savepoint() {
  // The journals are cleared once the RELEASE has gone through: if it fails, the worker
  // rolls the job back with them.
  Impl::run(impl_->release);
  impl_->keep_deferred();
  impl_->tails_journal.clear();
  impl_->held.keep();
}
void SqliteStore::rollback_to_savepoint() {
  impl_->depth = impl_->depth_at_savepoint;
  impl_->take_back_tails();
  // Its deletes are undone: nothing of theirs to save (and a device it made may be gone).
  impl_->tails_to_save.resize(
      std::min(impl_->tails_to_save.size(), impl_->tails_to_save_at_savepoint));
  impl_->conv_seqs.clear();
  impl_->held.take_back();
  impl_->accounts.clear();
  impl_->forget_log_ranges();
  impl_->take_back_deferred();
  Impl::run(impl_->rollback_to);
  Impl::run(impl_->release);
}

std::string SqliteStore::relay_id() {
  SQLite::Statement get(impl_->db, "SELECT value FROM meta WHERE key = 'relay_id'");
  if (get.executeStep()) return get.getColumn(0).getString();
  std::string id(16, '\0');
  randombytes_buf(id.data(), id.size());
  SQLite::Statement put(impl_->db, "INSERT INTO meta(key, value) VALUES('relay_id', ?)");
  bind_blob(put, 1, id);
  put.exec();
  return id;
}

std::optional<UserId> SqliteStore::find_user(std::string_view username) {
  if (auto known = impl_->accounts.find(username)) return known->user_id;
  auto& st = fresh(impl_->find_user);
  st.bind(1, std::string(username));
  if (!st.executeStep()) return std::nullopt;
  return st.getColumn(0).getInt64();
}

std::optional<DeviceRecord> SqliteStore::find_device(std::string_view username,
                                                     std::uint32_t device_id) {
  auto& st = fresh(impl_->find_device);
  st.bind(1, std::string(username));
  st.bind(2, device_id);
  if (!st.executeStep()) return std::nullopt;
  return impl_->device_row(st);
}

std::optional<DeviceRecord> SqliteStore::create_account(std::string_view username,
                                                        std::string_view identity_key,
                                                        std::uint32_t device_id,
                                                        std::uint64_t now_ms) {
  auto& user = fresh(impl_->insert_user);
  user.bind(1, std::string(username));
  user.bind(2, static_cast<std::int64_t>(now_ms));
  if (user.exec() == 0) return std::nullopt;
  DeviceRecord d;
  d.user_id = impl_->db.getLastInsertRowid();
  d.device_id = device_id;
  d.identity_key = std::string(identity_key);
  auto& dev = fresh(impl_->insert_device);
  dev.bind(1, d.user_id);
  dev.bind(2, device_id);
  bind_blob(dev, 3, identity_key);
  dev.exec();
  d.pk = impl_->db.getLastInsertRowid();
  return d;
}

std::shared_ptr<const Account> SqliteStore::find_account(std::string_view username) {
  if (auto known = impl_->accounts.find(username)) return known;
  const auto user = find_user(username);
  if (!user) return nullptr;  // not remembered: the name may be registered next
  auto account = std::make_shared<Account>();
  account->user_id = *user;
  auto& st = fresh(impl_->device_addresses);
  st.bind(1, *user);
  while (st.executeStep())
    account->devices.push_back({st.getColumn(0).getInt64(), as_u32(st.getColumn(1))});
  impl_->accounts.put(username, account);
  return account;
}

std::uint64_t SqliteStore::inbox_tail(DevicePk device) {
  const auto* tail = impl_->find_tail(device);
  return tail != nullptr ? *tail : 0;
}

void SqliteStore::set_signed_prekey(DevicePk device, const SignedPrekeyRecord& key) {
  auto& st = fresh(impl_->set_signed);
  st.bind(1, key.id);
  bind_blob(st, 2, key.public_key);
  bind_blob(st, 3, key.signature);
  st.bind(4, device);
  st.exec();
}

bool SqliteStore::has_signed_prekey(DevicePk device) {
  auto& st = fresh(impl_->has_signed);
  st.bind(1, device);
  return st.executeStep() && st.getColumn(0).getInt() != 0;
}

std::uint32_t SqliteStore::add_one_time_prekeys(DevicePk device,
                                                std::span<const OneTimePrekeyRecord> keys,
                                                std::uint32_t cap) {
  std::uint32_t count = one_time_prekey_count(device);
  for (const auto& k : keys) {
    if (count >= cap) break;
    auto& st = fresh(impl_->add_otp);
    st.bind(1, device);
    st.bind(2, k.id);
    bind_blob(st, 3, k.public_key);
    count += static_cast<std::uint32_t>(st.exec());
  }
  return count;
}

std::uint32_t SqliteStore::one_time_prekey_count(DevicePk device) {
  auto& st = fresh(impl_->count_otp);
  st.bind(1, device);
  st.executeStep();
  return as_u32(st.getColumn(0));
}

std::vector<BundleRecord> SqliteStore::take_bundles(UserId user, bool one_time) {
  std::vector<BundleRecord> out;
  {
    auto& st = fresh(impl_->bundle_devices);
    st.bind(1, user);
    while (st.executeStep()) {
      BundleRecord b;
      b.pk = st.getColumn(0).getInt64();
      b.device_id = as_u32(st.getColumn(1));
      b.identity_key = st.getColumn(2).getString();
      if (!st.getColumn(4).isNull()) {
        b.signed_prekey = SignedPrekeyRecord{as_u32(st.getColumn(3)), st.getColumn(4).getString(),
                                             st.getColumn(5).getString()};
      }
      out.push_back(std::move(b));
    }
  }
  for (auto& b : out) {
    auto& st = fresh(impl_->take_otp);
    st.bind(1, b.pk);
    if (one_time && st.executeStep()) {
      b.one_time_prekey = OneTimePrekeyRecord{as_u32(st.getColumn(0)), st.getColumn(1).getString()};
      while (st.executeStep()) {
      }  // finish the DELETE ... RETURNING
    }
    b.one_time_left = one_time_prekey_count(b.pk);
  }
  return out;
}

std::optional<SentRecord> SqliteStore::find_sent(UserId sender, std::string_view client_msg_id) {
  auto& st = fresh(impl_->find_sent);
  st.bind(1, sender);
  bind_blob(st, 2, client_msg_id);
  if (!st.executeStep()) return std::nullopt;
  return SentRecord{as_u64(st.getColumn(0)), as_u64(st.getColumn(1))};
}

void SqliteStore::remember_sent(UserId sender, std::string_view client_msg_id,
                                const SentRecord& ack) {
  auto& st = fresh(impl_->insert_sent);
  st.bind(1, sender);
  bind_blob(st, 2, client_msg_id);
  st.bind(3, static_cast<std::int64_t>(ack.conv_seq));
  st.bind(4, static_cast<std::int64_t>(ack.server_ts_ms));
  st.exec();
}

std::uint64_t SqliteStore::next_conv_seq(std::string_view conv_key) {
  std::string key(conv_key);
  auto it = impl_->conv_seqs.find(key);
  if (it == impl_->conv_seqs.end()) {
    auto& load = fresh(impl_->load_conv);
    load.bind(1, key);
    const std::uint64_t last = load.executeStep() ? as_u64(load.getColumn(0)) : 0;
    load.reset();
    it = impl_->conv_seqs.emplace(key, last).first;
  }
  const auto seq = ++it->second;
  if (seq == 1) {  // no row yet (a stored conversation's last_seq is at least 1)
    auto& st = fresh(impl_->insert_conv);
    st.bind(1, key);
    st.exec();
  } else {
    auto& st = fresh(impl_->update_conv);
    st.bind(1, static_cast<std::int64_t>(seq));
    st.bind(2, key);
    st.exec();
  }
  return seq;
}

void SqliteStore::append_inbox(DevicePk device, InboxEntry& e) {
  e.inbox_seq = impl_->append_row(device, e);
}

Store::InboxLoad SqliteStore::inbox_load(DevicePk device, DevicePk sender) {
  const auto& weight = impl_->weigh(device);
  return {weight.total, weight.from(sender)};
}

std::uint64_t SqliteStore::inbox_weighings() const { return impl_->weighings; }

std::vector<PagedEntry> SqliteStore::read_inbox_page(DevicePk device, std::uint64_t after_seq,
                                                     std::size_t limit, std::size_t max_bytes) {
  auto& st = impl_->read_inbox.fresh();
  st.bind(1, device);
  st.bind(2, static_cast<std::int64_t>(after_seq));
  st.bind(3, static_cast<std::int64_t>(limit));  // rows; each holds at least one entry
  std::vector<PagedEntry> out;
  std::size_t bytes = 0;
  const auto full = [&] { return out.size() >= limit || bytes >= max_bytes; };
  while (!full() && st.step()) {
    const auto seq = st.u64(0);
    if (!st.is_null(12)) {
      // A range row: its entries from the log, numbered up to its seq; an earlier read
      // may have stopped inside it.
      const auto group_id = st.bytes(10);
      auto inbox_seq = seq - st.u64(11);
      for (const auto& e :
           impl_->log_entries(group_id, st.u64(6), st.u64(12))) {
        if (sent_by(*e, device)) continue;
        if (++inbox_seq <= after_seq) continue;
        if (full()) break;
        if (inbox_seq > seq) range_row_mismatch(device, seq);
        out.push_back({inbox_seq, e});
        bytes += e->ciphertext.size();
      }
      if (!full() && inbox_seq != seq) range_row_mismatch(device, seq);
      continue;
    }
    auto e = std::make_shared<InboxEntry>();
    e->inbox_seq = seq;
    e->kind = static_cast<EntryKind>(st.i64(1));
    e->sender = st.bytes(2);
    e->sender_device = st.u32(3);
    e->sender_pk = st.i64(4);
    e->client_msg_id = st.bytes(5);
    e->conv_seq = st.u64(6);
    e->server_ts_ms = st.u64(7);
    e->content_hint = st.u32(8);
    e->ciphertext = st.bytes(9);
    if (!st.is_null(10)) e->group_id = st.bytes(10);
    bytes += e->ciphertext.size();
    out.push_back({seq, std::move(e)});
  }
  st.reset();  // stopped early on the byte budget: do not hold the read open across COMMIT
  return out;
}

std::span<const AckedMessages> SqliteStore::delete_acked(DevicePk device, std::uint64_t up_to,
                                                         std::size_t max_rows,
                                                         std::uint64_t& reached) {
  impl_->note_deletion(device);
  max_rows = std::max<std::size_t>(max_rows, 1);  // a part must take something, or its caller loops
  reached = up_to;
  // Its storage kept from one ack to the next, unless a large one (a long backlog of group
  // range rows from many senders) grew it.
  auto& acked = impl_->acked;
  acked.clear();
  if (acked.capacity() > 64) acked.shrink_to_fit();
  struct Range {
    std::string group_id;
    std::uint64_t lo, end;
  };
  std::vector<Range> ranges;
  std::uint64_t deleted = 0;
  std::optional<Impl::RangeRow> straddled;
  std::uint64_t last_row = 0;
  auto& st = impl_->select_acked.fresh();
  st.bind(1, device);
  for (std::size_t rows = 0; st.step(); ++rows) {
    const auto seq = st.u64(8);
    if (seq <= up_to && rows == max_rows) {
      reached = last_row;
      st.reset();
      break;
    }
    if (seq > up_to) {
      // The first row after the ack: a range row that starts at or before it.
      if (!st.is_null(7) && seq - st.u64(6) < up_to)
        straddled = Impl::RangeRow{seq, st.u64(6), st.bytes(5), st.u64(3), st.u64(7)};
      st.reset();
      break;
    }
    last_row = seq;
    deleted += st.u64(6);
    if (st.is_null(5)) impl_->held.adjust(device, st.i64(2), -Impl::row_weight(st.u64(9)));
    if (!st.is_null(7)) {
      ranges.push_back({st.bytes(5), st.u64(3), st.u64(7)});
      impl_->share_delta.add(st.i64(2), {-static_cast<std::int64_t>(kGroupEntryBytes), 0});
      continue;
    }
    InboxEntry e;
    e.kind = static_cast<EntryKind>(st.i64(4));
    if (e.kind != EntryKind::Message && e.kind != EntryKind::GroupMessage) continue;
    e.sender = st.bytes(0);
    e.sender_device = st.u32(1);
    e.sender_pk = st.i64(2);
    e.conv_seq = st.u64(3);
    if (!st.is_null(5)) e.group_id = st.bytes(5);
    note_acked(acked, e);
  }
  for (const auto& r : ranges) {
    impl_->visit_senders(r.group_id, r.lo, r.end, [&](const InboxEntry& e) {
      if (!sent_by(e, device)) note_acked(acked, e);
    });
    impl_->add_log_refs(r.group_id, r.lo, r.end, -1);
  }
  if (straddled) deleted += impl_->ack_range_head(device, up_to, *straddled, acked);
  auto& del = fresh(impl_->delete_acked);
  del.bind(1, device);
  del.bind(2, static_cast<std::int64_t>(reached));
  del.exec();
  impl_->depth -= deleted;
  return acked;
}

std::optional<MarkRaised> SqliteStore::raise_delivery_mark(DevicePk owner, DevicePk reader,
                                                           std::string_view group_id,
                                                           std::uint64_t from, std::uint64_t up_to,
                                                           std::uint64_t acked_ms) {
  return marks_->raise(owner, reader, group_id, from, up_to, acked_ms);
}

std::vector<DeliveryMarkRecord> SqliteStore::delivery_marks_after(DevicePk owner,
                                                                  std::uint64_t after_version,
                                                                  std::size_t limit) {
  return marks_->after(owner, after_version, limit);
}

std::uint64_t SqliteStore::delivery_mark_version() { return marks_->version(); }

std::uint64_t SqliteStore::purge(std::uint64_t inbox_before_ms, std::uint64_t sent_before_ms) {
  auto& bound = fresh(impl_->purge_bound);
  bound.bind(1, static_cast<std::int64_t>(inbox_before_ms));
  const std::int64_t below =
      bound.executeStep() ? bound.getColumn(0).getInt64() : std::numeric_limits<std::int64_t>::max();
  // Range rows release their log entries, as an ack does.
  auto& rows = fresh(impl_->purged_rows);
  rows.bind(1, static_cast<std::int64_t>(inbox_before_ms));
  rows.bind(2, below);
  std::uint64_t removed = 0;
  // The cached weights are kept, not dropped (summing a full inbox again costs a read of each
  // of its rows), and changed once per (device, sender), not once per row.
  std::map<std::pair<DevicePk, DevicePk>, std::int64_t> released;
  while (rows.executeStep()) {
    removed += as_u64(rows.getColumn(0));
    const auto device = rows.getColumn(4).getInt64();
    if (rows.getColumn(1).isNull() && impl_->held.find(device))  // a 1:1 row (no group_id)
      released[{device, rows.getColumn(6).getInt64()}] -= Impl::row_weight(as_u64(rows.getColumn(5)));
    if (!rows.getColumn(3).isNull()) {
      impl_->add_log_refs(rows.getColumn(1).getString(), as_u64(rows.getColumn(2)),
                          as_u64(rows.getColumn(3)), -1);
      impl_->share_delta.add(rows.getColumn(6).getInt64(),
                             {-static_cast<std::int64_t>(kGroupEntryBytes), 0});
    }
  }
  for (const auto& [key, delta] : released) impl_->held.adjust(key.first, key.second, delta);
  auto& raise = fresh(impl_->raise_purged_tails);
  raise.bind(1, static_cast<std::int64_t>(inbox_before_ms));
  raise.bind(2, below);
  raise.exec();
  auto& inbox = fresh(impl_->purge_inbox);
  inbox.bind(1, static_cast<std::int64_t>(inbox_before_ms));
  inbox.bind(2, below);
  inbox.exec();
  impl_->depth -= removed;
  auto& sent = fresh(impl_->purge_sent);
  sent.bind(1, static_cast<std::int64_t>(sent_before_ms));
  sent.exec();
  return removed;
}

std::uint64_t SqliteStore::purge_abandoned_groups() {
  // Rare (the maintenance timer), so plain statements rather than prepared ones.
  auto& db = impl_->db;
  db.exec("CREATE TEMP TABLE IF NOT EXISTS abandoned_groups(id BLOB PRIMARY KEY)");
  db.exec("DELETE FROM abandoned_groups");
  const auto n = db.exec(
      "INSERT INTO abandoned_groups SELECT g.id FROM groups g JOIN group_fanout f ON f.group_id = g.id"
      " WHERE f.done_seq >= g.next_seq - 1 AND NOT EXISTS(SELECT 1 FROM group_members m"
      " WHERE m.group_id = g.id AND m.left_seq IS NULL) AND NOT EXISTS(SELECT 1 FROM"
      " group_log_refs r WHERE r.group_id = g.id)");
  if (n == 0) return 0;
  db.exec("DELETE FROM group_log WHERE group_id IN abandoned_groups");
  db.exec("DELETE FROM group_members WHERE group_id IN abandoned_groups");
  db.exec("DELETE FROM group_fanout WHERE group_id IN abandoned_groups");
  db.exec("DELETE FROM delivery_marks WHERE group_id IN abandoned_groups");
  db.exec("DELETE FROM groups WHERE id IN abandoned_groups");
  impl_->forget_log_ranges();  // a group made again with the same id starts a new log
  return static_cast<std::uint64_t>(n);
}

std::uint64_t SqliteStore::inbox_depth() { return impl_->depth; }

// ---- Groups ----

namespace {
// Runs a statement with RETURNING one integer to completion and returns that integer.
std::uint64_t returning_u64(SQLite::Statement& st, const char* what) {
  if (!st.executeStep()) throw std::runtime_error(std::string(what) + ": no such group");
  const auto v = as_u64(st.getColumn(0));
  while (st.executeStep()) {
  }
  return v;
}
}  // namespace

void SqliteStore::create_group(std::string_view group_id, std::uint64_t now_ms) {
  auto& g = fresh(impl_->insert_group);
  bind_blob(g, 1, group_id);
  g.bind(2, static_cast<std::int64_t>(now_ms));
  g.exec();
  auto& f = fresh(impl_->insert_fanout);
  bind_blob(f, 1, group_id);
  f.exec();
}

std::optional<GroupRecord> SqliteStore::find_group(std::string_view group_id) {
  auto& st = fresh(impl_->find_group);
  bind_blob(st, 1, group_id);
  if (!st.executeStep()) return std::nullopt;
  GroupRecord g{as_u64(st.getColumn(0)), as_u64(st.getColumn(1))};
  st.reset();
  return g;
}

std::vector<GroupMemberRecord> SqliteStore::group_members(std::string_view group_id) {
  auto& st = fresh(impl_->group_members);
  bind_blob(st, 1, group_id);
  std::vector<GroupMemberRecord> out;
  while (st.executeStep()) {
    out.push_back({st.getColumn(0).getInt64(), st.getColumn(1).getString(),
                   st.getColumn(2).getInt() != 0, as_u64(st.getColumn(3))});
  }
  return out;
}

void SqliteStore::add_group_member(std::string_view group_id, UserId user, bool admin,
                                   std::uint64_t joined_seq) {
  auto& st = fresh(impl_->add_member);
  bind_blob(st, 1, group_id);
  st.bind(2, user);
  st.bind(3, admin ? 1 : 0);
  st.bind(4, static_cast<std::int64_t>(joined_seq));
  st.exec();
  marks_->forget_member(group_id, user);
}

void SqliteStore::end_group_membership(std::string_view group_id, UserId user,
                                       std::uint64_t left_seq) {
  auto& st = fresh(impl_->end_member);
  st.bind(1, static_cast<std::int64_t>(left_seq));
  bind_blob(st, 2, group_id);
  st.bind(3, user);
  st.exec();
}

void SqliteStore::set_group_admin(std::string_view group_id, UserId user, bool admin) {
  auto& st = fresh(impl_->set_admin);
  st.bind(1, admin ? 1 : 0);
  bind_blob(st, 2, group_id);
  st.bind(3, user);
  st.exec();
}

std::optional<GroupMemberRecord> SqliteStore::find_group_member(std::string_view group_id,
                                                                UserId user) {
  auto& st = fresh(impl_->find_member);
  bind_blob(st, 1, group_id);
  st.bind(2, user);
  if (!st.executeStep()) return std::nullopt;
  GroupMemberRecord m{st.getColumn(0).getInt64(), st.getColumn(1).getString(),
                      st.getColumn(2).getInt() != 0, as_u64(st.getColumn(3))};
  st.reset();
  return m;
}

std::uint64_t SqliteStore::bump_group_epoch(std::string_view group_id) {
  auto& st = fresh(impl_->bump_epoch);
  bind_blob(st, 1, group_id);
  return returning_u64(st, "bump_group_epoch");
}

void SqliteStore::append_group_log(std::string_view group_id, GroupLogEntry& e) {
  {
    auto& st = fresh(impl_->bump_group_seq);
    bind_blob(st, 1, group_id);
    e.seq = returning_u64(st, "append_group_log");
  }
  auto& st = fresh(impl_->insert_log);
  bind_blob(st, 1, group_id);
  st.bind(2, static_cast<std::int64_t>(e.seq));
  st.bind(3, static_cast<int>(e.kind));
  st.bind(4, e.sender);
  st.bind(5, e.sender_device);
  st.bind(6, e.sender_pk);
  bind_blob(st, 7, e.client_msg_id);
  st.bind(8, static_cast<std::int64_t>(e.server_ts_ms));
  st.bind(9, e.content_hint);
  bind_blob(st, 10, e.payload);
  st.exec();
  Impl::exec_on_log_entry(impl_->insert_log_ref, group_id, e.seq);
  impl_->share_delta.add(e.sender_pk, {0, 1});
}

SenderGroupLoad SqliteStore::group_load_of(DevicePk sender) {
  const auto unwritten = impl_->share_delta.unwritten(sender);
  std::int64_t bytes = unwritten.bytes, pending = unwritten.pending;
  auto& st = fresh(impl_->group_share);
  st.bind(1, sender);
  if (st.executeStep()) {
    bytes += st.getColumn(0).getInt64();
    pending += st.getColumn(1).getInt64();
  }
  st.reset();
  return {static_cast<std::uint64_t>(std::max<std::int64_t>(bytes, 0)),
          static_cast<std::uint64_t>(std::max<std::int64_t>(pending, 0))};
}

// Fan-out progress is (done_seq, done_device): every entry <= done_seq is in every inbox it
// is owed to, and entry done_seq + 1 is in the inboxes of devices with pk <= done_device.
// Devices are visited in pk order, so the cursor is a key, not an offset: a device added
// meanwhile cannot shift it. A device gets a range in one inbox row, which names the log
// entries rather than copying them; each entry counts the rows naming it (group_log_refs)
// and leaves the log when the last one is acknowledged.
FanoutStep SqliteStore::fan_out_group(std::string_view group_id, std::size_t max_appends) {
  FanoutStep step;
  // The cursor: every entry up to done_seq has reached every member's devices, and while a
  // range is open (range_end > done_seq) its entries have reached the devices up to
  // done_device, each device all of them.
  std::uint64_t done_seq = 0, range_end = 0, last_seq = 0;
  DevicePk done_device = 0;
  {
    auto& st = fresh(impl_->fanout_state);
    bind_blob(st, 1, group_id);
    if (!st.executeStep()) return step;
    done_seq = as_u64(st.getColumn(0));
    done_device = st.getColumn(1).getInt64();
    range_end = as_u64(st.getColumn(2));
    last_seq = as_u64(st.getColumn(3)) - 1;
    st.reset();
  }
  std::size_t budget = max_appends;
  while (budget > 0 && (range_end > done_seq || done_seq < last_seq)) {
    const auto lo = done_seq + 1;
    if (range_end <= done_seq) {
      // A new range: the entries owed, up to kFanoutRange, over which membership stays the
      // same, so one device list serves them all.
      range_end = std::min(last_seq, done_seq + kFanoutRange);
      auto& st = fresh(impl_->membership_change);
      bind_blob(st, 1, group_id);
      st.bind(2, static_cast<std::int64_t>(lo));
      st.bind(3, static_cast<std::int64_t>(range_end));
      if (st.executeStep() && !st.getColumn(0).isNull())
        range_end = as_u64(st.getColumn(0)) - 1;
      st.reset();
      done_device = 0;
    }
    const auto& range = impl_->fanout_range(group_id, lo, range_end);
    const auto& entries = range.entries;
    const auto& targets = *range.devices;
    // Each row is charged to the sender of the range's last entry, which the row names until
    // it goes (an ack trims a row from its head), so that sender's weight holds the rows its
    // messages keep in members' inboxes.
    const DevicePk charged = entries.back()->sender_pk;
    // Device by device, each getting the whole range in one row: its entries arrive
    // together, in one socket write, and one acknowledgement covers them.
    const std::size_t devices = std::max<std::size_t>(1, budget / entries.size());
    auto first = std::upper_bound(targets.begin(), targets.end(), done_device,
                                  [](DevicePk pk, const auto& t) { return pk < t.pk; });
    const auto last = first + static_cast<std::ptrdiff_t>(
                                  std::min<std::size_t>(devices, targets.end() - first));
    std::int64_t range_rows = 0;
    for (auto t = first; t != last; ++t) {
      done_device = t->pk;
      budget -= std::min(budget, entries.size());
      FanoutRun run{t->username, t->device_id, 0, {}};
      run.entries.reserve(entries.size());
      for (const auto& e : entries)
        if (!sent_by(*e, t->pk)) run.entries.push_back(e);
      if (run.entries.empty()) continue;  // the device sent every entry of the range
      const auto span = run.entries.size();
      run.first_seq = impl_->append_range(t->pk, group_id, lo, range_end, span,
                                          range.newest_ts, charged) - span + 1;
      ++range_rows;
      step.runs.push_back(std::move(run));
    }
    const bool complete = last == targets.end();
    // A row holds a reference to each entry of its range; the fan-out's own reference goes
    // when the range completes, and so do its entries from the senders' pending counts.
    impl_->add_log_refs(group_id, lo, range_end, range_rows - (complete ? 1 : 0));
    impl_->share_delta.add(
        charged, {range_rows * static_cast<std::int64_t>(kGroupEntryBytes), 0});
    if (complete) {
      for (const auto& e : entries) impl_->share_delta.add(e->sender_pk, {0, -1});
      step.entries_completed += entries.size();
      done_seq = range_end;
      done_device = 0;
    }
  }
  auto& save = fresh(impl_->save_fanout);
  save.bind(1, static_cast<std::int64_t>(done_seq));
  save.bind(2, done_device);
  save.bind(3, static_cast<std::int64_t>(range_end));
  bind_blob(save, 4, group_id);
  save.exec();
  step.more = done_seq < last_seq || range_end > done_seq;
  return step;
}

std::vector<std::string> SqliteStore::groups_behind(std::uint64_t* entries_behind) {
  auto& st = fresh(impl_->groups_behind);
  std::vector<std::string> out;
  std::uint64_t total = 0;
  while (st.executeStep()) {
    out.push_back(st.getColumn(0).getString());
    total += as_u64(st.getColumn(1));
  }
  if (entries_behind) *entries_behind = total;
  return out;
}

}  // namespace parley::store

// ---- Media (sqlite_media.cpp) ----

namespace parley::store {

void SqliteStore::create_media(const MediaRecord& media) { media_->create(media); }
std::optional<MediaRecord> SqliteStore::find_media(std::string_view media_id) {
  return media_->find(media_id);
}
std::uint64_t SqliteStore::media_bytes(UserId owner) { return media_->bytes_of(owner); }
std::uint32_t SqliteStore::unfinished_uploads(UserId owner, std::uint64_t since_ms) {
  return media_->unfinished(owner, since_ms);
}
bool SqliteStore::complete_media(std::string_view media_id, std::string_view sha256,
                                 std::uint64_t now_ms) {
  return media_->complete(media_id, sha256, now_ms);
}
std::vector<MediaRecord> SqliteStore::purge_media(std::uint64_t before_ms,
                                                  std::uint64_t unfinished_before_ms) {
  return media_->purge(before_ms, unfinished_before_ms);
}
bool SqliteStore::blob_referenced(std::string_view sha256) { return media_->referenced(sha256); }

}  // namespace parley::store
