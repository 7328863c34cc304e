#include "store/postgres/postgres_store.hpp"

#include <sodium.h>

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <unordered_map>

#include <fmt/format.h>

#include "store/account_cache.hpp"
#include "store/deferred_sums.hpp"
#include "store/postgres/pg_connection.hpp"
#include "store/postgres/pg_schema.hpp"
#include "store/range_rows.hpp"

namespace parley::store {
namespace {

using pg::Params;
using pg::Statement;

// Every statement the store runs, prepared on first use. Parameter types: i bigint, b bytea,
// t text (pg_connection.hpp).
namespace sql {
constexpr Statement kFindUser{"find_user", "SELECT id FROM users WHERE username = $1", "t"};
constexpr Statement kFindDevice{
    "find_device",
    "SELECT d.user_id, d.id, d.device_id, d.identity_key, d.inbox_tail FROM devices d "
    "JOIN users u ON u.id = d.user_id WHERE u.username = $1 AND d.device_id = $2",
    "ti"};
constexpr Statement kInsertUser{
    "insert_user",
    "INSERT INTO users(username, created_ms) VALUES($1, $2) ON CONFLICT (username) DO NOTHING "
    "RETURNING id",
    "ti"};
// Only create_account writes users and devices but for the inbox tail and prekeys: the
// account cache relies on an account and its devices never changing once made.
constexpr Statement kInsertDevice{
    "insert_device",
    "INSERT INTO devices(user_id, device_id, identity_key) VALUES($1, $2, $3) RETURNING id",
    "iib"};
constexpr Statement kDeviceAddresses{
    "device_addresses", "SELECT id, device_id FROM devices WHERE user_id = $1 ORDER BY device_id",
    "i"};
constexpr Statement kTail{"tail", "SELECT inbox_tail FROM devices WHERE id = $1", "i"};
// The device's row stays locked to the commit, so the seqs of one inbox commit in the order
// they were given, whichever relay gave them: a reader never sees seq n+1 before n.
constexpr Statement kTakeSeqs{
    "take_seqs",
    "UPDATE devices SET inbox_tail = inbox_tail + $2 WHERE id = $1 RETURNING inbox_tail", "ii"};
constexpr Statement kSetSigned{
    "set_signed",
    "UPDATE devices SET signed_prekey_id = $1, signed_prekey = $2, signed_prekey_sig = $3 "
    "WHERE id = $4",
    "ibbi"};
constexpr Statement kHasSigned{"has_signed",
                               "SELECT signed_prekey IS NOT NULL FROM devices WHERE id = $1", "i"};
constexpr Statement kAddOtp{
    "add_otp",
    "INSERT INTO one_time_prekeys(device, key_id, public_key) VALUES($1, $2, $3) "
    "ON CONFLICT DO NOTHING",
    "iib"};
constexpr Statement kCountOtp{"count_otp",
                              "SELECT COUNT(*) FROM one_time_prekeys WHERE device = $1", "i"};
constexpr Statement kBundleDevices{
    "bundle_devices",
    "SELECT id, device_id, identity_key, signed_prekey_id, signed_prekey, signed_prekey_sig "
    "FROM devices WHERE user_id = $1 ORDER BY device_id",
    "i"};
// SKIP LOCKED: two fetches at once on two relays take two different keys, neither waits.
constexpr Statement kTakeOtp{
    "take_otp",
    "DELETE FROM one_time_prekeys WHERE device = $1 AND key_id = (SELECT key_id FROM "
    "one_time_prekeys WHERE device = $1 ORDER BY key_id LIMIT 1 FOR UPDATE SKIP LOCKED) "
    "RETURNING key_id, public_key",
    "i"};
constexpr Statement kFindSent{
    "find_sent", "SELECT conv_seq, server_ts FROM sent WHERE sender = $1 AND client_msg_id = $2",
    "ib"};
constexpr Statement kInsertSent{
    "insert_sent",
    "INSERT INTO sent(sender, client_msg_id, conv_seq, server_ts) VALUES($1, $2, $3, $4)",
    "ibii"};
constexpr Statement kNextConv{
    "next_conv",
    "INSERT INTO conversations(conv_key, last_seq) VALUES($1, 1) ON CONFLICT (conv_key) "
    "DO UPDATE SET last_seq = conversations.last_seq + 1 RETURNING last_seq",
    "b"};
// A message's conversation seq and its sent record in one statement, and each device's entry
// with its inbox seq in another: what next_conv, insert_sent, take_seqs and insert_inbox do,
// taken server-side, so a send waits for no round trip of its own (append_message_by_commit).
// The locks are next_conv's and take_seqs', in the same order. A device gone meanwhile leaves
// the entry's seq null, which its column refuses: the statement fails as take_seqs' caller
// does.
constexpr Statement kAppendConv{
    "append_conv",
    "WITH conv AS (INSERT INTO conversations(conv_key, last_seq) VALUES($1, 1) ON CONFLICT "
    "(conv_key) DO UPDATE SET last_seq = conversations.last_seq + 1 RETURNING last_seq) "
    "INSERT INTO sent(sender, client_msg_id, conv_seq, server_ts) SELECT $2, $3, last_seq, $4 "
    "FROM conv RETURNING conv_seq",
    "bibi"};
constexpr Statement kAppendRow{
    "append_row",
    "WITH tail AS (UPDATE devices SET inbox_tail = inbox_tail + 1 WHERE id = $1 RETURNING "
    "inbox_tail) INSERT INTO inbox(device, seq, kind, sender, sender_device, sender_pk, "
    "client_msg_id, conv_seq, server_ts, content_hint, ciphertext, group_id) VALUES($1, "
    "(SELECT inbox_tail FROM tail), $2, $3, $4, $5, $6, (SELECT last_seq FROM conversations "
    "WHERE conv_key = $11), $7, $8, $9, $10) RETURNING seq, conv_seq",
    "iitiibiibbb"};
constexpr Statement kInsertInbox{
    "insert_inbox",
    "INSERT INTO inbox(device, seq, kind, sender, sender_device, sender_pk, client_msg_id, "
    "conv_seq, server_ts, content_hint, ciphertext, group_id) "
    "VALUES($1, $2, $3, $4, $5, $6, $7, $12, $8, $9, $10, $11)",
    "iiitiibiibbi"};
// A member's row for group entries names a range of the log; its sender_pk is the sender it
// is charged to (sqlite_schema.cpp, steps 10 and 12).
constexpr Statement kInsertRange{
    "insert_range",
    "INSERT INTO inbox(device, seq, kind, sender, sender_device, sender_pk, client_msg_id, "
    "conv_seq, server_ts, content_hint, group_id, span, conv_last) "
    "VALUES($1, $2, 0, '', 0, $8, ''::bytea, $3, $4, 0, $5, $6, $7)",
    "iiiibiii"};
constexpr Statement kLoad{
    "load",
    "SELECT ((SELECT COALESCE(SUM(bytes), 0) FROM inbox_weights WHERE device = $1) - "
    "(SELECT COALESCE(SUM(bytes), 0) FROM inbox_weights_out WHERE device = $1))::bigint, "
    "((SELECT COALESCE(SUM(bytes), 0) FROM inbox_weights WHERE device = $1 AND sender_pk = $2) "
    "- (SELECT COALESCE(SUM(bytes), 0) FROM inbox_weights_out WHERE device = $1 AND "
    "sender_pk = $2))::bigint",
    "ii"};
// Rows in order up to `limit`, and none after the byte budget is reached (a row is taken
// while the bytes before it are under it), so a page of large messages is not all fetched
// to be dropped. A range row's entries are in the log, weighed as they are read.
constexpr Statement kReadInbox{
    "read_inbox",
    "SELECT seq, kind, sender, sender_device, sender_pk, client_msg_id, conv_seq, server_ts, "
    "content_hint, ciphertext, group_id, span, conv_last FROM (SELECT *, SUM(COALESCE("
    "length(ciphertext), 0)) OVER (ORDER BY seq) - COALESCE(length(ciphertext), 0) AS before "
    "FROM inbox WHERE device = $1 AND seq > $2 ORDER BY seq LIMIT $3) r WHERE before < $4 "
    "ORDER BY seq",
    "iiii"};
// Locked, as the rows the ack then deletes or trims: two deletes of one inbox at once (an ack
// on each gateway while a device moves, or an ack and retention) would otherwise both count
// the same rows and release their log entries twice. The second waits, and then skips the
// rows the first deleted. With them, in the same round trip, the first row after the ack,
// which may be a range row the ack ends inside. Read ahead for a batch (StoreWorker::
// read_ahead), before the jobs in front of the ack ran, it fails at once on a row another
// writer holds rather than wait, so that only the ack's own read waits, in its own run.
#define PARLEY_SELECT_ACKED                                                                 \
  "SELECT sender, sender_device, sender_pk, conv_seq, kind, group_id, span, conv_last, seq, " \
  "COALESCE(length(ciphertext), 0) FROM inbox WHERE device = $1 AND seq <= COALESCE((SELECT " \
  "MIN(seq) FROM inbox WHERE device = $1 AND seq > $2), $2) ORDER BY seq LIMIT $3 FOR UPDATE"
constexpr Statement kSelectAcked{"select_acked", PARLEY_SELECT_ACKED, "iii"};
constexpr Statement kSelectAckedAhead{"select_acked_ahead", PARLEY_SELECT_ACKED " NOWAIT", "iii"};
#undef PARLEY_SELECT_ACKED
constexpr Statement kDeleteAcked{"delete_acked",
                                 "DELETE FROM inbox WHERE device = $1 AND seq <= $2", "ii"};
constexpr Statement kTrimRange{
    "trim_range", "UPDATE inbox SET span = $1, conv_seq = $2 WHERE device = $3 AND seq = $4",
    "iiii"};
// What it releases and weighs out is what it deleted, whatever an ack took meanwhile.
constexpr Statement kPurgeInbox{
    "purge_inbox",
    "DELETE FROM inbox WHERE server_ts < $1 RETURNING span, group_id, conv_seq, conv_last, "
    "sender_pk, device, COALESCE(length(ciphertext), 0)",
    "i"};
// What this relay's transaction moved into and out of its inboxes' weights, written at its
// commit, one row per device and sender (pg_schema.cpp, step 3), in key order.
constexpr Statement kAddWeightsIn{
    "add_weights_in",
    "INSERT INTO inbox_weights(device, sender_pk, bytes) SELECT * FROM unnest($1, $2, $3) "
    "ON CONFLICT(device, sender_pk) DO UPDATE SET bytes = inbox_weights.bytes + excluded.bytes",
    "III"};
constexpr Statement kAddWeightsOut{
    "add_weights_out",
    "INSERT INTO inbox_weights_out(device, sender_pk, bytes) SELECT * FROM unnest($1, $2, $3) "
    "ON CONFLICT(device, sender_pk) DO UPDATE SET bytes = inbox_weights_out.bytes + "
    "excluded.bytes",
    "III"};
constexpr Statement kPurgeSent{"purge_sent", "DELETE FROM sent WHERE server_ts < $1", "i"};
constexpr Statement kDepth{"depth", "SELECT COALESCE(SUM(span), 0)::bigint FROM inbox", ""};

constexpr Statement kInsertGroup{"insert_group",
                                 "INSERT INTO groups(id, created_ms) VALUES($1, $2)", "bi"};
constexpr Statement kInsertFanout{"insert_fanout",
                                  "INSERT INTO group_fanout(group_id) VALUES($1)", "b"};
constexpr Statement kFindGroup{"find_group", "SELECT next_seq, epoch FROM groups WHERE id = $1",
                               "b"};
constexpr Statement kGroupMembers{
    "group_members",
    "SELECT m.user_id, u.username, m.admin, m.joined_seq FROM group_members m "
    "JOIN users u ON u.id = m.user_id WHERE m.group_id = $1 AND m.left_seq IS NULL "
    "ORDER BY m.joined_seq, m.id",
    "b"};
constexpr Statement kAddMember{
    "add_member",
    "INSERT INTO group_members(group_id, user_id, admin, joined_seq) VALUES($1, $2, $3 <> 0, $4)",
    "biii"};
constexpr Statement kEndMember{
    "end_member",
    "UPDATE group_members SET left_seq = $1 WHERE group_id = $2 AND user_id = $3 "
    "AND left_seq IS NULL",
    "ibi"};
constexpr Statement kSetAdmin{
    "set_admin",
    "UPDATE group_members SET admin = $1 <> 0 WHERE group_id = $2 AND user_id = $3 "
    "AND left_seq IS NULL",
    "ibi"};
constexpr Statement kFindMember{
    "find_member",
    "SELECT m.user_id, u.username, m.admin, m.joined_seq FROM group_members m "
    "JOIN users u ON u.id = m.user_id WHERE m.group_id = $1 AND m.user_id = $2 "
    "AND m.left_seq IS NULL",
    "bi"};
constexpr Statement kBumpEpoch{
    "bump_epoch", "UPDATE groups SET epoch = epoch + 1 WHERE id = $1 RETURNING epoch", "b"};
// The group's row stays locked to the commit: log seqs commit in the order they were given.
constexpr Statement kBumpGroupSeq{
    "bump_group_seq",
    "UPDATE groups SET next_seq = next_seq + 1 WHERE id = $1 RETURNING next_seq - 1", "b"};
constexpr Statement kInsertLog{
    "insert_log",
    "INSERT INTO group_log(group_id, seq, kind, sender, sender_device, sender_pk, client_msg_id, "
    "server_ts, content_hint, payload) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    "biitiibiib"};
// Locked: one relay at a time moves a group's fan-out; another one's step waits and then
// goes on from where this one left it.
constexpr Statement kFanoutState{
    "fanout_state",
    "SELECT f.done_seq, f.done_device, f.range_end, g.next_seq FROM group_fanout f "
    "JOIN groups g ON g.id = f.group_id WHERE f.group_id = $1 FOR UPDATE OF f",
    "b"};
// The first seq in ($2, $3] at which a member joins or (having left at the seq before) stops
// getting entries: a fan-out range ends before it.
constexpr Statement kMembershipChange{
    "membership_change",
    "SELECT MIN(c) FROM (SELECT joined_seq AS c FROM group_members WHERE group_id = $1 "
    "AND joined_seq > $2 AND joined_seq <= $3 UNION ALL SELECT left_seq + 1 FROM group_members "
    "WHERE group_id = $1 AND left_seq + 1 > $2 AND left_seq + 1 <= $3) c",
    "bii"};
constexpr Statement kReadLog{
    "read_log",
    "SELECT seq, kind, sender, sender_device, sender_pk, client_msg_id, server_ts, content_hint, "
    "payload FROM group_log WHERE group_id = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq",
    "bii"};
constexpr Statement kReadLogSenders{
    "read_log_senders",
    "SELECT seq, kind, sender, sender_device, sender_pk FROM group_log "
    "WHERE group_id = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq",
    "bii"};
constexpr Statement kFanoutDevices{
    "fanout_devices",
    "SELECT d.id, d.device_id, u.username FROM group_members m "
    "JOIN devices d ON d.user_id = m.user_id JOIN users u ON u.id = m.user_id "
    "WHERE m.group_id = $1 AND m.joined_seq <= $2 AND (m.left_seq IS NULL OR m.left_seq >= $2) "
    "ORDER BY d.id",
    "bi"};
constexpr Statement kSaveFanout{
    "save_fanout",
    "UPDATE group_fanout SET done_seq = $1, done_device = $2, range_end = $3 WHERE group_id = $4",
    "iiib"};
// A run of a group's log entries whose references change alike (deferred_sums.hpp); then
// those of them left at zero, named by nothing any more (fan-out finished, every row
// acknowledged). Relays changing the same entries take their rows' locks as the plan scans
// them, usually the primary key's order; a deadlock between two is retried as any conflict.
constexpr Statement kChangeRefs{
    "change_refs",
    "UPDATE group_log SET refs = refs + $4 WHERE group_id = $1 AND seq BETWEEN $2 AND $3",
    "biii"};
constexpr Statement kDeleteUnreferenced{
    "delete_unreferenced",
    "DELETE FROM group_log WHERE group_id = $1 AND seq BETWEEN $2 AND $3 AND refs <= 0", "bii"};
constexpr Statement kGroupShare{
    "group_share", "SELECT bytes, pending FROM group_sender_bytes WHERE sender_pk = $1", "i"};
constexpr Statement kAddShare{
    "add_share",
    "INSERT INTO group_sender_bytes(sender_pk, bytes, pending) VALUES($1, $2, $3) "
    "ON CONFLICT(sender_pk) DO UPDATE SET bytes = group_sender_bytes.bytes + excluded.bytes, "
    "pending = group_sender_bytes.pending + excluded.pending",
    "iii"};
constexpr Statement kGroupsBehind{
    "groups_behind",
    "SELECT f.group_id, g.next_seq - 1 - f.done_seq FROM group_fanout f "
    "JOIN groups g ON g.id = f.group_id WHERE f.done_seq < g.next_seq - 1",
    ""};
// Locked (and so waited for) while the group is removed: a membership change on another relay
// commits first, and the group is then not abandoned.
constexpr Statement kAbandonedGroups{
    "abandoned_groups",
    "SELECT g.id FROM groups g JOIN group_fanout f ON f.group_id = g.id "
    "WHERE f.done_seq >= g.next_seq - 1 AND NOT EXISTS(SELECT 1 FROM group_members m "
    "WHERE m.group_id = g.id AND m.left_seq IS NULL) AND NOT EXISTS(SELECT 1 FROM group_log l "
    "WHERE l.group_id = g.id) FOR UPDATE OF g",
    ""};
constexpr Statement kDropMembers{"drop_members",
                                 "DELETE FROM group_members WHERE group_id = $1", "b"};
constexpr Statement kDropFanout{"drop_fanout", "DELETE FROM group_fanout WHERE group_id = $1",
                                "b"};
constexpr Statement kDropGroupMarks{"drop_group_marks",
                                    "DELETE FROM delivery_marks WHERE group_id = $1", "b"};
constexpr Statement kDropGroup{"drop_group", "DELETE FROM groups WHERE id = $1", "b"};

// A raise takes the owner's device row first and holds it to the commit, so one owner's
// versions (its devices' resume points) commit in the order the sequence gave them.
constexpr Statement kLockOwner{"lock_owner",
                               "SELECT 1 FROM devices WHERE id = $1 FOR NO KEY UPDATE", "i"};
// Raised where it is lower, or made where there is none (the owner's row lock keeps another
// relay from making it meanwhile), in one statement, so a redelivery's ack takes no version
// from the sequence: the insert's NOT EXISTS sees the rows as they were before the update.
// It also answers the owner's newest version before it (`before`, seen as the statement
// began, so not this raise's): every raise of the owner committed before this one took the
// owner's row, so a device that has heard of that version has missed none.
constexpr Statement kRaiseOrMakeMark{
    "raise_or_make_mark",
    "WITH before AS (SELECT coalesce(max(version), 0) AS v FROM delivery_marks WHERE owner = $1), "
    "raised AS (UPDATE delivery_marks SET up_to = $5, acked_ms = $6, version = "
    "nextval('mark_version') WHERE owner = $1 AND reader = $2 AND group_id = $3 AND up_to < $5 "
    "RETURNING version, from_seq), made AS (INSERT INTO delivery_marks(owner, reader, group_id, "
    "from_seq, up_to, acked_ms, version) SELECT $1, $2, $3, $4, $5, $6, nextval('mark_version') "
    "WHERE NOT EXISTS (SELECT 1 FROM delivery_marks WHERE owner = $1 AND reader = $2 AND "
    "group_id = $3) RETURNING version, from_seq) SELECT version, from_seq, before.v FROM raised, "
    "before UNION ALL SELECT version, from_seq, before.v FROM made, before",
    "iibiii"};
constexpr Statement kMarksAfter{
    "marks_after",
    "SELECT u.username, d.device_id, m.group_id, m.from_seq, m.up_to, m.acked_ms, m.version "
    "FROM delivery_marks m JOIN devices d ON d.id = m.reader JOIN users u ON u.id = d.user_id "
    "WHERE m.owner = $1 AND m.version > $2 ORDER BY m.version LIMIT $3",
    "iii"};
constexpr Statement kMarkVersion{
    "mark_version", "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM mark_version", ""};
constexpr Statement kForgetMember{
    "forget_member",
    "DELETE FROM delivery_marks WHERE group_id = $1 AND reader IN "
    "(SELECT id FROM devices WHERE user_id = $2)",
    "bi"};

constexpr Statement kInsertMedia{
    "insert_media", "INSERT INTO media(id, owner, size, created_ms) VALUES($1, $2, $3, $4)",
    "biii"};
constexpr Statement kFindMedia{
    "find_media",
    "SELECT id, owner, size, sha256, created_ms, completed_ms FROM media WHERE id = $1", "b"};
constexpr Statement kMediaBytes{
    "media_bytes", "SELECT COALESCE(SUM(size), 0)::bigint FROM media WHERE owner = $1", "i"};
constexpr Statement kUnfinished{
    "unfinished",
    "SELECT COUNT(*) FROM media WHERE owner = $1 AND sha256 IS NULL AND created_ms >= $2", "ii"};
constexpr Statement kCompleteMedia{
    "complete_media", "UPDATE media SET sha256 = $1, completed_ms = $2 WHERE id = $3", "bib"};
constexpr Statement kPurgeMedia{
    "purge_media",
    "DELETE FROM media WHERE created_ms < $1 OR (sha256 IS NULL AND created_ms < $2) "
    "RETURNING id, owner, size, sha256, created_ms, completed_ms",
    "ii"};
constexpr Statement kBlobReferenced{"blob_referenced",
                                    "SELECT 1 FROM media WHERE sha256 = $1 LIMIT 1", "b"};
}  // namespace sql

// LIMIT takes a bigint: "all" (SIZE_MAX) becomes the largest one.
std::int64_t limit_of(std::size_t n) {
  return static_cast<std::int64_t>(
      std::min<std::uint64_t>(n, std::numeric_limits<std::int64_t>::max()));
}

// kSelectAcked's LIMIT for a part of at most `max_rows` rows (at least one: a part must take
// something, or its caller loops): one row more than may go, so that the part stops before
// it when it is there, and the row after the ack.
std::int64_t acked_rows_limit(std::size_t max_rows) {
  max_rows = std::max<std::size_t>(max_rows, 1);
  return limit_of(max_rows == SIZE_MAX ? max_rows : max_rows + 1);
}

MediaRecord media_row(const pg::Result& r, int row) {
  MediaRecord m;
  m.id = r.bytes(row, 0);
  m.owner = r.i64(row, 1);
  m.size = r.u64(row, 2);
  m.sha256 = r.bytes(row, 3);
  m.created_ms = r.u64(row, 4);
  if (!r.is_null(row, 5)) m.completed_ms = r.u64(row, 5);
  return m;
}

GroupMemberRecord member_row(const pg::Result& r, int row) {
  return {r.i64(row, 0), r.bytes(row, 1), r.boolean(row, 2), r.u64(row, 3)};
}

// kFindSent's answer: none, or the record.
std::optional<SentRecord> sent_row(const pg::Result& r) {
  if (r.empty()) return std::nullopt;
  return SentRecord{r.u64(0, 0), r.u64(0, 1)};
}

// kLoad's answer.
Store::InboxLoad load_row(const pg::Result& r) { return {r.u64(0, 0), r.u64(0, 1)}; }

}  // namespace

// What a transaction moved into and out of one device's inbox weight from one sender.
struct WeightDelta {
  std::int64_t in = 0, out = 0;
  WeightDelta& operator+=(const WeightDelta& o) {
    in += o.in;
    out += o.out;
    return *this;
  }
  WeightDelta& operator-=(const WeightDelta& o) {
    in -= o.in;
    out -= o.out;
    return *this;
  }
  bool operator==(const WeightDelta&) const = default;
};

struct PostgresStore::Impl {
  pg::Connection db;
  // Counted at start and at each purge; this relay's own writes move it in between, taken
  // back with them by a rollback.
  // Entries in all inboxes as of the last commit (shared with this relay's other stores),
  // and what this transaction changed so far.
  std::shared_ptr<SharedDepth> depth;
  std::int64_t depth_change = 0, depth_change_at_savepoint = 0;
  AccountCache accounts;
  std::vector<AckedMessages> acked;  // what the last delete_acked returned a view of

