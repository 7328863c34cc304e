// Replies (Content.quote) through the client core against a real relay: a 1:1 answer shows
// the receiver's own copy of what it answers, a member added later sees the quoted words, a
// quote that does not fit the rules is dropped with a word to the user and the answer kept,
// and a reply can only name a message of its own conversation.
#include <QtTest>

#include <functional>

#include "chat_users.hpp"
#include "e2e.pb.h"
#include "messenger.hpp"
#include "messenger_internal.hpp"
#include "test_client.hpp"

using namespace parley::client;
using parley::test::spinUntil;

namespace {

constexpr int kWaitMs = 15000;
using User = parley::test::ChatUser;

bool sql(const QString& dir, const QString& statement, const QVariantList& binds, QVariant* first = nullptr) {
  return parley::test::profileSql(dir, statement, binds, first);
}

}  // namespace

class RepliesReactionsTest : public QObject, parley::test::ChatUsers {
  Q_OBJECT

  // Sends `text` with a quote no Parley client would make.
  QByteArray sendWithQuote(User& from, const QString& to, const QString& text, const QByteArray& id,
                           const QByteArray& author, const QByteArray& quoted) {
    return sendDoctored(
        from, [&](Messenger& m) {
          QString error;
          return m.sendText(to, text, &error).has_value();
        },
        [&](parley::e2e::Content& content) {
          auto* quote = content.mutable_quote();
          quote->set_client_msg_id(id.toStdString());
          quote->set_author(author.toStdString());
          quote->set_text(quoted.toStdString());
        });
  }

  // The reactions `u` has to message `id` of `peer`, as "reactor:emoji".
  static QStringList reactionsOf(const User& u, const QString& peer, const QByteArray& id) {
    QStringList out;
    for (const auto& r : u.find(peer, id).reactions) out << r.reactor + ":" + r.emoji;
    return out;
  }

 private slots:
  void initTestCase() { QVERIFY(startWith({"alice", "bob", "carol"})); }
  void cleanupTestCase() { users_.clear(); }

  void snippetsStopAtALimitWithoutSplittingACharacter() {
    QCOMPARE(detail::quote_snippet("short"), QString("short"));
    const QString long_text(500, QChar('x'));
    QCOMPARE(detail::quote_snippet(long_text).size(), detail::kMaxQuoteChars);
    // A character outside the BMP straddling the limit is left out whole.
    QString pairs = QString(detail::kMaxQuoteChars - 1, QChar('a')) + QString::fromUtf8("😀") + "tail";
    const auto cut = detail::quote_snippet(pairs);
    QCOMPARE(cut.size(), detail::kMaxQuoteChars - 1);
    QVERIFY(!cut.back().isHighSurrogate());
    QVERIFY(detail::quote_snippet(QString(detail::kMaxQuoteChars, QChar(0x20AC))).toUtf8().size() <=
            detail::kMaxQuoteBytes);

    const std::string id(16, 'i');
    QVERIFY(detail::quote_problem(id, "alice", "hi").isEmpty());
    QVERIFY(detail::quote_problem(std::string(15, 'i'), "alice", "hi").contains("16 bytes"));
    QVERIFY(detail::quote_problem(id, "Alice", "hi").contains("username"));
    QVERIFY(detail::quote_problem(id, "", "hi").contains("username"));
    QVERIFY(detail::quote_problem(id, "alice", std::string(detail::kMaxQuoteBytes + 1, 'x')).contains("longer"));
  }

