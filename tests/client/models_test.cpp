// The models and read-side API a GUI uses, on a real profile: MessageModel's window (newest
// page, older pages, jumping to an old message, a gap marker, live arrivals inserted without a
// reset), historySlice, full-text search, verification, and ConversationListModel keeping
// selections across re-sorting, clearing unread counts, showing who wrote the last message
// with its ticks, pinned chats first, muted ones out of the unread total and those marked
// unread in it, archived ones coming back with a message (not while muted) and a read
// receipt moving nothing up.
#include <QtTest>

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>

#include <tuple>

#include "client_user.hpp"
#include "messenger.hpp"
#include "models/conversation_list_model.hpp"
#include "models/message_model.hpp"
#include "relay_process.hpp"
#include "test_client.hpp"
#include "sealed_db.hpp"

using namespace parley::client;
using parley::test::RelayProcess;
using parley::test::spinUntil;

namespace {

constexpr int kWaitMs = 15000;
constexpr int kFake = 450;  // messages with "zed", written straight into the store
constexpr int kHole = 100;  // a conv_seq never seen there

// A history with "zed" as a client would have stored it: conv_seq 1..kFake without kHole.
bool write_history(const QString& db_path) {
  bool ok = true;
  {
    auto db = parley::test::sealedDatabase(db_path, "fill");
    db.setConnectOptions("QSQLITE_BUSY_TIMEOUT=5000;QSQLITE_OPEN_URI");  // the messenger may be committing
    ok = db.open() && db.transaction();
    QSqlQuery q(db);
    ok = ok && q.exec("INSERT INTO conversations(peer, last_activity_ms, unread) VALUES('zed', 1000, 3)");
    for (int seq = 1; ok && seq <= kFake; ++seq) {
      if (seq == kHole) continue;
      q.prepare("INSERT INTO messages(peer, sender, client_msg_id, conv_seq, body, status, client_ts_ms,"
                " server_ts_ms) VALUES('zed', ?, ?, ?, ?, ?, ?, ?)");
      const bool mine = seq % 3 == 0;
      q.addBindValue(mine ? "alice" : "zed");
      q.addBindValue(QByteArray::number(seq).rightJustified(16, '0'));
      q.addBindValue(seq);
      q.addBindValue(seq == 7 ? QString("The quick brown fox jumps") : QString("message %1").arg(seq));
      q.addBindValue(mine ? 2 : 11);
      q.addBindValue(seq * 1000);
      q.addBindValue(seq * 1000);
      ok = q.exec();
      QSqlQuery s(db);
      s.prepare("INSERT INTO seen_seqs(peer, conv_seq) VALUES('zed', ?)");
      s.addBindValue(seq);
      ok = ok && s.exec();
      if (!ok) qWarning("%s", qPrintable(q.lastError().text()));
    }
    // "yan": a message numbered before alice's last one, stored after it (it came late).
    for (const auto& [sender, seq, body] :
         {std::tuple{"alice", 2, "numbered 2, stored before 1"}, std::tuple{"yan", 1, "numbered 1, stored after 2"}}) {
      if (!ok) break;
      q.prepare("INSERT INTO messages(peer, sender, client_msg_id, conv_seq, body, status, client_ts_ms,"
                " server_ts_ms) VALUES('yan', ?, ?, ?, ?, ?, 1000, 1000)");
      q.addBindValue(QString(sender));
      q.addBindValue(QByteArray("yan").append(QByteArray::number(seq)).rightJustified(16, '0'));
      q.addBindValue(seq);
      q.addBindValue(QString(body));
      q.addBindValue(QString(sender) == "alice" ? 2 : 11);
      ok = q.exec();
    }
    ok = ok && q.exec("INSERT INTO conversations(peer, last_activity_ms, unread) VALUES('yan', 900, 0)");
    ok = ok && db.commit();
    db.close();
  }
  QSqlDatabase::removeDatabase("fill");
  return ok;
}

// Conversations with 2 unread each and nothing in them, as old as can be.
bool add_conversations(const QString& db_path, const QStringList& peers) {
  bool ok = true;
  {
    auto db = parley::test::sealedDatabase(db_path, "more");
    // No busy wait: the messenger commits on this thread, so the loop must run meanwhile.
    db.setConnectOptions("QSQLITE_BUSY_TIMEOUT=0;QSQLITE_OPEN_URI");
    ok = db.open();
    QSqlQuery q(db);
    for (const auto& peer : peers) {
      q.prepare("INSERT INTO conversations(peer, last_activity_ms, unread) VALUES(?, 500, 2)");
      q.addBindValue(peer);
      ok = ok && spinUntil([&] { return q.exec(); }, kWaitMs);
    }
    if (!ok) qWarning("%s", qPrintable(q.lastError().text()));
    q.finish();
    db.close();
  }
  QSqlDatabase::removeDatabase("more");
  return ok;
}

}  // namespace

