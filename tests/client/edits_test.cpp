// Edits and deletion through the client core against a real relay: an edit replaces a
// message's words for everyone, newest by its sender's clock; only the sender can change
// or take back a message, only within a day, and what is taken back leaves no words, file,
// reactions or quotes behind; deleting from this device hides a message here only.
#include <QtTest>

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QTemporaryFile>

#include "chat_users.hpp"
#include "e2e.pb.h"
#include "messenger.hpp"
#include "test_client.hpp"

using namespace parley::client;
using parley::test::ChatUser;
using parley::test::profileSql;
using parley::test::spinUntil;

namespace {
constexpr int kWaitMs = 15000;
constexpr qint64 kTwoDaysMs = 2LL * 24 * 3600 * 1000;
}  // namespace

class EditsTest : public QObject, parley::test::ChatUsers {
  Q_OBJECT

  // Waits until `u`'s copy of message `id` of `peer` satisfies `done`.
  static bool waitFor(const ChatUser& u, const QString& peer, const QByteArray& id,
                      const std::function<bool(const StoredMessage&)>& done) {
    return spinUntil([&] { return done(u.find(peer, id)); }, kWaitMs);
  }

  // `from` sends an EDIT (or UNSEND) of its message `id` to `to`, changed by `doctor`
  // before it leaves: what a client other than Parley could send.
  bool sendDoctoredChange(ChatUser& from, const QString& to, const QByteArray& id,
                          const std::function<void(parley::e2e::Content&)>& doctor) {
    return !sendDoctored(
                from, [&](Messenger& m) {
                  QString error;
                  // New words each time: the same words again would send nothing.
                  static int n = 0;
                  const bool ok = m.editMessage(to, m.messageIdOf(to, id), QString("placeholder edit %1").arg(++n), &error);
                  if (!ok) qWarning("editMessage: %s", qPrintable(error));
                  return ok;
                },
                doctor)
                .isEmpty();
  }

  // Waits until `u` has been told of more problems than `before`.
  static bool waitProblem(const ChatUser& u, int before) {
    return spinUntil([&] { return u.problems.size() > before; }, kWaitMs);
  }

 private slots:
  void initTestCase() { QVERIFY(startWith({"alice", "bob", "carol"})); }
  void cleanupTestCase() { users_.clear(); }

  void anEditReplacesTheWordsForBoth() {
    auto& alice = user("alice");
    auto& bob = user("bob");
    const auto id = delivered(alice, bob, "Meet at 6?");
    QVERIFY(!id.isEmpty());
    int revised = 0;
    // Bob's messenger outlives this test: the counter goes with it.
    const auto counting = QObject::connect(bob.m.get(), &Messenger::messageRevised, bob.m.get(),
                                           [&](const QString& peer, const QString& sender, const QByteArray& which) {
                                             revised += peer == "alice" && sender == "alice" && which == id;
                                           });
    const auto stop_counting = qScopeGuard([counting] { QObject::disconnect(counting); });
    const int unread_before = [&] {
      for (const auto& c : bob.m->conversations())
        if (c.peer == "alice") return c.unread;
      return -1;
    }();

    const auto activity = [](const ChatUser& u, const QString& peer) {
      for (const auto& c : u.m->conversations())
        if (c.peer == peer) return c.lastActivityMs;
      return qint64(-1);
    };
    const auto alices_activity = activity(alice, "bob");
    QTest::qWait(5);  // a bump would show in the time

    QString error;
    const auto mine = alice.find("bob", id);
    QVERIFY(alice.m->revisable("bob", mine.id).edit);
    QVERIFY2(alice.m->editMessage("bob", mine.id, "Meet at 7?", &error), qPrintable(error));
    // Ours at once.
    QCOMPARE(alice.find("bob", id).body, QString("Meet at 7?"));
    QVERIFY(alice.find("bob", id).editedMs > 0);

    QVERIFY(waitFor(bob, "alice", id, [](const StoredMessage& m) { return m.body == "Meet at 7?"; }));
    const auto theirs = bob.find("alice", id);
    QCOMPARE(theirs.editedMs, alice.find("bob", id).editedMs);
    QVERIFY(spinUntil([&] { return revised == 1; }, kWaitMs));
    // An edit is no new message: nothing more unread, nothing received.
    for (const auto& c : bob.m->conversations())
      if (c.peer == "alice") QCOMPARE(c.unread, unread_before);
    QCOMPARE(bob.received.count(id), 1);
    QCOMPARE(activity(alice, "bob"), alices_activity);  // no move up the list either
    // Search finds the new words, not the old.
    QString search_error;
    QCOMPARE(bob.m->search("7?", 10, &search_error).size(), 1);
    QVERIFY(bob.m->search("6?", 10, &search_error).isEmpty());

    // The same words again change and send nothing.
    const auto stamped = alice.find("bob", id).editedMs;
    const int queued = alice.m->outboxSize();
    QVERIFY2(alice.m->editMessage("bob", mine.id, "Meet at 7?", &error), qPrintable(error));
    QCOMPARE(alice.find("bob", id).editedMs, stamped);
    QCOMPARE(alice.m->outboxSize(), queued);

    // A second edit wins over the first.
    QVERIFY2(alice.m->editMessage("bob", mine.id, "Meet at 8?", &error), qPrintable(error));
    QVERIFY(waitFor(bob, "alice", id, [](const StoredMessage& m) { return m.body == "Meet at 8?"; }));
    QVERIFY(bob.find("alice", id).editedMs > theirs.editedMs);
    QVERIFY2(bob.problems.isEmpty(), qPrintable(bob.problems.join("; ")));
  }

