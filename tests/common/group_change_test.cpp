// The membership rules and the signed bytes both ends compute (parley/group_change.hpp).
#include <QtTest>

#include "parley/group_change.hpp"

using namespace parley;

namespace {

GroupChange change(GroupChangeKind kind, std::string actor, std::vector<std::string> targets, bool admin = false) {
  return {kind, std::move(actor), std::move(targets), admin};
}

const GroupSeats kTrio{{"ann", true}, {"ben", false}, {"cat", false}};

}  // namespace

class GroupChangeTest : public QObject {
  Q_OBJECT

 private slots:
  void createdMakesTheCreatorAdminThenTheTargetsInOrder() {
    const auto after = next_members({}, change(GroupChangeKind::Created, "ann", {"ben", "cat"}));
    QVERIFY(after);
    QVERIFY(*after == kTrio);
    std::string why;
    QVERIFY(!next_members(kTrio, change(GroupChangeKind::Created, "ann", {}), &why));
    QCOMPARE(why, std::string("the group exists already"));
    QVERIFY(!next_members({}, change(GroupChangeKind::Created, "ann", {"ann"})));
    QVERIFY(!next_members({}, change(GroupChangeKind::Created, "ann", {"ben", "ben"})));
    QVERIFY(next_members({}, change(GroupChangeKind::Created, "ann", {})));  // a group of one
  }

  void onlyAdminsAddRemoveOrPromote() {
    std::string why;
    for (auto kind : {GroupChangeKind::Added, GroupChangeKind::Removed, GroupChangeKind::AdminChanged}) {
      QVERIFY(!next_members(kTrio, change(kind, "ben", {kind == GroupChangeKind::Added ? "dan" : "cat"}, true), &why));
      QCOMPARE(why, std::string("only a group admin can do this"));
    }
    QVERIFY(!next_members(kTrio, change(GroupChangeKind::Added, "eve", {"dan"}), &why));
    QCOMPARE(why, std::string("not a member of this group"));
  }

  void addedJoinAtTheEnd() {
    const auto after = next_members(kTrio, change(GroupChangeKind::Added, "ann", {"eve", "dan"}));
    QVERIFY(after);
    QVERIFY(*after == (GroupSeats{{"ann", true}, {"ben", false}, {"cat", false}, {"eve", false}, {"dan", false}}));
    std::string why;
    QVERIFY(!next_members(kTrio, change(GroupChangeKind::Added, "ann", {"cat"}), &why));
    QCOMPARE(why, std::string("cat is a member already"));
    QVERIFY(!next_members(kTrio, change(GroupChangeKind::Added, "ann", {})));
  }

  void theLongestStandingMemberTakesOverFromTheLastAdmin() {
    auto after = next_members(kTrio, change(GroupChangeKind::Left, "ann", {"ann"}));
    QVERIFY(after);
    QVERIFY(*after == (GroupSeats{{"ben", true}, {"cat", false}}));
    after = next_members(kTrio, change(GroupChangeKind::Removed, "ann", {"ann", "ben"}));
    QVERIFY(after);
    QVERIFY(*after == (GroupSeats{{"cat", true}}));
    // Another admin left: nobody is promoted.
    const GroupSeats two_admins{{"ann", true}, {"ben", false}, {"cat", true}};
    after = next_members(two_admins, change(GroupChangeKind::Left, "ann", {"ann"}));
    QVERIFY(after && *after == (GroupSeats{{"ben", false}, {"cat", true}}));
    // Only oneself leaves; a non-member is not removed.
    QVERIFY(!next_members(kTrio, change(GroupChangeKind::Left, "ben", {"cat"})));
    QVERIFY(!next_members(kTrio, change(GroupChangeKind::Removed, "ann", {"dan"})));
    QVERIFY(next_members({{"ann", true}}, change(GroupChangeKind::Left, "ann", {"ann"}))->empty());
  }

  void adminChangesKeepAnAdmin() {
    auto after = next_members(kTrio, change(GroupChangeKind::AdminChanged, "ann", {"cat"}, true));
    QVERIFY(after && *after == (GroupSeats{{"ann", true}, {"ben", false}, {"cat", true}}));
    std::string why;
    QVERIFY(!next_members(kTrio, change(GroupChangeKind::AdminChanged, "ann", {"ann"}, false), &why));
    QCOMPARE(why, std::string("a group needs an admin: make someone else admin first"));
    QVERIFY(!next_members(kTrio, change(GroupChangeKind::AdminChanged, "ann", {"ben"}, false), &why));
    QCOMPARE(why, std::string("nothing changes"));
  }

  void transcriptBindsEveryField() {
    const std::string gid(16, 'g');
    const auto t = group_change_transcript(gid, 0x0102, GroupChangeKind::Added, "ann", {"dan"},
                                           {{"ann", true}, {"dan", false}});
    const std::string expected = std::string("parley-group-change-v1\0", 23) + gid +
                                 std::string("\0\0\0\0\0\0\x01\x02", 8) + "\x02" + "\x03" "ann" +
                                 std::string("\0\0\0\x01", 4) + "\x03" "dan" + std::string("\0\0\0\x02", 4) +
                                 "\x03" "ann" "\x01" + "\x03" "dan" + std::string("\0", 1);
    QCOMPARE(QByteArray::fromStdString(t).toHex(), QByteArray::fromStdString(expected).toHex());
    const GroupSeats after{{"ann", true}, {"dan", false}};
    QVERIFY(t != group_change_transcript(std::string(16, 'h'), 0x0102, GroupChangeKind::Added, "ann", {"dan"}, after));
    QVERIFY(t != group_change_transcript(gid, 0x0103, GroupChangeKind::Added, "ann", {"dan"}, after));
    QVERIFY(t != group_change_transcript(gid, 0x0102, GroupChangeKind::Created, "ann", {"dan"}, after));
    QVERIFY(t != group_change_transcript(gid, 0x0102, GroupChangeKind::Added, "ann", {}, after));
    QVERIFY(t != group_change_transcript(gid, 0x0102, GroupChangeKind::Added, "ann", {"dan"},
                                         {{"ann", true}, {"dan", true}}));
    // Lengths are prefixed, so names cannot be split differently.
    QVERIFY(group_change_transcript(gid, 1, GroupChangeKind::Added, "ann", {"abcd", "efg"}, {}) !=
            group_change_transcript(gid, 1, GroupChangeKind::Added, "ann", {"abc", "defg"}, {}));
  }
};

QTEST_GUILESS_MAIN(GroupChangeTest)
#include "group_change_test.moc"
