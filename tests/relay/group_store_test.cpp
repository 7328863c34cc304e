// The group half of the embedded store, without sockets: membership history decides who gets
// which log entry, fan-out advances its durable cursor chunk by chunk (device by device over
// a range of entries), surviving a reopen
// (the crash case) exactly, and a log entry is stored once, named by the members' inbox rows,
// until the last of them is acknowledged.
#include <QtTest>

#include <SQLiteCpp/Database.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <tuple>

#include "schema_undo.hpp"
#include "store/deferred_sums.hpp"
#include "store/sqlite_store.hpp"

using namespace parley;
using namespace parley::store;

namespace {

const std::string kGroup(16, 'g');

// A fan-out step's runs one entry at a time: (device's username, inbox_seq, entry).
struct Append {
  std::string username;
  std::uint64_t inbox_seq;
  std::shared_ptr<const InboxEntry> entry;
};
std::vector<Append> appended(const FanoutStep& step) {
  std::vector<Append> out;
  for (const auto& run : step.runs)
    for (std::size_t i = 0; i < run.entries.size(); ++i)
      out.push_back({run.username, run.first_seq + i, run.entries[i]});
  return out;
}

GroupLogEntry message(const std::string& body, DevicePk sender_pk) {
  GroupLogEntry e;
  e.kind = EntryKind::GroupMessage;
  e.sender = "u0";
  e.sender_device = 1;
  e.sender_pk = sender_pk;
  e.client_msg_id = std::string(16, 'm');
  e.server_ts_ms = 1000;
  e.payload = body;
  return e;
}

}  // namespace