  void onlyTheSendersOwnMessageCanBeChanged() {
    auto& alice = user("alice");
    auto& bob = user("bob");
    auto& carol = user("carol");
    const auto from_bob = delivered(bob, alice, "my words");
    QVERIFY(!from_bob.isEmpty());
    const auto row = alice.find("bob", from_bob).id;
    QString error;
    QVERIFY(!alice.m->revisable("bob", row).edit);
    QVERIFY(!alice.m->revisable("bob", row).unsend);
    QVERIFY(alice.m->revisable("bob", row).remove);
    QVERIFY(!alice.m->editMessage("bob", row, "not mine", &error));
    QVERIFY2(error.contains("only your own"), qPrintable(error));
    QVERIFY(!alice.m->unsendMessage("bob", row, &error));
    QVERIFY2(error.contains("only your own"), qPrintable(error));

    const auto to_carol = delivered(alice, carol, "for carol");
    QVERIFY(!to_carol.isEmpty());
    const auto elsewhere = alice.find("carol", to_carol).id;
    QVERIFY(!alice.m->editMessage("bob", elsewhere, "wrong chat", &error));
    QVERIFY(error.contains("only your own"));
    QVERIFY(!alice.m->editMessage("carol", elsewhere, "", &error));
    QVERIFY2(error.contains("empty"), qPrintable(error));
    QVERIFY(!alice.m->editMessage("carol", elsewhere, QString(64 * 1024 + 1, QChar('x')), &error));
    QVERIFY2(error.contains("64 KiB"), qPrintable(error));
    QCOMPARE(alice.find("carol", to_carol).body, QString("for carol"));
    QCOMPARE(alice.find("bob", from_bob).body, QString("my words"));

    // Carol names Alice's message to Bob in an edit of her own: the sender of a change is the
    // one the session vouches for, so it can only name Carol's messages; Bob's copy of
    // Alice's stays as it was.
    const auto alices = delivered(alice, bob, "Alice wrote this");
    QVERIFY(!alices.isEmpty());
    const auto carols = delivered(carol, bob, "Carol wrote this");
    QVERIFY(!carols.isEmpty());
    QVERIFY(sendDoctoredChange(carol, "bob", carols, [&](parley::e2e::Content& c) {
      c.mutable_edit()->set_client_msg_id(alices.toStdString());
      c.mutable_edit()->set_text("forged");
    }));
    // Carol's later message shows the change was handled (in order) before it.
    const auto after = send(carol, "bob", "after the forgery");
    QVERIFY(bob.waitReceived(after));
    QCOMPARE(bob.find("alice", alices).body, QString("Alice wrote this"));
    QCOMPARE(bob.find("alice", alices).editedMs, qint64(0));
    QCOMPARE(bob.find("carol", carols).body, QString("Carol wrote this"));

    // In the same conversation too: Bob names the message Alice sent him, in an edit and an
    // unsend of his own; Alice's copy of her words stays as it was.
    const auto bobs = delivered(bob, alice, "Bob wrote this");
    QVERIFY(!bobs.isEmpty());
    for (const auto unsend : {false, true}) {
      QVERIFY(sendDoctoredChange(bob, "alice", bobs, [&](parley::e2e::Content& c) {
        c.mutable_edit()->set_client_msg_id(alices.toStdString());
        if (unsend) {
          c.set_type(parley::e2e::UNSEND);
          c.mutable_edit()->clear_text();
        } else {
          c.mutable_edit()->set_text("Bob's words in Alice's mouth");
        }
      }));
      const auto marker = send(bob, "alice", "after the forgery in our chat");
      QVERIFY(alice.waitReceived(marker));
      const auto mine = alice.find("bob", alices);
      QCOMPARE(mine.body, QString("Alice wrote this"));
      QCOMPARE(mine.editedMs, qint64(0));
      QVERIFY(!mine.unsent);
    }
  }

  void aLateOlderEditChangesNothing() {
    auto& alice = user("alice");
    auto& bob = user("bob");
    const auto id = delivered(alice, bob, "version 1");
    QVERIFY(!id.isEmpty());
    QString error;
    QVERIFY(alice.m->editMessage("bob", alice.find("bob", id).id, "version 2", &error));
    QVERIFY(waitFor(bob, "alice", id, [](const StoredMessage& m) { return m.body == "version 2"; }));
    // An edit stamped before version 2 arrives after it.
    QVERIFY(sendDoctoredChange(alice, "bob", id, [](parley::e2e::Content& c) {
      c.set_client_ts_ms(1000);
      c.mutable_edit()->set_text("stale");
    }));
    const auto after = send(alice, "bob", "marker after the stale edit");
    QVERIFY(bob.waitReceived(after));
    QCOMPARE(bob.find("alice", id).body, QString("version 2"));
  }

  void anEditAfterTheClockWentBackStillWins() {
    auto& alice = user("alice");
    auto& bob = user("bob");
    const auto id = delivered(alice, bob, "first words");
    QVERIFY(!id.isEmpty());
    // Alice's clock ran an hour ahead for her last edit, and has since been put right.
    const qint64 ahead = QDateTime::currentMSecsSinceEpoch() + 3600 * 1000;
    QVERIFY(sendDoctoredChange(alice, "bob", id, [&](parley::e2e::Content& c) {
      c.set_client_ts_ms(static_cast<std::uint64_t>(ahead));
      c.mutable_edit()->set_text("edited with the clock ahead");
    }));
    QVERIFY(waitFor(bob, "alice", id, [](const StoredMessage& m) { return m.body == "edited with the clock ahead"; }));
    alice.m.reset();
    QVERIFY(profileSql(alice.dir, "UPDATE messages SET edited_ms = ? WHERE client_msg_id = ?", {ahead, id}));
    QVERIFY(alice.reopen());
    // Her next edit is stamped after that one, so it still wins everywhere.
    QString error;
    QVERIFY2(alice.m->editMessage("bob", alice.find("bob", id).id, "edited after the clock went back", &error),
             qPrintable(error));
    QVERIFY(waitFor(bob, "alice", id, [](const StoredMessage& m) { return m.body == "edited after the clock went back"; }));
    QVERIFY(bob.find("alice", id).editedMs > ahead);
  }