  // Changes to log entries' reference counts and senders' shares, summed over the
  // transaction and written at its commit, shares first (deferred_sums.hpp, as in
  // SqliteStore): every member's ack changes the counts of the same entries.
  RangeSums refs_delta;
  DeferredSums<DevicePk, ShareDelta> share_delta;
  // The same for the inbox weights, by device and sender: the 1:1 rows this relay writes
  // and deletes, weighed as the triggers of relays before schema step 3 weigh theirs
  // (pg_schema.cpp). A batch's sends and acks each touch a row of their own, so this is
  // one statement per batch instead of one trigger call per row.
  DeferredSums<std::pair<DevicePk, DevicePk>, WeightDelta> weight_delta;

  static std::int64_t row_weight(std::uint64_t ciphertext_bytes) {
    return static_cast<std::int64_t>(ciphertext_bytes + kInboxRowBytes);
  }
  void weigh_in(DevicePk device, const InboxEntry& e) {
    if (e.group_id.empty())
      weight_delta.add({device, e.sender_pk}, {row_weight(e.ciphertext.size()), 0});
  }
  void weigh_out(DevicePk device, DevicePk sender, std::uint64_t ciphertext_bytes) {
    weight_delta.add({device, sender}, {0, row_weight(ciphertext_bytes)});
  }
  // A load as the committed weights give it (kLoad), and what this transaction changed.
  InboxLoad with_unwritten(DevicePk device, DevicePk sender, InboxLoad load) const {
    constexpr auto kLeast = std::numeric_limits<DevicePk>::min();
    constexpr auto kMost = std::numeric_limits<DevicePk>::max();
    const auto all = weight_delta.unwritten_between({device, kLeast}, {device, kMost});
    const auto from = weight_delta.unwritten({device, sender});
    const auto moved = [](std::uint64_t v, const WeightDelta& d) {
      return static_cast<std::uint64_t>(std::max<std::int64_t>(
          0, static_cast<std::int64_t>(v) + d.in - d.out));
    };
    return {moved(load.total, all), moved(load.from_sender, from)};
  }