class ModelsTest : public QObject {
  Q_OBJECT
  RelayProcess relay_;
  QTemporaryDir home_;
  std::unique_ptr<Messenger> alice_, bob_;

 private slots:
  void initTestCase() {
    QVERIFY(home_.isValid());
    QVERIFY(relay_.start());
    alice_ = parley::test::registerClientUser(relay_.url(), home_.filePath("alice"), "alice");
    bob_ = parley::test::registerClientUser(relay_.url(), home_.filePath("bob"), "bob");
    QVERIFY(alice_ && bob_);
    // The messenger commits once per event-loop turn on this thread: let it finish first.
    QTest::qWait(100);
    QVERIFY(write_history(home_.filePath("alice/parley.db")));
  }

  void historySliceIsAPage() {
    const auto page = alice_->historySlice("zed", 0, 10, 5);
    QCOMPARE(page.size(), 5);
    QCOMPARE(page.first().convSeq, 5);
    QCOMPARE(page.last().convSeq, 9);
    QCOMPARE(alice_->historySlice("zed", 0, -1, -1).size(), kFake - 1);
    QCOMPARE(alice_->historySlice("zed", 440, -1, -1).size(), kFake - 440 + 1);
  }

  void messageModelLoadsPagesFromTheNewest() {
    MessageModel model(alice_.get(), "zed");
    QCOMPARE(model.rowCount(), MessageModel::kPageSize);
    QCOMPARE(model.index(0, 0).data(MessageModel::ConvSeqRole).toLongLong(), kFake - MessageModel::kPageSize + 1);
    QCOMPARE(model.index(model.rowCount() - 1, 0).data(MessageModel::ConvSeqRole).toLongLong(), kFake);
    QVERIFY(model.canFetchMore({}));
    model.fetchMore({});
    // From here on a tester checks every change (it would have fetched pages itself before).
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QVERIFY(model.rowCount() >= 2 * MessageModel::kPageSize);
    while (model.canFetchMore({})) model.fetchMore({});
    QCOMPARE(model.rowCount(), kFake - 1);
    QVERIFY(!model.canFetchMore({}));
    // The hole is marked on the message after it, and only there.
    int marked = 0;
    for (int r = 0; r < model.rowCount(); ++r) {
      const int gap = model.index(r, 0).data(MessageModel::GapBeforeRole).toInt();
      if (gap == 0) continue;
      ++marked;
      QCOMPARE(gap, 1);
      QCOMPARE(model.index(r, 0).data(MessageModel::ConvSeqRole).toLongLong(), kHole + 1);
    }
    QCOMPARE(marked, 1);
  }

  void loadMessageReachesAnOldOne() {
    MessageModel model(alice_.get(), "zed");
    const auto old = alice_->historySlice("zed", 7, 8, 1);
    QCOMPARE(old.size(), 1);
    const int row = model.loadMessage(old.first().id);
    QVERIFY(row >= 0);
    QCOMPARE(model.index(row, 0).data(MessageModel::BodyRole).toString(), QString("The quick brown fox jumps"));
    QCOMPARE(model.loadMessage(-5), -1);
  }

