// Delivery marks applied to a profile's store (sync/delivery_marks.hpp), without a relay: one
// frame raising several messages at once, forward-only statuses, group member counts, marks
// that arrive before the SendAck numbering a message, validation of every field, the saved
// resume version, and a plan that goes through the conversation index; a group message's
// ticks once every member it went to has it or has read it (sync/group_ticks.hpp).
#include <QtTest>

#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>

#include <optional>

#include "messenger.hpp"
#include "store/database.hpp"
#include "sync/delivery_marks.hpp"
#include "sync/group_ticks.hpp"
#include "sealed_db.hpp"

using namespace parley::client;
using parley::client::marks::MarkEffects;

namespace {

const QString kMe = QStringLiteral("alice");
const QByteArray kGroup = QByteArray::fromHex("00112233445566778899aabbccddeeff");

QByteArray msg_id(int n) { return QByteArray(15, 'm') + static_cast<char>(n); }

parley::wire::DeliveryMark mark(const std::string& reader, std::uint32_t device, std::uint64_t up_to,
                                std::uint64_t version, const QByteArray& group = {},
                                std::uint64_t ts = 1000, std::uint64_t from = 1) {
  parley::wire::DeliveryMark m;
  m.set_from_conv_seq(from);
  m.set_reader(reader);
  m.set_reader_device(device);
  m.set_group_id(group.toStdString());
  m.set_up_to_conv_seq(up_to);
  m.set_server_ts_ms(ts);
  m.set_version(version);
  return m;
}

parley::wire::DeliveryMarks frame(std::initializer_list<parley::wire::DeliveryMark> marks) {
  parley::wire::DeliveryMarks f;
  for (const auto& m : marks) *f.add_marks() = m;
  return f;
}

}  // namespace

