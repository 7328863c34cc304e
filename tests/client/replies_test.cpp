// Replies (Content.quote) through the client core against a real relay: a 1:1 answer shows
// the receiver's own copy of what it answers, a member added later sees the quoted words, a
// quote that does not fit the rules is dropped with a word to the user and the answer kept,
// and a reply can only name a message of its own conversation.
#include <QtTest>

#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <map>
#include <memory>

#include "client_user.hpp"
#include "e2e.pb.h"
#include "messenger.hpp"
#include "messenger_internal.hpp"
#include "relay_process.hpp"
#include "sealed_db.hpp"
#include "test_client.hpp"

using namespace parley::client;
using parley::test::RelayProcess;
using parley::test::spinUntil;

namespace {

constexpr int kWaitMs = 15000;

struct User {
  QString name;
  QString dir;
  std::unique_ptr<Messenger> m;
  QList<QByteArray> received;
  QStringList problems;

  void attach() {
    QObject::connect(m.get(), &Messenger::messageReceived, m.get(),
                     [this](const QString&, const QByteArray& id) { received << id; });
    QObject::connect(m.get(), &Messenger::problem, m.get(), [this](const QString& p) { problems << p; });
  }
  StoredMessage find(const QString& peer, const QByteArray& id) const {
    for (const auto& s : m->history(peer))
      if (s.clientMsgId == id) return s;
    return {};
  }
  bool waitReceived(const QByteArray& id) const {
    return spinUntil([&] { return received.contains(id); }, kWaitMs);
  }
};

// One statement on a closed profile's database.
bool sql(const QString& dir, const QString& statement, const QVariantList& binds, QVariant* first = nullptr) {
  static int n = 0;
  const QString name = QStringLiteral("replies-test-%1").arg(++n);
  bool ok = false;
  {
    auto db = parley::test::sealedDatabase(dir + "/parley.db", name);
    if (db.open()) {
      QSqlQuery q(db);
      q.prepare(statement);
      for (const auto& b : binds) q.addBindValue(b);
      ok = q.exec();
      if (!ok) qWarning("%s: %s", qPrintable(statement), qPrintable(q.lastError().text()));
      if (ok && first && q.next()) *first = q.value(0);
      q.finish();
      db.close();
    }
  }
  QSqlDatabase::removeDatabase(name);
  return ok;
}

}  // namespace

class RepliesTest : public QObject {
  Q_OBJECT
  RelayProcess relay_;
  QTemporaryDir home_;
  std::map<QString, std::unique_ptr<User>> users_;

  User& join(const QString& name) {
    auto u = std::make_unique<User>();
    u->name = name;
    u->dir = home_.filePath(name);
    u->m = parley::test::registerClientUser(relay_.url(), u->dir, name, kWaitMs);
    if (u->m) u->attach();
    return *(users_[name] = std::move(u));
  }
  User& user(const QString& name) { return *users_.at(name); }

  // Sends `text` from `from` (its messenger closed and opened again around it) with a quote
  // written into its outbox row before it leaves, as no Parley client would make it.
  QByteArray sendWithQuote(User& from, const QString& to, const QString& text, const QByteArray& id,
                           const QByteArray& author, const QByteArray& quoted) {
    from.m.reset();
    from.m = parley::test::openClientProfile(from.dir);
    if (!from.m) return {};
    from.attach();
    const auto sent = send(from, to, text);
    from.m.reset();
    QVariant stored;
    if (sent.isEmpty() || !sql(from.dir, "SELECT content FROM outbox WHERE client_msg_id = ?", {sent}, &stored))
      return {};
    parley::e2e::Content content;
    if (!content.ParseFromString(stored.toByteArray().toStdString())) return {};
    auto* quote = content.mutable_quote();
    quote->set_client_msg_id(id.toStdString());
    quote->set_author(author.toStdString());
    quote->set_text(quoted.toStdString());
    const auto bytes = QByteArray::fromStdString(content.SerializeAsString());
    if (!sql(from.dir, "UPDATE outbox SET content = ? WHERE client_msg_id = ?", {bytes, sent})) return {};
    from.m = parley::test::openClientProfile(from.dir);
    if (!from.m) return {};
    from.attach();
    from.m->start();
    return sent;
  }

  QByteArray send(User& from, const QString& to, const QString& text, qint64 reply_to = 0) {
    QString error;
    const auto id = from.m->sendText(to, text, &error, reply_to);
    if (!id) qWarning("sendText: %s", qPrintable(error));
    return id.value_or(QByteArray());
  }

 private slots:
  void initTestCase() {
    QVERIFY(home_.isValid());
    QVERIFY(relay_.start());
    QVERIFY(join("alice").m);
    QVERIFY(join("bob").m);
    QVERIFY(join("carol").m);
  }
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
    QVERIFY2(bob.m->sendFile("alice", ticket.fileName(), "here", &error, asked.id) != 0, qPrintable(error));
    StoredMessage got;
    QVERIFY(spinUntil([&] {
      for (const auto& m : alice.m->history("bob"))
        if (m.hasAttachment && m.body == "here") got = m;
      return got.id != 0;
    }, kWaitMs));
    QCOMPARE(got.reply.clientMsgId, ask);
    QCOMPARE(got.reply.author, QString("alice"));
    QCOMPARE(got.reply.text, QString("Can you send the ticket?"));
    QCOMPARE(got.reply.messageId, alice.find("bob", ask).id);
    QCOMPARE(bob.find("alice", got.clientMsgId).reply.clientMsgId, ask);
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
};

QTEST_GUILESS_MAIN(RepliesTest)
#include "replies_test.moc"