  // The fan-out's open range: its log entries and the devices owed them, read once for the
  // many steps a range to a large group takes. Neither changes while the range is open
  // (membership changes end a range; entries never change), whichever relay moves the
  // fan-out; dropped on every rollback. (A group another relay removes as abandoned and a
  // client then makes again with the same id is not noticed here: docs/architecture.md, 8.1.)
  struct FanoutTarget {
    DevicePk pk;
    std::uint32_t device_id;
    std::string username;
  };
  struct LogRange {
    std::string group_id;
    std::uint64_t lo = 0, end = 0;
    std::vector<std::shared_ptr<InboxEntry>> entries;
    std::vector<FanoutTarget> devices;
    std::uint64_t newest_ts = 0;
  };
  std::optional<LogRange> open_range;

  Impl(const std::string& conninfo, std::shared_ptr<SharedDepth> shared)
      : db(conninfo), depth(std::move(shared)) {
    pg::migrate_schema(db);
    // Two gateways' batches can lock the same rows (devices' inbox tails, mark owners, the
    // weight rows written at their commits) in opposite orders. PostgreSQL finds such a
    // deadlock only after deadlock_timeout (1 s by default), both gateways stalled
    // meanwhile; a shorter wait gives up first, and the StoreWorker ends its batch there and
    // runs the job again in the next (store_worker.cpp). Set after the schema, whose
    // advisory lock a second gateway starting at once may wait longer for. And the relay
    // weighs its inbox rows itself, at its commits (pg_schema.cpp, step 3). Each statement
    // sees what was committed before it began, whatever the server's default isolation: a
    // device's inbox read, made after an append was announced to it, must see the append
    // even in a transaction that began before it (Session::read_ahead).
    db.set_session(fmt::format("SET lock_timeout = '{}ms'; SET parley.writer_weighs_inbox = 'on'; "
                               "SET default_transaction_isolation = 'read committed'",
                               pg::kStatementLockWait.count()));
    if (!depth) {
      depth = std::make_shared<SharedDepth>();
      depth->set(db.run(sql::kDepth).i64(0, 0));
    }
  }