  void aReplyShowsTheReceiversOwnCopyOfWhatItAnswers() {
    auto& alice = user("alice");
    auto& bob = user("bob");
    const auto question = send(alice, "bob", "Lunch at noon?");
    QVERIFY(bob.waitReceived(question));
    const auto asked = bob.find("alice", question);
    QVERIFY(asked.id != 0);
    QVERIFY(asked.reply.clientMsgId.isEmpty());

    const auto answer = send(bob, "alice", "Yes, see you there", asked.id);
    QVERIFY(!answer.isEmpty());
    // The sender's own copy is a reply at once.
    const auto mine = bob.find("alice", answer);
    QCOMPARE(mine.reply.clientMsgId, question);
    QCOMPARE(mine.reply.author, QString("alice"));
    QCOMPARE(mine.reply.text, QString("Lunch at noon?"));
    QCOMPARE(mine.reply.messageId, asked.id);

    QVERIFY(alice.waitReceived(answer));
    const auto got = alice.find("bob", answer);
    QCOMPARE(got.body, QString("Yes, see you there"));
    QCOMPARE(got.reply.clientMsgId, question);
    QCOMPARE(got.reply.author, QString("alice"));
    QCOMPARE(got.reply.messageId, alice.find("bob", question).id);
    QCOMPARE(got.reply.text, QString("Lunch at noon?"));

    // Alice's own copy is what she sees, whatever the reply quoted: her row is the original.
    QVERIFY(alice.m->messageIdOf("bob", question) == got.reply.messageId);
    QVERIFY2(alice.problems.isEmpty(), qPrintable(alice.problems.join("; ")));
    QVERIFY2(bob.problems.isEmpty(), qPrintable(bob.problems.join("; ")));
  }

  void aReplyNamesOnlyAMessageOfItsConversation() {
    auto& alice = user("alice");
    auto& carol = user("carol");
    const auto to_carol = send(alice, "carol", "for carol only");
    QVERIFY(carol.waitReceived(to_carol));
    const auto elsewhere = alice.find("carol", to_carol).id;
    QVERIFY(elsewhere != 0);
    QString error;
    QVERIFY(!alice.m->sendText("bob", "answering the wrong chat", &error, elsewhere));
    QVERIFY2(error.contains("not in this conversation"), qPrintable(error));
    error.clear();
    QVERIFY(!alice.m->sendText("bob", "answering nothing", &error, 987654321));
    QVERIFY(error.contains("not in this conversation"));
    for (const auto& m : alice.m->history("bob")) QVERIFY(m.body != "answering the wrong chat");
  }

  void aMemberAddedLaterSeesTheQuotedWords() {
    auto& alice = user("alice");
    auto& bob = user("bob");
    auto& carol = user("carol");
    QByteArray gid;
    QString error;
    alice.m->createGroup("trip", {"bob"}, [&](const QByteArray& id, const QString& e) {
      gid = id;
      error = e;
    });
    QVERIFY(spinUntil([&] { return !gid.isEmpty() || !error.isEmpty(); }, kWaitMs));
    QVERIFY2(error.isEmpty(), qPrintable(error));
    const QString peer = "#" + QString::fromLatin1(gid.toHex());
    const QString plan = "Train at 9:40 from platform 4. " + QString(300, QChar('.'));
    const auto plan_id = alice.m->groupSend(gid, plan, &error);
    QVERIFY2(plan_id, qPrintable(error));
    QVERIFY(bob.waitReceived(*plan_id));

    bool done = false;
    alice.m->addMembers(gid, {"carol"}, [&](const QString& e) {
      error = e;
      done = true;
    });
    QVERIFY(spinUntil([&] { return done; }, kWaitMs));
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QVERIFY(spinUntil([&] { return carol.m->groupMembers(gid).size() == 3; }, kWaitMs));

    const auto bobs_copy = bob.find(peer, *plan_id);
    QVERIFY(bobs_copy.id != 0);
    const auto answer = bob.m->groupSend(gid, "I'll be there", &error, bobs_copy.id);
    QVERIFY2(answer, qPrintable(error));
    QVERIFY(carol.waitReceived(*answer));
    QVERIFY(alice.waitReceived(*answer));

    // Carol never had the plan: she sees its first words as Bob's message quoted them.
    const auto carols = carol.find(peer, *answer);
    QCOMPARE(carols.reply.author, QString("alice"));
    QCOMPARE(carols.reply.clientMsgId, *plan_id);
    QCOMPARE(carols.reply.messageId, qint64(0));
    QCOMPARE(carols.reply.text, detail::quote_snippet(plan));
    QVERIFY(carols.reply.text.startsWith("Train at 9:40"));
    QVERIFY(carols.reply.text.size() < plan.size());
    // Alice has it: the whole of her own message, and where it is.
    const auto alices = alice.find(peer, *answer);
    QCOMPARE(alices.reply.text, plan);
    QCOMPARE(alices.reply.messageId, alice.find(peer, *plan_id).id);
  }

