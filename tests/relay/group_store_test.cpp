// The group half of the embedded store, without sockets: membership history decides who gets
// which log entry, and fan-out advances its durable cursor chunk by chunk, surviving a
// reopen (the crash case) exactly.
#include <QtTest>

#include <map>

#include "store/sqlite_store.hpp"

using namespace parley;
using namespace parley::store;

namespace {

const std::string kGroup(16, 'g');

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
  void cleanup() {
    s_->commit();
    s_.reset();
  }

  void membershipHistoryDecidesWhoGetsWhat() {
    s_->create_group(kGroup, 1);
    for (int i = 0; i < 3; ++i) s_->add_group_member(kGroup, users_[i].user_id, i == 0, 1);
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
    s_->create_group(kGroup, 1);
    for (int i = 0; i < 7; ++i) s_->add_group_member(kGroup, users_[i].user_id, i == 0, 1);
    for (int k = 0; k < 3; ++k) {
      auto m = message("m" + std::to_string(k), users_[0].pk);
      s_->append_group_log(kGroup, m);
    }
    // 3 messages x 7 members (one of them the sender) = 18 copies, 4 device visits per step.
    std::size_t copies = 0;
    int steps = 0;
    for (;;) {
      auto step = s_->fan_out_group(kGroup, 4);
      copies += step.appended.size();
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
    QVERIFY(again.appended.empty() && !again.more);
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
    QCOMPARE(s_->purge_abandoned_groups(), 1u);
    QVERIFY(!s_->find_group(kGroup));
    QVERIFY(s_->group_members(kGroup).empty());
    QVERIFY(s_->find_group(other));
    QCOMPARE(s_->group_members(other).size(), std::size_t{1});
    // What was delivered stays in the inboxes until acknowledged.
    QCOMPARE(groupInbox(users_[1]).size(), std::size_t{2});  // "hello" and the LEFT event
    QCOMPARE(s_->purge_abandoned_groups(), 0u);
    reopen();
    QVERIFY(!s_->find_group(kGroup));
    std::uint64_t behind = 0;
    QVERIFY(s_->groups_behind(&behind).empty());
  }

  void rolledBackStepLeavesTheCursor() {
    s_->create_group(kGroup, 1);
    for (int i = 0; i < 3; ++i) s_->add_group_member(kGroup, users_[i].user_id, false, 1);
    auto m = message("x", users_[0].pk);
    s_->append_group_log(kGroup, m);
    reopen();
    s_->savepoint();
    QCOMPARE(s_->fan_out_group(kGroup, 100).appended.size(), std::size_t{2});
    s_->rollback_to_savepoint();
    QCOMPARE(s_->inbox_depth(), 0u);
    QCOMPARE(s_->fan_out_group(kGroup, 100).appended.size(), std::size_t{2});
    QCOMPARE(s_->inbox_depth(), 2u);
  }
};

QTEST_GUILESS_MAIN(GroupStoreTest)
#include "group_store_test.moc"