  // ---- Group log ----

  static void log_head(const pg::Result& r, int row, InboxEntry& e) {
    e.conv_seq = r.u64(row, 0);
    e.kind = static_cast<EntryKind>(r.i64(row, 1));
    e.sender = r.bytes(row, 2);
    e.sender_device = r.u32(row, 3);
    e.sender_pk = r.i64(row, 4);
  }

  // The group's log entries lo..end, whole.
  std::vector<std::shared_ptr<InboxEntry>> read_log(std::string_view group_id, std::uint64_t lo,
                                                    std::uint64_t end,
                                                    std::uint64_t* newest_ts = nullptr) {
    if (open_range && open_range->group_id == group_id && open_range->lo <= lo &&
        open_range->end >= end) {
      const auto& all = open_range->entries;
      return {all.begin() + static_cast<std::ptrdiff_t>(lo - open_range->lo),
              all.begin() + static_cast<std::ptrdiff_t>(end - open_range->lo + 1)};
    }
    const auto r = db.run(sql::kReadLog, Params().bytes(group_id).u64(lo).u64(end));
    std::vector<std::shared_ptr<InboxEntry>> out;
    for (int i = 0; i < r.rows(); ++i) {
      // One object per entry, shared by every member's live push.
      auto e = std::make_shared<InboxEntry>();
      log_head(r, i, *e);
      if (e->conv_seq != lo + out.size()) break;
      e->client_msg_id = r.bytes(i, 5);
      e->server_ts_ms = r.u64(i, 6);
      e->content_hint = r.u32(i, 7);
      e->ciphertext = r.bytes(i, 8);
      e->group_id = std::string(group_id);
      if (newest_ts != nullptr) *newest_ts = std::max(*newest_ts, e->server_ts_ms);
      out.push_back(std::move(e));
    }
    if (out.size() != end - lo + 1) missing_log_entries(lo, end, out.size());
    return out;
  }

  const LogRange& fanout_range(std::string_view group_id, std::uint64_t lo, std::uint64_t end) {
    if (open_range && open_range->group_id == group_id && open_range->lo == lo &&
        open_range->end == end)
      return *open_range;
    open_range.reset();
    LogRange range{std::string(group_id), lo, end, {}, {}, 0};
    range.entries = read_log(group_id, lo, end, &range.newest_ts);
    const auto r = db.run(sql::kFanoutDevices, Params().bytes(group_id).u64(lo));
    for (int i = 0; i < r.rows(); ++i) range.devices.push_back({r.i64(i, 0), r.u32(i, 1), r.bytes(i, 2)});
    return open_range.emplace(std::move(range));
  }

  // Calls f(entry) for the log entries lo..end in order, with their seq, kind and sender.
  template <class F>
  void visit_senders(std::string_view group_id, std::uint64_t lo, std::uint64_t end, F&& f) {
    const auto r = db.run(sql::kReadLogSenders, Params().bytes(group_id).u64(lo).u64(end));
    InboxEntry e;
    e.group_id = std::string(group_id);
    auto next = lo;
    for (int i = 0; i < r.rows() && r.u64(i, 0) == next; ++i, ++next) {
      log_head(r, i, e);
      f(e);
    }
    if (next != end + 1) missing_log_entries(lo, end, next - lo);
  }

  void add_log_refs(std::string_view group_id, std::uint64_t lo, std::uint64_t hi,
                    std::int64_t delta) {
    refs_delta.add(group_id, lo, hi, delta);
  }

  void flush_deferred() {
    // One table's rows, as the columns its statement takes.
    struct WeightRows {
      std::vector<std::int64_t> devices, senders, bytes;
      void add(const std::pair<DevicePk, DevicePk>& key, std::int64_t moved) {
        if (moved == 0) return;
        devices.push_back(key.first);
        senders.push_back(key.second);
        bytes.push_back(moved);
      }
    } in, out;
    weight_delta.flush([&](const auto& key, const WeightDelta& d) {
      in.add(key, d.in);
      out.add(key, d.out);
    });
    const auto write = [this](const Statement& st, const WeightRows& rows) {
      if (rows.devices.empty()) return;
      db.queue(st, Params().i64_array(rows.devices).i64_array(rows.senders).i64_array(rows.bytes));
    };
    write(sql::kAddWeightsIn, in);
    write(sql::kAddWeightsOut, out);
    share_delta.flush([this](DevicePk sender, const ShareDelta& d) {
      db.queue(sql::kAddShare, Params().i64(sender).i64(d.bytes).i64(d.pending));
    });
    refs_delta.flush([this](const std::string& group_id, std::uint64_t lo, std::uint64_t hi,
                            std::int64_t delta) {
      db.queue(sql::kChangeRefs, Params().bytes(group_id).u64(lo).u64(hi).i64(delta));
      if (delta < 0) db.queue(sql::kDeleteUnreferenced, Params().bytes(group_id).u64(lo).u64(hi));
    });
  }

  void forget_caches() {
    accounts.clear();
    open_range.reset();
  }

  // ---- Sends' reads, read ahead for a batch (Store::read_send_ahead) ----

  // What check_send would read for one send, as read in the round trip read_ahead() made.
  // What this transaction writes after it spoils it where the reads could not show the
  // write: its sent record (all of it; a purge: all). The loads are the committed weights,
  // to which check_send adds what this transaction changed since, as to a load read then.
  struct SendAhead {
    DevicePk sender = 0;
    std::vector<DevicePk> devices;
    int answers = 0;  // results taken: the sent record's, then each device's load
    std::optional<SentRecord> sent;
    std::vector<InboxLoad> loads;
  };
  // Keyed by the sender's user id (8 bytes) and the client_msg_id.
  std::unordered_map<std::string, SendAhead> sends_ahead;

  static std::string send_key(UserId sender, std::string_view client_msg_id) {
    std::string key(reinterpret_cast<const char*>(&sender), sizeof sender);
    key.append(client_msg_id);
    return key;
  }
  void sent_written(UserId sender, std::string_view client_msg_id) {
    if (!sends_ahead.empty()) sends_ahead.erase(send_key(sender, client_msg_id));
  }
  // Which reading ahead a queued read belongs to: one whose entries were forgotten (a failed
  // round trip may leave reads queued for the next) finds nothing to fill.
  std::uint64_t ahead_round = 0;
  SendAhead* send_ahead(const std::string& key, std::uint64_t round) {
    if (round != ahead_round) return nullptr;
    const auto it = sends_ahead.find(key);
    return it == sends_ahead.end() ? nullptr : &it->second;
  }
  // ---- Acks' reads, read ahead for a batch (Store::read_acked_ahead) ----

  // kSelectAcked's rows for one ack, read and locked inside the transaction by the round
  // trip read_ahead() made. Nothing but this transaction's own deletes can change them
  // before the ack's job runs: the locks keep other writers' deletes out, and what is
  // appended meanwhile goes past the device's tail, where an ack never reaches (it names
  // entries pushed, so committed) and where a row after the ack matters only as a range the
  // ack ends inside, which a new row cannot be. So the device's next delete_acked takes
  // them, and uses them if it asks what they answer.
  struct AckedAhead {
    std::uint64_t up_to = 0;
    std::int64_t limit = 0;
    std::optional<pg::Result> rows;
  };
  std::unordered_map<DevicePk, AckedAhead> acked_ahead;