class DeliveryMarksTest : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  std::unique_ptr<Database> db_;
  int file_ = 0;

  bool exec(const QString& sql, const QVariantList& binds = {}) {
    QSqlQuery q(db_->db());
    q.prepare(sql);
    for (const auto& b : binds) q.addBindValue(b);
    if (!q.exec()) qWarning("%s: %s", qPrintable(sql), qPrintable(q.lastError().text()));
    return q.isActive();
  }
  QVariant scalar(const QString& sql, const QVariantList& binds = {}) {
    QSqlQuery q(db_->db());
    q.prepare(sql);
    for (const auto& b : binds) q.addBindValue(b);
    return q.exec() && q.next() ? q.value(0) : QVariant();
  }
  // One of our messages (conv_seq < 0: not numbered yet) or, with `sender`, someone else's.
  void addMessage(const QString& peer, int n, qint64 conv_seq, MessageStatus s,
                  const QString& sender = kMe) {
    QVERIFY(exec("INSERT INTO messages(peer, sender, client_msg_id, conv_seq, body, status,"
                 " client_ts_ms) VALUES(?, ?, ?, ?, 'x', ?, 1)",
                 {peer, sender, msg_id(n), conv_seq >= 0 ? QVariant(conv_seq) : QVariant(),
                  static_cast<int>(s)}));
  }
  int status(int n) {
    return scalar("SELECT status FROM messages WHERE client_msg_id = ?", {msg_id(n)}).toInt();
  }
  QStringList members(int n) {
    QSqlQuery q(db_->db());
    q.prepare("SELECT member FROM group_receipts WHERE group_id = ? AND client_msg_id = ?"
              " ORDER BY member");
    q.addBindValue(kGroup);
    q.addBindValue(msg_id(n));
    QStringList out;
    if (q.exec())
      while (q.next()) out << q.value(0).toString();
    return out;
  }
  bool apply(const parley::wire::DeliveryMarks& f, MarkEffects* fx) {
    return db_->transaction([&] { return marks::apply_frame(db_->db(), kMe, f, fx); });
  }
  bool applyStored(const QString& peer, const QByteArray& gid, int n, qint64 conv_seq,
                   MarkEffects* fx) {
    return db_->transaction(
        [&] { return marks::apply_stored(db_->db(), kMe, peer, gid, msg_id(n), conv_seq, fx); });
  }
  static QList<QByteArray> ids(const MarkEffects& fx) {
    QList<QByteArray> out;
    for (const auto& d : fx.statuses) out << d.client_msg_id;
    return out;
  }

 private slots:
  // A fresh store per test, with a conversation with bob and a group (bob, carol and us).
  void init() {
    QString error;
    db_ = parley::test::openStore(dir_.filePath(QStringLiteral("p%1.db").arg(++file_)), &error);
    QVERIFY2(db_, qPrintable(error));
    QVERIFY(exec("INSERT INTO conversations(peer, last_activity_ms) VALUES('bob', 1), (?, 1)",
                 {Messenger::groupPeer(kGroup)}));
    QVERIFY(exec("INSERT INTO groups(id, name) VALUES(?, 'g')", {kGroup}));
    for (const char* u : {"alice", "bob", "carol"})
      QVERIFY(exec("INSERT INTO group_members(group_id, username) VALUES(?, ?)",
                   {kGroup, QString::fromLatin1(u)}));
  }
  void cleanup() { db_.reset(); }

  // A member added later (or a device registered later) starts its mark at the first message
  // it got: our earlier messages are not counted for it, and a mark that starts again above
  // what we hold (the member was removed and added again) skips what it missed meanwhile.
  void markCoversOnlyFromItsFirstMessage() {
    const auto peer = Messenger::groupPeer(kGroup);
    for (int n = 1; n <= 8; ++n) addMessage(peer, n, n, MessageStatus::Sent);
    MarkEffects fx;
    QVERIFY(apply(frame({mark("carol", 1, 4, 50, kGroup, 1000, 3)}), &fx));
    QCOMPARE(members(2), QStringList{});
    QCOMPARE(members(3), QStringList{"carol"});
    QCOMPARE(members(4), QStringList{"carol"});
    QVERIFY(apply(frame({mark("carol", 1, 8, 51, kGroup, 1001, 7)}), &fx));
    QCOMPARE(members(5), QStringList{});
    QCOMPARE(members(6), QStringList{});
    QCOMPARE(members(7), QStringList{"carol"});
    QCOMPARE(members(8), QStringList{"carol"});
    QCOMPARE(scalar("SELECT from_seq FROM delivery_marks WHERE reader = 'carol'").toInt(), 7);
    // A SendAck that numbers message 9 at seq 5 (a gap carol was not there for): not hers.
    addMessage(peer, 9, -1, MessageStatus::Sent);
    QVERIFY(exec("UPDATE messages SET conv_seq = 5 WHERE client_msg_id = ?", {msg_id(9)}));
    MarkEffects late;
    QVERIFY(applyStored(peer, kGroup, 9, 5, &late));
    QVERIFY(late.group_members.isEmpty());
  }

  // A version belongs to one relay's data directory: another relay id means start from 0,
  // and the next frame's version is stored as it is (not compared with the old relay's).
  void versionIsDroppedWhenTheRelayChanges() {
    const QByteArray relay_a(16, 'a'), relay_b(16, 'b');
    QCOMPARE(marks::resume_version(db_->db(), relay_a), 0u);  // nothing stored yet
    MarkEffects fx;
    QVERIFY(apply(frame({mark("bob", 1, 1, 40)}), &fx));
    QCOMPARE(marks::resume_version(db_->db(), relay_a), 40u);
    QCOMPARE(marks::resume_version(db_->db(), relay_b), 0u);
    QCOMPARE(marks::last_version(db_->db()), 0u);
    QVERIFY(apply(frame({mark("bob", 1, 2, 5)}), &fx));
    QCOMPARE(marks::resume_version(db_->db(), relay_b), 5u);
  }

  // Messages to ourselves (our other devices) are delivered by our own devices' marks.
  void markOfOurOtherDeviceDeliversANoteToSelf() {
    QVERIFY(exec("INSERT INTO conversations(peer, last_activity_ms) VALUES('alice', 1)"));
    addMessage("alice", 1, 1, MessageStatus::Sent);
    MarkEffects fx;
    QVERIFY(apply(frame({mark("alice", 2, 1, 60)}), &fx));
    QCOMPARE(ids(fx), QList<QByteArray>{msg_id(1)});
  }

  void oneFrameDeliversSeveralMessages() {
    addMessage("bob", 1, 1, MessageStatus::Sent);
    addMessage("bob", 2, 2, MessageStatus::Sent);
    addMessage("bob", 3, 3, MessageStatus::Read);  // never goes back to Delivered
    addMessage("bob", 4, 4, MessageStatus::Sent, "bob");  // bob's own: not ours to mark
    addMessage("bob", 5, 5, MessageStatus::Sent);
    addMessage("bob", 6, 7, MessageStatus::Sent);  // beyond the mark
    addMessage("bob", 7, -1, MessageStatus::Queued);
    addMessage("bob", 8, -1, MessageStatus::Failed);
    MarkEffects fx;
    QVERIFY(apply(frame({mark("bob", 1, 6, 41)}), &fx));
    QCOMPARE(ids(fx), (QList<QByteArray>{msg_id(1), msg_id(2), msg_id(5)}));
    for (const auto& d : fx.statuses) QCOMPARE(d.peer, QString("bob"));
    QVERIFY(fx.group_members.isEmpty());
    const int delivered = static_cast<int>(MessageStatus::Delivered);
    QCOMPARE(status(1), delivered);
    QCOMPARE(status(2), delivered);
    QCOMPARE(status(3), static_cast<int>(MessageStatus::Read));
    QCOMPARE(status(4), static_cast<int>(MessageStatus::Sent));
    QCOMPARE(status(5), delivered);
    QCOMPARE(status(6), static_cast<int>(MessageStatus::Sent));
    QCOMPARE(status(7), static_cast<int>(MessageStatus::Queued));
    QCOMPARE(status(8), static_cast<int>(MessageStatus::Failed));
    QCOMPARE(marks::last_version(db_->db()), std::uint64_t(41));
    QCOMPARE(scalar("SELECT up_to FROM delivery_marks WHERE peer = 'bob' AND reader = 'bob'"
                    " AND reader_device = 1").toLongLong(), 6);

    // The same mark again (a login from an older version) changes nothing; a raise covers
    // only what is new; a later version never lowers the stored one.
    fx = {};
    QVERIFY(apply(frame({mark("bob", 1, 6, 41)}), &fx));
    QVERIFY(fx.statuses.isEmpty());
    QVERIFY(apply(frame({mark("bob", 1, 3, 42)}), &fx));
    QVERIFY(fx.statuses.isEmpty());
    QCOMPARE(scalar("SELECT up_to FROM delivery_marks WHERE peer = 'bob'").toLongLong(), 6);
    QVERIFY(apply(frame({mark("bob", 1, 7, 43)}), &fx));
    QCOMPARE(ids(fx), QList<QByteArray>{msg_id(6)});
    QCOMPARE(marks::last_version(db_->db()), std::uint64_t(43));
    QVERIFY(apply(frame({mark("bob", 2, 7, 40)}), &fx));  // a second device: nothing new
    QCOMPARE(marks::last_version(db_->db()), std::uint64_t(43));
    QCOMPARE(fx.statuses.size(), 1);
  }

  void groupMarksCountMembers() {
    const auto peer = Messenger::groupPeer(kGroup);
    addMessage(peer, 1, 10, MessageStatus::Sent);
    addMessage(peer, 2, 11, MessageStatus::Read);  // read by one, delivered to more later
    addMessage(peer, 3, 12, MessageStatus::Sent);
    addMessage(peer, 4, 13, MessageStatus::Sent, "bob");
    MarkEffects fx;
    // bob has up to 11; carol's first device up to 10, her second up to 12.
    QVERIFY(apply(frame({mark("bob", 1, 11, 5, kGroup, 700), mark("carol", 1, 10, 6, kGroup, 800),
                         mark("carol", 2, 12, 7, kGroup, 900)}),
                  &fx));
    QCOMPARE(members(1), (QStringList{"bob", "carol"}));
    QCOMPARE(members(2), (QStringList{"bob", "carol"}));
    QCOMPARE(members(3), QStringList{"carol"});
    QCOMPARE(scalar("SELECT COUNT(*) FROM group_receipts WHERE client_msg_id = ?", {msg_id(4)}).toInt(), 0);
    QCOMPARE(scalar("SELECT at_ms FROM group_receipts WHERE client_msg_id = ? AND member = 'bob'",
                    {msg_id(1)}).toLongLong(), 700);
    // One entry per message that gained members, in the order found.
    QCOMPARE(fx.group_members.size(), 3);
    QCOMPARE(fx.group_members[0], qMakePair(kGroup, msg_id(1)));
    QCOMPARE(fx.group_members[1], qMakePair(kGroup, msg_id(2)));
    QCOMPARE(fx.group_members[2], qMakePair(kGroup, msg_id(3)));
    // Only the first reached every member (bob and carol); the third has carol only.
    QCOMPARE(ids(fx), (QList<QByteArray>{msg_id(1)}));
    for (const auto& d : fx.statuses) {
      QCOMPARE(d.peer, peer);
      QCOMPARE(d.now, MessageStatus::Delivered);
    }
    QCOMPARE(status(1), static_cast<int>(MessageStatus::Delivered));
    QCOMPARE(status(2), static_cast<int>(MessageStatus::Read));
    QCOMPARE(status(3), static_cast<int>(MessageStatus::Sent));
    QCOMPARE(marks::last_version(db_->db()), std::uint64_t(7));
  }

  // A group message's ticks count the members it went to who are still members (joined
  // before it was numbered): one who left is not waited for, one who joined after it is not
  // either; reads from every one of them make it Read.
  void groupTicksCountEveryMemberItWentTo() {
    const auto peer = Messenger::groupPeer(kGroup);
    const auto settle = [&](int n) {
      std::optional<MessageStatus> now;
      bool ok = false;
      const bool committed = db_->transaction([&] {
        now = group_ticks::settle(db_->db(), kMe, kGroup, msg_id(n), &ok);
        return ok;
      });
      return committed ? now : std::nullopt;
    };
    const auto read_by = [&](int n, const char* member) {
      return exec("INSERT INTO group_reads(group_id, client_msg_id, member, at_ms) VALUES(?, ?, ?, 5)",
                  {kGroup, msg_id(n), QString::fromLatin1(member)});
    };
    addMessage(peer, 1, 1, MessageStatus::Sent);
    addMessage(peer, 2, 2, MessageStatus::Sent);
    MarkEffects fx;
    // carol has both, bob only the first; bob's read alone is not every read.
    QVERIFY(apply(frame({mark("carol", 1, 2, 1, kGroup), mark("bob", 1, 1, 2, kGroup)}), &fx));
    QCOMPARE(ids(fx), QList<QByteArray>{msg_id(1)});
    QCOMPARE(status(2), static_cast<int>(MessageStatus::Sent));
    QVERIFY(read_by(1, "bob"));
    QCOMPARE(settle(1), std::nullopt);
    QVERIFY(read_by(1, "carol"));
    QCOMPARE(settle(1), MessageStatus::Read);
    QCOMPARE(status(1), static_cast<int>(MessageStatus::Read));
    QCOMPARE(settle(1), std::nullopt);  // never moves back, nor twice

    // bob leaves without the second: carol, who has it, is every member it still went to.
    QVERIFY(exec("DELETE FROM group_members WHERE group_id = ? AND username = 'bob'", {kGroup}));
    std::optional<QList<QPair<QByteArray, MessageStatus>>> moved;
    QVERIFY(db_->transaction([&] {
      moved = group_ticks::resettle(db_->db(), kMe, kGroup);
      return moved.has_value();
    }));
    QCOMPARE(*moved, (QList<QPair<QByteArray, MessageStatus>>{{msg_id(2), MessageStatus::Delivered}}));
    QCOMPARE(status(2), static_cast<int>(MessageStatus::Delivered));

    // dave joins at seq 3: the message numbered 3 did not go to him, the one numbered 4 did.
    QVERIFY(exec("INSERT INTO group_members(group_id, username, joined_seq) VALUES(?, 'dave', 3)", {kGroup}));
    addMessage(peer, 3, 3, MessageStatus::Sent);
    addMessage(peer, 4, 4, MessageStatus::Sent);
    fx = {};
    QVERIFY(apply(frame({mark("carol", 1, 4, 3, kGroup)}), &fx));
    QCOMPARE(ids(fx), QList<QByteArray>{msg_id(3)});
    QVERIFY(apply(frame({mark("dave", 1, 4, 4, kGroup, 1000, 4)}), &fx));
    QCOMPARE(ids(fx), (QList<QByteArray>{msg_id(3), msg_id(4)}));
    // A read receipt says it was delivered when the relay's mark is late: carol has read the
    // fifth, dave's mark has it.
    addMessage(peer, 6, 6, MessageStatus::Sent);
    QVERIFY(read_by(6, "carol"));
    fx = {};
    QVERIFY(apply(frame({mark("dave", 1, 6, 5, kGroup, 1000, 4)}), &fx));
    QCOMPARE(ids(fx), QList<QByteArray>{msg_id(6)});
    // erin's Added event at seq 5 arrives after those marks (we were catching up): the sixth
    // went to her too, and falls back to one tick; regrading never touches older ones.
    QVERIFY(exec("INSERT INTO group_members(group_id, username, joined_seq) VALUES(?, 'erin', 5)", {kGroup}));
    QVERIFY(db_->transaction([&] {
      moved = group_ticks::resettle(db_->db(), kMe, kGroup, 5, group_ticks::Moves::Regrade);
      return moved.has_value();
    }));
    QCOMPARE(*moved, (QList<QPair<QByteArray, MessageStatus>>{{msg_id(6), MessageStatus::Sent}}));
    QCOMPARE(status(6), static_cast<int>(MessageStatus::Sent));
    QCOMPARE(status(4), static_cast<int>(MessageStatus::Delivered));
    QVERIFY(exec("DELETE FROM group_members WHERE group_id = ? AND username = 'erin'", {kGroup}));

    // No one it went to left: nothing to earn, and nothing made up.
    addMessage(peer, 5, 5, MessageStatus::Sent);
    QVERIFY(exec("UPDATE group_members SET joined_seq = 9 WHERE group_id = ?", {kGroup}));
    QCOMPARE(settle(5), std::nullopt);
    QCOMPARE(status(5), static_cast<int>(MessageStatus::Sent));
  }

  // One stored row per reader device, and no more devices than an account can have: marks
  // naming a 17th device of bob are skipped.
  void aReaderHasAtMostSixteenDevices() {
    addMessage("bob", 1, 1, MessageStatus::Sent);
    parley::wire::DeliveryMarks f;
    for (std::uint32_t device = 1; device <= 17; ++device)
      *f.add_marks() = mark("bob", device, 1, device);
    MarkEffects fx;
    QVERIFY(apply(f, &fx));
    QCOMPARE(scalar("SELECT COUNT(*) FROM delivery_marks WHERE reader = 'bob'").toInt(), 16);
    QCOMPARE(scalar("SELECT COUNT(*) FROM delivery_marks WHERE reader = 'bob' AND reader_device = 17").toInt(), 0);
    QCOMPARE(status(1), static_cast<int>(MessageStatus::Delivered));
  }

  // Each of these is skipped without touching anything; the frame still counts as handled.
  void invalidMarksAreIgnored_data() {
    QTest::addColumn<QByteArray>("mark");
    const auto row = [](const char* name, const parley::wire::DeliveryMark& m) {
      QTest::newRow(name) << QByteArray::fromStdString(m.SerializeAsString());
    };
    row("up_to 0", mark("bob", 1, 0, 9));
    row("up_to beyond int64", mark("bob", 1, std::uint64_t(1) << 63, 9));
    row("version 0", mark("bob", 1, 5, 0));
    row("from 0", mark("bob", 1, 5, 9, {}, 1000, 0));
    row("from above up_to", mark("bob", 1, 5, 9, {}, 1000, 6));
    row("device 0", mark("bob", 0, 5, 9));
    row("device beyond 2^31-1", mark("bob", 0x80000000u, 5, 9));
    row("reader empty", mark("", 1, 5, 9));
    row("reader not folded", mark("Bob", 1, 5, 9));
    row("reader is us, in a group", mark("alice", 1, 5, 9, kGroup));
    row("unknown conversation", mark("dave", 1, 5, 9));
    row("group id 15 bytes", mark("bob", 1, 5, 9, kGroup.left(15)));
    row("group id 17 bytes", mark("bob", 1, 5, 9, kGroup + 'x'));
    row("unknown group", mark("bob", 1, 5, 9, QByteArray(16, '\x7f')));
    row("reader not a member of the group", mark("dave", 1, 5, 9, kGroup));
  }
  void invalidMarksAreIgnored() {
    QFETCH(QByteArray, mark);
    parley::wire::DeliveryMarks f;
    QVERIFY(f.add_marks()->ParseFromArray(mark.constData(), static_cast<int>(mark.size())));
    addMessage("bob", 1, 1, MessageStatus::Sent);
    addMessage(Messenger::groupPeer(kGroup), 2, 1, MessageStatus::Sent);
    MarkEffects fx;
    QVERIFY(apply(f, &fx));
    QVERIFY(fx.statuses.isEmpty());
    QVERIFY(fx.group_members.isEmpty());
    QCOMPARE(status(1), static_cast<int>(MessageStatus::Sent));
    QCOMPARE(status(2), static_cast<int>(MessageStatus::Sent));
    QCOMPARE(scalar("SELECT COUNT(*) FROM delivery_marks").toInt(), 0);
    QCOMPARE(scalar("SELECT COUNT(*) FROM group_receipts").toInt(), 0);
    QCOMPARE(marks::last_version(db_->db()), std::uint64_t(f.marks(0).version()));
  }

  // The mark came first (the SendAck was lost); the SendAck that numbers the message later
  // finds it.
  void markBeforeTheSendAck() {
    addMessage("bob", 1, -1, MessageStatus::Queued);
    MarkEffects fx;
    QVERIFY(apply(frame({mark("bob", 1, 4, 3)}), &fx));
    QVERIFY(fx.statuses.isEmpty());
    QCOMPARE(status(1), static_cast<int>(MessageStatus::Queued));
    QVERIFY(exec("UPDATE messages SET conv_seq = 4, status = 1 WHERE client_msg_id = ?", {msg_id(1)}));
    QVERIFY(applyStored("bob", {}, 1, 4, &fx));
    QCOMPARE(ids(fx), QList<QByteArray>{msg_id(1)});
    QCOMPARE(status(1), static_cast<int>(MessageStatus::Delivered));
    // A message numbered above every mark stays Sent.
    addMessage("bob", 2, 5, MessageStatus::Sent);
    fx = {};
    QVERIFY(applyStored("bob", {}, 2, 5, &fx));
    QVERIFY(fx.statuses.isEmpty());
    QCOMPARE(status(2), static_cast<int>(MessageStatus::Sent));
    // Something we sent that is not shown (a read receipt) has no row and gains nothing.
    QVERIFY(applyStored("bob", {}, 9, 3, &fx));
    QVERIFY(fx.statuses.isEmpty());
  }

  void groupMarkBeforeTheSendAck() {
    const auto peer = Messenger::groupPeer(kGroup);
    addMessage(peer, 1, -1, MessageStatus::Queued);
    MarkEffects fx;
    QVERIFY(apply(frame({mark("bob", 1, 20, 3, kGroup, 500), mark("bob", 2, 21, 4, kGroup, 400),
                         mark("carol", 1, 19, 5, kGroup, 600)}),
                  &fx));
    QVERIFY(fx.group_members.isEmpty());
    QVERIFY(exec("UPDATE messages SET conv_seq = 20, status = 1 WHERE client_msg_id = ?", {msg_id(1)}));
    QVERIFY(applyStored(peer, kGroup, 1, 20, &fx));
    QCOMPARE(members(1), QStringList{"bob"});  // carol's mark stops at 19
    // The earliest of bob's devices that have it.
    QCOMPARE(scalar("SELECT at_ms FROM group_receipts WHERE client_msg_id = ?", {msg_id(1)}).toLongLong(), 400);
    QCOMPARE(fx.group_members, (QList<QPair<QByteArray, QByteArray>>{{kGroup, msg_id(1)}}));
    QVERIFY(fx.statuses.isEmpty());  // bob alone is not every member
    QCOMPARE(status(1), static_cast<int>(MessageStatus::Sent));
    // A later raise of carol's mark adds her, once, and with her every member has it.
    fx = {};
    QVERIFY(apply(frame({mark("carol", 1, 20, 6, kGroup)}), &fx));
    QCOMPARE(members(1), (QStringList{"bob", "carol"}));
    QCOMPARE(fx.group_members.size(), 1);
    QCOMPARE(ids(fx), QList<QByteArray>{msg_id(1)});
    QCOMPARE(status(1), static_cast<int>(MessageStatus::Delivered));
  }

  // A failed statement rolls the whole frame back, the resume version included.
  void aFailedFrameStoresNothing() {
    addMessage("bob", 1, 1, MessageStatus::Sent);
    QVERIFY(exec("CREATE TRIGGER refuse BEFORE INSERT ON group_receipts BEGIN"
                 " SELECT RAISE(ABORT, 'refused'); END"));
    addMessage(Messenger::groupPeer(kGroup), 2, 1, MessageStatus::Sent);
    MarkEffects fx;
    QVERIFY(!apply(frame({mark("bob", 1, 1, 8), mark("bob", 1, 1, 9, kGroup)}), &fx));
    QCOMPARE(status(1), static_cast<int>(MessageStatus::Sent));
    QCOMPARE(scalar("SELECT COUNT(*) FROM delivery_marks").toInt(), 0);
    QCOMPARE(marks::last_version(db_->db()), std::uint64_t(0));
  }

  // A mark reads only the messages it covers: the lookup goes through the conversation index.
  void coveredMessagesComeFromTheIndex() {
    for (bool group : {false, true}) {
      QSqlQuery q(db_->db());
      QVERIFY(q.exec("EXPLAIN QUERY PLAN " + marks::covered_query(group)
                         .replace("peer = ?", "peer = 'bob'").replace("conv_seq > ?", "conv_seq > 1")
                         .replace("conv_seq <= ?", "conv_seq <= 5").replace("sender = ?", "sender = 'alice'")));
      QStringList plan;
      while (q.next()) plan << q.value(3).toString();
      QVERIFY2(plan.join(' ').contains("USING INDEX messages_by_conversation (peer=? AND conv_seq>? AND conv_seq<?)"),
               qPrintable(plan.join(" | ")));
    }
  }
};

QTEST_GUILESS_MAIN(DeliveryMarksTest)
#include "delivery_marks_test.moc"