class GroupStoreTest : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  std::unique_ptr<SqliteStore> s_;
  std::vector<DeviceRecord> users_;

  void reopen() {
    s_->commit();
    s_ = std::make_unique<SqliteStore>(dir_.path().toStdString(), Durability::Normal);
    s_->begin();
  }

  // kGroup with users u0 (admin) .. u<members - 1>, all from seq 1.
  void openGroup(int members) {
    s_->create_group(kGroup, 1);
    for (int i = 0; i < members; ++i)
      s_->add_group_member(kGroup, users_[static_cast<std::size_t>(i)].user_id, i == 0, 1);
  }

  // Messages "m<first>" .. "m<last>" from `sender`, appended to kGroup's log.
  void postMessages(int first, int last, const DeviceRecord& sender) {
    for (int k = first; k <= last; ++k) {
      auto m = message("m" + std::to_string(k), sender.pk);
      s_->append_group_log(kGroup, m);
    }
  }

  void commitBatch() {
    s_->commit();
    s_->begin();
  }

  // Rows of one table, read through a second connection after committing what is pending.
  std::int64_t rows(const char* table) {
    s_->commit();
    std::int64_t n = 0;
    {
      SQLite::Database db(dir_.filePath("relay.db").toStdString(), SQLite::OPEN_READONLY);
      n = db.execAndGet(std::string("SELECT COUNT(*) FROM ") + table).getInt64();
    }
    s_->begin();
    return n;
  }

  // Senders whose row in group_sender_bytes differs from what the tables hold: each entry
  // its payload plus 128 (pending while beyond its group's done_seq), and 128 for each range
  // row charged to it. Empty when they agree.
  QString loadDrift() {
    SQLite::Database db(dir_.filePath("relay.db").toStdString(), SQLite::OPEN_READONLY);
    const char* expected = R"sql(
      SELECT sender_pk, SUM(b), SUM(p) FROM (
        SELECT l.sender_pk, length(l.payload) + 128 AS b, l.seq > f.done_seq AS p
          FROM group_log l JOIN group_fanout f ON f.group_id = l.group_id
        UNION ALL SELECT sender_pk, 128, 0 FROM inbox WHERE conv_last IS NOT NULL)
      GROUP BY sender_pk)sql";
    const std::string kept = "SELECT sender_pk, bytes, pending FROM group_sender_bytes";
    QString out;
    for (const auto& [sql, what] :
         {std::pair{std::string(expected) + " EXCEPT " + kept, "the tables hold"},
          std::pair{kept + " EXCEPT " + expected, "group_sender_bytes has"}}) {
      SQLite::Statement st(db, sql);
      while (st.executeStep())
        out += QString("%1 for sender %2: %3 bytes, %4 pending; ")
                   .arg(what)
                   .arg(st.getColumn(0).getInt64())
                   .arg(st.getColumn(1).getInt64())
                   .arg(st.getColumn(2).getInt64());
    }
    return out;
  }

  // The (seq, body) entries in one device's inbox that belong to the group.
  std::vector<std::pair<std::uint64_t, std::string>> groupInbox(const DeviceRecord& d) {
    std::vector<std::pair<std::uint64_t, std::string>> out;
    for (const auto& e : s_->read_inbox(d.pk, 0, 10000, 1u << 30))
      if (e.group_id == kGroup) out.emplace_back(e.conv_seq, e.ciphertext);
    return out;
  }

 private slots:
  void init() {
    QVERIFY(dir_.isValid());
    QFile::remove(dir_.filePath("relay.db"));
    s_ = std::make_unique<SqliteStore>(dir_.path().toStdString(), Durability::Normal);
    s_->begin();
    users_.clear();
    for (int i = 0; i < 7; ++i)
      users_.push_back(*s_->create_account("u" + std::to_string(i), std::string(32, 'k'), 1, 1));
  }
  // Every test ends with each sender's load as the tables say it is, so every path that
  // writes or removes a log entry or a range row (appends, fan-out, acks and trims,
  // retention, rollbacks, migrations) is checked for keeping it.
  void cleanup() {
    s_->commit();
    s_.reset();
    const auto drift = loadDrift();
    QVERIFY2(drift.isEmpty(), qPrintable(drift));
  }

  void membershipHistoryDecidesWhoGetsWhat() {
    openGroup(3);
    auto created = message("created", users_[0].pk);
    created.kind = EntryKind::GroupEvent;
    s_->append_group_log(kGroup, created);
    QCOMPARE(created.seq, 1u);
    auto m2 = message("m2", users_[0].pk);
    s_->append_group_log(kGroup, m2);
    // u2 removed at seq 3 (gets that event), u3 added at seq 4.
    s_->end_group_membership(kGroup, users_[2].user_id, 3);
    auto removed = message("removed", users_[0].pk);
    removed.kind = EntryKind::GroupEvent;
    s_->append_group_log(kGroup, removed);
    s_->add_group_member(kGroup, users_[3].user_id, false, 4);
    auto added = message("added", users_[0].pk);
    added.kind = EntryKind::GroupEvent;
    s_->append_group_log(kGroup, added);
    auto m5 = message("m5", users_[1].pk);
    s_->append_group_log(kGroup, m5);
    QCOMPARE(m5.seq, 5u);

    std::uint64_t behind = 0;
    QCOMPARE(s_->groups_behind(&behind).size(), std::size_t{1});
    QCOMPARE(behind, 5u);
    auto step = s_->fan_out_group(kGroup, 1000);
    QVERIFY(!step.more);
    QCOMPARE(step.entries_completed, 5u);
    QCOMPARE(s_->groups_behind(&behind).size(), std::size_t{0});

    using V = std::vector<std::pair<std::uint64_t, std::string>>;
    // The sender of a message does not get its own copy.
    QCOMPARE(groupInbox(users_[0]), (V{{1, "created"}, {3, "removed"}, {4, "added"}, {5, "m5"}}));
    QCOMPARE(groupInbox(users_[1]), (V{{1, "created"}, {2, "m2"}, {3, "removed"}, {4, "added"}}));
    QCOMPARE(groupInbox(users_[2]), (V{{1, "created"}, {2, "m2"}, {3, "removed"}}));
    QCOMPARE(groupInbox(users_[3]), (V{{4, "added"}, {5, "m5"}}));
    QVERIFY(groupInbox(users_[4]).empty());
    const auto members = s_->group_members(kGroup);
    QCOMPARE(members.size(), std::size_t{3});
    QVERIFY(!s_->find_group_member(kGroup, users_[2].user_id));
  }

  void fanOutResumesExactlyFromItsCursor() {
    openGroup(7);
    for (int k = 0; k < 3; ++k) {
      auto m = message("m" + std::to_string(k), users_[0].pk);
      s_->append_group_log(kGroup, m);
    }
    // 3 messages x 7 members (one of them the sender) = 18 copies, 4 device visits per step.
    std::size_t copies = 0;
    int steps = 0;
    for (;;) {
      auto step = s_->fan_out_group(kGroup, 4);
      copies += appended(step).size();
      ++steps;
      reopen();  // every step is its own committed transaction; a crash may come anywhere
      if (!step.more) break;
      QVERIFY(steps < 20);
    }
    QCOMPARE(copies, std::size_t{18});
    QCOMPARE(s_->inbox_depth(), 18u);
    for (int i = 1; i < 7; ++i) {
      const auto got = groupInbox(users_[static_cast<std::size_t>(i)]);
      QCOMPARE(got.size(), std::size_t{3});
      for (std::size_t k = 0; k < 3; ++k) QCOMPARE(got[k].first, k + 1);
    }
    QVERIFY(groupInbox(users_[0]).empty());
    auto again = s_->fan_out_group(kGroup, 4);  // nothing owed: nothing written
    QVERIFY(appended(again).empty() && !again.more);
  }

  // Fan-out goes device by device over a range of entries: a device gets every entry of the
  // range in one step (so in one write, acknowledged once), in order; a range ends where
  // membership changes and after 64 entries.
  void fanOutGivesEachDeviceItsRangeTogether() {
    openGroup(4);
    postMessages(1, 4, users_[0]);
    // 8 appends' worth per step = 2 devices of a 4-entry range: u0 (the sender, nothing to
    // add) and u1, then u2 and u3.
    auto first = s_->fan_out_group(kGroup, 8);
    QVERIFY(first.more);
    QCOMPARE(appended(first).size(), std::size_t{4});
    for (std::size_t i = 0; i < 4; ++i) {
      QCOMPARE(appended(first)[i].username, std::string("u1"));
      QCOMPARE(appended(first)[i].inbox_seq, i + 1);
      QCOMPARE(appended(first)[i].entry->conv_seq, i + 1);
    }
    QCOMPARE(first.entries_completed, 0u);
    reopen();  // the open range survives a restart
    auto second = s_->fan_out_group(kGroup, 8);
    QCOMPARE(appended(second).size(), std::size_t{8});
    for (std::size_t i = 0; i < 8; ++i)
      QCOMPARE(appended(second)[i].username, std::string(i < 4 ? "u2" : "u3"));
    QCOMPARE(second.entries_completed, 4u);  // u3 was the last device owed the range
    QVERIFY(!second.more);

    // u4 joins at 7, so entries 5-6 are a range of their own; 7-78 go as ranges of 64 and 8.
    for (int k = 5; k <= 78; ++k) {
      if (k == 7) s_->add_group_member(kGroup, users_[4].user_id, false, 7);
      auto m = message("m" + std::to_string(k), users_[1].pk);
      s_->append_group_log(kGroup, m);
    }
    std::map<std::string, std::vector<std::uint64_t>> got;
    std::vector<std::size_t> run_lengths;  // consecutive appends to one device
    for (int steps = 0;; ++steps) {
      QVERIFY(steps < 50);
      auto step = s_->fan_out_group(kGroup, 64);
      for (const auto& run : step.runs) {
        for (const auto& e : run.entries) got[run.username].push_back(e->conv_seq);
        run_lengths.push_back(run.entries.size());
      }
      if (!step.more) break;
    }
    std::vector<std::uint64_t> all(74);
    std::iota(all.begin(), all.end(), std::uint64_t{5});
    QCOMPARE(got["u0"], all);
    QCOMPARE(got["u2"], all);
    QCOMPARE(got["u3"], all);
    QVERIFY(got["u1"].empty());  // it sent 5-78
    all.erase(all.begin(), all.begin() + 2);
    QCOMPARE(got["u4"], all);
    QCOMPARE(*std::max_element(run_lengths.begin(), run_lengths.end()), std::size_t{64});
    QCOMPARE(std::count(run_lengths.begin(), run_lengths.end(), std::size_t{2}),
             std::ptrdiff_t{3});  // 5-6 for u0, u2, u3
    QCOMPARE(std::count(run_lengths.begin(), run_lengths.end(), std::size_t{8}),
             std::ptrdiff_t{4});  // 71-78 for u0, u2, u3, u4
  }

  // A member's entries of one fan-out range are one inbox row; an ack may end inside it,
  // and the row keeps the rest (replayed with the same inbox_seqs, also once the cached
  // range is gone), releasing the log entries acknowledged by everyone.
  void rangeRowIsAcknowledgedInParts() {
    openGroup(3);
    postMessages(1, 2, users_[0]);
    postMessages(3, 3, users_[1]);
    postMessages(4, 5, users_[0]);
    QCOMPARE(s_->inbox_bytes(users_[1].pk), 0u);  // cached: the fan-out keeps it
    QVERIFY(!s_->fan_out_group(kGroup, 100).more);
    QCOMPARE(rows("inbox"), std::int64_t{3});  // one row per member
    // Group rows weigh nothing against the 1:1 quota: no one can fill a member's inbox
    // through groups and so have their 1:1 messages refused.
    QCOMPARE(s_->inbox_bytes(users_[1].pk), 0u);
    QCOMPARE(s_->inbox_bytes(users_[2].pk), 0u);
    QCOMPARE(s_->inbox_depth(), 10u);          // u0 and u1 skip their own messages
    using V = std::vector<std::pair<std::uint64_t, std::string>>;
    QCOMPARE(groupInbox(users_[1]), (V{{1, "m1"}, {2, "m2"}, {4, "m4"}, {5, "m5"}}));

    auto acked = s_->delete_acked(users_[2].pk, 2);
    QCOMPARE(acked.size(), std::size_t{1});
    QCOMPARE(acked[0].sender_pk, users_[0].pk);
    QCOMPARE(acked[0].group_id, kGroup);
    QCOMPARE(acked[0].from, 1u);
    QCOMPARE(acked[0].up_to, 2u);
    QCOMPARE(s_->inbox_depth(), 8u);
    // u1 acknowledges 1-2 and 4 (its inbox_seqs 1-3): its row keeps 5 alone.
    acked = s_->delete_acked(users_[1].pk, 3);
    QCOMPARE(acked.size(), std::size_t{1});
    QCOMPARE(acked[0].up_to, 4u);
    reopen();  // nothing cached: the rows are expanded from the log
    QCOMPARE(s_->inbox_bytes(users_[1].pk), 0u);  // summed with its range row still there
    const auto rest = s_->read_inbox(users_[2].pk, 2, 100, 1u << 20);
    QCOMPARE(rest.size(), std::size_t{3});
    for (std::size_t i = 0; i < rest.size(); ++i) {
      QCOMPARE(rest[i].inbox_seq, i + 3);
      QCOMPARE(rest[i].conv_seq, i + 3);
      QCOMPARE(rest[i].ciphertext, "m" + std::to_string(i + 3));
    }
    QCOMPARE(rest[0].sender_pk, users_[1].pk);
    // A page stops inside a row and the next one resumes there.
    const auto page = s_->read_inbox(users_[2].pk, 3, 1, 1u << 20);
    QCOMPARE(page.size(), std::size_t{1});
    QCOMPARE(page[0].inbox_seq, 4u);
    const auto u1 = s_->read_inbox(users_[1].pk, 0, 100, 1u << 20);
    QCOMPARE(u1.size(), std::size_t{1});
    QCOMPARE(u1[0].inbox_seq, 4u);
    QCOMPARE(u1[0].conv_seq, 5u);
    QCOMPARE(rows("group_log"), std::int64_t{5});  // u0 has not acknowledged anything
    s_->delete_acked(users_[0].pk, s_->inbox_tail(users_[0].pk));
    QCOMPARE(rows("group_log"), std::int64_t{3});  // 1 and 2 were acknowledged by all
    acked = s_->delete_acked(users_[2].pk, 5);
    QCOMPARE(acked.size(), std::size_t{2});  // u1's message and u0's
    s_->delete_acked(users_[1].pk, 4);
    QCOMPARE(s_->inbox_bytes(users_[1].pk), 0u);  // summed again: still nothing
    QCOMPARE(rows("group_log"), std::int64_t{0});
    QCOMPARE(rows("group_log_refs"), std::int64_t{0});
    QCOMPARE(s_->inbox_depth(), 0u);
  }

  // A commit writes the references of consecutive entries that change alike as one run
  // (deferred_sums.hpp), never across a gap, a different change, or another group; a job
  // rolled back to its savepoint takes back its own changes only.
  void referenceChangesAreWrittenAsRuns() {
    RangeSums sums;
    sums.add("b", 7, 7, -1);
    sums.add("a", 1, 2, 2);
    sums.add("a", 3, 5, -1);
    sums.add("a", 4, 4, 1);  // back to nothing: not written, so a gap
    sums.add("b", 6, 6, -1);
    sums.keep();
    sums.add("a", 1, 9, 5);  // a job rolled back
    sums.add("c", 1, 9, 5);
    sums.take_back();
    sums.add("c", 2, 3, 1);
    sums.add("c", 4, 5, 1);  // the same change next to it: one run
    using Run = std::tuple<std::string, std::uint64_t, std::uint64_t, std::int64_t>;
    std::vector<Run> runs;
    const auto collect = [&](const std::string& group, std::uint64_t lo, std::uint64_t hi,
                             std::int64_t delta) { runs.emplace_back(group, lo, hi, delta); };
    sums.flush(collect);
    QCOMPARE(runs, (std::vector<Run>{{"a", 1, 2, 2}, {"a", 3, 3, -1}, {"a", 5, 5, -1},
                                     {"b", 6, 7, -1}, {"c", 2, 5, 1}}));
    runs.clear();
    sums.flush(collect);  // written once
    QVERIFY(runs.empty());
    sums.add("a", 1, 1, 1);
    sums.forget();  // the whole batch rolled back
    sums.flush(collect);
    QVERIFY(runs.empty());
  }

  // Step 10 on a version-9 file: a row naming one log entry becomes a range of that entry; a
  // row whose entry old retention removed goes (the tail stays); the reference counts are
  // made again from the rows.
  void schemaStep10MakesEntryRowsRanges() {
    openGroup(3);
    postMessages(1, 2, users_[0]);
    QVERIFY(!s_->fan_out_group(kGroup, 100).more);
    s_->commit();
    s_.reset();
    {
      SQLite::Database db(dir_.filePath("relay.db").toStdString(), SQLite::OPEN_READWRITE);
      db.exec(std::string("DELETE FROM inbox; UPDATE group_log_refs SET refs = 7;") + kUndoStep12 + kUndoStep11 +
              kUndoStep10 +
              "PRAGMA user_version = 9");
      // Version 9's rows: one per member and entry, and u2's third naming a lost entry 9.
      SQLite::Statement row(db,
                            "INSERT INTO inbox(device, seq, kind, sender, sender_device, "
                            "sender_pk, client_msg_id, conv_seq, server_ts, content_hint, "
                            "ciphertext, group_id) VALUES(?, ?, 3, 'u0', 1, ?, x'00', ?, 1000, "
                            "0, NULL, ?)");
      for (const auto& [user, seq, conv] : {std::tuple{1, 1, 1}, {1, 2, 2}, {2, 1, 1}, {2, 2, 2},
                                            {2, 3, 9}}) {
        row.reset();
        row.bind(1, users_[static_cast<std::size_t>(user)].pk);
        row.bind(2, seq);
        row.bind(3, users_[0].pk);
        row.bind(4, conv);
        row.bind(5, kGroup.data(), static_cast<int>(kGroup.size()));
        row.exec();
      }
    }
    s_ = std::make_unique<SqliteStore>(dir_.path().toStdString(), Durability::Normal);
    s_->begin();
    QCOMPARE(s_->inbox_depth(), 4u);
    // The removed row's seq stays used (and this run starts above it anyway, run_floor.hpp).
    QCOMPARE(rows(("devices WHERE inbox_tail = 3 AND id = " + std::to_string(users_[2].pk)).c_str()),
             std::int64_t{1});
    QCOMPARE(rows("group_log_refs WHERE refs = 2"), std::int64_t{2});
    using V = std::vector<std::pair<std::uint64_t, std::string>>;
    QCOMPARE(groupInbox(users_[1]), (V{{1, "m1"}, {2, "m2"}}));
    QCOMPARE(groupInbox(users_[2]), (V{{1, "m1"}, {2, "m2"}}));
    QCOMPARE(s_->delete_acked(users_[1].pk, 2).size(), std::size_t{1});
    QCOMPARE(rows("group_log"), std::int64_t{2});
    s_->delete_acked(users_[2].pk, 3);
    QCOMPARE(rows("group_log"), std::int64_t{0});
    QCOMPARE(s_->inbox_depth(), 0u);
  }

  // A damaged file: a range row whose span does not match its log entries, or a log entry
  // gone that a row names. Reading the inbox fails with a message naming the device and the
  // row (or the entries), instead of numbering entries wrongly.
  void damagedRangeRowIsReportedNotMisread() {
    openGroup(2);
    postMessages(1, 3, users_[0]);
    QVERIFY(!s_->fan_out_group(kGroup, 100).more);
    const auto damage = [&](const char* sql) {
      s_->commit();
      s_.reset();
      {
        SQLite::Database db(dir_.filePath("relay.db").toStdString(), SQLite::OPEN_READWRITE);
        db.exec(sql);
      }
      s_ = std::make_unique<SqliteStore>(dir_.path().toStdString(), Durability::Normal);
      s_->begin();
    };
    const auto read_error = [&] {
      try {
        s_->read_inbox(users_[1].pk, 0, 100, 1u << 20);
      } catch (const std::exception& e) {
        return std::string(e.what());
      }
      return std::string();
    };
    damage("UPDATE inbox SET span = 2");  // seqs 2-3 for three entries
    auto what = read_error();
    QVERIFY2(what.find("device " + std::to_string(users_[1].pk)) != std::string::npos &&
                 what.find("range row at seq 3") != std::string::npos,
             what.c_str());
    damage("UPDATE inbox SET span = 3; DELETE FROM group_log WHERE seq = 2");
    what = read_error();
    QVERIFY2(what.find("entries 1..3") != std::string::npos, what.c_str());
  }

  // An ack that ends inside a range row and is rolled back leaves the row whole; retention
  // of a trimmed row releases what it still names.
  void trimmedRangeRollsBackAndIsPurged() {
    openGroup(2);
    postMessages(1, 3, users_[0]);
    QVERIFY(!s_->fan_out_group(kGroup, 100).more);
    commitBatch();
    s_->savepoint();
    QCOMPARE(s_->delete_acked(users_[1].pk, 2)[0].up_to, 2u);
    s_->rollback_to_savepoint();
    using V = std::vector<std::pair<std::uint64_t, std::string>>;
    QCOMPARE(groupInbox(users_[1]), (V{{1, "m1"}, {2, "m2"}, {3, "m3"}}));
    QCOMPARE(s_->inbox_depth(), 3u);
    QCOMPARE(rows("group_log"), std::int64_t{3});
    s_->delete_acked(users_[1].pk, 1);
    QCOMPARE(rows("group_log"), std::int64_t{2});
    QCOMPARE(s_->purge(2000, 0), 2u);
    QCOMPARE(rows("group_log"), std::int64_t{0});
    QCOMPARE(rows("group_log_refs"), std::int64_t{0});
    QCOMPARE(s_->inbox_depth(), 0u);
  }

  // A range's entries and devices are read once and kept for its later steps; a rollback
  // drops what was read, so an entry rolled back and appended again at the same seq is
  // pushed with its new body.
  void rolledBackRangeIsReadAgain() {
    openGroup(3);
    s_->savepoint();
    auto ghost = message("ghost", users_[0].pk);
    s_->append_group_log(kGroup, ghost);
    QVERIFY(s_->fan_out_group(kGroup, 2).more);  // u0 and u1 of [1, 1]; u2 owed
    s_->rollback_to_savepoint();
    auto real = message("real", users_[0].pk);
    s_->append_group_log(kGroup, real);
    QCOMPARE(real.seq, 1u);
    auto step = s_->fan_out_group(kGroup, 100);
    QVERIFY(!step.more);
    QCOMPARE(appended(step).size(), std::size_t{2});
    for (const auto& a : appended(step)) QCOMPARE(a.entry->ciphertext, std::string("real"));
  }

  // An ack's reference-count change waits for the commit; a job rolled back takes its
  // change back, so the entry is not deleted while the rolled-back row still names it.
  void rolledBackAckKeepsItsReference() {
    openGroup(2);
    auto m = message("kept", users_[0].pk);
    s_->append_group_log(kGroup, m);
    QVERIFY(!s_->fan_out_group(kGroup, 100).more);
    commitBatch();
    s_->savepoint();
    QCOMPARE(s_->delete_acked(users_[1].pk, 1).size(), std::size_t{1});
    s_->rollback_to_savepoint();
    QCOMPARE(rows("group_log"), std::int64_t{1});
    using V = std::vector<std::pair<std::uint64_t, std::string>>;
    QCOMPARE(groupInbox(users_[1]), (V{{1, "kept"}}));
    s_->delete_acked(users_[1].pk, 1);
    QCOMPARE(rows("group_log"), std::int64_t{0});
    QCOMPARE(rows("group_log_refs"), std::int64_t{0});
  }

  // Step 9 on a version-8 file whose fan-out stopped inside an entry: the devices it had
  // reached do not get that entry again, the others do, and the rest goes as usual.
  void schemaStep9ResumesAFanOutCaughtInsideAnEntry() {
    openGroup(3);
    postMessages(1, 2, users_[0]);
    s_->commit();
    s_.reset();
    {
      SQLite::Database db(dir_.filePath("relay.db").toStdString(), SQLite::OPEN_READWRITE);
      SQLite::Statement cursor(db, "UPDATE group_fanout SET done_seq = 0, done_device = ?");
      cursor.bind(1, users_[1].pk);  // entry 1 reached u0 and u1 (version 8's meaning)
      cursor.exec();
      db.exec(std::string(kUndoStep12) + kUndoStep11 + kUndoStep10 + kUndoStep9 + "PRAGMA user_version = 8");
    }
    s_ = std::make_unique<SqliteStore>(dir_.path().toStdString(), Durability::Normal);
    s_->begin();
    QVERIFY(!s_->fan_out_group(kGroup, 100).more);
    using V = std::vector<std::pair<std::uint64_t, std::string>>;
    QCOMPARE(groupInbox(users_[1]), (V{{2, "m2"}}));
    QCOMPARE(groupInbox(users_[2]), (V{{1, "m1"}, {2, "m2"}}));
    std::uint64_t behind = 0;
    QVERIFY(s_->groups_behind(&behind).empty());
  }

  // A group everyone has left is removed once its log is fanned out; one with a member, or
  // with entries still owed to someone, stays.
  void abandonedGroupsAreRemovedAfterFanOut() {
    const std::string other(16, 'h');
    for (const auto& gid : {kGroup, other}) {
      s_->create_group(gid, 1);
      for (int i = 0; i < 2; ++i) s_->add_group_member(gid, users_[i].user_id, i == 0, 1);
      auto m = message("hello", users_[0].pk);
      s_->append_group_log(gid, m);
    }
    // Everyone leaves kGroup (the LEFT event is still owed); one member stays in `other`.
    for (int i = 0; i < 2; ++i) s_->end_group_membership(kGroup, users_[i].user_id, 2);
    auto left = message("left", users_[0].pk);
    left.kind = EntryKind::GroupEvent;
    s_->append_group_log(kGroup, left);
    s_->end_group_membership(other, users_[1].user_id, 2);
    QCOMPARE(s_->purge_abandoned_groups(), 0u);  // kGroup still owes its log
    QVERIFY(s_->find_group(kGroup));
    QVERIFY(!s_->fan_out_group(kGroup, 100).more);
    QVERIFY(!s_->fan_out_group(other, 100).more);
    // Fanned out, but u1's inbox still names kGroup's entries (stored once, in its log).
    QCOMPARE(s_->purge_abandoned_groups(), 0u);
    QCOMPARE(groupInbox(users_[1]).size(), std::size_t{2});  // "hello" and the LEFT event
    // kGroup was fanned out first: u1 has its "hello" and LEFT at 1 and 2, `other`'s at 3;
    // u0 (the sender of both "hello"s) has kGroup's LEFT at 1.
    // Each ack its own batch: reference counts are written at commit, so a purge in the same
    // batch as the last ack still sees the entry named, and leaves it for its next run.
    s_->delete_acked(users_[1].pk, 2);
    commitBatch();
    QCOMPARE(s_->purge_abandoned_groups(), 0u);
    s_->delete_acked(users_[0].pk, 1);
    QCOMPARE(s_->purge_abandoned_groups(), 0u);
    commitBatch();
    QCOMPARE(s_->purge_abandoned_groups(), 1u);
    QVERIFY(!s_->find_group(kGroup));
    QVERIFY(s_->group_members(kGroup).empty());
    QVERIFY(s_->find_group(other));
    QCOMPARE(rows("group_log"), std::int64_t{1});  // `other`'s "hello", still owed to u1
    QCOMPARE(s_->group_members(other).size(), std::size_t{1});
    QCOMPARE(s_->purge_abandoned_groups(), 0u);
    reopen();
    QVERIFY(!s_->find_group(kGroup));
    std::uint64_t behind = 0;
    QVERIFY(s_->groups_behind(&behind).empty());
  }

  // The log keeps one copy of an entry; the members' rows name it, replay reads it through
  // them, and it goes with the last acknowledgement (not before: a slow member still reads it).
  void entryIsStoredOnceAndRemovedAfterTheLastAck() {
    openGroup(4);
    auto m = message("once", users_[0].pk);
    s_->append_group_log(kGroup, m);
    // 2 devices per step: the entry's fan-out spans two commits, and u1 acknowledges in
    // between, before u2 and u3 have a row; the fan-out's own reference keeps it.
    auto first = s_->fan_out_group(kGroup, 2);
    QVERIFY(first.more);
    QCOMPARE(appended(first).size(), std::size_t{1});  // u0 is the sender
    s_->delete_acked(users_[1].pk, s_->inbox_tail(users_[1].pk));
    QCOMPARE(rows("group_log"), std::int64_t{1});
    auto second = s_->fan_out_group(kGroup, 3);
    QVERIFY(!second.more);
    QCOMPARE(appended(second).size(), std::size_t{2});
    // One object shared by both live pushes, each with its own inbox_seq.
    QCOMPARE(appended(second)[0].entry.get(), appended(second)[1].entry.get());
    QCOMPARE(appended(second)[0].entry->ciphertext, std::string("once"));
    QCOMPARE(appended(second)[1].inbox_seq, 1u);
    QCOMPARE(rows("inbox WHERE ciphertext IS NOT NULL"), std::int64_t{0});
    QCOMPARE(rows("group_log"), std::int64_t{1});
    reopen();
    using V = std::vector<std::pair<std::uint64_t, std::string>>;
    QCOMPARE(groupInbox(users_[2]), (V{{1, "once"}}));
    s_->delete_acked(users_[2].pk, 1);
    QCOMPARE(rows("group_log"), std::int64_t{1});
    QCOMPARE(groupInbox(users_[3]), (V{{1, "once"}}));
    s_->delete_acked(users_[3].pk, 1);
    QCOMPARE(rows("group_log"), std::int64_t{0});
    QCOMPARE(rows("group_log_refs"), std::int64_t{0});
    QCOMPARE(s_->inbox_depth(), 0u);
  }

  // A member's inbox mixes 1:1 entries (their own ciphertext) and group entries (named in
  // the log); a replay from any point returns them in inbox order with the right bodies.
  void mixedInboxReplaysInOrder() {
    openGroup(2);
    auto direct = [&](const std::string& body) {
      InboxEntry e;
      e.kind = EntryKind::Message;
      e.sender = "u0";
      e.sender_device = 1;
      e.sender_pk = users_[0].pk;
      e.client_msg_id = std::string(16, 'd');
      e.server_ts_ms = 1000;
      e.ciphertext = body;
      s_->append_inbox(users_[1].pk, e);
    };
    direct("d1");
    for (const char* body : {"g1", "g2"}) {
      auto m = message(body, users_[0].pk);
      s_->append_group_log(kGroup, m);
    }
    QVERIFY(!s_->fan_out_group(kGroup, 100).more);
    direct("d2");
    reopen();
    const auto all = s_->read_inbox(users_[1].pk, 0, 100, 1u << 20);
    std::vector<std::string> bodies;
    for (const auto& e : all) bodies.push_back(e.ciphertext);
    QCOMPARE(bodies, (std::vector<std::string>{"d1", "g1", "g2", "d2"}));
    for (std::size_t i = 0; i < all.size(); ++i) QCOMPARE(all[i].inbox_seq, i + 1);
    QCOMPARE(all[1].conv_seq, 1u);
    QCOMPARE(all[2].kind, EntryKind::GroupMessage);
    // Resuming after the first group entry (a reconnect that acknowledged up to 2).
    s_->delete_acked(users_[1].pk, 2);
    const auto rest = s_->read_inbox(users_[1].pk, 2, 100, 1u << 20);
    QCOMPARE(rest.size(), std::size_t{2});
    QCOMPARE(rest[0].ciphertext, std::string("g2"));
    QCOMPARE(rows("group_log"), std::int64_t{1});  // g1 is gone, g2 still owed
  }

  // Retention removes unacknowledged rows by age; the log entries only they named go with
  // them. A range row is as old as its newest entry, so no entry goes before its time.
  void retentionRemovesTheLogEntriesItsRowsNamed() {
    openGroup(2);
    auto old = message("old", users_[0].pk);
    s_->append_group_log(kGroup, old);
    QVERIFY(!s_->fan_out_group(kGroup, 100).more);  // a range of its own
    auto old_too = message("old too", users_[0].pk);
    s_->append_group_log(kGroup, old_too);
    auto fresh = message("fresh", users_[0].pk);
    fresh.server_ts_ms = 5000;
    s_->append_group_log(kGroup, fresh);
    QVERIFY(!s_->fan_out_group(kGroup, 100).more);  // 2-3: one row, as old as "fresh"
    QCOMPARE(s_->purge(2000, 0), 1u);
    QCOMPARE(rows("group_log"), std::int64_t{2});
    QCOMPARE(rows("group_log_refs"), std::int64_t{2});
    using V = std::vector<std::pair<std::uint64_t, std::string>>;
    QCOMPARE(groupInbox(users_[1]), (V{{2, "old too"}, {3, "fresh"}}));
    QCOMPARE(s_->purge(6000, 0), 2u);
    QCOMPARE(rows("group_log"), std::int64_t{0});
    QCOMPARE(rows("group_log_refs"), std::int64_t{0});
    QCOMPARE(s_->inbox_depth(), 0u);
  }

  // What a sender's log entries and the rows charged to them weigh (Store::group_load_of)
  // follows them in and out: an append, a rolled-back one, the fan-out, each member's ack,
  // retention; a sender with nothing left in any log has no row.
  void eachSendersEntriesWeighUntilTheyGo() {
    openGroup(3);
    auto weighed = [&](int user) { return s_->group_load_of(users_[static_cast<std::size_t>(user)].pk).bytes; };
    auto pending = [&](int user) { return s_->group_load_of(users_[static_cast<std::size_t>(user)].pk).pending; };
    constexpr auto row = Store::kGroupEntryBytes;  // each entry's rows, beside its payload
    auto big = message(std::string(1000, 'a'), users_[0].pk);
    s_->append_group_log(kGroup, big);
    auto small = message(std::string(300, 'b'), users_[1].pk);
    s_->append_group_log(kGroup, small);
    QCOMPARE(weighed(0), 1000 + row);
    QCOMPARE(weighed(1), 300 + row);
    QCOMPARE(weighed(2), 0u);
    QCOMPARE(pending(0), 1u);
    commitBatch();  // the pending counts are written at the commit, and read back
    QCOMPARE(pending(1), 1u);
    s_->savepoint();
    auto ghost = message(std::string(50, 'g'), users_[0].pk);
    s_->append_group_log(kGroup, ghost);
    QCOMPARE(weighed(0), 1050 + 2 * row);
    QCOMPARE(pending(0), 2u);
    s_->rollback_to_savepoint();
    QCOMPARE(weighed(0), 1000 + row);
    QCOMPARE(pending(0), 1u);
    // One range, a row for each device (gs-0's has only the small one, gs-1's only the big
    // one), all three charged to the sender of the range's last entry.
    QVERIFY(!s_->fan_out_group(kGroup, 100).more);
    QCOMPARE(pending(0), 0u);
    QCOMPARE(pending(1), 0u);
    QCOMPARE(weighed(1), 300 + row + 3 * row);
    reopen();
    QCOMPARE(weighed(0), 1000 + row);  // stored, not only in memory
    QCOMPARE(weighed(1), 300 + row + 3 * row);
    // Both entries stay until the last of the three acknowledges; each ack takes its row.
    std::uint64_t rows_left = 3;
    for (int i : {2, 1}) {
      s_->delete_acked(users_[static_cast<std::size_t>(i)].pk, s_->inbox_tail(users_[static_cast<std::size_t>(i)].pk));
      --rows_left;
      QCOMPARE(weighed(1), 300 + row + rows_left * row);
      commitBatch();  // reference counts fall at the commit
      QCOMPARE(weighed(0), 1000 + row);
      QCOMPARE(weighed(1), 300 + row + rows_left * row);
    }
    s_->delete_acked(users_[0].pk, s_->inbox_tail(users_[0].pk));
    commitBatch();
    QCOMPARE(weighed(0), 0u);
    QCOMPARE(weighed(1), 0u);
    QCOMPARE(rows("group_sender_bytes"), std::int64_t{0});
    // Retention takes the rows nobody acknowledged (gs-1 gets none of its own message), and
    // the entry with them.
    auto late = message(std::string(40, 'c'), users_[1].pk);
    s_->append_group_log(kGroup, late);
    QVERIFY(!s_->fan_out_group(kGroup, 100).more);
    commitBatch();
    QCOMPARE(weighed(1), 40 + row + 2 * row);
    QCOMPARE(rows("group_sender_bytes"), std::int64_t{1});
    QCOMPARE(s_->purge(2000, 0), 2u);
    commitBatch();
    QCOMPARE(weighed(1), 0u);
    QCOMPARE(rows("group_log"), std::int64_t{0});
    QCOMPARE(rows("group_sender_bytes"), std::int64_t{0});
  }

  // A fan-out caught half-way through a range has charged the rows it wrote and still counts
  // the range's entries as pending; an ack ending inside a row trims it and keeps its charge;
  // a rolled-back step takes its charge back.
  void rowsAreChargedAsTheyAreWritten() {
    openGroup(4);
    auto load = [&](int user) { return s_->group_load_of(users_[static_cast<std::size_t>(user)].pk); };
    constexpr auto row = Store::kGroupEntryBytes;
    postMessages(1, 1, users_[0]);
    postMessages(2, 2, users_[1]);
    // A budget of two appends for a range of two entries: one device per step.
    QVERIFY(s_->fan_out_group(kGroup, 2).more);
    QCOMPARE(load(1).bytes, 2 + row + row);
    QCOMPARE(load(0).pending, 1u);
    QCOMPARE(load(1).pending, 1u);
    commitBatch();
    s_->savepoint();
    QVERIFY(s_->fan_out_group(kGroup, 2).more);
    QCOMPARE(load(1).bytes, 2 + row + 2 * row);
    s_->rollback_to_savepoint();
    QCOMPARE(load(1).bytes, 2 + row + row);
    QVERIFY(!s_->fan_out_group(kGroup, 100).more);
    QCOMPARE(load(0), (SenderGroupLoad{2 + row, 0}));
    QCOMPARE(load(1), (SenderGroupLoad{2 + row + 4 * row, 0}));
    commitBatch();
    // u2's row names both entries: an ack of the first trims it, and the row keeps its charge.
    const auto& u2 = users_[2];
    s_->delete_acked(u2.pk, s_->inbox_tail(u2.pk) - 1);
    commitBatch();
    QCOMPARE(load(1).bytes, 2 + row + 4 * row);
    s_->delete_acked(u2.pk, s_->inbox_tail(u2.pk));
    commitBatch();
    QCOMPARE(load(1).bytes, 2 + row + 3 * row);
  }

  // Steps 11 and 12 on a version-10 file weigh the entries already in the logs and count
  // those not yet fanned out.
  void schemaStep11WeighsTheEntriesAlreadyLogged() {
    openGroup(2);
    for (auto [size, user] : {std::pair{700, 0}, {200, 1}, {90, 0}}) {
      auto m = message(std::string(static_cast<std::size_t>(size), 'w'), users_[static_cast<std::size_t>(user)].pk);
      s_->append_group_log(kGroup, m);
    }
    s_->commit();
    s_.reset();
    {
      SQLite::Database db(dir_.filePath("relay.db").toStdString(), SQLite::OPEN_READWRITE);
      db.exec(std::string(kUndoStep12) + kUndoStep11 + "PRAGMA user_version = 10");
    }
    s_ = std::make_unique<SqliteStore>(dir_.path().toStdString(), Durability::Normal);
    s_->begin();
    QCOMPARE(s_->group_load_of(users_[0].pk), (SenderGroupLoad{790 + 2 * Store::kGroupEntryBytes, 2}));
    QCOMPARE(s_->group_load_of(users_[1].pk), (SenderGroupLoad{200 + Store::kGroupEntryBytes, 1}));
    QVERIFY(!s_->fan_out_group(kGroup, 100).more);
    for (int i = 0; i < 2; ++i) s_->delete_acked(users_[i].pk, s_->inbox_tail(users_[i].pk));
    commitBatch();
    QCOMPARE(s_->group_load_of(users_[0].pk), SenderGroupLoad{});
    QCOMPARE(rows("group_sender_bytes"), std::int64_t{0});
  }

  // Step 12 on a version-11 file charges the range rows already written to the sender of
  // their last entry, and counts the entries of a range the fan-out is inside of.
  void schemaStep12ChargesTheRowsAlreadyWritten() {
    openGroup(3);
    postMessages(1, 1, users_[0]);
    postMessages(2, 2, users_[1]);
    QVERIFY(!s_->fan_out_group(kGroup, 100).more);
    postMessages(3, 3, users_[1]);
    QVERIFY(s_->fan_out_group(kGroup, 1).more);  // one of the three devices has m3
    s_->commit();
    s_.reset();
    {
      SQLite::Database db(dir_.filePath("relay.db").toStdString(), SQLite::OPEN_READWRITE);
      db.exec(std::string(kUndoStep12) + "PRAGMA user_version = 11");
      QCOMPARE(db.execAndGet("SELECT COUNT(*) FROM inbox WHERE sender_pk != 0").getInt64(), std::int64_t{0});
    }
    s_ = std::make_unique<SqliteStore>(dir_.path().toStdString(), Durability::Normal);
    s_->begin();
    constexpr auto row = Store::kGroupEntryBytes;
    QCOMPARE(s_->group_load_of(users_[0].pk), (SenderGroupLoad{2 + row, 0}));
    QCOMPARE(s_->group_load_of(users_[1].pk), (SenderGroupLoad{4 + 2 * row + 4 * row, 1}));
    QVERIFY(!s_->fan_out_group(kGroup, 100).more);
    QCOMPARE(s_->group_load_of(users_[1].pk), (SenderGroupLoad{4 + 2 * row + 5 * row, 0}));
  }

  // Schema step 4 on a version-3 file: a log entry whose fan-out was unfinished gets the
  // fan-out's reference, so it is fanned out and removed like a new one.
  void schemaStep4AdoptsUnfinishedEntries() {
    openGroup(2);
    auto m = message("before", users_[0].pk);
    s_->append_group_log(kGroup, m);
    s_->commit();
    s_.reset();
    {
      SQLite::Database db(dir_.filePath("relay.db").toStdString(), SQLite::OPEN_READWRITE);
      db.exec(std::string(kUndoStep12) + kUndoStep11 + kUndoStep10 + kUndoStep9 +
              "DROP TABLE group_log_refs; DROP TABLE delivery_marks;"
              "DELETE FROM meta WHERE key = 'mark_version'; PRAGMA user_version = 3;");
    }
    s_ = std::make_unique<SqliteStore>(dir_.path().toStdString(), Durability::Normal);
    s_->begin();
    QCOMPARE(rows("group_log_refs"), std::int64_t{1});
    QVERIFY(!s_->fan_out_group(kGroup, 100).more);
    using V = std::vector<std::pair<std::uint64_t, std::string>>;
    QCOMPARE(groupInbox(users_[1]), (V{{1, "before"}}));
    s_->delete_acked(users_[1].pk, s_->inbox_tail(users_[1].pk));
    QCOMPARE(rows("group_log"), std::int64_t{0});
  }

  // A member added again starts its delivery marks afresh (from what it gets now), so it is
  // never counted for messages sent while it was away; nobody else's marks change.
  void readdedMemberStartsItsMarksAfresh() {
    openGroup(3);
    QVERIFY(s_->raise_delivery_mark(users_[0].pk, users_[1].pk, kGroup, 2, 3, 10));
    QVERIFY(s_->raise_delivery_mark(users_[0].pk, users_[2].pk, kGroup, 2, 3, 10));
    QVERIFY(s_->raise_delivery_mark(users_[0].pk, users_[1].pk, "", 1, 1, 10));  // 1:1
    s_->end_group_membership(kGroup, users_[1].user_id, 4);
    QCOMPARE(s_->delivery_marks_after(users_[0].pk, 0, 10).size(), std::size_t{3});
    s_->add_group_member(kGroup, users_[1].user_id, false, 9);
    const auto left = s_->delivery_marks_after(users_[0].pk, 0, 10);
    QCOMPARE(left.size(), std::size_t{2});
    for (const auto& m : left) QVERIFY(m.reader == "u2" || m.group_id.empty());
    const auto again = s_->raise_delivery_mark(users_[0].pk, users_[1].pk, kGroup, 10, 11, 20);
    QVERIFY(again);
    QCOMPARE(again->from, 10u);
  }

  void rolledBackStepLeavesTheCursor() {
    s_->create_group(kGroup, 1);
    for (int i = 0; i < 3; ++i) s_->add_group_member(kGroup, users_[i].user_id, false, 1);
    auto m = message("x", users_[0].pk);
    s_->append_group_log(kGroup, m);
    reopen();
    s_->savepoint();
    QCOMPARE(appended(s_->fan_out_group(kGroup, 100)).size(), std::size_t{2});
    s_->rollback_to_savepoint();
    QCOMPARE(s_->inbox_depth(), 0u);
    QCOMPARE(appended(s_->fan_out_group(kGroup, 100)).size(), std::size_t{2});
    QCOMPARE(s_->inbox_depth(), 2u);
  }
};

QTEST_GUILESS_MAIN(GroupStoreTest)
#include "group_store_test.moc"