  std::optional<pg::Result> take_acked_ahead(DevicePk device, std::uint64_t up_to,
                                             std::int64_t limit) {
    if (acked_ahead.empty()) return std::nullopt;
    const auto it = acked_ahead.find(device);
    if (it == acked_ahead.end()) return std::nullopt;
    auto ahead = std::move(it->second);
    acked_ahead.erase(it);
    if (ahead.up_to != up_to || ahead.limit != limit) return std::nullopt;
    return std::move(ahead.rows);
  }

  void forget_reads_ahead() {
    ++ahead_round;
    sends_ahead.clear();
    acked_ahead.clear();
  }
  // The reads of one send, taken if they still say what reading now would.
  std::optional<SendAhead> take_send_ahead(UserId sender_user, std::string_view client_msg_id,
                                           DevicePk sender,
                                           std::span<const DeviceAddress> devices) {
    if (sends_ahead.empty()) return std::nullopt;
    auto key = send_key(sender_user, client_msg_id);
    const auto it = sends_ahead.find(key);
    if (it == sends_ahead.end()) return std::nullopt;
    auto ahead = std::move(it->second);
    sends_ahead.erase(it);
    const auto answered = 1 + static_cast<int>(ahead.devices.size());
    if (ahead.answers != answered || ahead.sender != sender ||
        !std::ranges::equal(ahead.devices, devices, {}, {}, &DeviceAddress::pk))
      return std::nullopt;
    return ahead;
  }

  // ---- Inbox ----

  // A 1:1 entry's row at its inbox_seq, written with the next round trip.
  void queue_row(DevicePk device, const InboxEntry& e);
  // The entry's columns but its device and seqs, in the order kInsertInbox and kAppendRow
  // take them (kind through group_id, the seqs after).
  static void entry_params(Params& p, const InboxEntry& e);

  // Takes the device's next `n` inbox seqs and returns the last.
  std::uint64_t take_seqs(DevicePk device, std::uint64_t n) {
    return last_taken(db.run(sql::kTakeSeqs, Params().i64(device).u64(n)));
  }
  // The last seq kTakeSeqs took.
  static std::uint64_t last_taken(const pg::Result& r) {
    if (r.empty()) throw std::runtime_error("inbox: unknown device");
    return r.u64(0, 0);
  }

  std::uint64_t append_range(DevicePk device, std::string_view group_id, std::uint64_t lo,
                             std::uint64_t end, std::uint64_t span, std::uint64_t server_ts,
                             DevicePk charged) {
    const auto seq = take_seqs(device, span);
    db.queue(sql::kInsertRange, Params()
                                    .i64(device)
                                    .u64(seq)
                                    .u64(lo)
                                    .u64(server_ts)
                                    .bytes(group_id)
                                    .u64(span)
                                    .u64(end)
                                    .i64(charged));
    depth_change += static_cast<std::int64_t>(span);
    return seq;
  }

  struct RangeRow {
    std::uint64_t seq = 0, span = 0;
    std::string group_id;
    std::uint64_t lo = 0, end = 0;
  };