  void unusableChangesAreRefusedAndSaidSo() {
    auto& alice = user("alice");
    auto& bob = user("bob");
    const auto id = delivered(alice, bob, "keep me");
    QVERIFY(!id.isEmpty());
    const struct {
      const char* name;
      std::function<void(parley::e2e::Content&)> doctor;
      const char* problem;
    } cases[] = {
        {"15-byte id", [&](parley::e2e::Content& c) { c.mutable_edit()->set_client_msg_id(id.left(15).toStdString()); },
         "16 bytes"},
        {"non-UTF-8 text", [](parley::e2e::Content& c) { c.mutable_edit()->set_text("bad \xff\xfe"); }, "UTF-8"},
        {"too long", [](parley::e2e::Content& c) { c.mutable_edit()->set_text(std::string(64 * 1024 + 1, 'x')); },
         "64 KiB"},
        {"empty text", [](parley::e2e::Content& c) { c.mutable_edit()->set_text(""); }, "empty"},
        {"unsend with words",
         [](parley::e2e::Content& c) {
           c.set_type(parley::e2e::UNSEND);
           c.mutable_edit()->set_text("words");
         },
         "carries words"},
    };
    for (const auto& k : cases) {
      const int before = static_cast<int>(bob.problems.size());
      QVERIFY2(sendDoctoredChange(alice, "bob", id, k.doctor), k.name);
      QVERIFY2(waitProblem(bob, before), k.name);
      QVERIFY2(bob.problems.last().contains(k.problem), qPrintable(bob.problems.last()));
      QVERIFY2(bob.problems.last().contains("alice"), qPrintable(bob.problems.last()));
      const auto m = bob.find("alice", id);
      QCOMPARE(m.body, QString("keep me"));
      QVERIFY(!m.unsent);
    }
  }

  void aChangeComesOnlyWithinADay() {
    auto& alice = user("alice");
    auto& bob = user("bob");
    const auto id = delivered(alice, bob, "old news");
    QVERIFY(!id.isEmpty());
    // Bob's copy says the relay took it two days ago: Alice's edit now is too late for him.
    const auto two_days_ago = QDateTime::currentMSecsSinceEpoch() - kTwoDaysMs;
    bob.m.reset();
    QVERIFY(profileSql(bob.dir, "UPDATE messages SET server_ts_ms = ? WHERE client_msg_id = ?", {two_days_ago, id}));
    QVERIFY(bob.reopen());
    const int before = static_cast<int>(bob.problems.size());
    QString error;
    QVERIFY2(alice.m->editMessage("bob", alice.find("bob", id).id, "rewritten history", &error), qPrintable(error));
    QVERIFY(waitProblem(bob, before));
    QVERIFY2(bob.problems.last().contains("more than a day old"), qPrintable(bob.problems.last()));
    QCOMPARE(bob.find("alice", id).body, QString("old news"));

    // An hour's grace past the day, for a change made just in time that reached the relay
    // a little later: Bob's copy was taken a day and half an hour ago.
    const auto late_but_in_grace = delivered(alice, bob, "just in time");
    QVERIFY(!late_but_in_grace.isEmpty());
    bob.m.reset();
    QVERIFY(profileSql(bob.dir, "UPDATE messages SET server_ts_ms = ? WHERE client_msg_id = ?",
                       {QDateTime::currentMSecsSinceEpoch() - Messenger::kReviseWindowMs - 1800 * 1000,
                        late_but_in_grace}));
    QVERIFY(bob.reopen());
    QVERIFY2(alice.m->editMessage("bob", alice.find("bob", late_but_in_grace).id, "just in time, edited", &error),
             qPrintable(error));
    QVERIFY(waitFor(bob, "alice", late_but_in_grace,
                    [](const StoredMessage& m) { return m.body == "just in time, edited"; }));

    // Alice's side refuses a message the relay took two days ago.
    alice.m.reset();
    QVERIFY(profileSql(alice.dir, "UPDATE messages SET server_ts_ms = ? WHERE client_msg_id = ?", {two_days_ago, id}));
    QVERIFY(alice.reopen());
    const auto row = alice.find("bob", id).id;
    QVERIFY(!alice.m->revisable("bob", row).edit);
    QVERIFY(!alice.m->revisable("bob", row).unsend);
    QVERIFY(alice.m->revisable("bob", row).remove);
    QVERIFY(!alice.m->editMessage("bob", row, "again", &error));
    QVERIFY2(error.contains("within a day"), qPrintable(error));
    QVERIFY(!alice.m->unsendMessage("bob", row, &error));
    QVERIFY2(error.contains("within a day"), qPrintable(error));
    QVERIFY(spinUntil([&] { return alice.m->state() == RelayClient::State::Online; }, kWaitMs));
  }