  void arrivalsAreInsertedNotReset() {
    QString error;
    QVERIFY(alice_->sendText("bob", "first", &error));
    QVERIFY(spinUntil([&] { return alice_->history("bob").size() == 1 &&
                                   alice_->history("bob").first().status >= MessageStatus::Sent; }, kWaitMs));
    MessageModel model(alice_.get(), "bob");
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy resets(&model, &QAbstractItemModel::modelReset);
    QSignalSpy inserts(&model, &QAbstractItemModel::rowsInserted);
    QPersistentModelIndex first(model.index(0, 0));
    QVERIFY(bob_->sendText("alice", "second", &error));
    QVERIFY(spinUntil([&] { return model.rowCount() == 2; }, kWaitMs));
    QVERIFY(alice_->sendText("bob", "third", &error));
    QCOMPARE(model.rowCount(), 3);
    QVERIFY(spinUntil([&] {
      return model.index(2, 0).data(MessageModel::StatusRole).toInt() >= int(MessageStatus::Sent);
    }, kWaitMs));
    QCOMPARE(resets.count(), 0);
    QCOMPARE(inserts.count(), 2);
    QVERIFY(first.isValid());
    QCOMPARE(first.row(), 0);
    QCOMPARE(model.index(1, 0).data(MessageModel::BodyRole).toString(), QString("second"));
    QCOMPARE(model.index(2, 0).data(MessageModel::BodyRole).toString(), QString("third"));
  }