  // A file answers a message like a text does: the quote is taken when it is queued and
  // goes with its message once uploaded.
  void aFileCanAnswerAMessage() {
    auto& alice = user("alice");
    auto& bob = user("bob");
    const auto ask = send(alice, "bob", "Can you send the ticket?");
    QVERIFY(bob.waitReceived(ask));
    const auto asked = bob.find("alice", ask);
    QVERIFY(asked.id != 0);
    QFile ticket(home_.filePath("ticket.txt"));
    QVERIFY(ticket.open(QIODevice::WriteOnly));
    ticket.write("SEAT 42A\n");
    ticket.close();
    QString error;
    QCOMPARE(bob.m->sendFile("alice", ticket.fileName(), "here", &error, 987654321), qint64(0));
    QVERIFY2(error.contains("not in this conversation"), qPrintable(error));
    const auto got = sendFile(bob, alice, ticket.fileName(), "here", asked.id);
    QVERIFY(got.id != 0);
    QCOMPARE(got.reply.clientMsgId, ask);
    QCOMPARE(got.reply.author, QString("alice"));
    QCOMPARE(got.reply.text, QString("Can you send the ticket?"));
    QCOMPARE(got.reply.messageId, alice.find("bob", ask).id);
    QCOMPARE(bob.find("alice", got.clientMsgId).reply.clientMsgId, ask);
  }

  // Forward…'s copies (Content.forwarded) arrive marked, pairwise, in a group and as a file;
  // a file queued as a copy stays one across a restart, and is never taken for the same file
  // sent as our own.
  void aForwardedCopySaysSoWhereverItGoes() {
    auto& alice = user("alice");
    auto& bob = user("bob");
    auto& carol = user("carol");
    QString error;
    const auto copy = alice.m->sendText("bob", "as I heard it", &error, 0, Origin::Forwarded);
    QVERIFY2(copy, qPrintable(error));
    QVERIFY(bob.waitReceived(*copy));
    QVERIFY(bob.find("alice", *copy).forwarded);
    QVERIFY(alice.find("bob", *copy).forwarded);
    // Edited, the words are alice's own: neither side marks them any more.
    QVERIFY2(alice.m->editMessage("bob", alice.find("bob", *copy).id, "as I would put it", &error), qPrintable(error));
    QVERIFY(!alice.find("bob", *copy).forwarded);
    QVERIFY(spinUntil([&] { return bob.find("alice", *copy).body == "as I would put it"; }, kWaitMs));
    QVERIFY(!bob.find("alice", *copy).forwarded);
    const auto own = send(alice, "bob", "my own words");
    QVERIFY(bob.waitReceived(own));
    QVERIFY(!bob.find("alice", own).forwarded);

    const auto gid = makeGroup(alice, "passing on", {"bob", "carol"});
    QVERIFY(!gid.isEmpty());
    const auto in_group = alice.m->groupSend(gid, "heard elsewhere", &error, 0, Origin::Forwarded);
    QVERIFY2(in_group, qPrintable(error));
    QVERIFY(carol.waitReceived(*in_group));
    QVERIFY(carol.find(Messenger::groupPeer(gid), *in_group).forwarded);

    QFile notes(home_.filePath("notes.txt"));
    QVERIFY(notes.open(QIODevice::WriteOnly));
    notes.write("passed along\n");
    notes.close();
    const auto queued = alice.m->queueFile("bob", notes.fileName(), "notes", &error, 0, Origin::Forwarded);
    QVERIFY2(queued != 0, qPrintable(error));
    const auto theirs = sendFile(alice, bob, notes.fileName(), "notes");
    QVERIFY(theirs.id != 0);
    QVERIFY(!theirs.forwarded);
    QVERIFY(alice.reopen());
    const auto files = alice.m->queuedFiles();
    const auto it = std::find_if(files.begin(), files.end(), [&](const auto& f) { return f.id == queued; });
    QVERIFY(it != files.end());
    QCOMPARE(it->origin, Origin::Forwarded);
    QVERIFY2(alice.m->sendQueuedFile(queued, &error) != 0, qPrintable(error));
    QVERIFY(bob.waitReceived(it->clientMsgId));
    QVERIFY(bob.find("alice", it->clientMsgId).forwarded);
  }