  void unsendingLeavesNothingBehind() {
    auto& alice = user("alice");
    auto& bob = user("bob");
    const auto id = delivered(alice, bob, "I regret this");
    QVERIFY(!id.isEmpty());
    QString error;
    const auto bobs_row = bob.find("alice", id).id;
    QVERIFY2(bob.m->react("alice", bobs_row, QString::fromUtf8("😮"), &error), qPrintable(error));
    const auto answer = send(bob, "alice", "What do you regret?", bobs_row);
    QVERIFY(alice.waitReceived(answer));
    QVERIFY(waitFor(alice, "bob", id, [](const StoredMessage& m) { return !m.reactions.isEmpty(); }));

    const auto row = alice.find("bob", id).id;
    int told = 0;  // views refresh on it
    const auto counting = QObject::connect(bob.m.get(), &Messenger::messageRevised, bob.m.get(),
                                           [&](const QString&, const QString&, const QByteArray& which) { told += which == id; });
    const auto stop_counting = qScopeGuard([counting] { QObject::disconnect(counting); });
    QVERIFY2(alice.m->editMessage("bob", row, "I regret this a lot", &error), qPrintable(error));
    QVERIFY(waitFor(bob, "alice", id, [](const StoredMessage& m) { return m.editedMs > 0; }));
    QVERIFY(spinUntil([&] { return told == 1; }, kWaitMs));  // the edit's
    QVERIFY(alice.m->revisable("bob", row).unsend);
    QVERIFY2(alice.m->unsendMessage("bob", row, &error), qPrintable(error));
    for (auto* u : {&alice, &bob}) {
      const QString peer = u == &alice ? "bob" : "alice";
      QVERIFY(waitFor(*u, peer, id, [](const StoredMessage& m) { return m.unsent; }));
      const auto gone = u->find(peer, id);
      QVERIFY(gone.body.isEmpty());
      QVERIFY(gone.reactions.isEmpty());
      QCOMPARE(gone.editedMs, qint64(0));
      // The row stays, so no number is missing.
      QVERIFY(gone.convSeq > 0);
      QVERIFY(u->m->gaps(peer).isEmpty());
      // The answer no longer quotes its words.
      const auto reply = u->find(peer, answer);
      QCOMPARE(reply.reply.clientMsgId, id);
      QVERIFY(reply.reply.unsent);
      QVERIFY(reply.reply.text.isEmpty());
      QString search_error;
      QVERIFY(u->m->search("regret this", 10, &search_error).isEmpty());
    }
    QVERIFY(spinUntil([&] { return told > 1; }, kWaitMs));  // and the unsend's
    QCOMPARE(told, 2);
    // Nothing is left to change, answer or react to.
    QVERIFY(!alice.m->editMessage("bob", row, "back", &error));
    QVERIFY2(error.contains("already deleted"), qPrintable(error));
    QVERIFY(!alice.m->revisable("bob", row).edit);
    QVERIFY(!bob.m->react("alice", bobs_row, QString::fromUtf8("👍"), &error));
    QVERIFY(!bob.m->sendText("alice", "quoting nothing", &error, bobs_row));
    // An edit sent after it (another client could) does not bring words back.
    const auto other = delivered(alice, bob, "another message");
    QVERIFY(!other.isEmpty());
    QVERIFY(sendDoctoredChange(alice, "bob", other, [&](parley::e2e::Content& c) {
      c.mutable_edit()->set_client_msg_id(id.toStdString());
      c.mutable_edit()->set_text("revived");
    }));
    const auto marker = send(alice, "bob", "marker after the revival");
    QVERIFY(bob.waitReceived(marker));
    QVERIFY(bob.find("alice", id).body.isEmpty());
    // Nor does a late reaction to it (Bob's, sent as if from a client that missed the unsend).
    QVERIFY(!sendDoctored(
                 bob, [&](Messenger& m) {
                   QString why;
                   return m.react("alice", m.messageIdOf("alice", other), QString::fromUtf8("👍"), &why);
                 },
                 [&](parley::e2e::Content& c) { c.mutable_reaction()->set_client_msg_id(id.toStdString()); })
                 .isEmpty());
    const auto after_reaction = send(bob, "alice", "marker after the late reaction");
    QVERIFY(alice.waitReceived(after_reaction));
    QVERIFY(alice.find("bob", id).reactions.isEmpty());
    // Its trace deleted here too, the reply would fall back on the words it carried: those
    // went with the unsend.
    QVERIFY2(bob.m->deleteLocally("alice", bobs_row, &error), qPrintable(error));
    QCOMPARE(bob.find("alice", answer).reply.messageId, qint64(0));
    QVERIFY(bob.find("alice", answer).reply.text.isEmpty());
    // The conversation list says what happened to a last message taken back.
    const auto last_words = delivered(alice, bob, "last words");
    QVERIFY(!last_words.isEmpty());
    QVERIFY2(alice.m->unsendMessage("bob", alice.find("bob", last_words).id, &error), qPrintable(error));
    QVERIFY(spinUntil([&] {
      for (const auto& c : bob.m->conversations())
        if (c.peer == "alice") return c.lastUnsent;
      return false;
    }, kWaitMs));
  }