  // An ack ending inside a range row acknowledges its head: the row keeps the rest.
  std::uint64_t ack_range_head(DevicePk device, std::uint64_t up_to, const RangeRow& row) {
    const auto take = up_to - (row.seq - row.span);
    std::uint64_t taken = 0, next_lo = row.lo;
    visit_senders(row.group_id, row.lo, row.end, [&](const InboxEntry& e) {
      if (taken == take || sent_by(e, device)) return;
      ++taken;
      next_lo = e.conv_seq + 1;
      note_acked(acked, e);
    });
    if (taken != take) range_row_mismatch(device, row.seq);
    add_log_refs(row.group_id, row.lo, next_lo - 1, -1);
    db.queue(sql::kTrimRange,
             Params().u64(row.seq - up_to).u64(next_lo).i64(device).u64(row.seq));
    return take;
  }
};

PostgresStore::PostgresStore(const std::string& conninfo, std::shared_ptr<SharedDepth> depth)
    : impl_(std::make_unique<Impl>(conninfo, std::move(depth))) {}

PostgresStore::~PostgresStore() = default;

void PostgresStore::begin() {
  if (!impl_->db.ensure_open()) throw pg::Error("postgresql: connection lost; retrying", "");
  impl_->db.begin();
  impl_->depth_change = 0;
}
void PostgresStore::commit() {
  impl_->forget_reads_ahead();
  impl_->flush_deferred();
  impl_->db.commit();
  impl_->depth->add(std::exchange(impl_->depth_change, 0));
}
void PostgresStore::rollback() {
  impl_->forget_reads_ahead();
  impl_->refs_delta.forget();
  impl_->share_delta.forget();
  impl_->weight_delta.forget();
  impl_->depth_change = 0;
  impl_->forget_caches();
  impl_->db.rollback();
}
void PostgresStore::savepoint() {
  impl_->refs_delta.keep();
  impl_->share_delta.keep();
  impl_->weight_delta.keep();
  impl_->db.defer("SAVEPOINT job");
  impl_->depth_change_at_savepoint = impl_->depth_change;
}
// A round trip: what the job queued fails here, in its own savepoint, not in a later job's.
void PostgresStore::release_savepoint() {
  impl_->db.exec("RELEASE job");
  impl_->refs_delta.keep();
  impl_->share_delta.keep();
  impl_->weight_delta.keep();
}
void PostgresStore::rollback_to_savepoint() {
  impl_->depth_change = impl_->depth_change_at_savepoint;
  impl_->refs_delta.take_back();
  impl_->share_delta.take_back();
  impl_->weight_delta.take_back();
  impl_->forget_caches();
  impl_->db.discard_queued();
  impl_->db.exec("ROLLBACK TO job");
  impl_->db.defer("RELEASE job");
}

bool PostgresStore::conflicted(const std::exception& e) const {
  const auto* error = dynamic_cast<const pg::Error*>(&e);
  if (error == nullptr) return false;
  const auto& state = error->sqlstate();
  // deadlock_detected, serialization_failure, lock_not_available (lock_timeout)
  return state == "40P01" || state == "40001" || state == "55P03";
}

namespace {

// A value in `meta` that every relay on the database shares: `size` random bytes, made by
// whichever asks first. The bytes made here are zeroed whether or not they were kept (the
// routing key is a secret; libpq's copies in its buffers are not ours to zero).
std::string shared_random(pg::Connection& db, std::string_view key, std::size_t size) {
  static constexpr Statement kPut{
      "put_meta_once", "INSERT INTO meta(key, value) VALUES($1, $2) ON CONFLICT (key) DO NOTHING",
      "tb"};
  static constexpr Statement kGet{"get_meta", "SELECT value FROM meta WHERE key = $1", "t"};
  std::string made(size, '\0');
  randombytes_buf(made.data(), made.size());
  db.run(kPut, Params().text(key).bytes(made));
  sodium_memzero(made.data(), made.size());
  return db.run(kGet, Params().text(key)).bytes(0, 0);
}

}  // namespace

std::string PostgresStore::relay_id() { return shared_random(impl_->db, "relay_id", 16); }

// Every gateway on the database MACs the entries it carries with it (routing/notices.hpp).
std::string PostgresStore::routing_key() { return shared_random(impl_->db, "routing_key", 32); }

std::optional<UserId> PostgresStore::find_user(std::string_view username) {
  if (auto known = impl_->accounts.find(username)) return known->user_id;
  const auto r = impl_->db.run(sql::kFindUser, Params().text(username));
  if (r.empty()) return std::nullopt;
  return r.i64(0, 0);
}

std::optional<DeviceRecord> PostgresStore::find_device(std::string_view username,
                                                       std::uint32_t device_id) {
  const auto r = impl_->db.run(sql::kFindDevice, Params().text(username).u64(device_id));
  if (r.empty()) return std::nullopt;
  return DeviceRecord{r.i64(0, 0), r.i64(0, 1), r.u32(0, 2), r.bytes(0, 3), r.u64(0, 4)};
}

std::optional<DeviceRecord> PostgresStore::create_account(std::string_view username,
                                                          std::string_view identity_key,
                                                          std::uint32_t device_id,
                                                          std::uint64_t now_ms) {
  const auto user = impl_->db.run(sql::kInsertUser, Params().text(username).u64(now_ms));
  if (user.empty()) return std::nullopt;
  DeviceRecord d;
  d.user_id = user.i64(0, 0);
  d.device_id = device_id;
  d.identity_key = std::string(identity_key);
  d.pk = impl_->db.run(sql::kInsertDevice, Params().i64(d.user_id).u64(device_id).bytes(identity_key))
             .i64(0, 0);
  return d;
}

std::shared_ptr<const Account> PostgresStore::find_account(std::string_view username) {
  if (auto known = impl_->accounts.find(username)) return known;
  const auto user = find_user(username);
  if (!user) return nullptr;  // not remembered: the name may be registered next
  auto account = std::make_shared<Account>();
  account->user_id = *user;
  const auto r = impl_->db.run(sql::kDeviceAddresses, Params().i64(*user));
  for (int i = 0; i < r.rows(); ++i) account->devices.push_back({r.i64(i, 0), r.u32(i, 1)});
  impl_->accounts.put(username, account);
  return account;
}

std::uint64_t PostgresStore::inbox_tail(DevicePk device) {
  const auto r = impl_->db.run(sql::kTail, Params().i64(device));
  return r.empty() ? 0 : r.u64(0, 0);
}

void PostgresStore::set_signed_prekey(DevicePk device, const SignedPrekeyRecord& key) {
  impl_->db.queue(sql::kSetSigned,
                  Params().u64(key.id).bytes(key.public_key).bytes(key.signature).i64(device));
}

bool PostgresStore::has_signed_prekey(DevicePk device) {
  const auto r = impl_->db.run(sql::kHasSigned, Params().i64(device));
  return !r.empty() && r.boolean(0, 0);
}

std::uint32_t PostgresStore::add_one_time_prekeys(DevicePk device,
                                                  std::span<const OneTimePrekeyRecord> keys,
                                                  std::uint32_t cap) {
  std::uint32_t count = one_time_prekey_count(device);
  for (const auto& k : keys) {
    if (count >= cap) break;
    count += static_cast<std::uint32_t>(
        impl_->db.run(sql::kAddOtp, Params().i64(device).u64(k.id).bytes(k.public_key)).affected());
  }
  return count;
}

std::uint32_t PostgresStore::one_time_prekey_count(DevicePk device) {
  return impl_->db.run(sql::kCountOtp, Params().i64(device)).u32(0, 0);
}

std::vector<BundleRecord> PostgresStore::take_bundles(UserId user, bool one_time) {
  std::vector<BundleRecord> out;
  const auto r = impl_->db.run(sql::kBundleDevices, Params().i64(user));
  for (int i = 0; i < r.rows(); ++i) {
    BundleRecord b;
    b.pk = r.i64(i, 0);
    b.device_id = r.u32(i, 1);
    b.identity_key = r.bytes(i, 2);
    if (!r.is_null(i, 4))
      b.signed_prekey = SignedPrekeyRecord{r.u32(i, 3), r.bytes(i, 4), r.bytes(i, 5)};
    out.push_back(std::move(b));
  }
  for (auto& b : out) {
    if (one_time) {
      const auto k = impl_->db.run(sql::kTakeOtp, Params().i64(b.pk));
      if (!k.empty()) b.one_time_prekey = OneTimePrekeyRecord{k.u32(0, 0), k.bytes(0, 1)};
    }
    b.one_time_left = one_time_prekey_count(b.pk);
  }
  return out;
}

std::optional<SentRecord> PostgresStore::find_sent(UserId sender,
                                                   std::string_view client_msg_id) {
  return sent_row(impl_->db.run(sql::kFindSent, Params().i64(sender).bytes(client_msg_id)));
}

void PostgresStore::remember_sent(UserId sender, std::string_view client_msg_id,
                                  const SentRecord& ack) {
  impl_->sent_written(sender, client_msg_id);
  impl_->db.queue(sql::kInsertSent, Params()
                                        .i64(sender)
                                        .bytes(client_msg_id)
                                        .u64(ack.conv_seq)
                                        .u64(ack.server_ts_ms));
}

std::uint64_t PostgresStore::next_conv_seq(std::string_view conv_key) {
  return impl_->db.run(sql::kNextConv, Params().bytes(conv_key)).u64(0, 0);
}

void PostgresStore::append_inbox(DevicePk device, InboxEntry& e) {
  e.inbox_seq = impl_->take_seqs(device, 1);
  impl_->queue_row(device, e);
}

void PostgresStore::read_send_ahead(UserId sender_user, std::string_view client_msg_id,
                                    DevicePk sender, std::span<const DeviceAddress> devices) {
  auto& impl = *impl_;
  auto key = Impl::send_key(sender_user, client_msg_id);
  auto [it, made] = impl.sends_ahead.try_emplace(key);
  if (!made) return;  // the same send twice in one batch: the first asked
  auto& ahead = it->second;
  ahead.sender = sender;
  for (const auto& d : devices) ahead.devices.push_back(d.pk);
  ahead.loads.resize(devices.size());
  const auto round = impl.ahead_round;
  impl.db.queue_read(sql::kFindSent, Params().i64(sender_user).bytes(client_msg_id),
                     [&impl, key, round](pg::Result r) {
                       if (auto* a = impl.send_ahead(key, round)) {
                         a->sent = sent_row(r);
                         ++a->answers;
                       }
                     });
  for (std::size_t i = 0; i < devices.size(); ++i)
    impl.db.queue_read(sql::kLoad, Params().i64(devices[i].pk).i64(sender),
                       [&impl, key, round, i](pg::Result r) {
                         if (auto* a = impl.send_ahead(key, round)) {
                           a->loads[i] = load_row(r);
                           ++a->answers;
                         }
                       });
}

void PostgresStore::read_acked_ahead(DevicePk device, std::uint64_t up_to,
                                     std::size_t max_rows) {
  auto& impl = *impl_;
  const auto limit = acked_rows_limit(max_rows);
  auto [it, made] = impl.acked_ahead.try_emplace(device);
  if (!made) return;  // two acks of one device in a batch: the first asks, the second reads
  it->second.up_to = up_to;
  it->second.limit = limit;
  const auto round = impl.ahead_round;
  impl.db.queue_read(sql::kSelectAckedAhead, Params().i64(device).u64(up_to).i64(limit),
                     [&impl, device, round](pg::Result r) {
                       if (round != impl.ahead_round) return;
                       const auto a = impl.acked_ahead.find(device);
                       if (a != impl.acked_ahead.end()) a->second.rows = std::move(r);
                     });
}

void PostgresStore::read_ahead() {
  auto& impl = *impl_;
  // A read of an account that was not cached may have carried them already.
  if (std::ranges::any_of(impl.sends_ahead, [](const auto& s) { return s.second.answers == 0; }) ||
      std::ranges::any_of(impl.acked_ahead, [](const auto& a) { return !a.second.rows; }))
    impl.db.read_queued();
}

void PostgresStore::forget_read_ahead() { impl_->forget_reads_ahead(); }

std::optional<SentRecord> PostgresStore::check_send(UserId sender_user,
                                                    std::string_view client_msg_id,
                                                    DevicePk sender,
                                                    std::span<const DeviceAddress> devices,
                                                    std::span<InboxLoad> loads) {
  auto& impl = *impl_;
  if (auto ahead = impl.take_send_ahead(sender_user, client_msg_id, sender, devices)) {
    if (ahead->sent) return ahead->sent;
    for (std::size_t i = 0; i < devices.size(); ++i)
      loads[i] = impl.with_unwritten(devices[i].pk, sender, ahead->loads[i]);
    return std::nullopt;
  }
  auto& db = impl.db;
  db.queue_read(sql::kFindSent, Params().i64(sender_user).bytes(client_msg_id));
  for (const auto& d : devices) db.queue_read(sql::kLoad, Params().i64(d.pk).i64(sender));
  const auto r = db.read_queued();
  if (auto seen = sent_row(r[0])) return seen;
  for (std::size_t i = 0; i < devices.size(); ++i)
    loads[i] = impl.with_unwritten(devices[i].pk, sender, load_row(r[i + 1]));
  return std::nullopt;
}

void PostgresStore::append_message_by_commit(std::string_view conv_key,
                                             std::span<const Append> appends,
                                             UserId sender_user, std::string_view client_msg_id,
                                             SentRecord& ack) {
  auto& impl = *impl_;
  impl.sent_written(sender_user, client_msg_id);
  impl.db.queue_read(
      sql::kAppendConv,
      Params().bytes(conv_key).i64(sender_user).bytes(client_msg_id).u64(ack.server_ts_ms),
      [&ack](const pg::Result& r) { ack.conv_seq = r.u64(0, 0); });
  for (const auto& a : appends) {
    auto& e = *a.entry;
    impl.weigh_in(a.device, e);
    Params p;
    p.i64(a.device);
    Impl::entry_params(p, e);
    p.bytes(conv_key);
    impl.db.queue_read(sql::kAppendRow, p, [&e](const pg::Result& r) {
      e.inbox_seq = r.u64(0, 0);
      e.conv_seq = r.u64(0, 1);
    });
    ++impl.depth_change;
  }
}

void PostgresStore::Impl::entry_params(Params& p, const InboxEntry& e) {
  p.i64(static_cast<int>(e.kind))
      .text(e.sender)
      .u64(e.sender_device)
      .i64(e.sender_pk)
      .bytes(e.client_msg_id)
      .u64(e.server_ts_ms)
      .u64(e.content_hint)
      .bytes(e.ciphertext);
  if (e.group_id.empty()) p.null();
  else p.bytes(e.group_id);
}

void PostgresStore::Impl::queue_row(DevicePk device, const InboxEntry& e) {
  weigh_in(device, e);
  Params p;
  p.i64(device).u64(e.inbox_seq);
  entry_params(p, e);
  p.u64(e.conv_seq);
  db.queue(sql::kInsertInbox, p);
  ++depth_change;
}

Store::InboxLoad PostgresStore::inbox_load(DevicePk device, DevicePk sender) {
  const auto committed = impl_->db.run(sql::kLoad, Params().i64(device).i64(sender));
  return impl_->with_unwritten(device, sender, load_row(committed));
}

std::vector<PagedEntry> PostgresStore::read_inbox_page(DevicePk device, std::uint64_t after_seq,
                                                       std::size_t limit,
                                                       std::size_t max_bytes) {
  const auto r = impl_->db.run(
      sql::kReadInbox,
      Params().i64(device).u64(after_seq).i64(limit_of(limit)).i64(limit_of(max_bytes)));
  std::vector<PagedEntry> out;
  std::size_t bytes = 0;
  const auto full = [&] { return out.size() >= limit || bytes >= max_bytes; };
  for (int i = 0; i < r.rows() && !full(); ++i) {
    const auto seq = r.u64(i, 0);
    if (!r.is_null(i, 12)) {
      // A range row: its entries from the log, numbered up to its seq; an earlier read may
      // have stopped inside it.
      const auto group_id = r.bytes(i, 10);
      auto inbox_seq = seq - r.u64(i, 11);
      for (const auto& e : impl_->read_log(group_id, r.u64(i, 6), r.u64(i, 12))) {
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
    e->kind = static_cast<EntryKind>(r.i64(i, 1));
    e->sender = r.bytes(i, 2);
    e->sender_device = r.u32(i, 3);
    e->sender_pk = r.i64(i, 4);
    e->client_msg_id = r.bytes(i, 5);
    e->conv_seq = r.u64(i, 6);
    e->server_ts_ms = r.u64(i, 7);
    e->content_hint = r.u32(i, 8);
    e->ciphertext = r.bytes(i, 9);
    e->group_id = r.bytes(i, 10);
    bytes += e->ciphertext.size();
    out.push_back({seq, std::move(e)});
  }
  return out;
}

std::span<const AckedMessages> PostgresStore::delete_acked(DevicePk device, std::uint64_t up_to,
                                                           std::size_t max_rows,
                                                           std::uint64_t& reached) {
  auto& impl = *impl_;
  max_rows = std::max<std::size_t>(max_rows, 1);  // a part must take something, or its caller loops
  reached = up_to;
  auto& acked = impl.acked;
  acked.clear();
  if (acked.capacity() > 64) acked.shrink_to_fit();
  const auto limit = acked_rows_limit(max_rows);
  auto ahead = impl.take_acked_ahead(device, up_to, limit);
  const auto rows = ahead ? std::move(*ahead)
                          : impl.db.run(sql::kSelectAcked,
                                        Params().i64(device).u64(up_to).i64(limit));
  int upto_rows = rows.rows();
  if (upto_rows > 0 && rows.u64(upto_rows - 1, 8) > up_to) --upto_rows;
  const bool cut = static_cast<std::size_t>(upto_rows) > max_rows;
  const int taking = cut ? static_cast<int>(max_rows) : upto_rows;
  if (cut) reached = rows.u64(taking - 1, 8);
  std::uint64_t deleted = 0;
  for (int i = 0; i < taking; ++i) {
    deleted += rows.u64(i, 6);
    if (rows.is_null(i, 5)) impl.weigh_out(device, rows.i64(i, 2), rows.u64(i, 9));
    if (!rows.is_null(i, 7)) {
      const auto group_id = rows.bytes(i, 5);
      const auto lo = rows.u64(i, 3), end = rows.u64(i, 7);
      impl.visit_senders(group_id, lo, end, [&](const InboxEntry& e) {
        if (!sent_by(e, device)) note_acked(acked, e);
      });
      impl.add_log_refs(group_id, lo, end, -1);
      impl.share_delta.add(rows.i64(i, 2), {-static_cast<std::int64_t>(kGroupEntryBytes), 0});
      continue;
    }
    InboxEntry e;
    e.kind = static_cast<EntryKind>(rows.i64(i, 4));
    if (e.kind != EntryKind::Message && e.kind != EntryKind::GroupMessage) continue;
    e.sender = rows.bytes(i, 0);
    e.sender_device = rows.u32(i, 1);
    e.sender_pk = rows.i64(i, 2);
    e.conv_seq = rows.u64(i, 3);
    e.group_id = rows.bytes(i, 5);
    note_acked(acked, e);
  }
  if (const int after = upto_rows; !cut && after < rows.rows()) {
    // The first row after the ack: a range row the ack ends inside.
    const auto seq = rows.u64(after, 8), span = rows.u64(after, 6);
    if (!rows.is_null(after, 7) && seq - span < up_to)
      deleted += impl.ack_range_head(
          device, up_to, {seq, span, rows.bytes(after, 5), rows.u64(after, 3), rows.u64(after, 7)});
  }
  impl.db.queue(sql::kDeleteAcked, Params().i64(device).u64(reached));
  impl.depth_change -= static_cast<std::int64_t>(deleted);
  return acked;
}

// At once: the raise, read by a round trip of its own.
std::optional<MarkRaised> PostgresStore::raise_delivery_mark(DevicePk owner, DevicePk reader,
                                                             std::string_view group_id,
                                                             std::uint64_t from,
                                                             std::uint64_t up_to,
                                                             std::uint64_t acked_ms) {
  std::optional<MarkRaised> raised;
  raise_delivery_mark_by_commit(owner, reader, group_id, from, up_to, acked_ms, raised);
  impl_->db.read_queued();
  return raised;
}

void PostgresStore::raise_delivery_mark_by_commit(DevicePk owner, DevicePk reader,
                                                  std::string_view group_id, std::uint64_t from,
                                                  std::uint64_t up_to, std::uint64_t acked_ms,
                                                  std::optional<MarkRaised>& raised) {
  auto& db = impl_->db;
  db.queue(sql::kLockOwner, Params().i64(owner));
  raised.reset();
  db.queue_read(sql::kRaiseOrMakeMark,
                Params().i64(owner).i64(reader).bytes(group_id).u64(from).u64(up_to).u64(acked_ms),
                [&raised](const pg::Result& r) {
                  if (!r.empty()) raised = MarkRaised{r.u64(0, 0), r.u64(0, 1), r.u64(0, 2)};
                });
}

std::vector<DeliveryMarkRecord> PostgresStore::delivery_marks_after(DevicePk owner,
                                                                    std::uint64_t after_version,
                                                                    std::size_t limit) {
  const auto r = impl_->db.run(sql::kMarksAfter,
                               Params().i64(owner).u64(after_version).i64(limit_of(limit)));
  std::vector<DeliveryMarkRecord> out;
  for (int i = 0; i < r.rows(); ++i) {
    out.push_back({r.bytes(i, 0), r.u32(i, 1), r.bytes(i, 2), r.u64(i, 3), r.u64(i, 4),
                   r.u64(i, 5), r.u64(i, 6)});
  }
  return out;
}

std::uint64_t PostgresStore::delivery_mark_version() {
  return impl_->db.run(sql::kMarkVersion).u64(0, 0);
}

std::uint64_t PostgresStore::purge(std::uint64_t inbox_before_ms, std::uint64_t sent_before_ms) {
  auto& impl = *impl_;
  // It deletes inbox rows and sent records anywhere: nothing read ahead holds after it.
  impl.forget_reads_ahead();
  const auto rows = impl.db.run(sql::kPurgeInbox, Params().u64(inbox_before_ms));
  std::uint64_t removed = 0;
  for (int i = 0; i < rows.rows(); ++i) {
    removed += rows.u64(i, 0);
    if (rows.is_null(i, 1)) impl.weigh_out(rows.i64(i, 5), rows.i64(i, 4), rows.u64(i, 6));
    if (rows.is_null(i, 3)) continue;
    // A range row releases its log entries, as an ack does.
    impl.add_log_refs(rows.bytes(i, 1), rows.u64(i, 2), rows.u64(i, 3), -1);
    impl.share_delta.add(rows.i64(i, 4), {-static_cast<std::int64_t>(kGroupEntryBytes), 0});
  }
  impl.db.run(sql::kPurgeSent, Params().u64(sent_before_ms));
  // Counted again, with what other relays wrote; this transaction's own deletes included
  // (a rollback leaves the count as it is until the next purge).
  impl.depth->set(impl.db.run(sql::kDepth).i64(0, 0));
  impl.depth_change = impl.depth_change_at_savepoint = 0;
  return removed;
}

std::uint64_t PostgresStore::purge_abandoned_groups() {
  auto& db = impl_->db;
  const auto groups = db.run(sql::kAbandonedGroups);
  for (int i = 0; i < groups.rows(); ++i) {
    const auto id = groups.bytes(i, 0);
    db.queue(sql::kDropMembers, Params().bytes(id));
    db.queue(sql::kDropFanout, Params().bytes(id));
    db.queue(sql::kDropGroupMarks, Params().bytes(id));
    db.queue(sql::kDropGroup, Params().bytes(id));
  }
  if (groups.rows() > 0) impl_->open_range.reset();  // a group made again starts a new log
  return static_cast<std::uint64_t>(groups.rows());
}

std::uint64_t PostgresStore::inbox_depth() {
  const auto n = static_cast<std::int64_t>(impl_->depth->get()) + impl_->depth_change;
  return n > 0 ? static_cast<std::uint64_t>(n) : 0;
}

std::shared_ptr<SharedDepth> PostgresStore::shared_depth() const { return impl_->depth; }

void SharedDepth::set(std::int64_t n) {
  std::lock_guard lock(mutex);
  entries = n;
  if (gauge != nullptr) gauge->store(get_locked());
}
void SharedDepth::add(std::int64_t n) {
  std::lock_guard lock(mutex);
  entries += n;
  if (gauge != nullptr) gauge->store(get_locked());
}
std::uint64_t SharedDepth::get() {
  std::lock_guard lock(mutex);
  return get_locked();
}

// ---- Groups ----

void PostgresStore::create_group(std::string_view group_id, std::uint64_t now_ms) {
  impl_->db.queue(sql::kInsertGroup, Params().bytes(group_id).u64(now_ms));
  impl_->db.queue(sql::kInsertFanout, Params().bytes(group_id));
}

std::optional<GroupRecord> PostgresStore::find_group(std::string_view group_id) {
  const auto r = impl_->db.run(sql::kFindGroup, Params().bytes(group_id));
  if (r.empty()) return std::nullopt;
  return GroupRecord{r.u64(0, 0), r.u64(0, 1)};
}

std::vector<GroupMemberRecord> PostgresStore::group_members(std::string_view group_id) {
  const auto r = impl_->db.run(sql::kGroupMembers, Params().bytes(group_id));
  std::vector<GroupMemberRecord> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(member_row(r, i));
  return out;
}

void PostgresStore::add_group_member(std::string_view group_id, UserId user, bool admin,
                                     std::uint64_t joined_seq) {
  impl_->db.queue(sql::kAddMember,
                  Params().bytes(group_id).i64(user).i64(admin ? 1 : 0).u64(joined_seq));
  impl_->db.queue(sql::kForgetMember, Params().bytes(group_id).i64(user));
}

void PostgresStore::end_group_membership(std::string_view group_id, UserId user,
                                         std::uint64_t left_seq) {
  impl_->db.queue(sql::kEndMember, Params().u64(left_seq).bytes(group_id).i64(user));
}

void PostgresStore::set_group_admin(std::string_view group_id, UserId user, bool admin) {
  impl_->db.queue(sql::kSetAdmin, Params().i64(admin ? 1 : 0).bytes(group_id).i64(user));
}

std::optional<GroupMemberRecord> PostgresStore::find_group_member(std::string_view group_id,
                                                                  UserId user) {
  const auto r = impl_->db.run(sql::kFindMember, Params().bytes(group_id).i64(user));
  if (r.empty()) return std::nullopt;
  return member_row(r, 0);
}

std::uint64_t PostgresStore::bump_group_epoch(std::string_view group_id) {
  const auto r = impl_->db.run(sql::kBumpEpoch, Params().bytes(group_id));
  if (r.empty()) throw std::runtime_error("bump_group_epoch: no such group");
  return r.u64(0, 0);
}

void PostgresStore::append_group_log(std::string_view group_id, GroupLogEntry& e) {
  const auto r = impl_->db.run(sql::kBumpGroupSeq, Params().bytes(group_id));
  if (r.empty()) throw std::runtime_error("append_group_log: no such group");
  e.seq = r.u64(0, 0);
  impl_->db.queue(sql::kInsertLog, Params()
                                       .bytes(group_id)
                                       .u64(e.seq)
                                       .i64(static_cast<int>(e.kind))
                                       .text(e.sender)
                                       .u64(e.sender_device)
                                       .i64(e.sender_pk)
                                       .bytes(e.client_msg_id)
                                       .u64(e.server_ts_ms)
                                       .u64(e.content_hint)
                                       .bytes(e.payload));
  impl_->share_delta.add(e.sender_pk, {0, 1});
}

SenderGroupLoad PostgresStore::group_load_of(DevicePk sender) {
  const auto unwritten = impl_->share_delta.unwritten(sender);
  std::int64_t bytes = unwritten.bytes, pending = unwritten.pending;
  const auto r = impl_->db.run(sql::kGroupShare, Params().i64(sender));
  if (!r.empty()) {
    bytes += r.i64(0, 0);
    pending += r.i64(0, 1);
  }
  return {static_cast<std::uint64_t>(std::max<std::int64_t>(bytes, 0)),
          static_cast<std::uint64_t>(std::max<std::int64_t>(pending, 0))};
}

// The same cursor and ranges as SqliteStore::fan_out_group (sqlite_store.cpp), under the
// cursor row's lock.
FanoutStep PostgresStore::fan_out_group(std::string_view group_id, std::size_t max_appends) {
  auto& impl = *impl_;
  FanoutStep step;
  const auto state = impl.db.run(sql::kFanoutState, Params().bytes(group_id));
  if (state.empty()) return step;
  std::uint64_t done_seq = state.u64(0, 0), range_end = state.u64(0, 2),
                last_seq = state.u64(0, 3) - 1;
  DevicePk done_device = state.i64(0, 1);
  std::size_t budget = max_appends;
  while (budget > 0 && (range_end > done_seq || done_seq < last_seq)) {
    const auto lo = done_seq + 1;
    if (range_end <= done_seq) {
      range_end = std::min(last_seq, done_seq + kFanoutRange);
      const auto change =
          impl.db.run(sql::kMembershipChange, Params().bytes(group_id).u64(lo).u64(range_end));
      if (!change.empty() && !change.is_null(0, 0)) range_end = change.u64(0, 0) - 1;
      done_device = 0;
    }
    const auto& range = impl.fanout_range(group_id, lo, range_end);
    const auto& entries = range.entries;
    const auto& targets = range.devices;
    const DevicePk charged = entries.back()->sender_pk;
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
      run.first_seq =
          impl.append_range(t->pk, group_id, lo, range_end, span, range.newest_ts, charged) -
          span + 1;
      ++range_rows;
      step.runs.push_back(std::move(run));
    }
    const bool complete = last == targets.end();
    impl.add_log_refs(group_id, lo, range_end, range_rows - (complete ? 1 : 0));
    impl.share_delta.add(charged,
                         {range_rows * static_cast<std::int64_t>(kGroupEntryBytes), 0});
    if (complete) {
      for (const auto& e : entries) impl.share_delta.add(e->sender_pk, {0, -1});
      step.entries_completed += entries.size();
      done_seq = range_end;
      done_device = 0;
    }
  }
  impl.db.queue(sql::kSaveFanout,
                Params().u64(done_seq).i64(done_device).u64(range_end).bytes(group_id));
  step.more = done_seq < last_seq || range_end > done_seq;
  return step;
}

std::vector<std::string> PostgresStore::groups_behind(std::uint64_t* entries_behind) {
  const auto r = impl_->db.run(sql::kGroupsBehind);
  std::vector<std::string> out;
  std::uint64_t total = 0;
  for (int i = 0; i < r.rows(); ++i) {
    out.push_back(r.bytes(i, 0));
    total += r.u64(i, 1);
  }
  if (entries_behind) *entries_behind = total;
  return out;
}

// ---- Media ----

void PostgresStore::create_media(const MediaRecord& m) {
  impl_->db.queue(sql::kInsertMedia,
                  Params().bytes(m.id).i64(m.owner).u64(m.size).u64(m.created_ms));
}

std::optional<MediaRecord> PostgresStore::find_media(std::string_view media_id) {
  const auto r = impl_->db.run(sql::kFindMedia, Params().bytes(media_id));
  if (r.empty()) return std::nullopt;
  return media_row(r, 0);
}

std::uint64_t PostgresStore::media_bytes(UserId owner) {
  return impl_->db.run(sql::kMediaBytes, Params().i64(owner)).u64(0, 0);
}

std::uint32_t PostgresStore::unfinished_uploads(UserId owner, std::uint64_t since_ms) {
  return impl_->db.run(sql::kUnfinished, Params().i64(owner).u64(since_ms)).u32(0, 0);
}

bool PostgresStore::complete_media(std::string_view media_id, std::string_view sha256,
                                   std::uint64_t now_ms) {
  return impl_->db.run(sql::kCompleteMedia, Params().bytes(sha256).u64(now_ms).bytes(media_id))
             .affected() > 0;
}

std::vector<MediaRecord> PostgresStore::purge_media(std::uint64_t before_ms,
                                                    std::uint64_t unfinished_before_ms) {
  const auto r = impl_->db.run(sql::kPurgeMedia, Params().u64(before_ms).u64(unfinished_before_ms));
  std::vector<MediaRecord> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(media_row(r, i));
  return out;
}

bool PostgresStore::blob_referenced(std::string_view sha256) {
  return !impl_->db.run(sql::kBlobReferenced, Params().bytes(sha256)).empty();
}

}  // namespace parley::store