  // Each quote a client of ours would never send, put into the sender's outbox before it
  // leaves (as another client could send it): the receiver keeps the text, drops the quote
  // and says why.
  void aQuoteOutsideTheRulesIsDroppedAndTheAnswerKept_data() {
    QTest::addColumn<QByteArray>("id");
    QTest::addColumn<QByteArray>("author");
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<QString>("why");
    const QByteArray id(16, '\x07');
    QTest::newRow("third person") << id << QByteArray("carol") << QByteArray("never said") << "outside this conversation";
    QTest::newRow("short id") << id.left(15) << QByteArray("bob") << QByteArray("x") << "not 16 bytes";
    QTest::newRow("not folded") << id << QByteArray("Bob") << QByteArray("x") << "not a username";
    QTest::newRow("long text") << id << QByteArray("bob") << QByteArray(600, 'x') << "longer than 512";
    QTest::newRow("not utf-8") << id << QByteArray("bob") << QByteArray("caf\xc3") << "not UTF-8";
    QTest::newRow("author not utf-8") << id << QByteArray("b\xff" "b") << QByteArray("x") << "not a username";
  }

  void aQuoteOutsideTheRulesIsDroppedAndTheAnswerKept() {
    QFETCH(QByteArray, id);
    QFETCH(QByteArray, author);
    QFETCH(QByteArray, text);
    QFETCH(QString, why);
    auto& bob = user("bob");
    bob.problems.clear();
    const auto body = QStringLiteral("answer (%1)").arg(QTest::currentDataTag());
    const auto sent = sendWithQuote(user("alice"), "bob", body, id, author, text);
    QVERIFY(!sent.isEmpty());
    QVERIFY(bob.waitReceived(sent));
    const auto got = bob.find("alice", sent);
    QCOMPARE(got.body, body);
    QVERIFY(got.reply.clientMsgId.isEmpty());
    QVERIFY(got.reply.author.isEmpty());
    QVERIFY(spinUntil([&] { return !bob.problems.isEmpty(); }, kWaitMs));
    QVERIFY2(bob.problems.last().contains("alice answered a message") && bob.problems.last().contains(why),
             qPrintable(bob.problems.last()));
  }

  // A quote is looked up in its own conversation only: Bob's message to Carol, named in
  // Alice's answer to Bob, is not what Alice answered, and its words are not shown for it.
  void aQuoteIsMatchedOnlyInItsOwnConversation() {
    auto& bob = user("bob");
    auto& carol = user("carol");
    const auto to_carol = send(bob, "carol", "a secret for carol");
    QVERIFY(carol.waitReceived(to_carol));
    const auto sent = sendWithQuote(user("alice"), "bob", "what did you tell carol?", to_carol, "bob",
                                    "guessing");
    QVERIFY(bob.waitReceived(sent));
    const auto got = bob.find("alice", sent);
    QCOMPARE(got.reply.clientMsgId, to_carol);
    QCOMPARE(got.reply.messageId, qint64(0));
    // Bob's own message is not on this device under this conversation: his words are never
    // put in his mouth, neither Carol's copy nor Alice's.
    QVERIFY2(got.reply.text.isEmpty(), qPrintable(got.reply.text));
  }