  void aFilesCaptionCanChangeAndTheFileBeTakenBack() {
    auto& alice = user("alice");
    auto& bob = user("bob");
    QFile ticket(home_.filePath("boarding.txt"));
    QVERIFY(ticket.open(QIODevice::WriteOnly));
    ticket.write("GATE 12\n");
    ticket.close();
    QString error;
    const auto got = sendFile(alice, bob, ticket.fileName(), "my pass");
    QVERIFY(got.id != 0);
    const auto row = alice.find("bob", got.clientMsgId).id;
    QVERIFY(alice.m->revisable("bob", row).edit);
    // No caption: the file shows its name again.
    QVERIFY2(alice.m->editMessage("bob", row, "", &error), qPrintable(error));
    QVERIFY(waitFor(bob, "alice", got.clientMsgId, [](const StoredMessage& m) { return m.body == "boarding.txt"; }));
    QVERIFY2(alice.m->editMessage("bob", row, "gate changed", &error), qPrintable(error));
    QVERIFY(waitFor(bob, "alice", got.clientMsgId, [](const StoredMessage& m) { return m.body == "gate changed"; }));
    QVERIFY(bob.m->attachment(got.clientMsgId).has_value());
    // Bob downloads it into his profile, as the app does.
    const auto fetch = [&](const QByteArray& id, const QString& dir) {
      QString path, failure;
      if (!QDir().mkpath(dir)) return path;
      const auto done = QObject::connect(bob.m.get(), &Messenger::transferFinished, bob.m.get(),
                                         [&](qint64, const QByteArray&, const QString& saved) { path = saved; });
      const auto failed = QObject::connect(bob.m.get(), &Messenger::transferFailed, bob.m.get(),
                                           [&](qint64, const QString& e) { failure = e; });
      QString why;
      if (bob.m->fetchAttachment(id, dir, &why) != 0)
        spinUntil([&] { return !path.isEmpty() || !failure.isEmpty(); }, kWaitMs);
      QObject::disconnect(done);
      QObject::disconnect(failed);
      return path;
    };
    const auto kept = fetch(got.clientMsgId, bob.dir + "/files");
    QVERIFY(QFile::exists(kept));

    QVERIFY2(alice.m->unsendMessage("bob", row, &error), qPrintable(error));
    QVERIFY(waitFor(bob, "alice", got.clientMsgId, [](const StoredMessage& m) { return m.unsent; }));
    QVERIFY(!bob.find("alice", got.clientMsgId).hasAttachment);
    QVERIFY(!bob.m->attachment(got.clientMsgId).has_value());
    QVERIFY(!alice.m->attachment(got.clientMsgId).has_value());
    // The copy the app kept goes with it.
    QVERIFY(spinUntil([&] { return !QFile::exists(kept); }, kWaitMs));

    // A copy Bob saved to a folder of his own is his, and stays.
    const auto second = sendFile(alice, bob, ticket.fileName(), "second pass");
    QVERIFY(second.id != 0);
    const auto saved = fetch(second.clientMsgId, home_.filePath("bobs-downloads"));
    QVERIFY(QFile::exists(saved));
    QVERIFY2(alice.m->unsendMessage("bob", alice.find("bob", second.clientMsgId).id, &error), qPrintable(error));
    QVERIFY(waitFor(bob, "alice", second.clientMsgId, [](const StoredMessage& m) { return m.unsent; }));
    QTest::qWait(100);  // the file's clean-up follows the change
    QVERIFY(QFile::exists(saved));
  }

  void deletingHereHidesOnlyHere() {
    auto& alice = user("alice");
    auto& bob = user("bob");
    const auto id = delivered(alice, bob, "delete me on your side");
    QVERIFY(!id.isEmpty());
    const auto answer = send(alice, "bob", "a reply to it", alice.find("bob", id).id);
    QVERIFY(bob.waitReceived(answer));
    const auto row = bob.find("alice", id).id;
    QString error;
    QVERIFY(bob.m->revisable("alice", row).remove);
    QVERIFY2(bob.m->deleteLocally("alice", row, &error), qPrintable(error));
    QCOMPARE(bob.find("alice", id).id, qint64(0));  // not in the history
    QVERIFY(bob.m->gaps("alice").isEmpty());          // and not missing either
    QCOMPARE(bob.m->messageIdOf("alice", id), qint64(0));
    // The reply still carries its quote, now of a message not on this device.
    const auto reply = bob.find("alice", answer).reply;
    QCOMPARE(reply.messageId, qint64(0));
    QCOMPARE(reply.text, QString("delete me on your side"));
    QVERIFY(!reply.unsent);
    // Alice still has it, and her edit does not bring it back for Bob.
    QCOMPARE(alice.find("bob", id).body, QString("delete me on your side"));
    QVERIFY(alice.m->editMessage("bob", alice.find("bob", id).id, "edited after", &error));
    const auto marker = send(alice, "bob", "marker after the edit");
    QVERIFY(bob.waitReceived(marker));
    QCOMPARE(bob.find("alice", id).id, qint64(0));
    QVERIFY(!bob.m->deleteLocally("alice", row, &error));
    QVERIFY2(error.contains("not in this conversation"), qPrintable(error));

    // One of ours still in the outbox cannot be deleted here: it would go anyway.
    QVERIFY(alice.reopen(false));
    const auto queued = alice.m->sendText("bob", "still queued", &error);
    QVERIFY(queued);
    const auto queued_row = alice.find("bob", *queued).id;
    QVERIFY(!alice.m->revisable("bob", queued_row).remove);
    QVERIFY(!alice.m->deleteLocally("bob", queued_row, &error));
    QVERIFY2(error.contains("still being sent"), qPrintable(error));
    alice.m->start();
    QVERIFY(bob.waitReceived(*queued));
    // Deleted here, the last message no longer stands for the conversation in the list.
    QVERIFY2(bob.m->deleteLocally("alice", bob.find("alice", *queued).id, &error), qPrintable(error));
    QString last;
    for (const auto& c : bob.m->conversations())
      if (c.peer == "alice") last = c.lastMessage;
    QCOMPARE(last, QString("marker after the edit"));
  }