  void searchFindsWordsAndPrefixes() {
    QString error;
    auto hits = alice_->search("quick bro", 10, &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QCOMPARE(hits.size(), 1);
    QCOMPARE(hits.first().peer, QString("zed"));
    QCOMPARE(hits.first().convSeq, 7);
    QVERIFY(hits.first().snippet.contains(QString(kSearchMatchStart) + "quick" + QString(kSearchMatchEnd)));
    // Live messages are indexed by the trigger; newest first.
    hits = alice_->search("second", 10, &error);
    QCOMPARE(hits.size(), 1);
    QCOMPARE(hits.first().peer, QString("bob"));
    QCOMPARE(alice_->search("message", 5, &error).size(), 5);
    QCOMPARE(alice_->search("message", 5, &error).first().convSeq, kFake);
    // FTS5 syntax in the input is taken literally, never an error.
    for (const auto& q : {QString("\"unbalanced"), QString("NEAR(a b"), QString("body:quick"), QString("*"),
                          QString("AND OR NOT")}) {
      error.clear();
      alice_->search(q, 10, &error);
      QVERIFY2(error.isEmpty(), qPrintable(q + ": " + error));
    }
    QVERIFY(alice_->search("   ", 10, &error).isEmpty());
  }

  void verificationNeedsAKey() {
    QString error;
    QVERIFY(!alice_->setVerified("nobody", true, &error));
    QVERIFY(error.contains("no identity key"));
    QSignalSpy changed(alice_.get(), &Messenger::verificationChanged);
    QVERIFY(alice_->setVerified("bob", true, &error));
    QVERIFY(alice_->isVerified("bob"));
    QCOMPARE(changed.count(), 1);
    QVERIFY(alice_->setVerified("bob", false, &error));
    QVERIFY(!alice_->isVerified("bob"));
  }

  void conversationListKeepsSelectionAndClearsUnread() {
    ConversationListModel list(alice_.get());
    QAbstractItemModelTester tester(&list, QAbstractItemModelTester::FailureReportingMode::QtTest);
    const int zed = list.rowOf("zed");
    QVERIFY(zed >= 0);
    QPersistentModelIndex selected(list.index(zed, 0));
    QSignalSpy resets(&list, &QAbstractItemModel::modelReset);
    QSignalSpy unread(&list, &ConversationListModel::totalUnreadChanged);
    QString error;
    QVERIFY(bob_->sendText("alice", "moves bob to the top", &error));
    QVERIFY(spinUntil([&] {
      const auto top = list.index(0, 0);
      return top.data(ConversationListModel::PeerRole) == "bob" &&
             top.data(ConversationListModel::LastMessageRole) == "moves bob to the top" &&
             top.data(ConversationListModel::UnreadRole).toInt() > 0;
    }, kWaitMs));
    QCOMPARE(resets.count(), 0);
    QVERIFY(selected.isValid());
    QCOMPARE(selected.data(ConversationListModel::PeerRole).toString(), QString("zed"));
    const int before = list.totalUnread();
    QVERIFY(before >= 4);  // zed's 3 and bob's
    list.markRead("bob");
    QCOMPARE(list.index(list.rowOf("bob"), 0).data(ConversationListModel::UnreadRole).toInt(), 0);
    QVERIFY(list.totalUnread() < before);
    QVERIFY(unread.count() >= 1);
    QCOMPARE(list.index(list.rowOf("zed"), 0).data(ConversationListModel::TitleRole).toString(), QString("zed"));
  }

  void conversationListShowsWhoWroteLastAndItsTicks() {
    ConversationListModel list(alice_.get());
    QAbstractItemModelTester tester(&list, QAbstractItemModelTester::FailureReportingMode::QtTest);
    const auto row = [&](const QString& peer) { return list.index(list.rowOf(peer), 0); };
    const auto status = [&](const QString& peer) {
      return static_cast<MessageStatus>(row(peer).data(ConversationListModel::LastStatusRole).toInt());
    };
    // From the store: zed's newest message is alice's own, delivered.
    QCOMPARE(row("zed").data(ConversationListModel::LastSenderRole).toString(), QString("alice"));
    QVERIFY(row("zed").data(ConversationListModel::LastFromMeRole).toBool());
    QCOMPARE(status("zed"), MessageStatus::Delivered);
    QCOMPARE(row("zed").data(Qt::DisplayRole).toString(), QString("zed"));
    // The last message is the conversation's last, not the last stored.
    QCOMPARE(row("yan").data(ConversationListModel::LastMessageRole).toString(),
             QString("numbered 2, stored before 1"));
    QVERIFY(row("yan").data(ConversationListModel::LastFromMeRole).toBool());

    QSignalSpy resets(&list, &QAbstractItemModel::modelReset);
    QSignalSpy changed(&list, &QAbstractItemModel::dataChanged);
    QString error;
    QVERIFY(alice_->sendText("bob", "ticks in the list", &error));
    QVERIFY(row("bob").data(ConversationListModel::LastFromMeRole).toBool());
    QCOMPARE(row("bob").data(ConversationListModel::LastSenderRole).toString(), QString("alice"));
    // The relay's ack, bob's device's delivery mark and his read receipt move the row's
    // ticks in place, each as a change of that role alone.
    QVERIFY(spinUntil([&] { return status("bob") == MessageStatus::Delivered; }, kWaitMs));
    bob_->markRead("alice");
    QVERIFY(spinUntil([&] { return status("bob") == MessageStatus::Read; }, kWaitMs));
    QCOMPARE(resets.count(), 0);
    bool status_only = false;
    for (const auto& args : changed) {
      const auto roles = args.at(2).value<QList<int>>();
      status_only = status_only || roles == QList<int>{ConversationListModel::LastStatusRole};
    }
    QVERIFY(status_only);

    // His answer makes the last message his, without ticks of ours.
    QVERIFY(bob_->sendText("alice", "and back", &error));
    QVERIFY(spinUntil([&] {
      return row("bob").data(ConversationListModel::LastSenderRole).toString() == "bob";
    }, kWaitMs));
    QVERIFY(!row("bob").data(ConversationListModel::LastFromMeRole).toBool());
    QCOMPARE(row("bob").data(ConversationListModel::LastMessageRole).toString(), QString("and back"));
  }

  void pinnedChatsLeadAndMutedOnesStayOutOfTheTotal() {
    // Three more conversations, so there is one more than can be pinned.
    QVERIFY(add_conversations(home_.filePath("alice/parley.db"), {"pat", "quinn", "remy"}));
    ConversationListModel list(alice_.get());
    QAbstractItemModelTester tester(&list, QAbstractItemModelTester::FailureReportingMode::QtTest);
    const auto peer_at = [&](int row) { return list.index(row, 0).data(ConversationListModel::PeerRole).toString(); };
    const auto row = [&](const QString& peer) { return list.index(list.rowOf(peer), 0); };
    QCOMPARE(peer_at(0), QString("bob"));  // the most recent
    QPersistentModelIndex selected(row("zed"));
    QSignalSpy settings(alice_.get(), &Messenger::chatSettingsChanged);

    // Pins lead, the newest pin first; a pinned chat pinned again keeps its place.
    QString error;
    QVERIFY(alice_->setPinned("yan", true, &error));
    QCOMPARE(peer_at(0), QString("yan"));
    QVERIFY(alice_->setPinned("remy", true, &error));
    QCOMPARE(peer_at(0), QString("remy"));
    QCOMPARE(peer_at(1), QString("yan"));
    QCOMPARE(peer_at(2), QString("bob"));
    QVERIFY(alice_->setPinned("yan", true, &error));
    QCOMPARE(peer_at(0), QString("remy"));
    QCOMPARE(settings.count(), 2);
    QVERIFY(row("remy").data(ConversationListModel::PinnedRole).toBool());
    QVERIFY(!row("bob").data(ConversationListModel::PinnedRole).toBool());
    QCOMPARE(alice_->conversations().first().peer, QString("remy"));
    // At most kMaxPinned: the sixth is refused, and nothing moves.
    for (const char* peer : {"zed", "pat", "quinn"}) QVERIFY2(alice_->setPinned(peer, true, &error), qPrintable(error));
    QVERIFY(!alice_->setPinned("bob", true, &error));
    QVERIFY2(error.contains("unpin one first"), qPrintable(error));
    QCOMPARE(peer_at(Messenger::kMaxPinned), QString("bob"));
    QVERIFY(!alice_->setPinned("nobody", true, &error));
    QCOMPARE(error, QString("no conversation with nobody"));
    QVERIFY(selected.isValid());
    QCOMPARE(selected.data(ConversationListModel::PeerRole).toString(), QString("zed"));
    for (const char* peer : {"yan", "remy", "zed", "pat", "quinn"}) QVERIFY(alice_->setPinned(peer, false, &error));
    QCOMPARE(peer_at(0), QString("bob"));

    // Muted: its own count stays, the total leaves it out, and a timed mute ends by itself.
    const int total = list.totalUnread();
    const int zeds = row("zed").data(ConversationListModel::UnreadRole).toInt();
    QVERIFY(zeds > 0);
    QSignalSpy totals(&list, &ConversationListModel::totalUnreadChanged);
    const auto until = QDateTime::currentMSecsSinceEpoch() + 8000;
    QVERIFY(alice_->setMuted("zed", until, &error));
    QCOMPARE(alice_->mutedUntil("zed"), until);
    QVERIFY(list.isMuted("zed"));
    QVERIFY(row("zed").data(ConversationListModel::MutedRole).toBool());
    QCOMPARE(row("zed").data(ConversationListModel::MutedUntilRole).toLongLong(), until);
    QCOMPARE(row("zed").data(ConversationListModel::UnreadRole).toInt(), zeds);
    QCOMPARE(list.totalUnread(), total - zeds);
    QVERIFY(spinUntil([&] { return list.totalUnread() == total; }, kWaitMs));
    QVERIFY(!list.isMuted("zed"));
    QVERIFY(!row("zed").data(ConversationListModel::MutedRole).toBool());
    QCOMPARE(alice_->mutedUntil("zed"), 0);
    QVERIFY(totals.count() >= 2);
    QCOMPARE(totals.last().at(0).toInt(), total);
    // Until unmuted; a time already past is no mute; nor is 0.
    QVERIFY(alice_->setMuted("pat", Messenger::kMutedForever, &error));
    QCOMPARE(alice_->mutedUntil("pat"), Messenger::kMutedForever);
    QCOMPARE(list.totalUnread(), total - 2);
    QVERIFY(alice_->setMuted("pat", QDateTime::currentMSecsSinceEpoch() - 1, &error));
    QCOMPARE(alice_->mutedUntil("pat"), 0);
    QCOMPARE(list.totalUnread(), total);
    QVERIFY(!alice_->setMuted("nobody", 0, &error));
    QVERIFY(!alice_->setMuted("pat", -5, &error));

    // Marked unread: one in the total where nothing else is unread, until read.
    QCOMPARE(row("yan").data(ConversationListModel::UnreadRole).toInt(), 0);
    QVERIFY(alice_->setMarkedUnread("yan", true, &error));
    QVERIFY(row("yan").data(ConversationListModel::MarkedUnreadRole).toBool());
    QCOMPARE(list.totalUnread(), total + 1);
    QVERIFY(alice_->setMarkedUnread("zed", true, &error));  // already counted by its messages
    QCOMPARE(list.totalUnread(), total + 1);
    list.markRead("yan");
    QVERIFY(!row("yan").data(ConversationListModel::MarkedUnreadRole).toBool());
    QCOMPARE(list.totalUnread(), total);
    QVERIFY(alice_->setMarkedUnread("zed", false, &error));
    QVERIFY(!alice_->setMarkedUnread("nobody", true, &error));
    QCOMPARE(error, QString("no conversation with nobody"));
  }

  void archivedChatsComeBackWithAMessage() {
    ConversationListModel list(alice_.get());
    QAbstractItemModelTester tester(&list, QAbstractItemModelTester::FailureReportingMode::QtTest);
    const auto row = [&](const QString& peer) { return list.index(list.rowOf(peer), 0); };
    const auto archived = [&](const QString& peer) { return row(peer).data(ConversationListModel::ArchivedRole).toBool(); };
    QSignalSpy settings(alice_.get(), &Messenger::chatSettingsChanged);
    QSignalSpy counts(&list, &ConversationListModel::archivedChanged);
    QString error;
    QCOMPARE(list.archivedCount(), 0);

    // Archived: out of the pins too, counted; the same again changes nothing.
    QVERIFY(alice_->setPinned("bob", true, &error));
    QVERIFY2(alice_->setArchived("bob", true, &error), qPrintable(error));
    QVERIFY(archived("bob"));
    QVERIFY(!row("bob").data(ConversationListModel::PinnedRole).toBool());
    QCOMPARE(list.archivedCount(), 1);
    QCOMPARE(counts.last().at(0).toInt(), 1);
    const int told = settings.count();
    QVERIFY(alice_->setArchived("bob", true, &error));
    QCOMPARE(settings.count(), told);
    QVERIFY(alice_->conversations().size() > 1);
    for (const auto& c : alice_->conversations()) QCOMPARE(c.archived, c.peer == "bob");

    // A message from bob brings it back, and says so (`parley-cli listen` prints it).
    auto id = bob_->sendText("alice", "are you there?", &error);
    QVERIFY2(id, qPrintable(error));
    QVERIFY(spinUntil([&] { return !archived("bob"); }, kWaitMs));
    QCOMPARE(list.archivedCount(), 0);
    QCOMPARE(settings.count(), told + 1);
    QCOMPARE(settings.last().at(0).toString(), QString("bob"));
    // Not while it is muted: it stays archived, with its unread on the switch.
    QVERIFY(alice_->setMuted("bob", Messenger::kMutedForever, &error));
    QVERIFY(alice_->setArchived("bob", true, &error));
    const int unread = row("bob").data(ConversationListModel::UnreadRole).toInt();
    id = bob_->sendText("alice", "still there?", &error);
    QVERIFY2(id, qPrintable(error));
    const int told_muted = settings.count();
    QVERIFY(spinUntil([&] { return row("bob").data(ConversationListModel::UnreadRole).toInt() > unread; }, kWaitMs));
    QVERIFY(archived("bob"));
    QCOMPARE(settings.count(), told_muted);  // nothing changed
    QCOMPARE(list.archivedUnread(), 1);
    // Its unread is on the archive switch, not in the window's total.
    const int total = list.totalUnread();
    QVERIFY(alice_->setArchived("bob", false, &error));
    QVERIFY(alice_->setMuted("bob", 0, &error));
    QCOMPARE(list.totalUnread(), total + row("bob").data(ConversationListModel::UnreadRole).toInt());
    QVERIFY(alice_->setArchived("bob", true, &error));
    QCOMPARE(list.totalUnread(), total);
    QVERIFY(alice_->setMuted("bob", 0, &error));
    // Reading it is no message: it stays where it is, and moves nowhere in the list (a read
    // receipt is not activity).
    const auto activity = row("bob").data(ConversationListModel::LastActivityRole).toLongLong();
    QTest::qWait(5);
    list.markRead("bob");
    QVERIFY(archived("bob"));
    QCOMPARE(list.archivedUnread(), 0);
    QCOMPARE(row("bob").data(ConversationListModel::LastActivityRole).toLongLong(), activity);
    // One of ours brings it back; so does pinning it; unarchiving does, of course.
    const int told_before_send = settings.count();
    QVERIFY(alice_->sendText("bob", "here", &error));
    QVERIFY(!archived("bob"));
    QCOMPARE(settings.count(), told_before_send + 1);
    QVERIFY(alice_->sendText("bob", "and here", &error));  // not archived: nothing to say
    QCOMPARE(settings.count(), told_before_send + 1);
    QVERIFY(alice_->setArchived("bob", true, &error));
    QVERIFY(alice_->setPinned("bob", true, &error));
    QVERIFY(!archived("bob"));
    QVERIFY(alice_->setPinned("bob", false, &error));
    QVERIFY(alice_->setArchived("bob", true, &error));
    QVERIFY(alice_->setArchived("bob", false, &error));
    QVERIFY(!archived("bob"));
    QVERIFY(!alice_->setArchived("nobody", true, &error));
    QCOMPARE(error, QString("no conversation with nobody"));

    // A group comes back with a member's message in the same way.
    QByteArray gid;
    alice_->createGroup("archive", {"bob"}, [&](const QByteArray& g, const QString& e) {
      QVERIFY2(e.isEmpty(), qPrintable(e));
      gid = g;
    });
    QVERIFY(spinUntil([&] { return !gid.isEmpty() && bob_->groups().contains(gid); }, kWaitMs));
    const auto group = Messenger::groupPeer(gid);
    QVERIFY(spinUntil([&] { return list.rowOf(group) >= 0; }, kWaitMs));
    QVERIFY(alice_->setArchived(group, true, &error));
    QVERIFY(archived(group));
    const int told_group = settings.count();
    QVERIFY(bob_->groupSend(gid, "back to the group", &error));
    QVERIFY(spinUntil([&] { return !archived(group); }, kWaitMs));
    QCOMPARE(settings.count(), told_group + 1);
    QCOMPARE(settings.last().at(0).toString(), group);
    QVERIFY(alice_->setArchived(group, true, &error));
    QVERIFY(alice_->groupSend(gid, "ours too", &error));
    QVERIFY(!archived(group));
    QCOMPARE(settings.count(), told_group + 3);  // archived, then back
  }

  // What the user was writing and did not send: kept with the conversation, shown in the
  // list's row (updated in place), with the message it answers while that is still there.
  void draftsAreKeptWithTheirConversation() {
    ConversationListModel list(alice_.get());
    QAbstractItemModelTester tester(&list, QAbstractItemModelTester::FailureReportingMode::QtTest);
    const auto shown = [&](const QString& peer) {
      return list.index(list.rowOf(peer), 0).data(ConversationListModel::DraftRole).toString();
    };
    QSignalSpy changed(alice_.get(), &Messenger::draftChanged);
    QSignalSpy resets(&list, &QAbstractItemModel::modelReset);
    QString error;
    QVERIFY(alice_->draft("bob").text.isEmpty());
    QVERIFY(!alice_->setDraft("nobody", {"hi"}, &error));
    QCOMPARE(error, QString("no conversation with nobody"));

    // With a reply to one of bob's messages.
    qint64 bobs = 0;
    for (const auto& m : alice_->history("bob"))
      if (m.sender == "bob" && !m.unsent) bobs = m.id;
    QVERIFY(bobs != 0);
    QVERIFY2(alice_->setDraft("bob", {"half a thought", bobs}, &error), qPrintable(error));
    QCOMPARE(changed.count(), 1);
    QCOMPARE(alice_->draft("bob").text, QString("half a thought"));
    QCOMPARE(alice_->draft("bob").replyTo, bobs);
    QCOMPARE(shown("bob"), QString("half a thought"));
    QCOMPARE(resets.count(), 0);
    for (const auto& c : alice_->conversations()) QCOMPARE(c.draft, QString(c.peer == "bob" ? "half a thought" : ""));
    // The same again is no change; only spaces is none.
    QVERIFY(alice_->setDraft("bob", {"half a thought", bobs}, &error));
    QCOMPARE(changed.count(), 1);
    QVERIFY(alice_->setDraft("bob", {"  \n ", 0}, &error));
    QCOMPARE(alice_->draft("bob").text, QString());
    QCOMPARE(shown("bob"), QString());
    // A reply to a message not in this conversation is dropped; the words are kept.
    qint64 elsewhere = 0;
    for (const auto& c : alice_->conversations())
      if (c.peer != "bob")
        for (const auto& m : alice_->history(c.peer)) elsewhere = m.id;
    QVERIFY(elsewhere != 0);
    QVERIFY(alice_->setDraft("bob", {"about that", elsewhere}, &error));
    QCOMPARE(alice_->draft("bob").replyTo, 0);
    QCOMPARE(alice_->draft("bob").text, QString("about that"));
    // One whose message is deleted from this device since is no longer a reply.
    QVERIFY(alice_->setDraft("bob", {"about that", bobs}, &error));
    QVERIFY2(alice_->deleteLocally("bob", bobs, &error), qPrintable(error));
    QCOMPARE(alice_->draft("bob").replyTo, 0);
    QVERIFY(!alice_->message("bob", bobs).has_value());
    QVERIFY(!alice_->setDraft("bob", {QString(Messenger::kMaxDraftChars + 1, QLatin1Char('x'))}, &error));
    QCOMPARE(alice_->draft("bob").text, QString("about that"));
    // Only the list's preview is cut short.
    const QString long_one = QString(400, QLatin1Char('y'));
    QVERIFY(alice_->setDraft("bob", {long_one}, &error));
    QCOMPARE(shown("bob").size(), 300);
    QCOMPARE(alice_->draft("bob").text, long_one);
    // Counted by character, as a reload counts them: an emoji is not cut in half.
    const QString emoji = QString::fromUtf8("🙂").repeated(301);
    QVERIFY(alice_->setDraft("bob", {emoji}, &error));
    QCOMPARE(shown("bob"), emoji.left(600));
    list.reload();
    QCOMPARE(shown("bob"), emoji.left(600));

    // It outlives the messenger.
    QVERIFY(alice_->setDraft("bob", {"see you at 9"}, &error));
    alice_.reset();
    alice_ = Messenger::open(home_.filePath("alice"), &error);
    QVERIFY2(alice_, qPrintable(error));
    QCOMPARE(alice_->draft("bob").text, QString("see you at 9"));
  }
};

QTEST_MAIN(ModelsTest)
#include "models_test.moc"