  // Someone else's message this device does not have shows the words the reply quoted.
  void aQuoteOfAnotherNotHereShowsItsQuotedWords() {
    auto& bob = user("bob");
    bob.problems.clear();
    const auto sent = sendWithQuote(user("alice"), "bob", "as I said", QByteArray(16, '\x09'), "alice",
                                    "an old message");
    QVERIFY(bob.waitReceived(sent));
    const auto got = bob.find("alice", sent);
    QCOMPARE(got.reply.messageId, qint64(0));
    QCOMPARE(got.reply.text, QString("an old message"));
    QVERIFY2(bob.problems.isEmpty(), qPrintable(bob.problems.join("; ")));
  }

  // Reactions: one per person per message, replaced by their newer one, taken back with an
  // empty emoji; never a message of its own; the conversation does not move up for one.
  void aReactionIsOnePerPersonAndCanBeChangedOrTakenBack() {
    auto& alice = user("alice");
    auto& bob = user("bob");
    bob.problems.clear();
    const auto asked = send(alice, "bob", "Pizza tonight?");
    QVERIFY(bob.waitReceived(asked));
    QVERIFY(spinUntil([&] { return alice.find("bob", asked).convSeq >= 0; }, kWaitMs));
    const auto target = bob.find("alice", asked).id;
    const auto messages_before = alice.m->history("bob").size();
    const auto summary = [&]() -> ConversationSummary {
      for (const auto& c : alice.m->conversations())
        if (c.peer == "bob") return c;
      return {};
    };
    const auto before = summary();
    QString error;
    QVERIFY2(bob.m->react("alice", target, QString::fromUtf8("👍"), &error), qPrintable(error));
    QCOMPARE(reactionsOf(bob, "alice", asked), QStringList{QString::fromUtf8("bob:👍")});
    QVERIFY(spinUntil([&] { return reactionsOf(alice, "bob", asked) == QStringList{QString::fromUtf8("bob:👍")}; },
                      kWaitMs));
    // Alice's own reaction to her message sits beside Bob's.
    QVERIFY2(alice.m->react("bob", alice.find("bob", asked).id, QString::fromUtf8("❤️"), &error), qPrintable(error));
    QVERIFY(spinUntil([&] { return reactionsOf(bob, "alice", asked).size() == 2; }, kWaitMs));
    QCOMPARE(reactionsOf(bob, "alice", asked),
             (QStringList{QString::fromUtf8("alice:❤️"), QString::fromUtf8("bob:👍")}));
    // Bob changes his, then takes it back.
    QVERIFY(bob.m->react("alice", target, QString::fromUtf8("😂"), &error));
    QVERIFY(spinUntil([&] { return reactionsOf(alice, "bob", asked).contains(QString::fromUtf8("bob:😂")); },
                      kWaitMs));
    QCOMPARE(reactionsOf(alice, "bob", asked).size(), 2);
    QVERIFY(bob.m->react("alice", target, QString(), &error));
    QVERIFY(spinUntil([&] { return reactionsOf(alice, "bob", asked) == QStringList{QString::fromUtf8("alice:❤️")}; },
                      kWaitMs));
    QCOMPARE(reactionsOf(bob, "alice", asked), QStringList{QString::fromUtf8("alice:❤️")});
    QCOMPARE(alice.m->history("bob").size(), messages_before);  // no message of its own
    // Nor does the conversation move up or count anything unread for a reaction.
    QCOMPARE(summary().lastActivityMs, before.lastActivityMs);
    QCOMPARE(summary().unread, before.unread);
    QVERIFY2(bob.problems.isEmpty(), qPrintable(bob.problems.join("; ")));
  }