  void clearingAChatEmptiesItHereOnly() {
    auto& bob = user("bob");
    auto& carol = user("carol");
    const auto one = delivered(carol, bob, "the first of many words");
    QVERIFY(!one.isEmpty());
    QVERIFY(!delivered(carol, bob, "and a second").isEmpty());
    QString error;
    QVERIFY2(bob.m->react("carol", bob.find("carol", one).id, "👍", &error), qPrintable(error));
    QTemporaryFile file(home_.filePath("note-XXXXXX.txt"));
    QVERIFY(file.open());
    file.write("a file to clear");
    file.close();
    const auto with_file = sendFile(carol, bob, file.fileName(), "with a file");
    QVERIFY(with_file.id != 0);
    QVERIFY(bob.m->attachment(with_file.clientMsgId).has_value());
    // One of Bob's still on its way stays, and goes.
    QVERIFY(bob.reopen(false));
    const auto queued = bob.m->sendText("carol", "still on its way", &error);
    QVERIFY(queued);
    QSignalSpy cleared(bob.m.get(), &Messenger::historyCleared);

    const int n = bob.m->clearHistory("carol", &error);
    QVERIFY2(n >= 3, qPrintable(error));
    QCOMPARE(cleared.size(), 1);
    const auto left = bob.m->history("carol");
    QCOMPARE(left.size(), 1);
    QCOMPARE(left[0].clientMsgId, *queued);
    QVERIFY(bob.m->search("many", 10, &error).isEmpty());
    QVERIFY(!bob.m->attachment(with_file.clientMsgId).has_value());
    QVERIFY(bob.m->gaps("carol").isEmpty());  // emptied rows keep their numbers
    bool listed = false;
    for (const auto& c : bob.m->conversations())
      if (c.peer == "carol") {
        listed = true;
        QCOMPARE(c.unread, 0);
      }
    QVERIFY(listed);  // the chat stays, empty
    bob.m->start();
    QVERIFY(carol.waitReceived(*queued));
    // Carol keeps hers, and what comes next shows as usual.
    QCOMPARE(carol.find("bob", one).body, QString("the first of many words"));
    QVERIFY(!delivered(carol, bob, "after the clear").isEmpty());
    QCOMPARE(bob.m->history("carol").size(), 2);
    QCOMPARE(bob.m->clearHistory("nobody", &error), -1);
    QVERIFY2(error.contains("no conversation"), qPrintable(error));
  }

  void groupMembersSeeEditsAndUnsends() {
    auto& alice = user("alice");
    auto& bob = user("bob");
    auto& carol = user("carol");
    const auto gid = makeGroup(alice, "edits", {"bob", "carol"});
    QVERIFY(!gid.isEmpty());
    const QString peer = "#" + QString::fromLatin1(gid.toHex());
    QString error;
    const auto said = alice.m->groupSend(gid, "Dinner Friday?", &error);
    QVERIFY2(said, qPrintable(error));
    QVERIFY(bob.waitReceived(*said));
    QVERIFY(carol.waitReceived(*said));
    QVERIFY2(alice.m->editMessage(peer, alice.find(peer, *said).id, "Dinner Saturday?", &error), qPrintable(error));
    for (auto* u : {&bob, &carol})
      QVERIFY(waitFor(*u, peer, *said, [](const StoredMessage& m) { return m.body == "Dinner Saturday?"; }));
    // Bob cannot change Alice's group message.
    QVERIFY(!bob.m->editMessage(peer, bob.find(peer, *said).id, "Bob's version", &error));
    QVERIFY2(alice.m->unsendMessage(peer, alice.find(peer, *said).id, &error), qPrintable(error));
    for (auto* u : {&bob, &carol}) {
      QVERIFY(waitFor(*u, peer, *said, [](const StoredMessage& m) { return m.unsent; }));
      QVERIFY(u->find(peer, *said).body.isEmpty());
    }
    QVERIFY2(carol.problems.isEmpty(), qPrintable(carol.problems.join("; ")));
  }

  // A group change can open before its message: the sender made a new key in between, and
  // this device still waits for the old one. The change waits with the message and applies
  // when it opens.
  void aGroupChangeWaitsForItsMessagesKey() {
    auto& alice = user("alice");
    auto& bob = user("bob");
    auto& dave = join("dave");
    auto& erin = join("erin");
    QVERIFY(dave.m && erin.m);
    const auto gid = makeGroup(alice, "edits", {"bob", "dave", "erin"});
    QVERIFY(!gid.isEmpty());
    const QString peer = "#" + QString::fromLatin1(gid.toHex());
    QString error;
    const auto hello = alice.m->groupSend(gid, "hello all", &error);
    QVERIFY2(hello, qPrintable(error));
    QVERIFY(bob.waitReceived(*hello));
    // Bob goes away and loses Alice's key, as if it had not reached him yet.
    bob.m.reset();
    const auto hidden = QByteArray(16, '\x5a');
    QVariant real_key;
    QVERIFY(profileSql(bob.dir, "SELECT key_id FROM sender_keys WHERE group_id = ? AND sender = 'alice'", {gid},
                       &real_key));
    QVERIFY(profileSql(bob.dir, "UPDATE sender_keys SET key_id = ? WHERE group_id = ? AND sender = 'alice'",
                       {hidden, gid}));
    const auto noon = alice.m->groupSend(gid, "Meet at noon", &error);
    const auto oops = alice.m->groupSend(gid, "the wrong group, sorry", &error);
    QVERIFY(noon && oops);
    // A removal: Alice's next group message goes under a new key, which Bob gets.
    const auto removeMember = [&](const QString& who) {
      QString result = "pending";
      alice.m->removeMembers(gid, {who}, [&](const QString& e) { result = e; });
      return spinUntil([&] { return result != "pending"; }, kWaitMs) && result.isEmpty();
    };
    QVERIFY(removeMember("dave"));
    QVERIFY2(alice.m->editMessage(peer, alice.find(peer, *noon).id, "Meet at one", &error), qPrintable(error));
    QVERIFY2(alice.m->unsendMessage(peer, alice.find(peer, *oops).id, &error), qPrintable(error));
    const auto marker = alice.m->groupSend(gid, "marker under the new key", &error);
    QVERIFY(marker);
    QVERIFY(bob.reopen());
    QVERIFY(bob.waitReceived(*marker));
    QVERIFY(bob.find(peer, *noon).clientMsgId.isEmpty());  // still waiting for its key
    bob.m.reset();
    QVariant held;
    QVERIFY(profileSql(bob.dir, "SELECT COUNT(*) FROM pending_revisions", {}, &held));
    QCOMPARE(held.toInt(), 2);
    // The old key comes back; the next new key (after another removal) makes Bob try again.
    QVERIFY(profileSql(bob.dir, "UPDATE sender_keys SET key_id = ? WHERE key_id = ?", {real_key, hidden}));
    QVERIFY(bob.reopen());
    QVERIFY(removeMember("erin"));
    const auto again = alice.m->groupSend(gid, "and another key", &error);
    QVERIFY(again);
    QVERIFY(bob.waitReceived(*again));
    QVERIFY(waitFor(bob, peer, *noon, [](const StoredMessage& m) { return m.body == "Meet at one"; }));
    QVERIFY(bob.find(peer, *noon).editedMs > 0);
    QVERIFY(waitFor(bob, peer, *oops, [](const StoredMessage& m) { return m.unsent && m.body.isEmpty(); }));
    bob.m.reset();
    QVERIFY(profileSql(bob.dir, "SELECT COUNT(*) FROM pending_revisions", {}, &held));
    QCOMPARE(held.toInt(), 0);
    QVERIFY(bob.reopen());
  }

  // Taking back a message that has not left yet takes it out of the outbox: its words never
  // leave, nothing shows a gap or a broken chain, and a reply queued behind it no longer
  // carries them.
  void aQueuedMessageTakenBackNeverLeaves() {
    auto& alice = user("alice");
    auto& bob = user("bob");
    QVERIFY(alice.reopen(false));  // offline: everything queues
    QString error;
    const auto first = alice.m->sendText("bob", "queued before", &error);
    const auto secret = alice.m->sendText("bob", "the door code is 4711", &error);
    QVERIFY(first && secret);
    const auto reply = alice.m->sendText("bob", "(ignore that)", &error, alice.find("bob", *secret).id);
    const auto after = alice.m->sendText("bob", "queued after", &error);
    QVERIFY(reply && after);
    const auto row = alice.find("bob", *secret).id;
    QVERIFY(alice.m->revisable("bob", row).unsend);
    QVERIFY(!alice.m->revisable("bob", row).remove);
    // An edit queued for it goes with it: it would carry its new words.
    QVERIFY2(alice.m->editMessage("bob", row, "the door code is 4712", &error), qPrintable(error));
    QCOMPARE(alice.m->outboxSize(), 5);
    QVERIFY2(alice.m->unsendMessage("bob", row, &error), qPrintable(error));
    QVERIFY(alice.find("bob", *secret).clientMsgId.isEmpty());  // gone from this device too
    QCOMPARE(alice.m->outboxSize(), 3);
    QVERIFY(alice.find("bob", *reply).reply.text.isEmpty());
    QVERIFY(alice.m->search("4711", 10, &error).isEmpty());
    QVERIFY(alice.m->search("4712", 10, &error).isEmpty());
    alice.m->start();
    QVERIFY(bob.waitReceived(*after));
    for (const auto& id : {*first, *reply, *after}) QVERIFY(bob.received.contains(id));
    QVERIFY(!bob.received.contains(*secret));
    QVERIFY(bob.find("alice", *secret).clientMsgId.isEmpty());
    QVERIFY(bob.m->gaps("alice").isEmpty());
    for (const auto& id : {*first, *reply, *after}) QVERIFY(bob.find("alice", id).chainOk);
    const auto answer = bob.find("alice", *reply);
    QCOMPARE(answer.reply.clientMsgId, *secret);
    QVERIFY(answer.reply.text.isEmpty());
    QVERIFY(bob.m->search("4711", 10, &error).isEmpty());
    QVERIFY2(bob.problems.filter("chain").isEmpty(), qPrintable(bob.problems.join("; ")));

    // In a group, a reply queued behind it was encrypted with its words when queued: it is
    // then taken back the way a sent message is, and the reply loses the words at the other
    // end.
    const auto gid = makeGroup(alice, "edits", {"bob"});
    QVERIFY(!gid.isEmpty());
    const QString group = "#" + QString::fromLatin1(gid.toHex());
    QVERIFY(alice.reopen(false));
    const auto said = alice.m->groupSend(gid, "group secret 9090", &error);
    QVERIFY(said);
    const auto answered = alice.m->groupSend(gid, "(not that)", &error, alice.find(group, *said).id);
    QVERIFY(answered);
    QVERIFY2(alice.m->unsendMessage(group, alice.find(group, *said).id, &error), qPrintable(error));
    QVERIFY(alice.find(group, *said).unsent);  // still there, taken back for everyone
    alice.m->start();
    QVERIFY(bob.waitReceived(*answered));
    QVERIFY(waitFor(bob, group, *said, [](const StoredMessage& m) { return m.unsent; }));
    QVERIFY(waitFor(bob, group, *answered, [](const StoredMessage& m) { return m.reply.text.isEmpty(); }));

    // A message of ours after it has left already (here, its outbox row gone as after its
    // answer): relinking would break the chain there, so it is taken back as a sent one is.
    auto& carol = user("carol");
    QVERIFY(alice.reopen(false));
    const auto one = alice.m->sendText("carol", "one", &error);
    const auto two = alice.m->sendText("carol", "two", &error);
    QVERIFY(one && two);
    alice.m.reset();
    QVERIFY(profileSql(alice.dir, "DELETE FROM outbox WHERE client_msg_id = ?", {*two}));
    QVERIFY(alice.reopen(false));
    QVERIFY2(alice.m->unsendMessage("carol", alice.find("carol", *one).id, &error), qPrintable(error));
    QVERIFY(alice.find("carol", *one).unsent);
    alice.m->start();
    QVERIFY(waitFor(carol, "alice", *one, [](const StoredMessage& m) { return m.unsent; }));
    // Once it may have reached the relay, it is taken back as any sent message is. Sent
    // online, it is marked so as it goes (here closed before any answer can come).
    QVERIFY(spinUntil([&] { return alice.m->state() == RelayClient::State::Online; }, kWaitMs));
    const auto tried = alice.m->sendText("bob", "sent once already", &error);
    QVERIFY(tried);
    alice.m.reset();
    QVariant attempted;
    QVERIFY(profileSql(alice.dir, "SELECT attempted FROM outbox WHERE client_msg_id = ?", {*tried}, &attempted));
    QCOMPARE(attempted.toInt(), 1);
    QVERIFY(alice.reopen(false));
    const int queued = alice.m->outboxSize();
    QVERIFY2(alice.m->unsendMessage("bob", alice.find("bob", *tried).id, &error), qPrintable(error));
    QVERIFY(alice.find("bob", *tried).unsent);
    QCOMPARE(alice.m->outboxSize(), queued + 1);  // the message stays, and its UNSEND follows
    alice.m->start();
    QVERIFY(waitFor(bob, "alice", *tried, [](const StoredMessage& m) { return m.unsent; }));
  }