  void aReactionNeedsAMessageOfTheConversationAndAnEmoji() {
    auto& alice = user("alice");
    auto& carol = user("carol");
    const auto to_carol = send(alice, "carol", "hello carol");
    QVERIFY(carol.waitReceived(to_carol));
    QVERIFY(spinUntil([&] { return alice.find("carol", to_carol).convSeq >= 0; }, kWaitMs));
    const auto mine = alice.find("carol", to_carol).id;
    QString error;
    QVERIFY(!alice.m->react("bob", mine, QString::fromUtf8("👍"), &error));
    QVERIFY2(error.contains("not in this conversation"), qPrintable(error));
    QVERIFY(!alice.m->react("carol", mine, QString(40, QChar('x')), &error));
    QVERIFY2(error.contains("longer than 32 bytes"), qPrintable(error));
    QVERIFY(!alice.m->react("carol", mine, "a b", &error));
    QVERIFY2(error.contains("spaces"), qPrintable(error));
    QVERIFY(reactionsOf(alice, "carol", to_carol).isEmpty());
  }

  // Each person's newest reaction wins by their clock: an older one that arrives later
  // changes nothing.
  void anOlderReactionArrivingLateChangesNothing() {
    auto& alice = user("alice");
    auto& bob = user("bob");
    const auto asked = send(bob, "alice", "Cinema?");
    QVERIFY(alice.waitReceived(asked));
    QVERIFY(spinUntil([&] { return bob.find("alice", asked).convSeq >= 0; }, kWaitMs));
    QString error;
    QVERIFY(alice.m->react("bob", alice.find("bob", asked).id, QString::fromUtf8("🎬"), &error));
    QVERIFY(spinUntil([&] { return reactionsOf(bob, "alice", asked) == QStringList{QString::fromUtf8("alice:🎬")}; },
                      kWaitMs));
    const auto late = sendDoctored(
        alice, [&](Messenger& m) { return m.react("bob", m.messageIdOf("bob", asked), QString::fromUtf8("👎"), &error); },
        [](parley::e2e::Content& c) { c.set_client_ts_ms(1); });
    QVERIFY(!late.isEmpty());
    QVERIFY(bob.waitReceived(send(alice, "bob", "after the late one")));
    QCOMPARE(reactionsOf(bob, "alice", asked), QStringList{QString::fromUtf8("alice:🎬")});
  }

  void aReactionOutsideTheRulesIsIgnoredAndSaid() {
    auto& alice = user("alice");
    auto& bob = user("bob");
    bob.problems.clear();
    const auto asked = send(bob, "alice", "Tea?");
    QVERIFY(alice.waitReceived(asked));
    QString error;
    const auto odd = sendDoctored(
        alice, [&](Messenger& m) { return m.react("bob", m.messageIdOf("bob", asked), QString::fromUtf8("🍵"), &error); },
        [](parley::e2e::Content& c) { c.mutable_reaction()->set_author("carol"); });
    QVERIFY(!odd.isEmpty());
    QVERIFY(spinUntil([&] { return !bob.problems.isEmpty(); }, kWaitMs));
    QVERIFY2(bob.problems.last().contains("alice sent a reaction") &&
                 bob.problems.last().contains("outside this conversation"),
             qPrintable(bob.problems.last()));
    QVERIFY(reactionsOf(bob, "alice", asked).isEmpty());
  }