  // The search index keeps a removed entry's terms in its older segments until they merge:
  // after a message is taken back, they are merged away.
  void wordsTakenBackLeaveTheSearchIndex() {
    auto& alice = user("alice");
    auto& bob = user("bob");
    for (int i = 0; i < 5; ++i) QVERIFY(!delivered(alice, bob, QString("filler %1 for the index").arg(i)).isEmpty());
    const auto id = delivered(alice, bob, "zanzibarquokka is my password");
    QVERIFY(!id.isEmpty());
    QString error;
    QVERIFY2(alice.m->unsendMessage("bob", alice.find("bob", id).id, &error), qPrintable(error));
    QVERIFY(waitFor(bob, "alice", id, [](const StoredMessage& m) { return m.unsent; }));
    QTest::qWait(2500);  // the scrub follows a burst of changes
    for (auto* u : {&alice, &bob}) {
      u->m.reset();
      QVariant left;
      QVERIFY(profileSql(u->dir, "SELECT COUNT(*) FROM messages_fts_data WHERE instr(block, 'zanzibarquokka') > 0",
                         {}, &left));
      QCOMPARE(left.toInt(), 0);
      QVERIFY(u->reopen());
    }
  }

  // A reply written before the message it quotes was taken back, and arriving after, keeps
  // none of its words.
  void aReplyArrivingAfterAnUnsendKeepsNoWords() {
    auto& alice = user("alice");
    auto& bob = user("bob");
    const auto id = delivered(alice, bob, "forget I said this");
    QVERIFY(!id.isEmpty());
    QVERIFY(bob.reopen(false));  // Bob answers offline: the reply waits
    QString error;
    const auto answer = bob.m->sendText("alice", "said what?", &error, bob.find("alice", id).id);
    QVERIFY(answer);
    QVERIFY2(alice.m->unsendMessage("bob", alice.find("bob", id).id, &error), qPrintable(error));
    bob.m->start();
    QVERIFY(alice.waitReceived(*answer));
    QVERIFY(alice.find("bob", *answer).reply.unsent);
    QVERIFY(waitFor(bob, "alice", id, [](const StoredMessage& m) { return m.unsent; }));
    QVERIFY(bob.find("alice", *answer).reply.text.isEmpty());
    // Not on screen, and not in the store either (where it would show again once the trace
    // of the message is deleted here).
    for (auto* u : {&alice, &bob}) {
      u->m.reset();
      QVariant words;
      QVERIFY(profileSql(u->dir, "SELECT COALESCE(reply_text, '') FROM messages WHERE client_msg_id = ?",
                         {*answer}, &words));
      QCOMPARE(words.toString(), QString());
      QVERIFY(u->reopen());
    }

    // Also when Alice has deleted the trace of it here before the reply comes.
    const auto again = delivered(alice, bob, "forget this one too");
    QVERIFY(!again.isEmpty());
    // Bob may have it before Alice has the relay's answer: deleting here waits for that.
    QVERIFY(waitFor(alice, "bob", again, [](const StoredMessage& m) { return m.status != MessageStatus::Queued; }));
    QVERIFY(bob.reopen(false));
    const auto second = bob.m->sendText("alice", "this one?", &error, bob.find("alice", again).id);
    QVERIFY(second);
    const auto row = alice.find("bob", again).id;
    QVERIFY2(alice.m->unsendMessage("bob", row, &error), qPrintable(error));
    QVERIFY2(alice.m->deleteLocally("bob", row, &error), qPrintable(error));
    QVERIFY(alice.find("bob", again).clientMsgId.isEmpty());
    bob.m->start();
    QVERIFY(alice.waitReceived(*second));
    QVERIFY(alice.find("bob", *second).reply.unsent);
    alice.m.reset();
    QVariant words;
    QVERIFY(profileSql(alice.dir, "SELECT COALESCE(reply_text, '') FROM messages WHERE client_msg_id = ?",
                       {*second}, &words));
    QCOMPARE(words.toString(), QString());
    QVERIFY(alice.reopen());
  }
};

QTEST_GUILESS_MAIN(EditsTest)
#include "edits_test.moc"