  // Reactions no Parley client would send: each ignored, said to the user but for one to a
  // message that is not here, which is dropped without a word and leaves no row.
  void aReactionThatCannotBeUsedLeavesNothing_data() {
    QTest::addColumn<QByteArray>("id");       // empty: the real message's
    QTest::addColumn<QByteArray>("emoji");
    QTest::addColumn<QString>("why");         // empty: dropped quietly
    QTest::newRow("short id") << QByteArray(15, '\x05') << QByteArray("x") << "not 16 bytes";
    QTest::newRow("long emoji") << QByteArray() << QByteArray(33, 'x') << "longer than 32 bytes";
    QTest::newRow("control") << QByteArray() << QByteArray("a\x07") << "control characters";
    QTest::newRow("zero width") << QByteArray() << QByteArray("\xe2\x80\x8b\xf0\x9f\x91\x8d") << "control characters";
    QTest::newRow("not utf-8") << QByteArray() << QByteArray("\xc3") << "not UTF-8";
    QTest::newRow("made-up message") << QByteArray(16, '\x06') << QByteArray("x") << QString();
  }

  void aReactionThatCannotBeUsedLeavesNothing() {
    QFETCH(QByteArray, id);
    QFETCH(QByteArray, emoji);
    QFETCH(QString, why);
    auto& alice = user("alice");
    auto& bob = user("bob");
    bob.problems.clear();
    const auto asked = send(bob, "alice", QStringLiteral("Question (%1)").arg(QTest::currentDataTag()));
    QVERIFY(alice.waitReceived(asked));
    QString error;
    const auto sent = sendDoctored(
        alice, [&](Messenger& m) { return m.react("bob", m.messageIdOf("bob", asked), "ok", &error); },
        [&](parley::e2e::Content& c) {
          if (!id.isEmpty()) c.mutable_reaction()->set_client_msg_id(id.toStdString());
          c.mutable_reaction()->set_emoji(emoji.toStdString());
        });
    QVERIFY(!sent.isEmpty());
    // A message sent after it has arrived: the reaction was handled before it.
    QVERIFY(bob.waitReceived(send(alice, "bob", QStringLiteral("after (%1)").arg(QTest::currentDataTag()))));
    QVERIFY(reactionsOf(bob, "alice", asked).isEmpty());
    QVariant rows;
    QVERIFY(sql(bob.dir, "SELECT COUNT(*) FROM reactions WHERE reactor = 'alice' AND target_id = ?",
                {id.isEmpty() ? asked : id}, &rows));
    QCOMPARE(rows.toInt(), 0);
    if (why.isEmpty()) {
      QVERIFY2(bob.problems.isEmpty(), qPrintable(bob.problems.join("; ")));
    } else {
      QVERIFY(spinUntil([&] { return !bob.problems.isEmpty(); }, kWaitMs));
      QVERIFY2(bob.problems.last().contains("alice sent a reaction") && bob.problems.last().contains(why),
               qPrintable(bob.problems.last()));
    }
  }

  void membersSeeEachOthersReactions() {
    auto& alice = user("alice");
    auto& bob = user("bob");
    auto& carol = user("carol");
    QByteArray gid;
    QString error;
    alice.m->createGroup("film", {"bob", "carol"}, [&](const QByteArray& id, const QString& e) {
      gid = id;
      error = e;
    });
    QVERIFY(spinUntil([&] { return !gid.isEmpty() || !error.isEmpty(); }, kWaitMs));
    QVERIFY2(error.isEmpty(), qPrintable(error));
    const QString peer = "#" + QString::fromLatin1(gid.toHex());
    const auto said = alice.m->groupSend(gid, "Friday 8pm?", &error);
    QVERIFY2(said, qPrintable(error));
    QVERIFY(carol.waitReceived(*said));
    QVERIFY(bob.waitReceived(*said));
    QVERIFY2(carol.m->react(peer, carol.find(peer, *said).id, QString::fromUtf8("✅"), &error), qPrintable(error));
    const QStringList expected{QString::fromUtf8("carol:✅")};
    QVERIFY(spinUntil([&] { return reactionsOf(alice, peer, *said) == expected; }, kWaitMs));
    QVERIFY(spinUntil([&] { return reactionsOf(bob, peer, *said) == expected; }, kWaitMs));
  }
};

QTEST_GUILESS_MAIN(RepliesReactionsTest)
#include "replies_reactions_test.moc"
